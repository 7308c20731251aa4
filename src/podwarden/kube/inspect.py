"""Read a live cluster for the preflight: DaemonSets, Deployments, Pods and ServiceAccounts of
every namespace, reduced to a :class:`~podwarden.logic.kube_snapshot.KubeSnapshot`.

Read-only: list calls only, in pages of :data:`PAGE` (``limit``/``continue``), through the
``*_without_preload_content`` calls and ``check_response`` like ``kube.nodes``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import ClientError, ClientResponse
from kubernetes.aio import client

from podwarden.kube.nodes import api_client, check_response
from podwarden.logic.kube_snapshot import KubeSnapshot, snapshot
from podwarden.model.errors import TemporaryError

PAGE = 500
Lister = Callable[..., Awaitable[ClientResponse]]


async def _list_all(lister: Lister, what: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        try:
            resp = await lister(limit=PAGE, _continue=token)
            body = json.loads(await check_response(resp, f"list {what}"))
        except ClientError as exc:
            raise TemporaryError(f"list {what}: {exc}") from exc
        items += body.get("items") or []
        token = (body.get("metadata") or {}).get("continue") or None
        if token is None:
            return items


async def read_api(api: Any) -> KubeSnapshot:
    """The snapshot of the cluster an ``ApiClient`` talks to."""
    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    return snapshot(
        await _list_all(
            apps.list_daemon_set_for_all_namespaces_without_preload_content, "daemonsets"
        ),
        await _list_all(
            apps.list_deployment_for_all_namespaces_without_preload_content, "deployments"
        ),
        await _list_all(core.list_pod_for_all_namespaces_without_preload_content, "pods"),
        await _list_all(
            core.list_service_account_for_all_namespaces_without_preload_content,
            "service accounts",
        ),
    )


async def read_cluster(kubeconfig: Path) -> KubeSnapshot:
    """The snapshot of the cluster ``kubeconfig`` points at (its current context)."""
    api = await api_client(kubeconfig)
    try:
        return await read_api(api)
    finally:
        await api.close()
