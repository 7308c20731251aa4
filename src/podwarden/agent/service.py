"""The agent loop: gather signals for nodes, assess them with the fault policy, export.

``LocalHealthAgent`` watches every HyperPod node of a cluster whose faults are simulated (kwok
nodes), in the podwarden server's event loop: one task for all simulated nodes. The same
``assess_node`` serves ``podwarden agent`` on a real node, fed by the kernel log and NVML.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from podwarden import metrics
from podwarden.agent import exporter
from podwarden.agent.sources import FaultSource, simulated
from podwarden.kube.nodes import KubeNodes
from podwarden.logic.faults import Fault, Signal, assess, classify
from podwarden.model.cluster import DeepCheck
from podwarden.model.errors import PodwardenError
from podwarden.model.labels import (
    COMPUTE_TYPE,
    DEEP_HEALTH,
    FAULT_DETAILS,
    HEALTH,
    INJECT_LABEL,
    INSTANCE_TYPE,
)
from podwarden.policy.fault_policy import FaultPolicy

log = logging.getLogger("podwarden.agent")


def recorded_faults(node: dict[str, Any]) -> list[Fault]:
    raw = (node.get("metadata", {}).get("annotations") or {}).get(FAULT_DETAILS)
    if not raw:
        return []
    try:
        return [Fault.from_detail(d) for d in json.loads(raw)]
    except (ValueError, KeyError, TypeError):
        return []  # unreadable state is dropped: the next real signal rebuilds it


class HealthExporter:
    def __init__(self, nodes: KubeNodes, policy: FaultPolicy) -> None:
        self.nodes = nodes
        self.policy = policy
        self.condition_types = frozenset(r.condition for r in policy.rules if r.condition)

    async def assess_node(
        self,
        node: dict[str, Any],
        signals: list[Signal],
        now: float,
        extra_patch: dict[str, Any] | None = None,
    ) -> None:
        """Classify ``signals``, assess them with the faults already on the node, write the
        result. The patch carries the node's resourceVersion, so a concurrent change (a
        reboot clearing the faults) wins and the node is assessed again next pass."""
        name = node["metadata"]["name"]
        before = recorded_faults(node)
        new = [f for f in (classify(s, self.policy) for s in signals) if f is not None]
        health = assess(before + new, self.policy, now)
        labels = node["metadata"].get("labels") or {}
        if labels.get(DEEP_HEALTH) == DeepCheck.IN_PROGRESS and not health.quarantined:
            # under deep health checks the node stays Unschedulable and tainted until they
            # end: only a fault changes it
            if extra_patch:
                await self.nodes.patch(name, extra_patch)
            return
        patch = exporter.metadata_patch(node, health)
        if extra_patch:
            for key in ("labels", "annotations"):
                patch["metadata"][key].update(extra_patch["metadata"].get(key, {}))
        if not new and not extra_patch and _unchanged(node, patch):
            return
        patch["metadata"]["resourceVersion"] = node["metadata"]["resourceVersion"]
        await self.nodes.patch(name, patch)
        metrics.current().verdict(labels.get(HEALTH), health, now)  # fault -> quarantine
        conditions = exporter.conditions_patch(node, health, self.condition_types, now)
        if conditions:
            await self.nodes.patch_status(name, conditions, merge_conditions=True)
        seen = {f.key for f in before}
        for fault in new:
            if fault.key not in seen:
                seen.add(fault.key)
                metrics.current().fault(fault)
                await self.nodes.event(
                    name,
                    reason=fault.reason,
                    message=f"{fault.message} (action: {fault.action})",
                    warning=fault.severity != "info",
                    component=exporter.COMPONENT,
                    first_seen=fault.at,
                )


def _unchanged(node: dict[str, Any], patch: dict[str, Any]) -> bool:
    meta = node.get("metadata", {})
    labels, annotations = meta.get("labels") or {}, meta.get("annotations") or {}
    for key, value in patch["metadata"]["labels"].items():
        if labels.get(key) != value:
            return False
    for key, value in patch["metadata"]["annotations"].items():
        if annotations.get(key) != value:
            return False
    return bool((node.get("spec", {}).get("taints") or []) == patch["spec"]["taints"])


class LocalHealthAgent:
    """The agent for simulated (kwok) nodes. Injected faults are picked up within
    ``interval``; every ``resync`` seconds all monitored nodes are re-assessed so faults age
    out and a restarted agent clears what is no longer true."""

    def __init__(
        self,
        nodes: KubeNodes,
        policy: FaultPolicy,
        monitored: Callable[[str], bool],
        expected_gpus: Callable[[str], int],
        *,
        clock: Callable[[], float] = time.time,
        interval: float = 0.2,
        resync: float = 5.0,
    ) -> None:
        self.exporter = HealthExporter(nodes, policy)
        self.nodes = nodes
        self.monitored = monitored
        self.expected_gpus = expected_gpus
        self.clock = clock
        self.interval = interval
        self.resync = resync

    async def run(self) -> None:
        last_full = float("-inf")
        while True:
            now = self.clock()
            full = now - last_full >= self.resync
            selector = f"{COMPUTE_TYPE}=hyperpod" if full else f"{INJECT_LABEL}=true"
            try:
                found = await self.nodes.list(selector)
                await asyncio.gather(*(self.handle(n, now) for n in found))
                if full:
                    last_full = now
            except PodwardenError as exc:
                log.warning("health agent pass: %s", exc)
            await asyncio.sleep(self.interval)

    async def handle(self, node: dict[str, Any], now: float) -> None:
        labels = node["metadata"].get("labels") or {}
        instance_type = labels.get(INSTANCE_TYPE, "")
        pending = labels.get(INJECT_LABEL) == "true"
        consumed = simulated.consumed_patch() if pending else None
        with contextlib.suppress(PodwardenError):  # a conflict: next pass sees the new node
            # R17 (docs/requirements.md): GPU and Trainium only
            if not self.monitored(instance_type):
                if consumed:
                    await self.nodes.patch(node["metadata"]["name"], consumed)
                return
            signals = simulated.injected(node, self.expected_gpus(instance_type), now)
            await self.exporter.assess_node(node, signals, now, consumed)


class NodeAgent:
    """``podwarden agent``: the agent of one real node, fed by its sources (the kernel log,
    NVML). Every ``interval`` it reads each source; it writes the node when a signal arrives
    and re-assesses it every ``resync`` seconds so faults age out."""

    def __init__(
        self,
        nodes: KubeNodes,
        policy: FaultPolicy,
        node_name: str,
        sources: Sequence[FaultSource],
        *,
        clock: Callable[[], float] = time.time,
        interval: float = 0.5,
        resync: float = 30.0,
    ) -> None:
        self.exporter = HealthExporter(nodes, policy)
        self.nodes = nodes
        self.node_name = node_name
        self.sources = tuple(sources)
        self.clock = clock
        self.interval = interval
        self.resync = resync

    async def run(self) -> None:
        last = float("-inf")
        pending: list[Signal] = []
        while True:
            now = self.clock()
            for source in self.sources:
                pending += source.read(now)
            if pending or now - last >= self.resync:
                try:
                    node = await self.nodes.get(self.node_name)
                    await self.exporter.assess_node(node, pending, now)
                    pending, last = [], now
                except PodwardenError as exc:  # kept, and tried again next tick
                    log.warning("agent for %s: %s", self.node_name, exc)
            await asyncio.sleep(self.interval)
