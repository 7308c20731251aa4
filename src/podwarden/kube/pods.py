"""Pods through ``kubernetes.aio``: the pods bound to a node, and evictions (policy/v1)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import ClientError
from kubernetes.aio import client

from podwarden.kube.nodes import check_response
from podwarden.model.errors import TemporaryError


class KubePods:
    def __init__(self, api: Any) -> None:
        self._core = client.CoreV1Api(api)

    async def on_node(self, node: str) -> list[dict[str, Any]]:
        try:
            resp = await self._core.list_pod_for_all_namespaces_without_preload_content(
                field_selector=f"spec.nodeName={node}"
            )
            body = json.loads(await check_response(resp, f"list pods on {node}"))
        except ClientError as exc:
            raise TemporaryError(f"list pods on {node}: {exc}") from exc
        items: list[dict[str, Any]] = body.get("items", [])
        return items

    async def evict(self, namespace: str, name: str) -> bool:
        """Ask to evict a pod; False when a disruption budget refuses it now (HTTP 429)."""
        eviction = client.V1Eviction.from_dict(
            {
                "apiVersion": "policy/v1",
                "kind": "Eviction",
                "metadata": {"name": name, "namespace": namespace},
            }
        )
        assert eviction is not None
        try:
            resp = await self._core.create_namespaced_pod_eviction_without_preload_content(
                name, namespace, eviction
            )
            await check_response(resp, f"evict pod {namespace}/{name}", ok_statuses=(404, 429))
        except ClientError as exc:
            raise TemporaryError(f"evict pod {namespace}/{name}: {exc}") from exc
        return resp.status != 429
