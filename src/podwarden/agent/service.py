"""The agent loop: gather signals for nodes, assess them with the fault policy, export.

``LocalHealthAgent`` serves every HyperPod node of a Kubernetes whose faults are simulated (kwok
nodes), in the podwarden server's event loop: one task for all simulated nodes, driven by the
process's node watch (``agent.watch_rules``). The same ``assess_node`` serves ``podwarden agent``
on a real node, fed by the kernel log and NVML.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from podwarden import metrics
from podwarden.agent import exporter, watch_rules
from podwarden.agent.sources import FaultSource, simulated
from podwarden.kube.informer import OnEvent
from podwarden.kube.nodes import KubeNodes
from podwarden.logic.faults import Signal, assess, classify
from podwarden.metrics.fault_times import recorded as recorded_faults
from podwarden.model.errors import PodwardenError
from podwarden.model.labels import HEALTH, INJECT_LABEL, INSTANCE_TYPE
from podwarden.policy.fault_policy import FaultPolicy

log = logging.getLogger("podwarden.agent")


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
        if exporter.held_by_deep_check(node, health):
            if extra_patch:
                await self.nodes.patch(name, extra_patch)
            return
        patch = exporter.metadata_patch(node, health)
        if extra_patch:
            for key in ("labels", "annotations"):
                patch["metadata"][key].update(extra_patch["metadata"].get(key, {}))
        if not new and not extra_patch and exporter.unchanged(node, patch):
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


class WatchedNodes(Protocol):
    """A watched cache of every HyperPod node (``providers.local.LocalInstances``)."""

    def cached(self) -> list[dict[str, Any]]:
        """Every node as the watch last saw it; no I/O."""
        ...

    def listen(self, on_event: OnEvent, on_list: Callable[[], None]) -> Callable[[], None]:
        """Call ``on_event`` for each watch event and ``on_list`` after each (re)list (at once
        when the cache has listed already); returns the call that stops it."""
        ...


class LocalHealthAgent:
    """The agent for simulated (kwok) nodes, driven by the node watch the process keeps anyway
    (``nodes``), never by a list: an injected fault is handled on the watch event that brings it,
    every node is assessed after each (re)list of the watch, and every ``resync`` seconds only
    the nodes that are due are re-assessed, so faults age out and a restarted agent clears what
    is no longer true (``agent.watch_rules``)."""

    def __init__(
        self,
        kube: KubeNodes,
        nodes: WatchedNodes,
        policy: FaultPolicy,
        monitored: Callable[[str], bool],
        expected_gpus: Callable[[str], int],
        *,
        clock: Callable[[], float] = time.time,
        resync: float = 5.0,
    ) -> None:
        self.exporter = HealthExporter(kube, policy)
        self.nodes = kube
        self.watched = nodes
        self.policy = policy
        self.monitored = monitored
        self.expected_gpus = expected_gpus
        self.clock = clock
        self.resync = resync
        self.pending: dict[str, dict[str, Any]] = {}  # name -> node: handle at once
        self.due: dict[str, tuple[float, dict[str, Any]]] = {}  # name -> (when, node): resync
        self._wake = asyncio.Event()

    async def run(self) -> None:
        stop = self.watched.listen(self.on_event, self.on_list)
        try:
            next_resync = asyncio.get_running_loop().time() + self.resync
            while True:
                left = next_resync - asyncio.get_running_loop().time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), max(0.0, left))
                self._wake.clear()
                batch, self.pending = self.pending, {}
                if asyncio.get_running_loop().time() >= next_resync:
                    batch = self.due_now(self.clock()) | batch
                    next_resync = asyncio.get_running_loop().time() + self.resync
                await self.handle_all(batch)
        finally:
            stop()

    def on_event(self, kind: str, node: dict[str, Any]) -> None:
        """A watch event: note when the node is due, wake the loop for an injected fault."""
        name = node["metadata"]["name"]
        if kind == "DELETED" or not watch_rules.is_hyperpod(node):
            self.pending.pop(name, None)
            self.due.pop(name, None)
            return
        self._note(node, self.clock())
        if watch_rules.injection_pending(node) or name in self.pending:
            self.pending[name] = node  # the newest version of a node waiting to be handled
            self._wake.set()

    def on_list(self) -> None:
        """The watch (re)listed and may have missed events: assess every node once."""
        now = self.clock()
        self.due = {}
        self.pending = {}
        for node in self.watched.cached():
            if watch_rules.is_hyperpod(node):
                self._note(node, now)
                self.pending[node["metadata"]["name"]] = node
        self._wake.set()

    def due_now(self, now: float) -> dict[str, dict[str, Any]]:
        """The nodes a resync at ``now`` re-assesses."""
        return {name: node for name, (when, node) in self.due.items() if when <= now}

    async def handle_all(self, batch: dict[str, dict[str, Any]]) -> None:
        now = self.clock()
        handled = (self.handle(node, now) for node in batch.values())
        results = await asyncio.gather(*handled, return_exceptions=True)
        for name, result in zip(batch, results, strict=True):
            if isinstance(result, Exception):  # one node's failure does not stop the others
                log.error("health agent, node %s", name, exc_info=result)
        for name, node in batch.items():
            if self.due.get(name, (0.0, None))[1] is node:  # no newer version seen meanwhile
                self._note(node, self.clock())  # e.g. an assessment that wrote nothing

    def _note(self, node: dict[str, Any], now: float) -> None:
        instance_type = (node["metadata"].get("labels") or {}).get(INSTANCE_TYPE, "")
        when = watch_rules.due_at(node, self.policy, now, self.monitored(instance_type))
        if when is None:
            self.due.pop(node["metadata"]["name"], None)
        else:
            self.due[node["metadata"]["name"]] = (when, node)

    async def handle(self, node: dict[str, Any], now: float) -> None:
        labels = node["metadata"].get("labels") or {}
        instance_type = labels.get(INSTANCE_TYPE, "")
        pending = labels.get(INJECT_LABEL) == "true"
        consumed = simulated.consumed_patch() if pending else None
        with contextlib.suppress(PodwardenError):  # a conflict: the node's next event retries
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
