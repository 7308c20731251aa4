"""Simulated training on kwok nodes (issue #10 item 4) against the real control plane: the pods
of a training job log a training run through the apiserver (kwok's kubelet API reading the
simulator's CRI files), save checkpoints in the job's ConfigMap and end Succeeded through kwok's
Stages; a faulted node fails its pod, the real Kubeflow operator re-creates it and the job
resumes from its last checkpoint; a restarted simulator carries on where the first stopped.

The simulator runs in a thread with its own event loop (``TrainingSimulator.run``), as the
server runs it; each job is sized by container environment variables (the table's overrides).
Nodes are kwok nodes of a pool of their own (label and taint), so no other test's pods land
on them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from podwarden.local.assets import find_manifests
from podwarden.local.runtime import ControlPlane
from podwarden.model import jobs
from podwarden.model.labels import PENDING_REPLACEMENT
from podwarden.policy import kwok_stages
from podwarden.training.logs import parse_cri_time

from .kube_objects import wait_for
from .training_sim import (
    NAMESPACE,
    Simulator,
    bare_pod,
    checkpoint,
    cleanup,
    create_pod,
    fault,
    follow,
    job_pods,
    log_with,
    make_nodes,
    pod_log,
    record,
    submit_pytorchjob,
    terminated,
    training_env,
)


@pytest.fixture(scope="module")
def simulator(
    control_plane: ControlPlane, kube: client.ApiClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Simulator]:
    with contextlib.suppress(ApiException):  # 409: it exists
        client.CoreV1Api(kube).create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE))
        )
    sim = Simulator(control_plane, tmp_path_factory.mktemp("training-logs"))
    sim.start()
    yield sim
    sim.stop()


def test_the_shipped_stages_carry_kwoks_own_default_pod_stages_verbatim() -> None:
    """The first documents of the Stage set are kwok v0.7.0's kustomize/stage/pod/fast files,
    as the build copied them out of the module (toolchain.toml, kwok's manifests)."""
    manifests = find_manifests("kwok")
    ours = {s["metadata"]["name"]: s for s in kwok_stages.stages()}
    for name in kwok_stages.BUILTIN_POD_STAGES:
        path = manifests.get(f"{name}.yaml")
        assert path is not None, (
            f"kwok's {name}.yaml is not among the built manifests {sorted(manifests)}"
        )
        assert ours[name] == yaml.safe_load(path.read_text())


def test_a_job_trains_logs_checkpoints_and_succeeds(
    simulator: Simulator, kube: client.ApiClient
) -> None:
    """Two bare pods labelled HPJob=<job> (as HyperPod's operator labels them), pinned to two
    kwok nodes: they wait for each other, train 30 steps, checkpoint every 10, end Succeeded."""
    nodes = make_nodes(kube, "sim-a", 2)
    try:
        env = [
            *training_env(steps=30, step_seconds=0.05, checkpoint_every=10),
            {"name": "PODWARDEN_TRAIN_NODES", "value": "2"},
        ]
        for index, node in enumerate(nodes):
            create_pod(kube, bare_pod(f"bare-{index}", "bare", node, "sim-a", env))

        def succeeded() -> list[dict[str, Any]] | None:
            pods = job_pods(kube, jobs.HPTO_JOB_LABEL, "bare")
            return (
                pods
                if len(pods) == 2 and all(p["status"]["phase"] == "Succeeded" for p in pods)
                else None
            )

        pods = wait_for(
            "both pods of job bare Succeeded",
            succeeded,
            timeout=60,
            seen=lambda: job_pods(kube, jobs.HPTO_JOB_LABEL, "bare"),
        )
        for pod in pods:
            end = terminated(pod)
            assert (end["exitCode"], end["reason"], end["message"]) == (
                0,
                "Completed",
                "training complete",
            )
        data = record(kube, jobs.HPTO_KIND, "bare")
        assert (data["checkpoint-step"], data["completed"], data["starts"]) == ("30", "true", "1")
        text = wait_for("the log of bare-0", lambda: pod_log(kube, "bare-0", timestamps=True))
        lines = text.splitlines()
        stamps = [parse_cri_time(line.split(" ", 1)[0]) for line in lines]
        assert stamps == sorted(stamps)
        body = "\n".join(line.split(" ", 1)[1] for line in lines)
        assert (
            "[rank 0] starting training bare: 30 steps, world size 2, checkpoint every 10 steps"
            in body
        )
        assert [int(s) for s in re.findall(r"step (\d+)/30 loss=", body)] == [5, 10, 15, 20, 25, 30]
        assert [int(s) for s in re.findall(r"checkpoint saved: step (\d+)", body)] == [10, 20, 30]
        assert "training complete: step 30/30" in body
        assert "[rank 1]" in pod_log(kube, "bare-1")
    finally:
        cleanup(kube, nodes)
    simulator.check()


def test_a_faulted_node_fails_its_pod_and_a_replacement_resumes_from_the_checkpoint(
    simulator: Simulator, kube: client.ApiClient
) -> None:
    """Two bare pods of one job train; one's node is marked for replacement. That pod ends
    Failed (exit code 134, the fault in its log), the other logs the broken rendezvous, and a
    replacement pod on a third node (what an operator creates) resumes from the checkpoint
    saved before the fault."""
    nodes = make_nodes(kube, "sim-b", 3)
    try:
        env = [
            *training_env(steps=200, step_seconds=0.05, checkpoint_every=20),
            {"name": "PODWARDEN_TRAIN_NODES", "value": "2"},
        ]
        for index in range(2):
            create_pod(kube, bare_pod(f"hp-{index}", "hp", nodes[index], "sim-b", env))
        wait_for(
            "a checkpoint at step 40 or later",
            lambda: checkpoint(kube, jobs.HPTO_KIND, "hp") >= 40,
            timeout=60,
            seen=lambda: record(kube, jobs.HPTO_KIND, "hp"),
        )
        fault(kube, nodes[1])
        pod = wait_for(
            "hp-1 Failed",
            lambda: next(
                (
                    p
                    for p in job_pods(kube, jobs.HPTO_JOB_LABEL, "hp")
                    if p["metadata"]["name"] == "hp-1" and p["status"]["phase"] == "Failed"
                ),
                None,
            ),
            timeout=30,
        )
        end = terminated(pod)
        assert (end["exitCode"], end["reason"]) == (134, "Error")
        assert f"node {nodes[1]} is {PENDING_REPLACEMENT}" in end["message"]
        assert f"fatal: node {nodes[1]} is {PENDING_REPLACEMENT}; exiting with code 134" in pod_log(
            kube, "hp-1"
        )
        saved = checkpoint(kube, jobs.HPTO_KIND, "hp")
        assert saved >= 40
        assert (
            f"rendezvous broken: hp-1 left; restarting from checkpoint at step {saved}"
            in pod_log(kube, "hp-0")
        )
        assert record(kube, jobs.HPTO_KIND, "hp")["run"] == ""  # no run while a node is missing

        create_pod(kube, bare_pod("hp-2", "hp", nodes[2], "sim-b", env))
        text = log_with(kube, "hp-2", "resumed from checkpoint")
        assert f"resumed from checkpoint at step {saved} (restart 1), world size 2" in text
        assert f"resumed from checkpoint at step {saved} (restart 1)" in pod_log(kube, "hp-0")
        wait_for(
            "the job complete",
            lambda: record(kube, jobs.HPTO_KIND, "hp").get("completed") == "true",
            timeout=60,
            seen=lambda: record(kube, jobs.HPTO_KIND, "hp"),
        )
        resumed_steps = [int(s) for s in re.findall(r"step (\d+)/200 loss=", pod_log(kube, "hp-2"))]
        assert resumed_steps[0] == saved + 5 and resumed_steps[-1] == 200
        assert record(kube, jobs.HPTO_KIND, "hp")["starts"] == "2"
    finally:
        cleanup(kube, nodes)
    simulator.check()


def test_kubeflow_restarts_a_faulted_worker_and_the_job_completes_from_its_checkpoint(
    simulator: Simulator, kube: client.ApiClient
) -> None:
    """A PyTorchJob of two workers on a pool of three nodes; while it trains, one worker's node
    is marked for replacement. The real Kubeflow operator sees the worker exit with code 134,
    re-creates it on the third node, and the run resumes from its checkpoint to completion:
    the job Succeeded."""
    nodes = make_nodes(kube, "sim-c", 3)
    try:
        submit_pytorchjob(
            kube,
            "resume",
            "sim-c",
            2,
            training_env(steps=200, step_seconds=0.05, checkpoint_every=20),
        )
        wait_for(
            "a checkpoint at step 40 or later",
            lambda: checkpoint(kube, jobs.PYTORCHJOB_KIND, "resume") >= 40,
            timeout=60,
            seen=lambda: record(kube, jobs.PYTORCHJOB_KIND, "resume"),
        )
        victim = job_pods(kube, jobs.KUBEFLOW_JOB_NAME, "resume")[1]
        node, uid, name = (
            victim["spec"]["nodeName"],
            victim["metadata"]["uid"],
            victim["metadata"]["name"],
        )
        fault(kube, node)

        def exited() -> list[Any]:
            found = client.CoreV1Api(kube).list_namespaced_event(
                NAMESPACE, field_selector="involvedObject.name=resume"
            )
            return [
                e
                for e in found.items
                if e.reason == "ExitedWithCode"
                and f"{name} exited with code 134" in (e.message or "")
            ]

        wait_for(f"Kubeflow seeing {name} exit with code 134", exited, timeout=30)

        def replacement() -> dict[str, Any] | None:
            for pod in job_pods(kube, jobs.KUBEFLOW_JOB_NAME, "resume"):
                if pod["metadata"]["name"] == name and pod["metadata"]["uid"] != uid:
                    return pod if pod["status"]["phase"] == "Running" else None
            return None

        new = wait_for(f"{name} re-created and Running", replacement, timeout=30)
        assert new["spec"]["nodeName"] != node
        text = log_with(kube, name, "resumed from checkpoint")
        match = re.search(r"resumed from checkpoint at step (\d+) \(restart 1\)", text)
        assert match is not None and int(match.group(1)) >= 40, text
        assert "starting training" not in text

        def succeeded() -> bool:
            job: dict[str, Any] = client.CustomObjectsApi(kube).get_namespaced_custom_object(  # type: ignore[assignment]
                jobs.KUBEFLOW_GROUP, jobs.KUBEFLOW_VERSION, NAMESPACE, jobs.PYTORCHJOBS, "resume"
            )
            conditions = job.get("status", {}).get("conditions", [])
            return any(c["type"] == "Succeeded" and c["status"] == "True" for c in conditions)

        wait_for(
            "PyTorchJob resume Succeeded",
            succeeded,
            timeout=60,
            seen=lambda: record(kube, jobs.PYTORCHJOB_KIND, "resume"),
        )
        data = record(kube, jobs.PYTORCHJOB_KIND, "resume")
        assert (data["checkpoint-step"], data["completed"], data["starts"]) == ("200", "true", "2")
        client.CustomObjectsApi(kube).delete_namespaced_custom_object(
            jobs.KUBEFLOW_GROUP, jobs.KUBEFLOW_VERSION, NAMESPACE, jobs.PYTORCHJOBS, "resume"
        )
        wait_for(
            "the job's checkpoint ConfigMap deleted with the job",
            lambda: not record(kube, jobs.PYTORCHJOB_KIND, "resume"),
            timeout=60,
        )
    finally:
        cleanup(kube, nodes, "resume")
    simulator.check()


def test_a_restarted_simulator_continues_without_repeating_a_line(
    simulator: Simulator, kube: client.ApiClient
) -> None:
    """The simulator stops while a job trains and starts again: the job's pod kept training
    meanwhile (its run is in the ConfigMap), so the new simulator appends the missing lines
    once each, in order, without restarting the run; a ``--follow`` reader open across the
    restart sees the same."""
    nodes = make_nodes(kube, "sim-d", 1)
    try:
        submit_pytorchjob(
            kube,
            "steady",
            "sim-d",
            1,
            training_env(steps=240, step_seconds=0.05, checkpoint_every=20),
        )
        name = wait_for(
            "the pod of job steady", lambda: job_pods(kube, jobs.KUBEFLOW_JOB_NAME, "steady")
        )[0]["metadata"]["name"]
        log_with(kube, name, "checkpoint saved: step 20")
        followed: list[str] = []
        reader = follow(kube, name, "training complete", followed)
        simulator.stop()
        simulator.start()
        wait_for(
            "the job complete",
            lambda: record(kube, jobs.PYTORCHJOB_KIND, "steady").get("completed") == "true",
            timeout=60,
            seen=lambda: record(kube, jobs.PYTORCHJOB_KIND, "steady"),
        )
        data = record(kube, jobs.PYTORCHJOB_KIND, "steady")
        assert (data["starts"], data["checkpoint-step"]) == ("1", "240")
        reader.join(60)
        assert not reader.is_alive(), "the follow did not see the run complete"
        for text in (pod_log(kube, name), followed[0]):
            assert "resumed" not in text
            assert [int(s) for s in re.findall(r"step (\d+)/240 loss=", text)] == list(
                range(5, 241, 5)
            )
            saved = [int(s) for s in re.findall(r"checkpoint saved: step (\d+)", text)]
            assert saved == list(range(20, 241, 20))
        wait_for(
            "the pod Succeeded",
            lambda: (
                job_pods(kube, jobs.KUBEFLOW_JOB_NAME, "steady")[0]["status"]["phase"]
                == "Succeeded"
            ),
            timeout=30,
        )
    finally:
        cleanup(kube, nodes, "steady")
    simulator.check()
