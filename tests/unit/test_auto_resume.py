"""Job auto-resume's pure plan (logic/auto_resume.py): which faults restart a PyTorchJob, how
restarts are counted, when the job fails, and that a replanned pass never counts a fault twice."""

from __future__ import annotations

from typing import Any

import pytest

from podwarden.logic import auto_resume as ar
from podwarden.model.jobs import (
    AUTO_RESUME,
    AUTO_RESUME_HANDLED_PODS,
    AUTO_RESUME_RESTARTS,
    KUBEFLOW_JOB_NAME,
    MAX_RETRY,
)
from podwarden.model.labels import (
    FAULT_REASONS,
    HEALTH,
    PENDING_REBOOT,
    PENDING_REPLACEMENT,
    SCHEDULABLE,
)

NOW = 1_800_000_000.0


def job(
    name: str = "train",
    namespace: str = "kubeflow",
    *,
    auto_resume: str | None = "true",
    max_retry: str | None = "2",
    restarts: int | None = None,
    handled: tuple[str, ...] = (),
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    annotations: dict[str, str] = {}
    if auto_resume is not None:
        annotations[AUTO_RESUME] = auto_resume
    if max_retry is not None:
        annotations[MAX_RETRY] = max_retry
    if restarts is not None:
        annotations[AUTO_RESUME_RESTARTS] = str(restarts)
    if handled:
        annotations[AUTO_RESUME_HANDLED_PODS] = ",".join(handled)
    running = [{"type": "Running", "status": "True", "reason": "PyTorchJobRunning"}]
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{name}",
            "resourceVersion": "41",
            "annotations": annotations,
        },
        "status": {"conditions": running if conditions is None else conditions},
    }


def pod(
    uid: str,
    node: str | None,
    *,
    job_name: str = "train",
    namespace: str = "kubeflow",
    phase: str = "Running",
    owner: str | None = None,
) -> dict[str, Any]:
    owner_uid = owner if owner is not None else f"uid-{job_name}"
    return {
        "metadata": {
            "name": f"{job_name}-{uid}",
            "namespace": namespace,
            "uid": uid,
            "labels": {KUBEFLOW_JOB_NAME: job_name},
            "ownerReferences": [{"kind": "PyTorchJob", "uid": owner_uid, "controller": True}],
        },
        "spec": {"nodeName": node} if node else {},
        "status": {"phase": phase},
    }


def node(
    name: str,
    *,
    health: str = SCHEDULABLE,
    ready: bool = True,
    taint: bool = False,
    reasons: str | None = None,
) -> dict[str, Any]:
    labels = {HEALTH: health}
    if reasons:
        labels[FAULT_REASONS] = reasons
    taints = [{"key": HEALTH, "value": "Unschedulable", "effect": "NoSchedule"}] if taint else []
    condition = {"type": "Ready", "status": "True" if ready else "False"}
    if not ready:
        condition["reason"] = "Rebooting"
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints},
        "status": {"conditions": [condition]},
    }


def nodes(*items: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["metadata"]["name"]: n for n in items}


HEALTHY = nodes(node("hyperpod-i-0a"), node("hyperpod-i-0b"), node("hyperpod-i-0c"))
TWO_PODS = [pod("p1", "hyperpod-i-0a"), pod("p2", "hyperpod-i-0b")]


def with_node(changed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {**HEALTHY, changed["metadata"]["name"]: changed}


def only(actions: list[ar.Action]) -> ar.Action:
    assert len(actions) == 1, actions
    return actions[0]


def test_healthy_nodes_need_nothing() -> None:
    assert ar.plan([job()], TWO_PODS, HEALTHY, NOW) == []


@pytest.mark.parametrize(
    ("view", "kind", "words"),
    [
        (
            with_node(node("hyperpod-i-0a", health=PENDING_REPLACEMENT, reasons="NvidiaXid79")),
            ar.FaultKind.REPLACED,
            "UnschedulablePendingReplacement (faults: NvidiaXid79): its instance is being replaced",
        ),
        (
            {k: v for k, v in HEALTHY.items() if k != "hyperpod-i-0a"},
            ar.FaultKind.REPLACED,
            "is gone",
        ),
        (
            with_node(node("hyperpod-i-0a", health=PENDING_REBOOT)),
            ar.FaultKind.REBOOTED,
            "being rebooted",
        ),
        (with_node(node("hyperpod-i-0a", ready=False)), ar.FaultKind.REBOOTED, "NotReady"),
        (
            with_node(node("hyperpod-i-0a", health="Unschedulable", taint=True)),
            ar.FaultKind.QUARANTINED,
            "quarantined",
        ),
        (with_node(node("hyperpod-i-0a", taint=True)), ar.FaultKind.QUARANTINED, "quarantined"),
    ],
    ids=["replace-label", "replaced-node-gone", "reboot-label", "not-ready", "quarantine", "taint"],
)
def test_a_fault_under_one_pod_restarts_the_whole_job(
    view: dict[str, dict[str, Any]], kind: ar.FaultKind, words: str
) -> None:
    action = only(ar.plan([job()], TWO_PODS, view, NOW))
    assert isinstance(action, ar.RestartJob)
    assert not action.resumed
    assert (action.attempt, action.max_retries) == (1, 2)
    # the whole job: the pod on the healthy node goes too, each deleted by its uid
    assert {p.uid for p in action.pods} == {"p1", "p2"}
    assert set(action.handled) == {"p1", "p2"}
    assert [(f.node, f.kind) for f in action.faults] == [("hyperpod-i-0a", kind)]
    assert words in action.reason
    assert "restart 1 of 2" in action.reason and "kubeflow/train" in action.reason
    assert action.job == ar.JobRef("kubeflow", "train", "uid-train", "41")


def test_a_pod_waiting_on_a_rebooting_node_is_not_a_fault() -> None:
    """Not started yet on a node that is only NotReady: it runs when the node is back."""
    pods = [pod("p1", "hyperpod-i-0a", phase="Pending"), pod("p2", "hyperpod-i-0b")]
    assert ar.plan([job()], pods, with_node(node("hyperpod-i-0a", ready=False)), NOW) == []
    # but a pending pod on a quarantined node is moved
    quarantined = with_node(node("hyperpod-i-0a", health="Unschedulable", taint=True))
    assert isinstance(only(ar.plan([job()], pods, quarantined, NOW)), ar.RestartJob)


def test_finished_pods_and_unbound_pods_are_not_faults() -> None:
    pods = [pod("p1", "hyperpod-i-0a", phase="Succeeded"), pod("p2", None, phase="Pending")]
    view = with_node(node("hyperpod-i-0a", health=PENDING_REPLACEMENT))
    assert ar.plan([job()], pods, view, NOW) == []


@pytest.mark.parametrize(
    "the_job",
    [
        job(auto_resume=None),
        job(auto_resume="false"),
        job(namespace="default"),
        job(namespace="team-hyperpod"),
        job(conditions=[{"type": "Succeeded", "status": "True"}]),
        job(conditions=[{"type": "Failed", "status": "True", "reason": "PyTorchJobFailed"}]),
    ],
    ids=["no-annotation", "disabled", "other-namespace", "prefix-not-start", "done", "failed"],
)
def test_jobs_auto_resume_does_not_watch_are_left_alone(the_job: dict[str, Any]) -> None:
    namespace = the_job["metadata"]["namespace"]
    pods = [pod("p1", "hyperpod-i-0a", namespace=namespace)]
    view = with_node(node("hyperpod-i-0a", health=PENDING_REPLACEMENT))
    assert ar.plan([the_job], pods, view, NOW) == []


def test_a_namespace_prefixed_hyperpod_is_watched() -> None:
    pods = [pod("p1", "hyperpod-i-0a", namespace="hyperpod-ns-team-a")]
    view = with_node(node("hyperpod-i-0a", health=PENDING_REBOOT))
    the_job = job(namespace="hyperpod-ns-team-a")
    assert isinstance(only(ar.plan([the_job], pods, view, NOW)), ar.RestartJob)


def test_only_the_jobs_own_pods_count() -> None:
    """Other jobs' pods, another namespace's, and a pod of an earlier job of the same name."""
    view = with_node(node("hyperpod-i-0a", health=PENDING_REBOOT))
    strangers = [
        pod("q1", "hyperpod-i-0a", job_name="other"),
        pod("q2", "hyperpod-i-0a", namespace="hyperpod-x"),
        pod("q3", "hyperpod-i-0a", owner="uid-of-an-earlier-train"),
    ]
    assert ar.plan([job()], [*strangers, pod("p2", "hyperpod-i-0b")], view, NOW) == []


def applied(action: ar.RestartJob, the_job: dict[str, Any]) -> dict[str, Any]:
    """The job as the service leaves it after recording ``action``."""
    return job(
        max_retry=the_job["metadata"]["annotations"][MAX_RETRY],
        restarts=action.attempt,
        handled=action.handled,
    )


def test_a_fault_is_counted_once_however_often_it_is_planned() -> None:
    """Planning again after the record is written (a restarted podwarden, or a pass before the
    deletes landed) finishes the restart without counting it; recreated pods are a new
    generation, and only a new fault under them counts again."""
    view = with_node(node("hyperpod-i-0a", health=PENDING_REPLACEMENT))
    first = only(ar.plan([job()], TWO_PODS, view, NOW))
    assert isinstance(first, ar.RestartJob)
    # the same plan from the same observation is the same action (idempotent)
    assert ar.plan([job()], TWO_PODS, view, NOW) == [first]
    recorded = applied(first, job())

    # crashed after recording, before the deletes: only the deletes are done again
    again = only(ar.plan([recorded], TWO_PODS, view, NOW))
    assert isinstance(again, ar.RestartJob)
    assert again.resumed and again.attempt == 1 and again.faults == ()
    assert {p.uid for p in again.pods} == {"p1", "p2"}
    # one of the two was deleted already: the other one still goes
    again = only(ar.plan([recorded], TWO_PODS[1:], view, NOW))
    assert isinstance(again, ar.RestartJob) and [p.uid for p in again.pods] == ["p2"]

    # Kubeflow recreated both (new uids) on healthy nodes: nothing more to do
    recreated = [pod("p3", "hyperpod-i-0b"), pod("p4", "hyperpod-i-0c")]
    assert ar.plan([recorded], recreated, view, NOW) == []
    # a second fault, under the new generation, is restart 2
    second_view = {**view, "hyperpod-i-0c": node("hyperpod-i-0c", health=PENDING_REBOOT)}
    second = only(ar.plan([recorded], recreated, second_view, NOW))
    assert isinstance(second, ar.RestartJob)
    assert (second.attempt, second.resumed, set(second.handled)) == (2, False, {"p3", "p4"})


def test_retries_used_up_fail_the_job_with_a_reason() -> None:
    the_job = job(max_retry="1", restarts=1, handled=("old1", "old2"))
    pods = [
        pod("p1", "hyperpod-i-0a"),
        pod("p2", "hyperpod-i-0b"),
        pod("p0", "hyperpod-i-0b", phase="Failed"),
    ]
    view = with_node(node("hyperpod-i-0a", health=PENDING_REPLACEMENT))
    action = only(ar.plan([the_job], pods, view, NOW))
    assert isinstance(action, ar.FailJob)
    assert "used all 1 auto-resume restart" in action.reason
    assert "UnschedulablePendingReplacement" in action.reason
    # the active pods go (as on Kubeflow's backoff limit), the finished one stays for its logs
    assert {p.uid for p in action.pods} == {"p1", "p2"}
    assert action.status is not None
    assert action.status["metadata"] == {"resourceVersion": "41"}
    conditions = {c["type"]: c for c in action.status["status"]["conditions"]}
    assert conditions["Running"]["status"] == "False"
    failed = conditions["Failed"]
    assert (failed["status"], failed["reason"]) == ("True", ar.FAILED_REASON)
    assert failed["message"] == action.reason
    assert action.status["status"]["completionTime"] == "2027-01-15T08:00:00Z"


def test_a_job_auto_resume_failed_loses_its_remaining_active_pods() -> None:
    failed = [{"type": "Failed", "status": "True", "reason": ar.FAILED_REASON, "message": "m"}]
    the_job = job(conditions=failed)
    action = only(ar.plan([the_job], TWO_PODS, HEALTHY, NOW))
    assert isinstance(action, ar.FailJob)
    assert action.status is None and {p.uid for p in action.pods} == {"p1", "p2"}
    done = [pod("p1", "hyperpod-i-0a", phase="Failed")]
    assert ar.plan([the_job], done, HEALTHY, NOW) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, ar.DEFAULT_MAX_RETRY), ("3", 3), ("0", 0), ("x", 1), ("-2", 1)],
)
def test_max_retry_count(raw: str | None, expected: int) -> None:
    assert ar.max_retries(job(max_retry=raw)) == expected


def test_max_retry_zero_fails_at_the_first_fault() -> None:
    view = with_node(node("hyperpod-i-0a", health=PENDING_REBOOT))
    assert isinstance(only(ar.plan([job(max_retry="0")], TWO_PODS, view, NOW)), ar.FailJob)


def test_a_pod_lost_from_a_faulted_node_restarts_the_job() -> None:
    """A drain evicted the pod before any pass saw it on its faulted node."""
    fault = ar.NodeFault("hyperpod-i-0a", ar.FaultKind.REPLACED, "node hyperpod-i-0a is gone")
    lost = [ar.LostPod("uid-train", "p1", fault)]
    action = only(ar.plan([job()], TWO_PODS[1:], HEALTHY, NOW, lost))
    assert isinstance(action, ar.RestartJob)
    assert set(action.handled) == {"p1", "p2"} and action.faults == (fault,)
    # once recorded it is handled
    assert ar.plan([applied(action, job())], [], HEALTHY, NOW, lost) == []
    # lost pods of other jobs do not count
    other = [ar.LostPod("uid-other", "q1", fault)]
    assert ar.plan([job()], TWO_PODS, HEALTHY, NOW, other) == []
