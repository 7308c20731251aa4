"""Read a live cluster for the preflight: DaemonSets, Deployments, Pods and ServiceAccounts of
every namespace, reduced to a :class:`~podwarden.logic.kube_snapshot.KubeSnapshot`. Read-only,
in two ways:

- :func:`read_cluster` (``podwarden preflight --kubeconfig``, which reads once): list calls, in
  pages of :data:`PAGE` (``limit``/``continue``), through the ``*_without_preload_content``
  calls and ``check_response`` like ``kube.nodes``;
- :class:`LiveSnapshot` (the EKS reconciler, which reads each plane every few seconds):
  list-then-watch caches of the four kinds (``kube.informer``), the snapshot built from them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import ClientError, ClientResponse
from kubernetes.aio import client

from podwarden.kube.informer import Informer, Keep
from podwarden.kube.nodes import api_client, check_response
from podwarden.logic.kube_snapshot import (
    KubeSnapshot,
    kept_pod,
    kept_service_account,
    kept_workload,
    list_order,
    snapshot,
)
from podwarden.model.errors import TemporaryError

PAGE = 500
SYNC_SECONDS = 10.0  # how long a first read of a LiveSnapshot waits for the caches' first lists
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


class LiveSnapshot:
    """The snapshot of one cluster, kept by list-then-watch caches of its DaemonSets,
    Deployments, Pods and ServiceAccounts, each holding only what ``snapshot`` reads of an
    object (the ``kept_*`` functions of ``logic.kube_snapshot``).

    Why caches, not a LIST per read: a cluster of 5,000 HyperPod nodes has 10,000+ pods (a
    DaemonSet's on every node), and a LIST of them costs podwarden (decoding) and the apiserver
    that much on every read, though the snapshot keeps none of them: pods a ReplicaSet or a
    DaemonSet controls are left out; only pods that stand alone (bare, Jobs', training jobs')
    are workloads. No server-side selector picks those exactly: pods' field selectors do not
    reach ``ownerReferences`` (only ``metadata.name``, ``metadata.namespace``,
    ``spec.nodeName``, ``spec.restartPolicy``, ``spec.schedulerName``,
    ``spec.serviceAccountName``, ``spec.hostNetwork``, ``status.phase``, ``status.podIP``,
    ``status.nominatedNodeName``: Kubernetes' "Field Selectors" page, kubernetes.io/docs/
    concepts/overview/working-with-objects/field-selectors), and the controllers' labels
    (``controller-revision-hash``, ``pod-template-hash``) stay on orphaned pods and may be set
    on any other, so a label selector would change the preflight's findings. Reading less often
    only divides the cost. With the caches a read costs nothing until something changes;
    a change costs one watch event, and the next read rebuilds the snapshot from what is held
    (DaemonSets, Deployments, pods that stand alone, service accounts with an IRSA role), not
    from every pod. Objects are taken in the apiserver's list order (``list_order``), so the
    snapshot equals :func:`read_api`'s of the same state.

    The caches start with the first :meth:`read`, which waits up to :data:`SYNC_SECONDS` for
    their first lists (then ``TemporaryError``: the pass is tried again), and run until
    :meth:`stop` (``KubeWorkloads.close``: the EKS reconciler drops a plane's client when the
    plane stops, and closes every one when the server stops). Nothing is kept across restarts:
    a restarted server lists afresh. While the apiserver cannot be reached the caches hold what
    they last saw and list again once it answers (``kube.informer``)."""

    def __init__(
        self, daemonsets: Lister, deployments: Lister, pods: Lister, service_accounts: Lister
    ) -> None:
        kinds: list[tuple[str, Lister, Keep, int | None]] = [
            ("daemonsets", daemonsets, kept_workload, None),
            ("deployments", deployments, kept_workload, None),
            ("pods", pods, kept_pod, PAGE),
            ("service accounts", service_accounts, kept_service_account, None),
        ]
        self.informers = tuple(
            Informer(what, call, keep=keep, page=page) for what, call, keep, page in kinds
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._changes = 0  # watch events and lists so far
        self._built: tuple[int, KubeSnapshot] | None = None  # (at _changes, the snapshot)

    @classmethod
    def of_api(cls, api: Any) -> LiveSnapshot:
        """The caches of the cluster an ``ApiClient`` talks to."""
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        return cls(
            apps.list_daemon_set_for_all_namespaces_without_preload_content,
            apps.list_deployment_for_all_namespaces_without_preload_content,
            core.list_pod_for_all_namespaces_without_preload_content,
            core.list_service_account_for_all_namespaces_without_preload_content,
        )

    def _changed(self) -> None:
        self._changes += 1

    async def read(self) -> KubeSnapshot:
        """The snapshot of what the caches hold now (the same object until they change)."""
        if not self._tasks:
            self._tasks = [asyncio.create_task(i.run(self._changed)) for i in self.informers]
        crashed = next((t for t in self._tasks if t.done()), None)
        if crashed is not None:  # a bug, not the apiserver: say so, start afresh next time
            await self.stop()
            crashed.result()
        try:
            async with asyncio.timeout(SYNC_SECONDS):
                await asyncio.gather(*(i.synced.wait() for i in self.informers))
        except TimeoutError:
            waiting = [i.what for i in self.informers if not i.synced.is_set()]
            raise TemporaryError(f"not listed yet: {', '.join(waiting)}") from None
        if self._built is None or self._built[0] != self._changes:
            held = [sorted(i.objects.values(), key=list_order) for i in self.informers]
            self._built = (self._changes, snapshot(*held))
        return self._built[1]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
