"""The real local control plane: nodes, scheduling, Jobs, restarts, failures, no orphans."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from podwarden.local.admin_client import AdminClient
from podwarden.local.bootstrap import Apply
from podwarden.local.errors import BinariesNotFound, ComponentFailed
from podwarden.local.runtime import ControlPlane
from podwarden.local.toolchain import BINARIES, load_toolchain

from .conftest import api_client
from .kube_objects import (
    create,
    gpu_job,
    hyperpod_node,
    job_pods,
    job_succeeded,
    node_is_ready,
    pod_condition,
    read_node,
    wait_for,
)

P5 = "ml.p5.48xlarge"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is gone for our purposes
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][0] != "Z"


def test_apiserver_reports_the_pinned_release(
    control_plane: ControlPlane, kube: client.ApiClient
) -> None:
    info = client.VersionApi(kube).get_code()
    assert info.git_version == load_toolchain().component("kubernetes").version
    assert control_plane.url.startswith("https://127.0.0.1:")


def test_hyperpod_like_node_becomes_ready(kube: client.ApiClient) -> None:
    name = "hyperpod-i-0a1b2c3d4e5f60001"
    create(kube, hyperpod_node(name, P5, gpus=8, pods=49))
    wait_for(f"node {name} Ready", lambda: node_is_ready(kube, name))
    node = read_node(kube, name)
    assert node["metadata"]["labels"]["node.kubernetes.io/instance-type"] == P5
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == "8"
    assert node["status"]["capacity"]["pods"] == "49"


def test_eight_gpu_job_is_scheduled_and_completes(kube: client.ApiClient) -> None:
    name = "hyperpod-i-0a1b2c3d4e5f60002"
    create(kube, hyperpod_node(name, P5, gpus=8, pods=49))
    wait_for(f"node {name} Ready", lambda: node_is_ready(kube, name))
    # a nodeSelector that only this node satisfies would be ambiguous with the node of the test
    # above, so pin by hostname as well
    job = gpu_job("train-8gpu", gpus=8, instance_type=P5)
    job["spec"]["template"]["spec"]["nodeSelector"]["kubernetes.io/hostname"] = name
    create(kube, job)
    wait_for("job train-8gpu Complete", lambda: job_succeeded(kube, "train-8gpu"))
    (pod,) = job_pods(kube, "train-8gpu")
    assert pod["spec"]["nodeName"] == name  # bound by the real scheduler
    assert pod["status"]["phase"] == "Succeeded"


def test_nine_gpu_job_stays_pending_unschedulable(kube: client.ApiClient) -> None:
    create(kube, gpu_job("train-9gpu", gpus=9, instance_type=P5))

    def unschedulable() -> dict[str, Any] | None:
        for pod in job_pods(kube, "train-9gpu"):
            c = pod_condition(pod, "PodScheduled")
            if c and c["status"] == "False" and c.get("reason") == "Unschedulable":
                return c
        return None

    condition = wait_for("pod of train-9gpu Unschedulable", unschedulable)
    assert "Insufficient nvidia.com/gpu" in condition["message"]  # the scheduler says why
    (pod,) = job_pods(kube, "train-9gpu")
    assert pod["status"]["phase"] == "Pending"
    assert "nodeName" not in pod["spec"]
    assert not job_succeeded(kube, "train-9gpu")


def test_restart_on_same_data_dir_keeps_nodes_and_jobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "k8s"
    applied: list[str] = []
    real_apply = AdminClient.apply

    def counted(self: AdminClient, item: Apply, deadline: float) -> None:
        applied.append(item.name)
        real_apply(self, item, deadline)

    monkeypatch.setattr(AdminClient, "apply", counted)
    name = "hyperpod-i-0a1b2c3d4e5f60003"
    with ControlPlane(data) as cp, api_client(cp.kubeconfig) as api:
        create(api, hyperpod_node(name, P5, gpus=8, pods=49))
        wait_for(f"node {name} Ready", lambda: node_is_ready(api, name))
        create(api, gpu_job("persisted", gpus=8, instance_type=P5))
        wait_for("job persisted Complete", lambda: job_succeeded(api, "persisted"))
        first_pids = cp.pids
    assert not any(_alive(pid) for pid in first_pids.values())
    first, applied[:] = list(applied), []
    assert any(name.startswith("CustomResourceDefinition ") for name in first)

    with ControlPlane(data) as cp, api_client(cp.kubeconfig) as api:
        node = read_node(api, name)
        assert node["metadata"]["labels"]["node.kubernetes.io/instance-type"] == P5
        assert job_succeeded(api, "persisted")
        wait_for(f"node {name} Ready again", lambda: node_is_ready(api, name))
    # the CRDs carry the hash of what was applied: a restart does not apply them again
    assert applied and not [a for a in applied if a.startswith("CustomResourceDefinition ")]


def test_dead_component_is_named_with_its_log(tmp_path: Path) -> None:
    with ControlPlane(tmp_path / "k8s", fsync=False) as cp:
        cp.check()  # all alive
        os.kill(cp.pids["kwok"], signal.SIGKILL)

        def failure() -> ComponentFailed | None:
            try:
                cp.check()
            except ComponentFailed as exc:
                return exc
            return None

        error = wait_for("check() to report kwok", failure, timeout=15)
        assert error.component == "kwok"
        assert "exited with code" in str(error)
        assert "podwarden: starting kwok" in error.log_tail


CHILD = """
import json, sys, time
from pathlib import Path
from typing import Any
from podwarden.local.runtime import ControlPlane
cp = ControlPlane(Path(sys.argv[1]), fsync=False).start()
print(json.dumps(cp.pids), flush=True)
time.sleep(600)
"""


def test_no_orphans_when_podwarden_is_killed(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "k8s")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        pids = json.loads(proc.stdout.readline())
        assert set(pids) == set(BINARIES)
        assert all(_alive(p) for p in pids.values())
    finally:
        proc.kill()  # SIGKILL: no atexit, no cleanup code runs in podwarden
        proc.wait()
    wait_for(
        "every component to exit", lambda: not any(_alive(p) for p in pids.values()), timeout=15
    )


def test_missing_binary_fails_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODWARDEN_K8S_ASSETS", str(tmp_path / "empty"))
    cp = ControlPlane(tmp_path / "k8s")
    with pytest.raises(BinariesNotFound, match="scripts/build-k8s"):
        cp.start()
    assert cp.pids == {}
