"""Fault injection for simulated nodes: the CLI's ``podwarden fault inject`` and the tests'
API. It queues a signal on the node; the health agent picks it up like a real detection."""

from __future__ import annotations

import json
import time
from typing import Any

from podwarden.agent.sources.simulated import inject_patch
from podwarden.kube.nodes import KubeNodes
from podwarden.model import ids
from podwarden.model.labels import INJECT_ANNOTATION


def signal_for(
    *,
    xid: int | None = None,
    gpu_count: int | None = None,
    node_down: bool = False,
    dhc_fail: bool = False,
    signal: str | None = None,
    device: str = "0000:b9:00",
    at: float | None = None,
) -> dict[str, Any]:
    """One injected signal; exactly one of the kinds must be given (``signal``: any named
    signal of the fault policy, e.g. ``neuron_sram_uncorrectable``)."""
    kinds = [xid is not None, gpu_count is not None, node_down, dhc_fail, signal is not None]
    if sum(kinds) != 1:
        raise ValueError("give exactly one of --xid, --gpu-count, --node-down, --dhc-fail")
    when = time.time() if at is None else at
    if xid is not None:
        line = f"NVRM: Xid (PCI:{device}): {xid}, pid=<unknown>, name=<unknown>, injected fault"
        return {"xid": xid, "device": device, "message": line, "at": when}
    if gpu_count is not None:
        return {"gpu_count": gpu_count, "at": when}
    name = signal or ("node_down" if node_down else "deep_health_check_failed")
    return {"signal": name, "message": f"injected {name}", "at": when}


def node_name_of(node: str) -> str:
    """Accept an instance id (``i-…``) or a node name (``hyperpod-i-…``)."""
    return node if node.startswith(ids.NODE_NAME_PREFIX) else ids.node_name(node)


async def inject(nodes: KubeNodes, node: str, signal: dict[str, Any]) -> str:
    name = node_name_of(node)
    current = await nodes.get(name)
    queued = (current["metadata"].get("annotations") or {}).get(INJECT_ANNOTATION)
    existing = json.loads(queued) if queued else []
    await nodes.patch(name, inject_patch(existing, signal))
    return name
