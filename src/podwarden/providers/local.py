"""Local instances: each HyperPod instance is a kwok-managed Node on the target cluster.

Launching an instance creates its Node (kwok makes it Ready and keeps its heartbeat);
terminating deletes it. The instance records themselves live in podwarden's store.
"""

from __future__ import annotations

from typing import Any

from podwarden.kube.nodes import KubeNodes
from podwarden.model.labels import CLUSTER_ID, HEALTH, SCHEDULABLE


class LocalInstances:
    def __init__(self, nodes: KubeNodes) -> None:
        self._nodes = nodes

    async def nodes_of(self, cluster_id: str) -> list[dict[str, Any]]:
        return await self._nodes.list(f"{CLUSTER_ID}={cluster_id}")

    async def launch(self, manifest: dict[str, Any]) -> None:
        await self._nodes.create(manifest)

    async def update(self, name: str, patch: dict[str, Any]) -> None:
        await self._nodes.patch(name, patch)

    async def booted(self, name: str, at: str) -> None:
        """The instance is up again: its node reports Ready (kwok keeps the heartbeat)."""
        await self._nodes.patch_status(name, {"status": {"conditions": [_ready(True, at)]}})

    async def reboot(self, name: str, at: str) -> None:
        """Start a reboot: the node reports NotReady (kwok's heartbeat makes it Ready again) and
        its health label is reset, as the instance comes back healthy."""
        await self._nodes.patch(name, {"metadata": {"labels": {HEALTH: SCHEDULABLE}}})
        await self._nodes.patch_status(name, {"status": {"conditions": [_ready(False, at)]}})

    async def terminate(self, name: str) -> None:
        await self._nodes.delete(name)


def _ready(ready: bool, at: str) -> dict[str, str]:
    return {
        "type": "Ready",
        "status": "True" if ready else "False",
        "reason": "KubeletReady" if ready else "Rebooting",
        "message": "kubelet is posting ready status" if ready else "the instance is rebooting",
        "lastHeartbeatTime": at,
        "lastTransitionTime": at,
    }
