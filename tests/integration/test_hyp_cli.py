"""The official HyperPod CLI end to end against ``podwarden up`` (issue #10 item 6): the real
``hyp`` 3.12.0 from PyPI ``sagemaker-hyperpod`` (tests/integration/hyp_env.py builds its locked
environment), run as a user runs it, with the project's AWS CLI on PATH and nothing but
``podwarden up``'s exports: one ``AWS_ENDPOINT_URL``, the seeded account's key.

The cluster commands go SageMaker -> STS/IAM -> EKS DescribeAccessEntry -> ``aws eks
update-kubeconfig`` -> the EKS token webhook; the job commands need the HyperPodPyTorchJob CRD
and operator (EKS add-on ``amazon-sagemaker-hyperpod-training-operator``), pods labelled
``HPJob=<job>`` whose logs kwok serves, and the operator's pod in ``aws-hyperpod``.
hyp's telemetry goes to a loopback sink (hyp_env.TelemetrySink), never the internet.

``--auto-resume`` is not a flag of ``hyp create hyp-pytorch-job`` in 3.12.0 (it belonged to the
1.x/2.x ``hyperpod start-job``); ``--max-retry`` sets ``runPolicy.jobMaxRetryCount``, which is
how a HyperPodPyTorchJob asks to be restarted on faults.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from podwarden.local.assets import find_kubectl
from podwarden.model import jobs
from tests.local_endpoint import local_client

from .conftest import api_client
from .hyp_env import COMPLETE, HypEnvError, TelemetrySink, build, hyp_bin, hyp_environment
from .hyperpod_helpers import create, group, wait_active, wait_status
from .hyperpod_server import EKS_ARN, REGION, sagemaker
from .kube_objects import wait_for

pytestmark = pytest.mark.integration

CLUSTER = "hyp-e2e"
INSTANCE = "ml.g5.xlarge"  # 1 GPU each
NODES = 2
JOB = "hyp-e2e-job"
IMAGE = "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"
UP_S = 300.0  # `podwarden up` printing its API endpoint: control plane, operators, seed
HYP_S = 180.0  # one hyp command
TELEMETRY = f"sm-pysdk-t-{REGION}.s3.{REGION}.amazonaws.com:443"


class PodwardenUp:
    """``podwarden up`` as a user starts it, as a child process with its own data directory;
    a thread keeps reading its output so that it never blocks on a full pipe."""

    def __init__(self, data_dir: Path) -> None:
        argv = [sys.executable, "-m", "podwarden.cli.main", "up", "--data-dir", str(data_dir)]
        argv += ["--port", "0", "--launch-delay", "0.2", "--deep-check-duration", "4"]
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        self.endpoint = ""  # its API, once listening
        self.kubeconfig = Path()  # the embedded control plane's admin kubeconfig

    def wait_listening(self) -> None:
        self.endpoint = wait_for(
            "podwarden up: API at ...",
            lambda: self.printed(r"API at (http://127\.0\.0\.1:\d+)"),
            timeout=UP_S,
            seen=self.output,
        )
        self.kubeconfig = Path(str(self.printed(r"kubeconfig: (\S+)")))

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines[-60:]) or "(no output)"

    def printed(self, pattern: str) -> str | None:
        """The first group of ``pattern`` in what ``up`` printed; fails if ``up`` exited."""
        for line in list(self.lines):
            m = re.search(pattern, line)
            if m:
                return m.group(1)
        if self.proc.poll() is not None:
            raise AssertionError(
                f"podwarden up exited with {self.proc.returncode}:\n{self.output()}"
            )
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # `up` stops its control plane on SIGTERM
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)


class Hyp:
    """The ``hyp`` executable with a user's environment, and where its telemetry went."""

    def __init__(self, exe: Path, env: dict[str, str], sink: TelemetrySink) -> None:
        self.exe = exe
        self.env = env
        self.sink = sink

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.exe), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=HYP_S,
            check=False,
        )

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The finished command; fails with all it printed unless it exited 0."""
        done = self(*args)
        both = done.stdout + done.stderr
        assert done.returncode == 0, f"hyp {' '.join(args)} exited {done.returncode}:\n{both}"
        return done

    def says(self, *args: str) -> str:
        """All that a successful command printed: stdout, then stderr (hyp's logger)."""
        done = self.ok(*args)
        return done.stdout + done.stderr

    def aws(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The project's AWS CLI (first on hyp's PATH), as the user would run it beside hyp."""
        return subprocess.run(
            ["aws", *args], capture_output=True, text=True, env=self.env, timeout=HYP_S, check=False
        )


@pytest.fixture(scope="module")
def hyp_exe() -> Path:
    try:
        return hyp_bin()
    except HypEnvError as exc:
        pytest.fail(f"the locked hyp environment could not be built: {exc}")


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodwardenUp]:
    """``podwarden up`` with a HyperPod cluster of two GPU instances InService on the seeded EKS
    cluster ``podwarden``."""
    started = PodwardenUp(tmp_path_factory.mktemp("podwarden-up"))
    try:
        started.wait_listening()
        sm = sagemaker(started.endpoint)
        wait_active(local_client("eks", started.endpoint), "podwarden")
        create(sm, CLUSTER, group("gpu", INSTANCE, NODES))
        wait_status(sm, CLUSTER)
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def hyp(hyp_exe: Path, up: PodwardenUp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hyp]:
    home = tmp_path_factory.mktemp("hyp-home")
    sink = TelemetrySink()
    try:
        yield Hyp(
            hyp_exe,
            hyp_environment(
                hyp_exe, up.endpoint, home, sink, region=REGION, kubectl=find_kubectl()
            ),
            sink,
        )
    finally:
        sink.close()


@pytest.fixture(scope="module")
def kube(up: PodwardenUp) -> Iterator[client.ApiClient]:
    with api_client(up.kubeconfig) as api:
        yield api


def test_auto_resume_is_not_a_flag_of_hyp_3_12(hyp_exe: Path, tmp_path: Path) -> None:
    """What a user following older docs types: 3.12 refuses it before contacting anything."""
    sink = TelemetrySink()
    try:
        env = hyp_environment(hyp_exe, "http://127.0.0.1:9", tmp_path, sink, region=REGION)
        done = Hyp(hyp_exe, env, sink)(
            "create",
            "hyp-pytorch-job",
            "--job-name",
            "x",
            "--image",
            IMAGE,
            "--auto-resume",
            "true",
        )
    finally:
        sink.close()
    assert done.returncode == 2
    assert "No such option: --auto-resume" in done.stderr


def test_cluster_commands(hyp: Hyp, up: PodwardenUp) -> None:
    listed = json.loads(hyp.ok("list-cluster", "--output", "json").stdout)
    (cluster,) = [c for c in listed if c["Cluster"] == CLUSTER]
    (row,) = cluster["Instances"]
    assert row["InstanceType"] == INSTANCE
    assert row["TotalNodes"] == NODES
    assert row["NodeHealthStatus=Schedulable"] == NODES
    assert row["AcceleratorDevicesAvailable"] == NODES  # one GPU each, nothing running yet

    hyp.ok("set-cluster-context", "--cluster-name", CLUSTER)
    kubeconfig = yaml.safe_load(Path(hyp.env["KUBECONFIG"]).read_text())
    assert kubeconfig["current-context"] == EKS_ARN

    context = hyp.says("get-cluster-context")
    assert f"Cluster context:{EKS_ARN}" in context

    described = hyp.says("describe", "cluster", CLUSTER)
    assert f"Cluster Details for: {CLUSTER}" in described
    assert "Status: InService" in described
    assert EKS_ARN in described
    assert TELEMETRY in hyp.sink.hosts  # describe cluster's telemetry ended at the sink


# --- the job commands: need the HyperPodPyTorchJob CRD and operator (the EKS add-on), pods
# labelled HPJob=<job> on the cluster's nodes, kwok serving their logs and the operator's


CREATE = [
    "create",
    "hyp-pytorch-job",
    "--job-name",
    JOB,
    "--image",
    IMAGE,
    "--command",
    "[torchrun, --nproc_per_node=1, train.py]",
    "--instance-type",
    INSTANCE,
    "--node-count",
    str(NODES),
    "--max-retry",
    "2",
]


def addon_status(eks: Any) -> str:
    try:
        addon = eks.describe_addon(clusterName="podwarden", addonName=jobs.HPTO_ADDON)["addon"]
    except eks.exceptions.ResourceNotFoundException:
        return "(none)"
    return str(addon["status"])


@pytest.fixture(scope="module")
def operator(hyp: Hyp, up: PodwardenUp) -> None:
    """The HyperPod training operator, installed as a user does: ``aws eks create-addon``."""
    done = hyp.aws(
        "eks", "create-addon", "--cluster-name", "podwarden", "--addon-name", jobs.HPTO_ADDON
    )
    assert done.returncode == 0, f"aws eks create-addon {jobs.HPTO_ADDON}: {done.stderr}"
    eks = local_client("eks", up.endpoint)
    last: list[str] = []

    def active() -> bool:
        last[:] = [addon_status(eks)]
        assert last[0] not in ("CREATE_FAILED", "DEGRADED"), f"{jobs.HPTO_ADDON}: {last[0]}"
        return last[0] == "ACTIVE"

    wait_for(f"add-on {jobs.HPTO_ADDON} ACTIVE", active, timeout=120, seen=lambda: last)


@pytest.fixture(scope="module")
def created(hyp: Hyp, operator: None) -> subprocess.CompletedProcess[str]:
    """``hyp create hyp-pytorch-job`` as a user types it (asserted by test_create_...)."""
    return hyp(*CREATE)


def job_pods(kube: client.ApiClient) -> list[Any]:
    pods = client.CoreV1Api(kube).list_namespaced_pod(
        "default", label_selector=f"{jobs.HPTO_JOB_LABEL}={JOB}"
    )
    return sorted(pods.items, key=lambda p: p.metadata.name)


def hp_job(kube: client.ApiClient) -> dict[str, Any]:
    found = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        jobs.HPTO_GROUP, jobs.HPTO_VERSION, "default", jobs.HPTO_PLURAL, JOB
    )
    assert isinstance(found, dict)
    return found


@pytest.fixture(scope="module")
def running(created: subprocess.CompletedProcess[str], kube: client.ApiClient) -> list[str]:
    """The job's pods once all of them run and the job says Running: their names."""
    if created.returncode != 0:
        pytest.fail(f"hyp create hyp-pytorch-job failed:\n{created.stdout}{created.stderr}")
    seen: list[object] = []

    def all_running() -> list[str] | None:
        pods = job_pods(kube)
        conditions = (hp_job(kube).get("status") or {}).get("conditions") or []
        seen[:] = [[(p.metadata.name, p.status.phase) for p in pods], conditions]
        up_ = len(pods) == NODES and all(p.status.phase == "Running" for p in pods)
        says = any(c["type"] == "Running" and c["status"] == "True" for c in conditions)
        return [p.metadata.name for p in pods] if up_ and says else None

    return wait_for(f"{NODES} pods of {JOB} Running", all_running, timeout=180, seen=lambda: seen)


def test_create_hyp_pytorch_job(
    created: subprocess.CompletedProcess[str], kube: client.ApiClient
) -> None:
    out = created.stdout + created.stderr
    assert created.returncode == 0, out
    assert "Using version: 1.1" in out
    assert f"Successfully submitted HyperPodPytorchJob '{JOB}'!" in out
    spec = hp_job(kube)["spec"]
    assert spec["runPolicy"]["jobMaxRetryCount"] == 2
    (replica,) = spec["replicaSpecs"]
    assert replica["replicas"] == NODES
    pod = replica["template"]["spec"]
    assert pod["nodeSelector"]["node.kubernetes.io/instance-type"] == INSTANCE
    (container,) = pod["containers"]
    assert container["name"] == "pytorch-job-container"
    assert container["image"] == IMAGE
    assert container["command"] == ["torchrun", "--nproc_per_node=1", "train.py"]
    assert str(container["resources"]["requests"]["nvidia.com/gpu"]) == "1"  # ml.g5.xlarge


def test_list_hyp_pytorch_jobs(hyp: Hyp, running: list[str]) -> None:
    listed = hyp.ok("list", "hyp-pytorch-job").stdout
    (row,) = [line.split() for line in listed.splitlines() if line.startswith(JOB)]
    assert row[:3] == [JOB, "default", "Running"]


def test_describe_hyp_pytorch_job(hyp: Hyp, running: list[str]) -> None:
    described = hyp.ok("describe", "hyp-pytorch-job", "--job-name", JOB).stdout
    assert f"Name:           {JOB}" in described
    assert "Namespace:      default" in described
    assert f"Replicas: {NODES}" in described
    assert f"Image:           {IMAGE}" in described
    assert "Type:               Running" in described


def test_list_pods(hyp: Hyp, running: list[str]) -> None:
    listed = hyp.ok("list-pods", "hyp-pytorch-job", "--job-name", JOB).stdout
    assert f"Pods for job: {JOB}" in listed
    rows = [line.split() for line in listed.splitlines()]
    assert sorted(r[0] for r in rows if len(r) == 2 and r[1] == "default") == running


def test_get_logs(hyp: Hyp, running: list[str], kube: client.ApiClient) -> None:
    pod = running[0]
    core = client.CoreV1Api(kube)
    started = f"starting training {JOB}"
    wait_for(
        f"{pod}'s log saying '{started}'",
        lambda: started in core.read_namespaced_pod_log(pod, "default"),
        timeout=60,
    )
    logs = hyp.ok("get-logs", "hyp-pytorch-job", "--job-name", JOB, "--pod-name", pod).stdout
    assert f"Pod Logs for {pod}:" in logs
    # read_namespaced_pod_log(timestamps=True): each line opens with its RFC 3339 time
    assert re.search(rf"^\d{{4}}-\d\d-\d\dT[\d:.]+Z .*{started}", logs, re.MULTILINE), logs


def test_get_operator_logs(hyp: Hyp, running: list[str]) -> None:
    logs = hyp.ok("get-operator-logs", "hyp-pytorch-job", "--since-hours", "1").stdout
    assert "PyTorch Operator Logs:" in logs
    assert JOB in logs  # the operator logged what it did for the job


def test_delete_hyp_pytorch_job(hyp: Hyp, running: list[str], kube: client.ApiClient) -> None:
    out = hyp.says("delete", "hyp-pytorch-job", "--job-name", JOB)
    assert f"Successful deleted HyperPodPytorchJob '{JOB}'!" in out

    def gone() -> bool:
        try:
            hp_job(kube)
        except client.ApiException as exc:
            return exc.status == 404 and not job_pods(kube)
        return False

    wait_for(f"{JOB} and its pods deleted", gone, timeout=60)
    assert "No jobs found." in hyp.ok("list", "hyp-pytorch-job").stdout


def test_an_environment_that_cannot_be_built_fails(tmp_path: Path) -> None:
    """A lock uv refuses (here: a requirement without a hash) is an error the fixture turns into
    a failure, never a skip, and leaves no environment marked complete."""
    lock = tmp_path / "requirements.lock"
    lock.write_text("six==1.17.0\n")
    target = tmp_path / "venv"
    with pytest.raises(HypEnvError, match="hash"):
        build(target, lock)
    assert not (target / COMPLETE).exists()
