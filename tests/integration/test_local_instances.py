"""The local instance provider on the real control plane: a node podwarden boots is a node
kwok, its kubelet, has registered, so the apiserver can reach its kubelet (logs, exec).

The cluster reconciler boots a new instance's node on the pass after it created it, which can
come before kwok has taken the node. A Ready posted by podwarden then kept kwok from ever
registering the node (its ``node-initialize`` stage takes only nodes that are not Ready): no
address, no ``nodeInfo``, and ``hyp get-operator-logs`` failed with "no preferred addresses
found" (CI, 2026-12-06). Here nodes are created and booted at once, as that pass does; before
the fix about one in five of them was never registered (a scratch run of five).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kubernetes import client

from podwarden.kube.nodes import KubeNodes
from podwarden.local.runtime import ControlPlane
from podwarden.logic.node_spec import registered
from podwarden.providers.local import LocalInstances

from .kube_objects import hyperpod_node, read_node, wait_for

NODES = [f"hyperpod-i-{0xB007 + i:017x}" for i in range(12)]


def launch_and_boot(cp: ControlPlane) -> None:
    """Each node created, then booted at once, as the reconciler's next pass does."""

    async def run() -> None:
        nodes = await KubeNodes.from_kubeconfig(cp.kubeconfig)
        try:
            provider = LocalInstances(nodes)
            for name in NODES:
                await provider.launch(hyperpod_node(name, "ml.g5.xlarge", 1, 110))
                await provider.booted(name, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        finally:
            await nodes.close()

    asyncio.run(run())


def test_nodes_booted_as_soon_as_created_are_registered_by_their_kubelet(
    control_plane: ControlPlane, kube: client.ApiClient
) -> None:
    core = client.CoreV1Api(kube)
    seen: dict[str, Any] = {}

    def unregistered() -> list[str]:
        out = []
        for name in NODES:
            node = read_node(kube, name)
            status = node.get("status") or {}
            said = {c["type"]: c["status"] for c in status.get("conditions") or []}
            address = {"type": "InternalIP", "address": "127.0.0.1"} in (
                status.get("addresses") or []
            )
            seen[name] = (status.get("phase"), status.get("addresses"), said.get("Ready"))
            if not (registered(node) and said.get("Ready") == "True" and address):
                out.append(name)
        return out

    try:
        launch_and_boot(control_plane)
        wait_for(
            f"kwok to register the {len(NODES)} nodes with an address, Ready",
            lambda: not unregistered(),
            timeout=60,
            seen=lambda: {n: seen.get(n) for n in unregistered()},
        )
    finally:
        for name in NODES:
            try:
                core.delete_node(name)
            except client.ApiException as exc:
                if exc.status != 404:  # one never created is no error of its own
                    raise
