"""Plan one pass of the HyperPod training operator for one HyperPodPyTorchJob (pure):
(job, its pods, the nodes, now) -> the job's new status and the pod actions.

Level-triggered and idempotent. The job's status is the record of every decision: a fault is
counted by writing it there (``restartCount``, ``restartStatus``, ``latestFaultyPodInstanceList``)
before any pod is touched, and the pods are then brought to what the status says. So the
operator applies the status first and the pod actions only when that write succeeded; a
restarted operator plans again from the same facts and neither counts a fault twice nor creates
a pod twice (names are deterministic, ``logic.hpto_pods``).

What a pass decides (docs/sources.md, "HyperPod training operator"):

- a worker fault: a worker pod Failed, or its node is gone, NotReady or not Schedulable, or a
  pod the status lists (``jobPods``) was deleted or evicted while its rank is left without a
  worker;
- on a fault, if the replica spec has a Running spare for every rank left without a worker
  (and ``restartPolicy.numRestartBeforeFullJobRestart`` allows), the spares take those ranks
  and the other workers go on ("PLR"); otherwise the whole job restarts with a new generation
  of pods ("JLR") while full restarts remain (``jobMaxRetryCount``, at most
  ``maxFullJobRestarts``); otherwise the job Fails with the reason;
- Succeeded when every rank's worker Succeeded; Running when all run; the pods are cleaned up
  at the end by ``cleanPodPolicy``; a job past ``activeDeadlineSeconds`` Fails.

Not modelled: elastic scaling, log monitoring, suspend, the restart evaluation window (its
``currentEvalPeriod`` stays 0) and ``ttlSecondsAfterFinished``.
"""

from __future__ import annotations

import calendar
import copy
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podwarden.logic.hpto_actions import CreatePod, DeletePod, Event, LabelPod, Plan, PodAction
from podwarden.logic.hpto_pods import (
    InvalidJob,
    JobSpec,
    PodView,
    ReplicaSpec,
    all_ranks,
    available_spares,
    current_pods,
    holders,
    is_doomed,
    job_spec,
    owned_by,
    pod_manifest,
    promotion_labels,
    vacant_in,
    vacant_ranks,
    view,
)
from podwarden.model.ids import instance_id_of_node

# the order conditions are listed in: `hyp list` shows the last one whose status is True
CONDITIONS = ("Created", "Running", "Restarting", "Succeeded", "Failed")


@dataclass(frozen=True)
class Fault:
    pod: str
    why: str
    rank: int | None
    node: str = ""

    def text(self) -> str:
        at = f" (rank {self.rank})" if self.rank is not None else ""
        return f"pod {self.pod}{at} {self.why}"


def iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def plan(
    job: Mapping[str, Any],
    pods: Iterable[Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]],
    now: float,
) -> Plan:
    if job["metadata"].get("deletionTimestamp"):
        return Plan(None)  # the garbage collector takes its pods
    old: dict[str, Any] = copy.deepcopy(dict(job.get("status") or {}))
    try:
        spec = job_spec(job)
    except (InvalidJob, KeyError, TypeError, ValueError) as exc:
        return _invalid(job, old, str(exc), now)
    views = [view(p, nodes) for p in pods if owned_by(p, spec.uid)]
    run = _Pass(spec, old, now)
    if run.terminal():
        return Plan(None, tuple(_cleanup(spec, views)))
    run.assess(views)
    actions = run.converge(views)
    status = None if run.status == job.get("status") else run.status
    return Plan(status, tuple(actions), tuple(run.events))


@dataclass
class _Pass:
    spec: JobSpec
    status: dict[str, Any]
    now: float
    events: list[Event] = field(default_factory=list)
    promoted: dict[str, int] = field(default_factory=dict)  # spare pod -> the rank it takes
    counted: set[str] = field(default_factory=set)  # faulty pods already counted

    def __post_init__(self) -> None:
        s = self.status
        s.setdefault("startTime", iso(self.now))
        s.setdefault("restartCount", 0)
        s.setdefault("restartStatus", {"currentEvalPeriod": 0})
        s["restartStatus"].setdefault("fullJobRestartCount", s["restartCount"])
        s["restartStatus"].setdefault("restartCount", 0)
        faulty = s.get("latestFaultyPodInstanceList") or {}
        self.counted = set(faulty.get("faultyPodList") or [])
        job = f"{self.spec.namespace}/{self.spec.name}"
        self.condition("Created", "True", "JobCreated", f"HyperPodPyTorchJob {job} is created.")

    @property
    def generation(self) -> int:
        return int(self.status["restartCount"])

    def terminal(self) -> bool:
        return self.is_true("Succeeded") or self.is_true("Failed")

    def is_true(self, kind: str) -> bool:
        conds = self.status.get("conditions") or []
        return any(c["type"] == kind and c["status"] == "True" for c in conds)

    def condition(self, kind: str, value: str, reason: str, message: str) -> None:
        """Set a condition; its lastTransitionTime moves only when its status changes."""
        conds = {c["type"]: c for c in self.status.get("conditions") or []}
        before = conds.get(kind)
        since = before["lastTransitionTime"] if before and before["status"] == value else None
        conds[kind] = {
            "type": kind,
            "status": value,
            "reason": reason,
            "message": message,
            "lastTransitionTime": since or iso(self.now),
        }
        ordered = [conds[k] for k in CONDITIONS if k in conds]
        self.status["conditions"] = ordered + [c for k, c in conds.items() if k not in CONDITIONS]

    # ------------------------------------------------------------ deciding

    def assess(self, views: Sequence[PodView]) -> None:
        deadline = self.spec.active_deadline
        started = _epoch(self.status["startTime"])
        if deadline is not None and started is not None and self.now - started > deadline:
            self.finish_failed("DeadlineExceeded", f"the job ran past {deadline} s")
            return
        current = current_pods(self.spec, views, self.generation)
        faults = self.new_faults(current, views)
        if faults:
            self.recover(faults, current)
        if not self.terminal():  # a full restart began a new generation
            self.progress(current_pods(self.spec, views, self.generation))

    def new_faults(self, current: Sequence[PodView], views: Sequence[PodView]) -> list[Fault]:
        """Worker faults not counted yet: faulty worker pods, and pods of ``jobPods`` that were
        deleted or evicted (still there, deleting: their labels say whether they were workers;
        gone: they were, if some rank has no worker the faulty pods explain). A pod of an older
        generation is no fault: it is deleted anyway."""
        ours = {v.name for v in current}
        present = {v.name: v for v in views}
        faults = [
            Fault(v.name, v.fault, v.rank, v.node)
            for v in current
            if v.rank is not None and v.fault and not v.deleting and v.name not in self.counted
        ]
        gone: list[str] = []
        for ref in self.status.get("jobPods") or []:
            name = ref.get("name", "")
            pod = present.get(name)
            if name in self.counted or (pod is not None and not (pod.deleting and name in ours)):
                continue
            if pod is None:
                gone.append(name)
            elif pod.rank is not None:
                faults.append(Fault(name, "was deleted or evicted", pod.rank, pod.node))
        unexplained = set(vacant_ranks(self.spec, current, {})) - {f.rank for f in faults}
        if gone and unexplained:
            faults += [Fault(name, "was deleted", None) for name in gone]
        return faults

    def recover(self, faults: list[Fault], current: Sequence[PodView]) -> None:
        vacant = vacant_ranks(self.spec, current, {})
        spares = available_spares(self.spec, current, set())
        swaps = int(self.status["restartStatus"]["restartCount"])
        budget = self.spec.swaps_before_full
        enough = all(len(vacant_in(s, vacant)) <= len(spares[s.name]) for s in self.spec.replicas)
        if enough and (budget is None or swaps + len(vacant) <= budget):
            self.record(faults, "PLR")
            self.status["restartStatus"]["restartCount"] = swaps + len(vacant)
            self.take_spares(faults, vacant, spares)
            return
        limit = self.spec.max_retries
        if self.spec.max_full_restarts is not None:
            limit = min(limit, self.spec.max_full_restarts)
        what = "; ".join(f.text() for f in faults)
        if self.generation < limit:
            self.record(faults, "JLR")
            self.restart(what, limit)
            return
        self.record(faults, None)
        if limit == 0:
            retries = "the job allows no restarts (runPolicy.jobMaxRetryCount is 0 or unset)"
        else:
            retries = f"all {limit} restarts are used (runPolicy.jobMaxRetryCount)"
        self.finish_failed("RetriesExhausted", f"{what}; {retries}")

    def record(self, faults: list[Fault], kind: str | None) -> None:
        """Count the faults: the status names them, so no later pass counts them again.
        ``kind``: PLR (spares took the ranks), JLR (full restart), None (the job fails)."""
        nodes = sorted({f.node for f in faults if f.node})
        record: dict[str, Any] = {"restartType": kind} if kind else {}
        self.status["latestFaultyPodInstanceList"] = record | {
            "faultyPodList": [f.pod for f in faults],
            "faultyInstanceIdList": [instance_id_of_node(n) or n for n in nodes],
            "faultyRankList": [str(f.rank) for f in faults if f.rank is not None],
        }
        self.counted |= {f.pod for f in faults}

    def take_spares(
        self, faults: list[Fault], vacant: list[int], spares: Mapping[str, list[PodView]]
    ) -> None:
        moves = []
        for replica in self.spec.replicas:
            for rank, spare in zip(vacant_in(replica, vacant), spares[replica.name], strict=False):
                self.promoted[spare.name] = rank
                moves.append(f"spare pod {spare.name} takes rank {rank}")
        what = "; ".join(f.text() for f in faults)
        if moves:
            message = f"{what}; {', '.join(moves)} without a full job restart"
            self.events.append(Event("SpareReplacedPod", message, warning=True))

    def restart(self, what: str, limit: int) -> None:
        n = self.generation + 1
        self.status["restartCount"] = n
        self.status["restartStatus"] = {
            "currentEvalPeriod": 0,
            "fullJobRestartCount": n,
            "restartCount": 0,
        }
        message = f"{what}; restarting the whole job (restart {n} of {limit})"
        self.condition("Restarting", "True", "JobRestarting", message)
        if self.is_true("Running"):
            self.condition("Running", "False", "JobRestarting", message)
        self.events.append(Event("JobRestarting", message, warning=True))

    def finish_failed(self, reason: str, message: str) -> None:
        for kind in ("Running", "Restarting"):
            if self.is_true(kind):
                self.condition(kind, "False", reason, message)
        self.condition("Failed", "True", reason, message)
        self.status["completionTime"] = iso(self.now)
        self.events.append(Event("JobFailed", message, warning=True))

    def progress(self, current: Sequence[PodView]) -> None:
        held = holders(self.spec, current, self.promoted)
        phases = [held[r].phase if r in held else "" for r in all_ranks(self.spec)]
        world = self.spec.world
        if all(p == "Succeeded" for p in phases):
            message = f"all {world} workers succeeded"
            if self.is_true("Running"):
                self.condition("Running", "False", "JobSucceeded", message)
            self.condition("Succeeded", "True", "JobSucceeded", message)
            self.status["completionTime"] = iso(self.now)
            self.events.append(Event("JobSucceeded", message, warning=False))
        elif all(p in ("Running", "Succeeded") for p in phases):
            self.condition("Running", "True", "JobRunning", f"all {world} workers are running")
            if self.is_true("Restarting"):
                message = f"the job runs again after restart {self.generation}"
                self.condition("Restarting", "False", "JobRestarted", message)
        elif self.is_true("Running"):
            running = phases.count("Running")
            message = f"{running} of {world} workers are running"
            self.condition("Running", "False", "WorkersNotRunning", message)

    # ------------------------------------------------------------ converging the pods

    def converge(self, views: Sequence[PodView]) -> list[PodAction]:
        """The pod actions that bring the pods to the (new) status, and ``jobPods``."""
        current = current_pods(self.spec, views, self.generation)
        if self.terminal():
            return list(_cleanup(self.spec, views))
        keep = {v.name for v in current}
        actions: list[PodAction] = [
            DeletePod(v.name, v.force) for v in views if v.name not in keep and not v.deleting
        ]
        doomed = {v.name for v in current if is_doomed(v, self.counted)}
        actions += [DeletePod(v.name, v.force) for v in current if v.name in doomed]
        actions += [LabelPod(n, promotion_labels(r)) for n, r in sorted(self.promoted.items())]
        for replica in self.spec.replicas:
            actions += self.fill(replica, [v for v in current if v.replica == replica.name])
        self.status["jobPods"] = [
            {"apiVersion": "v1", "kind": "Pod", "name": v.name, "namespace": self.spec.namespace}
            | ({"uid": v.uid} if v.uid else {})
            for v in sorted(current, key=lambda v: v.name)
            if not v.deleting and v.name not in doomed
        ]
        return actions

    def fill(self, replica: ReplicaSpec, pods: list[PodView]) -> list[PodAction]:
        """Ranks without a worker take a Running spare, else a new pod; then spares are
        started until the spec's count, each in the lowest free slot."""
        actions: list[PodAction] = []
        free = sorted(set(range(replica.slots)) - {v.slot for v in pods}, reverse=True)
        spares = available_spares(self.spec, pods, set(self.promoted))[replica.name]
        for rank in vacant_in(replica, vacant_ranks(self.spec, pods, self.promoted)):
            if spares:
                spare = spares.pop(0)
                self.promoted[spare.name] = rank
                actions.append(LabelPod(spare.name, promotion_labels(rank)))
            elif free:
                slot = free.pop()
                actions.append(
                    CreatePod(pod_manifest(self.spec, replica, slot, self.generation, rank))
                )
        kept = [v for v in pods if v.rank is None and v.healthy and v.name not in self.promoted]
        for _ in range(max(0, replica.spares - len(kept))):
            if free:
                slot = free.pop()
                actions.append(
                    CreatePod(pod_manifest(self.spec, replica, slot, self.generation, None))
                )
        return actions


# ---------------------------------------------------------------- helpers


def _cleanup(spec: JobSpec, views: Sequence[PodView]) -> list[PodAction]:
    """A finished job's pods by ``cleanPodPolicy``: All, Running (those not finished), None."""
    if spec.clean_pod_policy == "None":
        return []
    done = ("Succeeded", "Failed")
    return [
        DeletePod(v.name, v.force)
        for v in views
        if not v.deleting and (spec.clean_pod_policy == "All" or v.phase not in done)
    ]


def _invalid(job: Mapping[str, Any], old: dict[str, Any], why: str, now: float) -> Plan:
    """A spec that cannot run fails the job once, with the reason."""
    conds = old.get("conditions") or []
    if any(c["type"] == "Failed" and c["status"] == "True" for c in conds):
        return Plan(None)
    meta = job["metadata"]
    message = f"HyperPodPyTorchJob {meta.get('namespace')}/{meta.get('name')} is invalid: {why}"
    created = {"type": "Created", "status": "True", "reason": "JobCreated", "message": message}
    failed = {"type": "Failed", "status": "True", "reason": "InvalidSpec", "message": message}
    status = {
        **old,
        "conditions": [{**c, "lastTransitionTime": iso(now)} for c in (created, failed)],
        "startTime": old.get("startTime", iso(now)),
        "completionTime": iso(now),
        "restartCount": old.get("restartCount", 0),
    }
    return Plan(status, (), (Event("JobFailed", message, warning=True),))


def _epoch(stamp: str) -> float | None:
    try:
        return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))
    except (TypeError, ValueError):
        return None
