"""Simulated faults for kwok nodes: ``podwarden fault inject`` (or a test) writes signals into
an annotation on the node and labels it; the agent consumes them like any other source, so an
injected fault travels the same path as a real one (source -> agent -> labels -> recovery)."""

from __future__ import annotations

import json
from typing import Any

from podwarden.logic.faults import Signal
from podwarden.model.labels import INJECT_ANNOTATION, INJECT_LABEL


def injected(node: dict[str, Any], expected_gpus: int = 0, now: float = 0.0) -> list[Signal]:
    """The signals waiting on a node (malformed entries are dropped, not fatal). An injected
    ``gpu_count`` is compared with the instance type's GPU count, as the real agent compares
    nvidia-smi's count with the catalog. A signal without a time is stamped ``now``."""
    raw = (node.get("metadata", {}).get("annotations") or {}).get(INJECT_ANNOTATION)
    if not raw:
        return []
    try:
        items = json.loads(raw)
    except ValueError:
        return []
    signals = []
    for raw_item in items if isinstance(items, list) else []:
        if not isinstance(raw_item, dict):
            continue
        item = raw_item
        xid = item.get("xid")
        count = item.get("gpu_count")
        if isinstance(count, int) and not isinstance(count, bool):
            if count == expected_gpus:
                continue
            item = {
                **item,
                "signal": "gpu_count_mismatch",
                "message": f"nvidia-smi reports {count} GPUs, the instance type has "
                f"{expected_gpus}",
            }
        signals.append(
            Signal(
                at=float(item.get("at", now)),
                xid=int(xid) if isinstance(xid, int) else None,
                name=item.get("signal") if isinstance(item.get("signal"), str) else None,
                device=str(item.get("device", "")),
                boot_id=str(item.get("boot_id", "")),
                message=str(item.get("message", "")),
            )
        )
    return signals


def inject_patch(existing: list[dict[str, Any]], new: dict[str, Any]) -> dict[str, Any]:
    """The node patch that queues one more injected signal."""
    return {
        "metadata": {
            "labels": {INJECT_LABEL: "true"},
            "annotations": {INJECT_ANNOTATION: json.dumps([*existing, new])},
        }
    }


def consumed_patch() -> dict[str, Any]:
    return {"metadata": {"labels": {INJECT_LABEL: None}, "annotations": {INJECT_ANNOTATION: None}}}
