"""The HyperPod training operator's plan (logic.hpto_plan): pods, conditions, spares, restarts,
exhaustion, deletion and idempotence, over a small in-memory cluster that applies the plan's
actions the way the apiserver and kwok would (a created pod appears Pending; a graceful delete
of a scheduled pod leaves it Terminating; a forced one removes it)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest

from podwarden.logic.hpto_actions import CreatePod, DeletePod, LabelPod, Plan
from podwarden.logic.hpto_plan import plan
from podwarden.model import jobs

NOW = 1_800_000_000.0
UID = "5b0c6d7e-0000-4000-8000-000000000001"
HEALTH = "sagemaker.amazonaws.com/node-health-status"

# the fields sagemaker-hyperpod 3.12.0's HyperPodPytorchJobStatus (and its nested models)
# know: `hyp list/describe` parse the status with models that forbid anything else
STATUS_FIELDS = {
    "completionTime", "conditions", "jobPods", "latestFaultyPodInstanceList", "managerPods",
    "masterAddr", "masterPort", "podManagerStatuses", "podSetInfos", "podSets", "restartCount",
    "restartStatus", "elasticScalingStatus", "elasticWorkloadRef", "startTime",
}  # fmt: skip
CONDITION_FIELDS = {"lastProbeTime", "lastTransitionTime", "message", "reason", "status", "type"}
REF_FIELDS = {"apiVersion", "fieldPath", "kind", "name", "namespace", "resourceVersion", "uid"}
RESTART_FIELDS = {"currentEvalPeriod", "fullJobRestartCount", "restartCount"}
FAULTY_FIELDS = {"restartType", "faultyInstanceIdList", "faultyPodList", "faultyRankList"}


def hpjob(
    replicas: int = 2, spares: int = 0, run_policy: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A job as `hyp create hyp-pytorch-job` sends it (template metadata names the job)."""
    spec: dict[str, Any] = {
        "nprocPerNode": "auto",
        "replicaSpecs": [
            {
                "name": "pod",
                "replicas": replicas,
                "spares": spares,
                "template": {
                    "metadata": {"name": "train", "namespace": "default"},
                    "spec": {
                        "containers": [
                            {
                                "name": "pytorch-job-container",
                                "image": "pytorch:2.4",
                                "resources": {"requests": {"nvidia.com/gpu": "1"}},
                            }
                        ],
                        "nodeSelector": {"node.kubernetes.io/instance-type": "ml.g5.xlarge"},
                    },
                },
            }
        ],
    }
    if run_policy is not None:
        spec["runPolicy"] = run_policy
    return {
        "apiVersion": "sagemaker.amazonaws.com/v1",
        "kind": "HyperPodPyTorchJob",
        "metadata": {"name": "train", "namespace": "default", "uid": UID},
        "spec": spec,
    }


def node(name: str, *, ready: bool = True, health: str = "Schedulable") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {HEALTH: health}},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


@dataclass
class Cluster:
    """What the apiserver holds: the job, its pods, the nodes; ``apply`` runs a plan."""

    job: dict[str, Any]
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    now: float = NOW
    booted: int = 0  # nodes the scheduler has used

    def plan(self) -> Plan:
        return plan(self.job, copy.deepcopy(list(self.pods.values())), self.nodes, self.now)

    def step(self) -> Plan:
        p = self.plan()
        self.apply(p)
        self.now += 1
        return p

    def apply(self, p: Plan, *, pods: bool = True) -> None:
        if p.status is not None:
            self.job["status"] = copy.deepcopy(p.status)
        for action in p.pods if pods else ():
            if isinstance(action, CreatePod):
                pod = copy.deepcopy(action.manifest)
                pod["metadata"]["uid"] = f"uid-{pod['metadata']['name']}"
                pod["status"] = {"phase": "Pending"}
                self.pods.setdefault(pod["metadata"]["name"], pod)
            elif isinstance(action, DeletePod):
                pod = self.pods[action.name]
                if action.force or not pod["spec"].get("nodeName"):
                    del self.pods[action.name]
                else:
                    pod["metadata"]["deletionTimestamp"] = "2027-01-15T08:00:00Z"
            elif isinstance(action, LabelPod):
                self.pods[action.name]["metadata"]["labels"].update(action.labels)

    def run(self, phase: str = "Running") -> None:
        """The scheduler binds every pod to a fresh node of its own, and kwok runs it."""
        for pod in sorted(self.pods.values(), key=lambda p: p["metadata"]["name"]):
            if not pod["spec"].get("nodeName"):
                name = f"hyperpod-i-{self.booted:017x}"
                self.booted += 1
                self.nodes[name] = node(name)
                pod["spec"]["nodeName"] = name
            if pod["status"]["phase"] == "Pending":
                pod["status"]["phase"] = phase

    def finish_deletions(self) -> None:
        """kwok ends the graceful deletions on live nodes."""
        for name in [n for n, p in self.pods.items() if p["metadata"].get("deletionTimestamp")]:
            del self.pods[name]

    def workers(self) -> dict[int, str]:
        return {
            int(p["metadata"]["labels"][jobs.HPTO_RANK_LABEL]): n
            for n, p in self.pods.items()
            if p["metadata"]["labels"][jobs.HPTO_ROLE_LABEL] == jobs.HPTO_WORKER
            and not p["metadata"].get("deletionTimestamp")
        }

    def spares(self) -> list[str]:
        return sorted(
            n
            for n, p in self.pods.items()
            if p["metadata"]["labels"][jobs.HPTO_ROLE_LABEL] == jobs.HPTO_SPARE
            and not p["metadata"].get("deletionTimestamp")
        )

    def condition(self, kind: str) -> dict[str, Any] | None:
        conds = self.job["status"]["conditions"]
        return next((c for c in conds if c["type"] == kind), None)

    def shown(self) -> str:
        """What `hyp list` shows as STATUS: the last condition whose status is True."""
        conds = self.job["status"]["conditions"]
        return str(next(c["type"] for c in reversed(conds) if c["status"] == "True"))


def running(replicas: int = 2, spares: int = 0, **policy: Any) -> Cluster:
    c = Cluster(hpjob(replicas, spares, policy or None))
    c.step()
    c.run()
    c.step()
    assert c.shown() == "Running"
    return c


def test_first_pass_creates_workers_and_spares_owned_by_the_job() -> None:
    c = Cluster(hpjob(replicas=2, spares=1))
    p = c.step()
    created = [a.manifest for a in p.pods if isinstance(a, CreatePod)]
    assert [m["metadata"]["name"] for m in created] == ["train-pod-0", "train-pod-1", "train-pod-2"]
    for m in created:
        meta = m["metadata"]
        assert meta["labels"][jobs.HPTO_JOB_LABEL] == "train"
        assert meta["ownerReferences"] == [
            {
                "apiVersion": "sagemaker.amazonaws.com/v1",
                "kind": "HyperPodPyTorchJob",
                "name": "train",
                "uid": UID,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert m["spec"]["nodeSelector"] == {"node.kubernetes.io/instance-type": "ml.g5.xlarge"}
        assert m["spec"]["restartPolicy"] == "Never"
    assert c.workers() == {0: "train-pod-0", 1: "train-pod-1"}
    assert c.spares() == ["train-pod-2"]
    env = {e["name"]: e["value"] for e in created[1]["spec"]["containers"][0]["env"]}
    assert env == {"PET_NNODES": "2", "PET_NPROC_PER_NODE": "auto", "PET_NODE_RANK": "1"}
    spare_env = {e["name"] for e in created[2]["spec"]["containers"][0]["env"]}
    assert "PET_NODE_RANK" not in spare_env
    status = c.job["status"]
    assert c.shown() == "Created"
    assert status["restartCount"] == 0 and status["startTime"] == "2027-01-15T08:00:00Z"


def test_same_facts_give_the_same_plan_and_a_converged_job_plans_nothing() -> None:
    c = Cluster(hpjob(replicas=2, spares=1))
    assert c.plan() == c.plan()
    c.step()
    c.run()
    c.step()  # Running, jobPods recorded
    quiet = c.plan()
    assert quiet == Plan(None, (), ())
    assert [r["name"] for r in c.job["status"]["jobPods"]] == [
        "train-pod-0",
        "train-pod-1",
        "train-pod-2",
    ]


def test_running_then_succeeded_and_the_pods_cleaned_up_by_policy() -> None:
    c = running(replicas=2, spares=1)
    ran = c.condition("Running")
    assert ran is not None and ran["reason"] == "JobRunning"
    for n, pod in c.pods.items():
        if n != "train-pod-2":
            pod["status"]["phase"] = "Succeeded"
    p = c.step()
    assert c.shown() == "Succeeded"
    assert c.job["status"]["completionTime"]
    assert {a.name for a in p.pods if isinstance(a, DeletePod)} == set(c.pods)  # policy All
    assert [e.reason for e in p.events] == ["JobSucceeded"]
    c.finish_deletions()
    assert c.plan() == Plan(None, (), ())


def test_clean_pod_policy_none_keeps_the_pods_and_running_deletes_unfinished() -> None:
    for policy, kept in (
        ("None", {"train-pod-0", "train-pod-1", "train-pod-2"}),
        ("Running", set()),
    ):
        c = running(replicas=2, spares=1, cleanPodPolicy=policy)
        for n in ("train-pod-0", "train-pod-1"):
            c.pods[n]["status"]["phase"] = "Succeeded"
        p = c.step()
        deleted = {a.name for a in p.pods if isinstance(a, DeletePod)}
        assert set(c.pods) - deleted == kept | {"train-pod-0", "train-pod-1"}


def test_a_failed_worker_is_replaced_by_a_running_spare_without_a_restart() -> None:
    c = running(replicas=2, spares=1, jobMaxRetryCount=3)
    c.pods["train-pod-1"]["status"] = {
        "phase": "Failed",
        "containerStatuses": [
            {"name": "pytorch-job-container", "state": {"terminated": {"exitCode": 134}}}
        ],
    }
    p = c.step()
    assert LabelPod("train-pod-2", {"podwarden.io/hpjob-role": "worker", "podwarden.io/hpjob-rank": "1"}) in p.pods  # fmt: skip
    assert DeletePod("train-pod-1", force=False) in p.pods
    assert not [a for a in p.pods if isinstance(a, CreatePod)]  # its slot is not free yet
    status = c.job["status"]
    assert status["restartCount"] == 0  # no full restart
    assert status["restartStatus"]["restartCount"] == 1
    assert status["latestFaultyPodInstanceList"]["restartType"] == "PLR"
    assert status["latestFaultyPodInstanceList"]["faultyPodList"] == ["train-pod-1"]
    assert status["latestFaultyPodInstanceList"]["faultyRankList"] == ["1"]
    (event,) = p.events
    assert event.reason == "SpareReplacedPod" and "exited with code 134" in event.message
    assert c.shown() == "Running"
    assert c.workers() == {0: "train-pod-0", 1: "train-pod-2"}
    c.finish_deletions()
    p = c.step()  # the freed slot gets a new spare
    assert [a.manifest["metadata"]["name"] for a in p.pods if isinstance(a, CreatePod)] == [
        "train-pod-1"
    ]
    assert c.spares() == ["train-pod-1"]
    assert c.job["status"]["restartStatus"]["restartCount"] == 1  # counted once


def test_node_fault_without_spares_restarts_the_whole_job_as_a_new_generation() -> None:
    c = running(replicas=2, jobMaxRetryCount=2)
    bad = c.pods["train-pod-0"]["spec"]["nodeName"]
    c.nodes[bad] = node(bad, health="UnschedulablePendingReplacement")
    p = c.step()
    status = c.job["status"]
    assert status["restartCount"] == 1
    assert status["restartStatus"] == {
        "currentEvalPeriod": 0,
        "fullJobRestartCount": 1,
        "restartCount": 0,
    }
    assert status["latestFaultyPodInstanceList"]["faultyInstanceIdList"] == [
        bad.removeprefix("hyperpod-")
    ]
    assert c.shown() == "Restarting"
    running_cond = c.condition("Running")
    assert running_cond is not None and running_cond["status"] == "False"
    restarting = c.condition("Restarting")
    assert restarting is not None and "UnschedulablePendingReplacement" in restarting["message"]
    assert "restart 1 of 2" in restarting["message"]
    assert {a.name for a in p.pods if isinstance(a, DeletePod)} == {"train-pod-0", "train-pod-1"}
    created = [a.manifest["metadata"]["name"] for a in p.pods if isinstance(a, CreatePod)]
    assert created == ["train-pod-0-r1", "train-pod-1-r1"]
    assert [e.reason for e in p.events] == ["JobRestarting"]
    c.finish_deletions()
    c.run()
    c.step()
    assert c.shown() == "Running"
    again = c.condition("Restarting")
    assert again is not None and (again["status"], again["reason"]) == ("False", "JobRestarted")


def test_a_gone_or_not_ready_node_means_a_forced_deletion() -> None:
    for fault in ("gone", "NotReady"):
        c = running(replicas=2, jobMaxRetryCount=1)
        bad = c.pods["train-pod-1"]["spec"]["nodeName"]
        if fault == "gone":
            del c.nodes[bad]
        else:
            c.nodes[bad] = node(bad, ready=False)
        p = c.step()
        assert DeletePod("train-pod-1", force=True) in p.pods
        assert DeletePod("train-pod-0", force=False) in p.pods
        restarting = c.condition("Restarting")
        assert restarting is not None and fault in restarting["message"]


def test_retries_exhausted_fails_the_job_with_the_reason() -> None:
    c = running(replicas=1, jobMaxRetryCount=1, cleanPodPolicy="None")
    c.pods["train-pod-0"]["status"]["phase"] = "Failed"
    c.step()
    assert c.job["status"]["restartCount"] == 1
    c.run()
    c.step()
    c.pods["train-pod-0-r1"]["status"]["phase"] = "Failed"
    p = c.step()
    assert c.shown() == "Failed"
    failed = c.condition("Failed")
    assert failed is not None and failed["reason"] == "RetriesExhausted"
    assert "train-pod-0-r1" in failed["message"] and "all 1 restarts are used" in failed["message"]
    assert c.job["status"]["restartCount"] == 1 and c.job["status"]["completionTime"]
    assert not p.pods  # cleanPodPolicy None keeps them
    assert [e.reason for e in p.events] == ["JobFailed"]
    assert c.plan() == Plan(None, (), ())  # terminal: nothing more


def test_without_a_retry_count_the_first_fault_fails_the_job() -> None:
    c = running(replicas=2)
    c.pods["train-pod-0"]["status"]["phase"] = "Failed"
    c.step()
    failed = c.condition("Failed")
    assert failed is not None and "allows no restarts" in failed["message"]


def test_spare_swaps_are_bounded_by_num_restart_before_full_job_restart() -> None:
    c = running(
        replicas=1,
        spares=2,
        jobMaxRetryCount=5,
        restartPolicy={"evalPeriodSeconds": 3600, "numRestartBeforeFullJobRestart": 1},
    )
    c.pods["train-pod-0"]["status"]["phase"] = "Failed"
    c.step()
    assert c.workers() == {0: "train-pod-1"}
    c.finish_deletions()
    c.step()
    c.run()
    c.step()
    c.pods["train-pod-1"]["status"]["phase"] = "Failed"
    c.step()
    status = c.job["status"]
    assert (
        status["restartCount"] == 1
        and status["latestFaultyPodInstanceList"]["restartType"] == "JLR"
    )


def test_an_evicted_or_vanished_worker_is_a_fault_a_vanished_spare_is_not() -> None:
    c = running(replicas=2, spares=1, jobMaxRetryCount=3)
    c.pods["train-pod-2"]["metadata"]["deletionTimestamp"] = "2027-01-15T08:00:00Z"
    del c.pods["train-pod-2"]  # the spare's pod vanished: refilled, nothing counted
    p = c.step()
    assert [a.manifest["metadata"]["name"] for a in p.pods if isinstance(a, CreatePod)] == [
        "train-pod-2"
    ]
    assert c.job["status"]["restartCount"] == 0 and not p.events
    c.run()
    c.step()
    c.pods["train-pod-0"]["metadata"]["deletionTimestamp"] = "2027-01-15T08:00:00Z"  # evicted
    p = c.step()
    assert c.workers()[0] == "train-pod-2"
    assert "was deleted or evicted" in p.events[0].message
    c.finish_deletions()
    c.step()
    c.run()
    c.step()
    del c.pods["train-pod-1"]  # a worker vanished between two passes
    p = c.step()
    assert c.job["status"]["restartStatus"]["restartCount"] == 2
    assert c.workers() == {0: "train-pod-2", 1: "train-pod-0"}


def test_a_crash_between_the_status_and_the_pod_actions_converges_without_counting_twice() -> None:
    c = running(replicas=2, jobMaxRetryCount=3)
    c.pods["train-pod-1"]["status"]["phase"] = "Failed"
    first = c.plan()
    c.apply(first, pods=False)  # the status was written, then the operator died
    again = c.plan()
    assert again.status is None  # nothing new to record
    assert again.pods == first.pods
    assert c.job["status"]["restartCount"] == 1
    c.apply(again)
    c.finish_deletions()
    c.run()
    c.step()
    assert c.shown() == "Running" and c.job["status"]["restartCount"] == 1
    assert sorted(c.pods) == ["train-pod-0-r1", "train-pod-1-r1"]


def test_pods_not_owned_by_the_job_are_left_alone() -> None:
    c = Cluster(hpjob(replicas=1))
    c.pods["by-hand"] = {
        "metadata": {"name": "by-hand", "labels": {"HPJob": "train"}},
        "spec": {"nodeName": "hyperpod-i-0"},
        "status": {"phase": "Failed"},
    }
    p = c.step()
    assert not [a for a in p.pods if isinstance(a, DeletePod)]
    assert c.shown() == "Created"


def test_a_job_being_deleted_is_left_to_the_garbage_collector() -> None:
    c = running(replicas=2)
    c.job["metadata"]["deletionTimestamp"] = "2027-01-15T08:00:00Z"
    c.pods["train-pod-0"]["status"]["phase"] = "Failed"
    assert c.plan() == Plan(None, (), ())


def test_stale_generation_pods_are_deleted() -> None:
    c = running(replicas=1, jobMaxRetryCount=1)
    c.job["status"]["restartCount"] = 1  # a restart recorded by an earlier operator
    p = c.step()
    assert DeletePod("train-pod-0", force=False) in p.pods
    assert [a.manifest["metadata"]["name"] for a in p.pods if isinstance(a, CreatePod)] == [
        "train-pod-0-r1"
    ]


def test_conditions_keep_their_transition_time_and_hyp_can_read_the_status() -> None:
    c = running(replicas=2, spares=1, jobMaxRetryCount=1)
    created = c.condition("Created")
    assert created is not None
    c.pods["train-pod-0"]["status"]["phase"] = "Failed"
    c.pods["train-pod-2"]["status"]["phase"] = "Pending"  # no spare can take over
    c.step()
    assert c.condition("Created") == created
    status = c.job["status"]
    assert set(status) <= STATUS_FIELDS
    assert all(set(cond) <= CONDITION_FIELDS for cond in status["conditions"])
    assert all(set(ref) <= REF_FIELDS for ref in status["jobPods"])
    assert set(status["restartStatus"]) == RESTART_FIELDS
    assert set(status["latestFaultyPodInstanceList"]) <= FAULTY_FIELDS
    assert [cond["type"] for cond in status["conditions"]] == ["Created", "Running", "Restarting"]


def test_deadline_exceeded_fails_the_job() -> None:
    c = running(replicas=1, activeDeadlineSeconds=60)
    c.now += 120
    c.step()
    failed = c.condition("Failed")
    assert failed is not None and failed["reason"] == "DeadlineExceeded"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda j: j["spec"]["replicaSpecs"][0].update(replicas=0), "no workers"),
        (
            lambda j: j["spec"]["replicaSpecs"][0]["template"]["spec"].pop("containers"),
            "no containers",
        ),
    ],
)
def test_a_job_that_cannot_run_fails_once(change: Any, why: str) -> None:
    job = hpjob()
    change(job)
    c = Cluster(job)
    p = c.step()
    failed = c.condition("Failed")
    assert failed is not None and failed["reason"] == "InvalidSpec" and why in failed["message"]
    assert [e.reason for e in p.events] == ["JobFailed"] and not p.pods
    assert c.plan() == Plan(None, (), ())
