"""One pass of the training simulation over a job (logic/training_plan.py) and the job's view
of its pods, nodes and record (logic/training_jobs.py): rendezvous, progress in the logs,
checkpoints, faults, resumption from the checkpoint, completion, and passes that repeat
(a restarted simulator) writing nothing twice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest

from podwarden.logic.training_jobs import (
    JobKey,
    JobPod,
    JobRecord,
    end_annotations,
    job_pod,
    node_fault,
    parse_record,
    record_data,
    record_manifest,
)
from podwarden.logic.training_plan import NEVER, JobStep, plan_job, world_size
from podwarden.logic.training_progress import Run
from podwarden.model import jobs
from podwarden.model.labels import HEALTH, PENDING_REPLACEMENT, SCHEDULABLE
from podwarden.policy.training_simulation import load_simulation

SIM = load_simulation()
# 12 steps of 1 s, checkpoints after 4, 8 and 12 (0.5 s each), 2 s to (re)start, 2 nodes
ENV = {
    "PODWARDEN_TRAIN_STEPS": "12",
    "PODWARDEN_TRAIN_STEP_SECONDS": "1",
    "PODWARDEN_TRAIN_CHECKPOINT_EVERY": "4",
    "PODWARDEN_TRAIN_CHECKPOINT_SECONDS": "0.5",
    "PODWARDEN_TRAIN_RESTART_SECONDS": "2",
    "PODWARDEN_TRAIN_LOG_EVERY": "4",
    "PET_NNODES": "2",
}
HEALTHY: dict[str, str | None] = {"n0": None, "n1": None, "n2": None}


def pod_manifest(
    name: str, node: str | None, phase: str = "Running", *, env: Mapping[str, str] = ENV
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "kubeflow",
            "uid": f"uid-{name}",
            "labels": {jobs.KUBEFLOW_JOB_NAME: "llama"},
            "ownerReferences": [
                {
                    "apiVersion": "kubeflow.org/v1",
                    "kind": jobs.PYTORCHJOB_KIND,
                    "name": "llama",
                    "uid": "job-uid",
                    "controller": True,
                }
            ],
        },
        "spec": {
            "nodeName": node,
            "containers": [
                {"name": "sidecar", "image": "x"},
                {
                    "name": "pytorch",
                    "image": "y",
                    "env": [{"name": k, "value": v} for k, v in env.items()],
                },
            ],
        },
        "status": {"phase": phase},
    }


def pod(name: str, node: str | None, phase: str = "Running", **changes: Any) -> JobPod:
    found = job_pod(pod_manifest(name, node, phase))
    assert found is not None
    return replace(found, **changes)


class Simulator:
    """The simulator's bookkeeping around ``plan_job``: the record, what each log holds."""

    def __init__(self) -> None:
        self.record = JobRecord(owner_uid="job-uid")
        self.logs: dict[str, list[str]] = {}
        self.logged: dict[str, float] = {}
        self.told: frozenset[str] = frozenset()
        self.intact_at: float | None = None

    def step(
        self, pods: Sequence[JobPod], now: float, faults: Mapping[str, str | None] = HEALTHY
    ) -> JobStep:
        step = plan_job(
            SIM,
            self.record,
            pods,
            faults=faults,
            logged=self.logged,
            told=self.told,
            now=now,
            intact_at=self.intact_at,
        )
        self.record, self.told = step.record, step.told
        self.intact_at = now if step.record.run is not None else None
        for uid, lines in step.lines.items():
            times = [self.logged.get(uid, NEVER), *(line.at for line in lines)]
            assert times == sorted(times) and times[1] > times[0], "out of order"
            self.logs.setdefault(uid, []).extend(line.text for line in lines)
            self.logged[uid] = lines[-1].at
        return step

    def current(self) -> JobRecord:
        """The record (a call, so that type narrowing of ``record`` by an assert ends here)."""
        return self.record

    def log(self, name: str) -> str:
        return "\n".join(self.logs.get(f"uid-{name}", []))


def test_a_job_pod_is_read_from_its_labels_owner_and_main_container() -> None:
    found = job_pod(pod_manifest("llama-worker-0", "n0"))
    assert found is not None
    assert found.job == JobKey("kubeflow", jobs.PYTORCHJOB_KIND, "llama")
    assert found.main == "pytorch" and found.containers == ("sidecar", "pytorch")
    assert found.env["PODWARDEN_TRAIN_STEPS"] == "12"
    assert found.owner == {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "name": "llama",
        "uid": "job-uid",
    }
    bare = pod_manifest("p", "n0")
    bare["metadata"]["labels"] = {jobs.HPTO_JOB_LABEL: "hp"}
    del bare["metadata"]["ownerReferences"]
    hp = job_pod(bare)
    assert (
        hp is not None and hp.job == JobKey("kubeflow", jobs.HPTO_KIND, "hp") and hp.owner is None
    )
    bare["metadata"]["labels"] = {"app": "web"}
    assert job_pod(bare) is None


@pytest.mark.parametrize(
    ("node", "fault"),
    [
        (None, "node n0 is gone"),
        ({"metadata": {"labels": {HEALTH: SCHEDULABLE}}}, None),
        ({"metadata": {"labels": {}}}, None),  # not a HyperPod node: readiness alone
        (
            {"metadata": {"labels": {HEALTH: PENDING_REPLACEMENT}}},
            f"node n0 is {PENDING_REPLACEMENT}",
        ),
        (
            {"metadata": {}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}},
            "node n0 is NotReady",
        ),
        ({"metadata": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}, None),
    ],
)
def test_node_fault(node: dict[str, Any] | None, fault: str | None) -> None:
    assert node_fault("n0", node) == fault


def test_the_run_waits_for_every_node_then_completes() -> None:
    sim = Simulator()
    w0, w1 = pod("llama-worker-0", "n0"), pod("llama-worker-1", "n1", phase="Pending")
    step = sim.step([w0, w1], 100.0)
    assert step.world == 2 and step.params.steps == 12 and sim.record.run is None
    assert "waiting for rendezvous of llama (1/2 nodes)" in sim.log("llama-worker-0")
    w1 = replace(w1, phase="Running")
    sim.step([w0, w1], 101.0)
    assert (sim.current().run, sim.current().starts) == (Run(101.0, 0, 0), 1)
    assert "starting training llama: 12 steps, world size 2" in sim.log("llama-worker-1")
    sim.step([w0, w1], 108.0)  # step 4 done at 107, its checkpoint saved at 107.5
    assert (sim.record.checkpoint, sim.record.checkpoint_at) == (4, 107.5)
    assert "[rank 0] saving checkpoint at step 4" in sim.log("llama-worker-0")
    assert "saving checkpoint" not in sim.log("llama-worker-1")  # rank 0 only
    assert "[rank 1] checkpoint saved: step 4 (0.5 s)" in sim.log("llama-worker-1")
    step = sim.step([w0, w1], 200.0)
    assert sim.record.done and sim.record.checkpoint == 12 and sim.record.run is None
    assert set(step.succeed) == {w0.uid, w1.uid} and not step.fail
    assert "training complete: step 12/12" in sim.log("llama-worker-0")
    assert sim.log("llama-worker-0").count("step 12/12 loss=") == 1


def test_a_faulted_node_fails_its_pod_and_the_job_resumes_from_its_checkpoint() -> None:
    sim = Simulator()
    w0, w1 = pod("llama-worker-0", "n0"), pod("llama-worker-1", "n1")
    sim.step([w0, w1], 100.0)
    sim.step([w0, w1], 110.0)  # step 4 saved at 106.5, step 7 done at 109.5
    assert sim.record.checkpoint == 4
    faulted = {**HEALTHY, "n1": f"node n1 is {PENDING_REPLACEMENT}"}
    step = sim.step([w0, w1], 110.4, faulted)
    assert step.fail == ((w1.uid, f"node n1 is {PENDING_REPLACEMENT}"),)
    assert sim.record.run is None and sim.record.checkpoint == 4  # steps 5-7 lost
    assert f"fatal: node n1 is {PENDING_REPLACEMENT}; exiting with code 134" in sim.log(
        "llama-worker-1"
    )
    assert (
        "rendezvous broken: llama-worker-1 left; restarting from checkpoint at step 4"
        in sim.log("llama-worker-0")
    )
    # the pod ends Failed; while it is still Running the fault is told once
    step = sim.step([w0, w1], 110.9, faulted)
    assert step.fail and sim.log("llama-worker-1").count("fatal:") == 1
    # Kubeflow re-creates the pod on a healthy node
    new = pod("llama-worker-1", "n2", uid="uid-llama-worker-1b")
    gone = replace(w1, phase="Failed", state=jobs.TRAINING_FAILED)
    sim.step([w0, gone, new], 112.0)
    assert (sim.current().run, sim.current().starts) == (Run(112.0, 4, 1), 2)
    resumed = "\n".join(sim.logs[new.uid])
    assert "resumed from checkpoint at step 4 (restart 1)" in resumed
    sim.step([w0, gone, new], 117.0)  # ready at 114; steps 5-8 by 118 -> step 7 at 117
    assert "step 8/12" not in "\n".join(sim.logs[new.uid]) and "step 4/12" not in resumed


def test_a_run_broken_while_unseen_is_credited_only_to_the_last_pass_that_saw_it() -> None:
    sim = Simulator()
    w0, w1 = pod("llama-worker-0", "n0"), pod("llama-worker-1", "n1")
    sim.step([w0, w1], 100.0)
    sim.step([w0, w1], 103.5)  # whole at 103.5 (step 1 done)
    # next pass much later: the pod is gone; steps after 103.5 must not count
    sim.step([w0], 150.0)
    assert sim.record.run is None and sim.record.checkpoint == 0 and not sim.record.done


def test_a_restarted_simulator_writes_nothing_twice() -> None:
    """A second simulator that knows only the record and the logs' last times goes on exactly
    where the first stopped."""
    first = Simulator()
    w0, w1 = pod("llama-worker-0", "n0"), pod("llama-worker-1", "n1")
    first.step([w0, w1], 100.0)
    first.step([w0, w1], 104.2)
    second = Simulator()
    second.record = parse_record(record_data(first.record, w0.job), "job-uid")
    second.logged = dict(first.logged)
    second.logs = {uid: list(lines) for uid, lines in first.logs.items()}
    second.step([w0, w1], 109.0)
    reference = Simulator()
    reference.step([w0, w1], 100.0)
    reference.step([w0, w1], 104.2)
    reference.step([w0, w1], 109.0)
    assert second.logs == reference.logs and second.record == reference.record


def test_a_completed_job_ends_new_pods_at_once() -> None:
    sim = Simulator()
    sim.record = JobRecord(
        checkpoint=12, done=True, starts=1, pods=(("uid-old", "old"),), owner_uid="job-uid"
    )
    w0 = pod("llama-worker-0", "n0")
    step = sim.step([w0], 300.0)
    assert step.succeed == (w0.uid,)
    assert "llama completed at step 12: nothing to do" in sim.log("llama-worker-0")


def test_an_unusable_override_is_logged_and_the_default_kept() -> None:
    env = {**ENV, "PODWARDEN_TRAIN_STEPS": "many"}
    found = job_pod(pod_manifest("llama-worker-0", "n0", env=env))
    assert found is not None
    sim = Simulator()
    step = sim.step([found], 100.0)
    assert step.params.steps == SIM.defaults.steps
    assert "ignoring PODWARDEN_TRAIN_STEPS='many': not an integer" in sim.log("llama-worker-0")


def test_world_size_from_env_elastic_minimum_or_pod_count() -> None:
    pods = [pod("a", "n0"), pod("b", "n1"), pod("c", None, phase="Pending")]
    assert world_size(SIM, {"PET_NNODES": "2:4"}, pods) == 2
    assert world_size(SIM, {"PODWARDEN_TRAIN_NODES": "1", "PET_NNODES": "3"}, pods) == 1
    assert world_size(SIM, {}, pods) == 3


def test_the_record_round_trips_through_its_config_map() -> None:
    key = JobKey("kubeflow", jobs.PYTORCHJOB_KIND, "llama")
    record = JobRecord(
        4, 107.5, 2, Run(110.25, 4, 1), (("u1", "llama-worker-0"),), False, "job-uid"
    )
    manifest = record_manifest(
        key,
        record,
        {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", "name": "llama", "uid": "job-uid"},
    )
    assert manifest["metadata"]["name"] == "training-checkpoint.pytorchjob.llama"
    assert manifest["data"]["checkpoint-step"] == "4"
    assert parse_record(manifest["data"], "job-uid") == record
    with pytest.raises(ValueError, match="unreadable"):
        parse_record({"checkpoint-step": "four"}, "")


def test_end_annotations_carry_what_the_stage_writes() -> None:
    found = end_annotations(SIM.node_fault, jobs.TRAINING_FAILED, "node n1 is NotReady")
    assert found == {
        jobs.TRAINING_STATE: "failed",
        jobs.TRAINING_EXIT_CODE: "134",
        jobs.TRAINING_REASON: "Error",
        jobs.TRAINING_MESSAGE: "training aborted: node fault: node n1 is NotReady",
    }
