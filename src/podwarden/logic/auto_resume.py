"""HyperPod's job auto-resume for Kubeflow PyTorchJobs (docs/sources.md, "Job auto-resume"):
``plan(jobs, pods, nodes, now) -> actions``, pure.

A job takes part when it is annotated ``sagemaker.amazonaws.com/enable-job-auto-resume: "true"``,
lives in namespace ``kubeflow`` or one prefixed ``hyperpod``, and has not finished. When a node
under one of its pods is quarantined (health label ``Unschedulable*`` or the health taint),
rebooted (NotReady, ``UnschedulablePendingReboot``) or replaced (node gone,
``UnschedulablePendingReplacement``), the whole job restarts: every pod is deleted and the
Kubeflow operator recreates them, on nodes labelled ``node-health-status=Schedulable`` (the
job's own pinning). Each restart counts against ``job-max-retry-count``; once they are used up,
the next fault fails the job instead. Other jobs are left to Kubeflow's own restart policy.

The state is on the job, so a restarted podwarden converges: the restarts made so far, and the
uids of the pods the last restart removed. A faulted pod whose uid is recorded is a leftover of
a fault already counted: it is deleted again, never counted again. The caller writes that
record (with the job's resourceVersion as a precondition) before deleting any pod.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from podwarden.model.jobs import (
    AUTO_RESUME,
    AUTO_RESUME_HANDLED_PODS,
    AUTO_RESUME_NAMESPACE,
    AUTO_RESUME_NAMESPACE_PREFIX,
    AUTO_RESUME_RESTARTS,
    KUBEFLOW_JOB_NAME,
    MAX_RETRY,
    PYTORCHJOB_KIND,
)
from podwarden.model.labels import (
    FAULT_REASONS,
    HEALTH,
    PENDING_REBOOT,
    PENDING_REPLACEMENT,
    SCHEDULABLE,
)

# the CLI's --max-retry default (sagemaker-hyperpod 3.12), for a job that names no count
DEFAULT_MAX_RETRY = 1
# the reason of the Failed condition a job gets when its restarts are used up
FAILED_REASON = "JobAutoResumeRetriesExhausted"
FINISHED = frozenset({"Succeeded", "Failed"})


class FaultKind(StrEnum):
    QUARANTINED = "quarantined"
    REBOOTED = "rebooted"
    REPLACED = "replaced"


@dataclass(frozen=True)
class NodeFault:
    node: str
    kind: FaultKind
    detail: str  # a sentence for Events and messages


@dataclass(frozen=True)
class JobRef:
    namespace: str
    name: str
    uid: str
    resource_version: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class PodRef:
    namespace: str
    name: str
    uid: str  # deleted with this uid as a precondition: Kubeflow reuses pod names


@dataclass(frozen=True)
class LostPod:
    """A job's pod seen deleted while its node was faulted (a drain can evict it before a pass
    sees it on the node): evidence of a fault that the pods still present no longer show."""

    job_uid: str
    uid: str
    fault: NodeFault


@dataclass(frozen=True)
class RestartJob:
    """Record the restart on the job (``attempt``, ``handled``), then delete ``pods``. With
    ``resumed`` the record is there already (an earlier pass wrote it): only delete."""

    job: JobRef
    reason: str
    attempt: int
    max_retries: int
    pods: tuple[PodRef, ...]
    handled: tuple[str, ...]
    faults: tuple[NodeFault, ...]
    resumed: bool = False


@dataclass(frozen=True)
class FailJob:
    """Patch the job's status to ``status`` (a Failed condition; None: it is Failed already),
    then delete its active pods, as Kubeflow does when a job reaches its backoff limit."""

    job: JobRef
    reason: str
    pods: tuple[PodRef, ...]
    faults: tuple[NodeFault, ...]
    status: dict[str, Any] | None


Action = RestartJob | FailJob


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, str]:
    found: Mapping[str, str] = _meta(obj).get("annotations") or {}
    return found


def in_scope_namespace(namespace: str) -> bool:
    return namespace == AUTO_RESUME_NAMESPACE or namespace.startswith(AUTO_RESUME_NAMESPACE_PREFIX)


def _conditions(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (job.get("status") or {}).get("conditions") or []
    return found


def _condition_true(job: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in _conditions(job) if c["type"] == kind and c["status"] == "True"), None)


def watched(job: Mapping[str, Any]) -> bool:
    """Annotated for auto-resume, in a namespace where it applies, not being deleted."""
    meta = _meta(job)
    return (
        _annotations(job).get(AUTO_RESUME, "").lower() == "true"
        and in_scope_namespace(meta.get("namespace", ""))
        and not meta.get("deletionTimestamp")
    )


def max_retries(job: Mapping[str, Any]) -> int:
    """``job-max-retry-count`` (a string holding a count >= 0), else the CLI's default."""
    return _count(_annotations(job).get(MAX_RETRY), DEFAULT_MAX_RETRY)


def _count(raw: str | None, default: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return value if value >= 0 else default


def node_fault(name: str, node: Mapping[str, Any] | None) -> NodeFault | None:
    """Why ``node`` can no longer run a job's pod, if it cannot (``None``: the node is gone)."""
    if node is None:
        return NodeFault(
            name, FaultKind.REPLACED, f"node {name} is gone (its instance was replaced)"
        )
    return _label_fault(name, node) or _not_ready(name, node)


def _label_fault(name: str, node: Mapping[str, Any]) -> NodeFault | None:
    """The fault the health label or the quarantine taint shows (the health agent's verdict,
    a failed deep check, or a user asking for a recovery)."""
    labels = _meta(node).get("labels") or {}
    health = labels.get(HEALTH, SCHEDULABLE)
    why = f" (faults: {labels[FAULT_REASONS]})" if labels.get(FAULT_REASONS) else ""
    if health == PENDING_REPLACEMENT:
        text = f"node {name} is labelled {health}{why}: its instance is being replaced"
        return NodeFault(name, FaultKind.REPLACED, text)
    if health == PENDING_REBOOT:
        text = f"node {name} is labelled {health}{why}: its instance is being rebooted"
        return NodeFault(name, FaultKind.REBOOTED, text)
    taints = (node.get("spec") or {}).get("taints") or []
    if health != SCHEDULABLE or any(t.get("key") == HEALTH for t in taints):
        text = f"node {name} is quarantined ({HEALTH}={health}){why}"
        return NodeFault(name, FaultKind.QUARANTINED, text)
    return None


def _not_ready(name: str, node: Mapping[str, Any]) -> NodeFault | None:
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), None)
    if ready is not None and ready.get("status") == "True":
        return None
    reason = (ready or {}).get("reason") or "no Ready condition"
    text = f"node {name} is NotReady ({reason}): its instance is rebooting or down"
    return NodeFault(name, FaultKind.REBOOTED, text)


def pod_fault(pod: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]]) -> NodeFault | None:
    """The fault of the node a pod is bound to. A pod that has not started (Pending) on a node
    that is merely NotReady waits for it, as on a kubelet: it has lost nothing yet."""
    status = pod.get("status") or {}
    name = (pod.get("spec") or {}).get("nodeName")
    if not name or status.get("phase") == "Succeeded":
        return None
    node = nodes.get(name)
    if node is None:
        return node_fault(name, None)
    fault = _label_fault(name, node)
    if fault is not None or status.get("phase", "Pending") == "Pending":
        return fault
    return _not_ready(name, node)


def pods_of(job: Mapping[str, Any], pods: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The job's pods: Kubeflow's job-name label in its namespace, and, where a pod names its
    controller, this very job (not an earlier job of the same name)."""
    meta = _meta(job)
    out = []
    for pod in pods:
        pmeta = _meta(pod)
        if pmeta.get("namespace") != meta.get("namespace"):
            continue
        if (pmeta.get("labels") or {}).get(KUBEFLOW_JOB_NAME) != meta.get("name"):
            continue
        owners = [o for o in pmeta.get("ownerReferences") or [] if o.get("controller")]
        if owners and owners[0].get("uid") != meta.get("uid"):
            continue
        out.append(pod)
    return out


def _ref(job: Mapping[str, Any]) -> JobRef:
    meta = _meta(job)
    return JobRef(meta["namespace"], meta["name"], meta.get("uid", ""), meta["resourceVersion"])


def _pod_ref(pod: Mapping[str, Any]) -> PodRef:
    meta = _meta(pod)
    return PodRef(meta["namespace"], meta["name"], meta["uid"])


def _active(pod: Mapping[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") not in FINISHED


def iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def failed_status(job: Mapping[str, Any], message: str, now: float) -> dict[str, Any]:
    """A merge patch of the job's status subresource: a Failed condition (Running set False, as
    Kubeflow's own ``UpdateJobConditions`` does) and the completion time, guarded by the job's
    resourceVersion. Kubeflow v1.8.1 leaves a Failed job alone: ``ReconcileJobs`` only cleans
    up a finished job, and ``setCondition`` changes nothing once Failed is True."""
    stamp = iso(now)
    conditions = []
    for cond in _conditions(job):
        if cond["type"] == "Failed":
            continue
        stopped = cond["type"] == "Running" and cond["status"] == "True"
        ended = {"status": "False", "lastUpdateTime": stamp, "lastTransitionTime": stamp}
        conditions.append({**cond, **ended} if stopped else cond)
    conditions.append(
        {
            "type": "Failed",
            "status": "True",
            "reason": FAILED_REASON,
            "message": message,
            "lastUpdateTime": stamp,
            "lastTransitionTime": stamp,
        }
    )
    status = job.get("status") or {}
    return {
        "metadata": {"resourceVersion": _meta(job)["resourceVersion"]},
        "status": {
            "conditions": conditions,
            "completionTime": status.get("completionTime") or stamp,
        },
    }


def _handled(job: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(u for u in _annotations(job).get(AUTO_RESUME_HANDLED_PODS, "").split(",") if u)


def _faults(
    job: Mapping[str, Any],
    pods: list[Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]],
    lost: Iterable[LostPod],
) -> tuple[list[str], tuple[NodeFault, ...]]:
    """The uids of the job's pods hit by a fault not yet handled, and those faults (one per
    node)."""
    handled, uid = _handled(job), _meta(job).get("uid")
    hit: dict[str, NodeFault] = {}
    for pod in pods:
        fault = pod_fault(pod, nodes)
        if fault is not None and _meta(pod)["uid"] not in handled:
            hit[_meta(pod)["uid"]] = fault
    for gone in lost:
        if gone.job_uid == uid and gone.uid not in handled:
            hit.setdefault(gone.uid, gone.fault)
    by_node = {f.node: f for f in hit.values()}
    return list(hit), tuple(by_node[n] for n in sorted(by_node))


def plan_job(
    job: Mapping[str, Any],
    pods: list[Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]],
    now: float,
    lost: Iterable[LostPod] = (),
) -> Action | None:
    """The one action for a watched job and its pods, or None."""
    ref = _ref(job)
    failed = _condition_true(job, "Failed")
    if failed is not None or _condition_true(job, "Succeeded") is not None:
        # finished; a job auto-resume failed still has its active pods removed
        active = tuple(_pod_ref(p) for p in pods if _active(p))
        if failed is None or failed.get("reason") != FAILED_REASON or not active:
            return None
        return FailJob(ref, failed.get("message", ""), active, (), None)
    hit, faults = _faults(job, pods, nodes, lost)
    restarts = _count(_annotations(job).get(AUTO_RESUME_RESTARTS), 0)
    limit = max_retries(job)
    if not hit:
        handled = _handled(job)
        leftovers = tuple(_pod_ref(p) for p in pods if _meta(p)["uid"] in handled)
        if not leftovers:
            return None
        reason = f"finishing auto-resume restart {restarts} of PyTorchJob {ref}"
        return RestartJob(ref, reason, restarts, limit, leftovers, tuple(sorted(handled)), (), True)
    what = "; ".join(f.detail for f in faults)
    if restarts >= limit:
        reason = (
            f"{what}; PyTorchJob {ref} has used all {limit} auto-resume restart(s) "
            f"({MAX_RETRY}={limit}), so the job fails"
        )
        active = tuple(_pod_ref(p) for p in pods if _active(p))
        return FailJob(ref, reason, active, faults, failed_status(job, reason, now))
    generation = sorted({_meta(p)["uid"] for p in pods} | set(hit))
    reason = (
        f"{what}; restarting all {len(pods)} pod(s) of {PYTORCHJOB_KIND} {ref} on healthy "
        f"nodes (auto-resume restart {restarts + 1} of {limit})"
    )
    return RestartJob(
        ref,
        reason,
        restarts + 1,
        limit,
        tuple(_pod_ref(p) for p in pods),
        tuple(generation),
        faults,
    )


def plan(
    jobs: Iterable[Mapping[str, Any]],
    pods: Iterable[Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]],
    now: float,
    lost: Iterable[LostPod] = (),
) -> list[Action]:
    """One action per watched job that needs one. ``nodes`` maps every node's name to the Node
    (a pod bound to a name missing here is on a node that is gone); ``lost`` are pods deleted
    while their node was faulted (kept by the caller's pod watch)."""
    by_job: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for pod in pods:
        meta = _meta(pod)
        name = (meta.get("labels") or {}).get(KUBEFLOW_JOB_NAME, "")
        by_job.setdefault((meta.get("namespace", ""), name), []).append(pod)
    lost = list(lost)
    actions: list[Action] = []
    for job in jobs:
        if not watched(job):
            continue
        candidates = by_job.get((_meta(job)["namespace"], _meta(job)["name"]), [])
        action = plan_job(job, pods_of(job, candidates), nodes, now, lost)
        if action is not None:
            actions.append(action)
    return actions
