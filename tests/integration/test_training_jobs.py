"""Training jobs survive faults, end to end through ``podwarden serve`` (issue #10 targets):
a HyperPod cluster on the real control plane, a Kubeflow PyTorchJob run by the real training
operator with HyperPod's auto-resume annotations, a GPU fault injected on one of its nodes.

- Xid 79 (replace): the node is replaced, the whole job restarts on healthy nodes, counted once,
  with an Event on the job and a cluster event;
- Xid 48 (reboot): the same, the instance keeps its id;
- SIGKILL of podwarden in the middle of a resume: the restarted server converges to exactly one
  running copy of the job, the fault counted once.

One ``podwarden serve`` process per test (a server and its auto-resume must not run twice
against one Kubernetes), on the session's control plane.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from podwarden.agent.inject import inject, signal_for
from podwarden.kube.nodes import KubeNodes
from podwarden.local.runtime import ControlPlane
from podwarden.model import jobs
from podwarden.model.labels import CLUSTER_NAME, HEALTH, INSTANCE_TYPE, SCHEDULABLE

from .hyperpod_helpers import all_nodes, create, group, wait_status
from .hyperpod_server import ProcessServer, sagemaker
from .kube_objects import as_dict, wait_for

NAMESPACE = "hyperpod-ns-team-a"  # auto-resume applies in kubeflow and hyperpod* namespaces
TYPE = "ml.g5.xlarge"  # one GPU each: a worker per node


def _pytorchjob(name: str, workers: int, max_retry: int, cluster: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{jobs.KUBEFLOW_GROUP}/{jobs.KUBEFLOW_VERSION}",
        "kind": jobs.PYTORCHJOB_KIND,
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "annotations": {jobs.AUTO_RESUME: "true", jobs.MAX_RETRY: str(max_retry)},
        },
        "spec": {
            "pytorchReplicaSpecs": {
                "Worker": {
                    "replicas": workers,
                    "restartPolicy": "OnFailure",
                    "template": {
                        "spec": {
                            # this test's cluster: the shared control plane keeps other
                            # tests' Schedulable nodes of the same type, with no server
                            "nodeSelector": {
                                HEALTH: SCHEDULABLE,
                                INSTANCE_TYPE: TYPE,
                                CLUSTER_NAME: cluster,
                            },
                            "containers": [
                                {
                                    "name": "pytorch",
                                    "image": "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
                                    "command": ["torchrun", "--nproc-per-node=1", "train.py"],
                                    "resources": {"limits": {"nvidia.com/gpu": "1"}},
                                }
                            ],
                        }
                    },
                }
            }
        },
    }


@pytest.fixture
def serve(
    control_plane: ControlPlane, kube: client.ApiClient, tmp_path: Path
) -> Iterator[list[ProcessServer]]:
    """Started servers (a test may kill one and start another on the same data directory);
    every one still running is stopped at the end, and the test's jobs are deleted (their pods
    with them), so that no later test on the shared control plane sees them."""
    servers: list[ProcessServer] = []
    yield servers
    for srv in servers:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.stop()
    with contextlib.suppress(ApiException):
        client.CustomObjectsApi(kube).delete_collection_namespaced_custom_object(
            jobs.KUBEFLOW_GROUP, jobs.KUBEFLOW_VERSION, NAMESPACE, jobs.PYTORCHJOBS
        )


def _start(control_plane: ControlPlane, data: Path, servers: list[ProcessServer]) -> Any:
    srv = ProcessServer(control_plane.kubeconfig, data, "--launch-delay", "1").start()
    servers.append(srv)
    return sagemaker(srv.endpoint)


def _namespace(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    if NAMESPACE not in {n.metadata.name for n in core.list_namespace().items if n.metadata}:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))


def _submit(kube: client.ApiClient, name: str, workers: int, max_retry: int, cluster: str) -> None:
    _namespace(kube)
    client.CustomObjectsApi(kube).create_namespaced_custom_object(
        jobs.KUBEFLOW_GROUP,
        jobs.KUBEFLOW_VERSION,
        NAMESPACE,
        jobs.PYTORCHJOBS,
        _pytorchjob(name, workers, max_retry, cluster),
    )


def _pods(kube: client.ApiClient, job: str) -> list[dict[str, Any]]:
    listed = client.CoreV1Api(kube).list_namespaced_pod(
        NAMESPACE, label_selector=f"{jobs.KUBEFLOW_JOB_NAME}={job}"
    )
    return list(as_dict(kube, listed)["items"])


def _running(kube: client.ApiClient, job: str, workers: int) -> list[dict[str, Any]] | None:
    pods = [p for p in _pods(kube, job) if not p["metadata"].get("deletionTimestamp")]
    live = [p for p in pods if p.get("status", {}).get("phase") == "Running"]
    return live if len(pods) == workers and len(live) == workers else None


def _job(kube: client.ApiClient, name: str) -> dict[str, Any]:
    found: dict[str, Any] = client.CustomObjectsApi(kube).get_namespaced_custom_object(  # type: ignore[assignment]
        jobs.KUBEFLOW_GROUP, jobs.KUBEFLOW_VERSION, NAMESPACE, jobs.PYTORCHJOBS, name
    )
    return found


def _restarts(kube: client.ApiClient, name: str) -> int:
    annotations = _job(kube, name)["metadata"].get("annotations") or {}
    return int(annotations.get(jobs.AUTO_RESUME_RESTARTS, "0"))


def _inject(control_plane: ControlPlane, node: str, xid: int) -> None:
    async def go() -> None:
        nodes = await KubeNodes.from_kubeconfig(control_plane.kubeconfig)
        try:
            await inject(nodes, node, signal_for(xid=xid))
        finally:
            await nodes.close()

    asyncio.run(go())


def _restarted_elsewhere(
    kube: client.ApiClient, job: str, workers: int, old_uids: set[str], faulted: str
) -> list[dict[str, Any]] | None:
    pods = _running(kube, job, workers)
    if pods is None or {p["metadata"]["uid"] for p in pods} & old_uids:
        return None
    return pods if all(p["spec"]["nodeName"] != faulted for p in pods) else None


def _events(kube: client.ApiClient, job: str) -> list[str]:
    listed = client.CoreV1Api(kube).list_namespaced_event(
        NAMESPACE, field_selector=f"involvedObject.name={job}"
    )
    return [e["reason"] for e in as_dict(kube, listed)["items"]]


def _cluster(sm: Any, name: str, nodes: int) -> None:
    create(sm, name, group("gpu", TYPE, nodes), NodeProvisioningMode="Continuous")
    wait_status(sm, name, timeout=180)


def test_xid79_replaces_the_node_and_the_whole_job_resumes(
    control_plane: ControlPlane, kube: client.ApiClient, serve: list[ProcessServer], tmp_path: Path
) -> None:
    sm = _start(control_plane, tmp_path / "pw", serve)
    _cluster(sm, "pw-jobs-79", 3)
    _submit(kube, "resume-79", workers=2, max_retry=3, cluster="pw-jobs-79")
    pods = wait_for("2 workers Running", lambda: _running(kube, "resume-79", 2), timeout=120)
    faulted = pods[0]["spec"]["nodeName"]
    old_uids = {p["metadata"]["uid"] for p in pods}
    old_id = faulted.removeprefix("hyperpod-")

    _inject(control_plane, faulted, 79)
    new = wait_for(
        "the whole job Running again, on healthy nodes",
        lambda: _restarted_elsewhere(kube, "resume-79", 2, old_uids, faulted),
        timeout=120,
    )
    assert len(new) == 2
    assert _restarts(kube, "resume-79") == 1
    assert "JobAutoResumeRestart" in _events(kube, "resume-79")

    def replaced() -> list[dict[str, Any]] | None:
        nodes = all_nodes(sm, "pw-jobs-79")
        running = [n for n in nodes if n["InstanceStatus"]["Status"] == "Running"]
        ids = {n["InstanceId"] for n in nodes}
        return nodes if old_id not in ids and len(running) == 3 else None

    wait_for(f"{old_id} replaced", replaced, timeout=120)
    pages = sm.get_paginator("list_cluster_events").paginate(
        ClusterName="pw-jobs-79", ResourceType="Instance"
    )
    texts = [e["Description"] for p in pages for e in p["Events"] if e.get("InstanceId") == old_id]
    assert any("resume-79" in t for t in texts), texts


def test_xid48_reboots_the_node_and_the_whole_job_resumes(
    control_plane: ControlPlane, kube: client.ApiClient, serve: list[ProcessServer], tmp_path: Path
) -> None:
    sm = _start(control_plane, tmp_path / "pw", serve)
    _cluster(sm, "pw-jobs-48", 3)
    _submit(kube, "resume-48", workers=2, max_retry=3, cluster="pw-jobs-48")
    pods = wait_for("2 workers Running", lambda: _running(kube, "resume-48", 2), timeout=120)
    faulted = pods[0]["spec"]["nodeName"]
    old_uids = {p["metadata"]["uid"] for p in pods}
    ids_before = {n["InstanceId"] for n in all_nodes(sm, "pw-jobs-48")}

    _inject(control_plane, faulted, 48)
    wait_for(
        "the whole job Running again, on healthy nodes",
        lambda: _restarted_elsewhere(kube, "resume-48", 2, old_uids, faulted),
        timeout=120,
    )
    assert _restarts(kube, "resume-48") == 1

    def rebooted() -> bool:
        nodes = all_nodes(sm, "pw-jobs-48")
        ids = {n["InstanceId"] for n in nodes}
        return ids == ids_before and all(n["InstanceStatus"]["Status"] == "Running" for n in nodes)

    wait_for(f"{faulted} rebooted and Running again, same instance", rebooted, timeout=120)
    assert _restarts(kube, "resume-48") == 1  # the node's return is not a second fault


def test_podwarden_killed_mid_resume_converges_to_one_running_copy(
    control_plane: ControlPlane, kube: client.ApiClient, serve: list[ProcessServer], tmp_path: Path
) -> None:
    data = tmp_path / "pw"
    sm = _start(control_plane, data, serve)
    _cluster(sm, "pw-jobs-kill", 3)
    _submit(kube, "resume-kill", workers=2, max_retry=3, cluster="pw-jobs-kill")
    pods = wait_for("2 workers Running", lambda: _running(kube, "resume-kill", 2), timeout=120)
    faulted = pods[0]["spec"]["nodeName"]
    old_uids = {p["metadata"]["uid"] for p in pods}

    _inject(control_plane, faulted, 79)
    # in the middle of the resume: the restart is recorded on the job (or its pods are going)
    wait_for(
        "the resume under way",
        lambda: (
            _restarts(kube, "resume-kill") == 1
            or any(p["metadata"].get("deletionTimestamp") for p in _pods(kube, "resume-kill"))
        ),
        interval=0.02,
    )
    serve[-1].kill()
    _start(control_plane, data, serve)

    new = wait_for(
        "exactly one running copy of the job",
        lambda: _restarted_elsewhere(kube, "resume-kill", 2, old_uids, faulted),
        timeout=120,
    )
    assert len(_pods(kube, "resume-kill")) == 2 == len(new)
    assert {p["metadata"]["name"] for p in new} == {"resume-kill-worker-0", "resume-kill-worker-1"}
    assert _restarts(kube, "resume-kill") == 1  # one fault, counted once across the crash
