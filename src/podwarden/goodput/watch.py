"""What a goodput run sees happen, timestamped as the watch events arrive (real seconds):

- each node's health: when it last became schedulable (Ready, ``node-health-status``
  Schedulable, not being deleted), so a run's start says whether it waited for a repaired node;
- each injected fault's progress: the agent's verdict on the node (``fault-types``), the
  quarantine (``UnschedulablePending*``), the repair (the node, or its replacement, schedulable
  again);
- each (re)start of the job, from the simulated trainer's checkpoint ConfigMap, with the nodes
  its pods run on.

Everything is kept from list-then-watch caches (``kube.informer.Informer``) and updated in
their change callbacks: nothing polls per node.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from podwarden.kube.goodput import GoodputKube
from podwarden.kube.informer import Informer
from podwarden.logic.auto_resume import node_fault
from podwarden.logic.training_jobs import JobKey
from podwarden.model import jobs
from podwarden.model.goodput import Action, Fault, FaultSeen, Observed, RunStart
from podwarden.model.labels import FAULT_TYPES, GROUP_NAME


@dataclass
class Tracked:
    """A fault in flight (mutable while the run goes; ``seen()`` freezes it)."""

    fault: Fault
    node: str
    action: Action
    due_at: float
    injected_at: float
    job_node: bool
    nodes_before: frozenset[str]  # the group's nodes at injection (a replacement is new)
    spare_free: bool = False  # a schedulable node without a job pod could take over
    detected_at: float | None = None
    quarantined_at: float | None = None
    repaired_at: float | None = None
    replacement: str | None = None
    manual_requested: bool = False
    moot: bool = False  # it hit a node that was down already: nothing to inject

    def seen(self) -> FaultSeen:
        return FaultSeen(
            fault=self.fault,
            node=self.node,
            due_at=self.due_at,
            injected_at=self.injected_at,
            job_node=self.job_node,
            spare_free=self.spare_free,
            detected_at=self.detected_at,
            quarantined_at=self.quarantined_at,
            repaired_at=self.repaired_at,
        )


def schedulable(name: str, node: dict[str, Any]) -> bool:
    """The node can run the job's pods: auto-resume's own rule (Ready, health label
    Schedulable, no quarantine taint), and not being deleted."""
    return node_fault(name, node) is None and not node["metadata"].get("deletionTimestamp")


@dataclass
class Watch:
    kube: GoodputKube
    group: str
    namespace: str
    job: str
    since: dict[str, float] = field(default_factory=dict)  # schedulable node -> since when
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: list[RunStart] = field(default_factory=list)
    tracked: list[Tracked] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        record = JobKey(self.namespace, jobs.PYTORCHJOB_KIND, self.job).record_name
        self._nodes = self.kube.nodes(f"{GROUP_NAME}={self.group}")
        self._pods = self.kube.pods(self.namespace, f"{jobs.KUBEFLOW_JOB_NAME}={self.job}")
        self._record = self.kube.config_map(self.namespace, record)
        self._informers: list[Informer] = [self._nodes, self._pods, self._record]
        self._seen_runs: set[tuple[float, int]] = set()
        self.changed = asyncio.Event()

    def start(self) -> list[asyncio.Task[None]]:
        return [asyncio.create_task(i.run(self._on_change)) for i in self._informers]

    def _on_change(self) -> None:
        now = time.time()
        self.nodes = {n["metadata"]["name"]: n for n in self._nodes.objects.values()}
        for name, node in self.nodes.items():
            if schedulable(name, node):
                self.since.setdefault(name, now)
            else:
                self.since.pop(name, None)
        for gone in set(self.since) - set(self.nodes):
            self.since.pop(gone)
        for t in self.tracked:
            self._progress(t, now)
        self._new_run()
        self.changed.set()

    def _progress(self, t: Tracked, now: float) -> None:
        if t.action in (Action.NONE, Action.RESTART):
            return
        node = self.nodes.get(t.node)
        labels = (node or {}).get("metadata", {}).get("labels") or {}
        if t.detected_at is None and (node is None or labels.get(FAULT_TYPES)):
            t.detected_at = now
        # quarantined: what job auto-resume acts on (the health label or taint, NotReady, gone)
        if t.quarantined_at is None and node_fault(t.node, node) is not None:
            t.quarantined_at = now
        if t.quarantined_at is None or t.repaired_at is not None:
            return
        if t.action == Action.REBOOT and t.node in self.since:
            t.repaired_at = self.since[t.node]
        elif t.action == Action.REPLACE:
            new = sorted(set(self.since) - t.nodes_before, key=lambda n: self.since[n])
            if new:
                t.replacement = new[0]
                t.repaired_at = self.since[new[0]]

    def _new_run(self) -> None:
        for cm in self._record.objects.values():
            raw = (cm.get("data") or {}).get("run") or ""
            if not raw:
                continue
            run = json.loads(raw)
            key = (float(run["startedAt"]), int(run["restart"]))
            if key in self._seen_runs:
                continue
            self._seen_runs.add(key)
            on = self.job_nodes()
            ready = {n: self.since.get(n, key[0]) for n in on}
            self.runs.append(RunStart(key[0], int(run["step"]), key[1], ready))

    def job_pods(self) -> dict[str, str]:
        """The job's live pods: node -> pod name."""
        return {
            p["spec"]["nodeName"]: p["metadata"]["name"]
            for p in self._pods.objects.values()
            if p.get("spec", {}).get("nodeName")
            and not p["metadata"].get("deletionTimestamp")
            and p.get("status", {}).get("phase") == "Running"
        }

    def job_nodes(self) -> set[str]:
        return set(self.job_pods())

    def broken(self) -> bool:
        """A fault hit the job's current run (it has not restarted since)."""
        last = self.runs[-1].started_at if self.runs else 0.0
        return any(t.job_node and t.due_at >= last for t in self.tracked)

    def observed(self, now: float) -> Observed:
        return Observed(
            started_at=self.runs[0].started_at if self.runs else now,
            ended_at=now,
            runs=tuple(self.runs),
            faults=tuple(t.seen() for t in self.tracked),
            notes=tuple(self.notes),
        )
