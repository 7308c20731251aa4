"""Local instances: each HyperPod instance is a kwok-managed Node on the target cluster.

Launching an instance creates its Node (kwok makes it Ready and keeps its heartbeat);
terminating deletes it. The instance records themselves live in podwarden's store.
"""

from __future__ import annotations

from typing import Any

from podwarden.kube.nodes import KubeNodes
from podwarden.model.labels import CLUSTER_ID


class LocalInstances:
    def __init__(self, nodes: KubeNodes) -> None:
        self._nodes = nodes

    async def nodes_of(self, cluster_id: str) -> list[dict[str, Any]]:
        return await self._nodes.list(f"{CLUSTER_ID}={cluster_id}")

    async def launch(self, manifest: dict[str, Any]) -> None:
        await self._nodes.create(manifest)

    async def update(self, name: str, patch: dict[str, Any]) -> None:
        await self._nodes.patch(name, patch)

    async def terminate(self, name: str) -> None:
        await self._nodes.delete(name)
