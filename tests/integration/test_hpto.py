"""podwarden's HyperPod training operator on the real control plane (issue #10 item 3): the
add-on's objects as CreateAddon installs them (namespace, CRD, service account, Deployment), the
operator serving HyperPodPyTorchJobs created as ``hyp create hyp-pytorch-job`` creates them,
pods labelled ``HPJob`` and owned by the job, conditions, a faulted node -> a full restart, a
spare taking a worker's place, the job deleted -> its pods deleted by the garbage collector,
and the operator's own log where ``hyp get-operator-logs`` looks."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from podwarden.kube.nodes import api_client
from podwarden.kube.objects import KubeObjects
from podwarden.kube.workloads import KubeWorkloads
from podwarden.local.runtime import ControlPlane
from podwarden.logic.addon_objects import workload_object
from podwarden.model import jobs
from podwarden.policy.eks_catalog import addon_workloads
from podwarden.training.hpto import HyperPodTrainingOperator

from .kube_objects import as_dict, create, hyperpod_node, node_is_ready, wait_for

NS = "default"
HEALTH = "sagemaker.amazonaws.com/node-health-status"
GPU = "nvidia.com/gpu"
POOL = "podwarden.io/test-pool"  # this file's nodes, so its pods land nowhere else
NODES = [f"hyperpod-i-0feed{n:012x}" for n in range(6)]
ADDON_VERSION = "v1.1.0-eksbuild.1"


def addon_objects() -> list[dict[str, Any]]:
    """What CreateAddon installs, rendered as the EKS reconciler renders it."""
    rows = addon_workloads(jobs.HPTO_ADDON, ADDON_VERSION)
    return [workload_object(w, jobs.HPTO_ADDON) for w in rows]


async def _install(kubeconfig: Path, remove: bool = False) -> None:
    api = await api_client(kubeconfig)
    try:
        objects, workloads = KubeObjects(api), KubeWorkloads(api)
        for obj in addon_objects():
            target = workloads if obj["kind"] in ("Deployment", "DaemonSet") else objects
            meta = obj["metadata"]
            if remove:
                await target.delete(obj["kind"], meta.get("namespace", ""), meta["name"])
            else:
                await target.apply(obj)
    finally:
        await api.close()


class Operator:
    """The operator in a thread of its own, as the server runs it in its event loop."""

    def __init__(self, cp: ControlPlane, log_file: Path) -> None:
        self.cp, self.log_file = cp, log_file
        self._stop = threading.Event()
        self.installed: list[bool] = []
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    async def _serve(self) -> None:
        api = await api_client(self.cp.kubeconfig)
        operator = HyperPodTrainingOperator(api, log_file=self.log_file)
        operator.pass_seconds, operator.idle_seconds = 0.2, 0.5
        task = asyncio.create_task(operator.run())
        try:
            while not self._stop.is_set():
                self.installed.append(await operator.installed())
                await asyncio.sleep(0.2)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await api.close()

    def __enter__(self) -> Operator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


@pytest.fixture(scope="module")
def nodes(kube: client.ApiClient) -> list[str]:
    for name in NODES:
        node = hyperpod_node(name, "ml.g5.xlarge", gpus=1, pods=20)
        node["metadata"]["labels"] |= {POOL: "hpto", HEALTH: "Schedulable"}
        create(kube, node)
    for name in NODES:
        wait_for(f"node {name} Ready", lambda: node_is_ready(kube, name))  # noqa: B023
    return NODES


@pytest.fixture(scope="module")
def operator(
    control_plane: ControlPlane, nodes: list[str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    log_file = tmp_path_factory.mktemp("hpto") / "operator.log"
    with Operator(control_plane, log_file) as op:
        wait_for("the operator idle without the add-on", lambda: len(op.installed) >= 2)
        assert not any(op.installed)
        asyncio.run(_install(control_plane.kubeconfig))
        wait_for("the operator to see the add-on", lambda: op.installed and op.installed[-1])
        yield op


def hyp_job(name: str, replicas: int, spares: int = 0, max_retry: int = 2) -> dict[str, Any]:
    """The object `hyp create hyp-pytorch-job --instance-type ml.g5.xlarge --max-retry N`
    creates (sagemaker-hyperpod 3.12, template 1.5.0; read back from a run of the real CLI):
    one replica spec "pod", the job's name in the template's metadata, resources from the
    instance type, cleanPodPolicy None and ttlSecondsAfterFinished 0 with the retries."""
    return {
        "apiVersion": "sagemaker.amazonaws.com/v1",
        "kind": "HyperPodPyTorchJob",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "nprocPerNode": "auto",
            "replicaSpecs": [
                {
                    "name": "pod",
                    "replicas": replicas,
                    "spares": spares,
                    "template": {
                        "metadata": {"name": name, "namespace": NS},
                        "spec": {
                            "containers": [
                                {
                                    "name": "pytorch-job-container",
                                    "image": "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
                                    "command": ["torchrun", "train.py"],
                                    # as hyp writes them: GPUs a number, which the
                                    # API accepts and the client's typed V1Pod refuses
                                    "resources": {
                                        "requests": {"cpu": "3", "memory": "11Gi", GPU: 1},
                                        "limits": {"memory": "11Gi", GPU: 1},
                                    },
                                }
                            ],
                            "nodeSelector": {POOL: "hpto"},
                        },
                    },
                }
            ],
            "runPolicy": {
                "cleanPodPolicy": "None",
                "jobMaxRetryCount": max_retry,
                "ttlSecondsAfterFinished": 0,
            },
        },
    }


def custom(kube: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kube)


def read_job(kube: client.ApiClient, name: str) -> dict[str, Any]:
    job = custom(kube).get_namespaced_custom_object(
        jobs.HPTO_GROUP, jobs.HPTO_VERSION, NS, jobs.HPTO_PLURAL, name
    )
    assert isinstance(job, dict)
    return job


def job_pods(kube: client.ApiClient, name: str) -> list[dict[str, Any]]:
    pods = client.CoreV1Api(kube).list_namespaced_pod(NS, label_selector=f"HPJob={name}")
    return [as_dict(kube, p) for p in pods.items]


def shown(job: dict[str, Any]) -> str:
    """`hyp list`'s STATUS: the last condition whose status is True."""
    conds = (job.get("status") or {}).get("conditions") or []
    return next((str(c["type"]) for c in reversed(conds) if c["status"] == "True"), "Unknown")


def wait_shown(kube: client.ApiClient, name: str, status: str, timeout: float = 60) -> None:
    wait_for(
        f"{name} {status}",
        lambda: shown(read_job(kube, name)) == status,
        timeout=timeout,
        seen=lambda: (read_job(kube, name).get("status"), _phases(kube, name)),
    )


def _phases(kube: client.ApiClient, name: str) -> dict[str, str]:
    return {p["metadata"]["name"]: p["status"].get("phase", "") for p in job_pods(kube, name)}


def running_pods(kube: client.ApiClient, name: str, count: int) -> list[dict[str, Any]]:
    def ready() -> list[dict[str, Any]] | None:
        pods = [p for p in job_pods(kube, name) if not p["metadata"].get("deletionTimestamp")]
        running = [p for p in pods if p["status"].get("phase") == "Running"]
        return running if len(running) == count == len(pods) else None

    return wait_for(f"{count} running pods of {name}", ready, seen=lambda: _phases(kube, name))


def fault(kube: client.ApiClient, node: str) -> None:
    """The health agent's verdict on a node (labels and the quarantine taint, R18)."""
    client.CoreV1Api(kube).patch_node(
        node,
        {
            "metadata": {"labels": {HEALTH: "UnschedulablePendingReplacement"}},
            "spec": {"taints": [{"key": HEALTH, "value": "Unschedulable", "effect": "NoSchedule"}]},
        },
    )


def heal(kube: client.ApiClient, node: str) -> None:
    client.CoreV1Api(kube).patch_node(
        node, {"metadata": {"labels": {HEALTH: "Schedulable"}}, "spec": {"taints": None}}
    )


def test_addon_objects_are_installed_and_hyp_finds_the_operator_log(
    kube: client.ApiClient, operator: Operator
) -> None:
    crd = as_dict(
        kube, client.ApiextensionsV1Api(kube).read_custom_resource_definition(jobs.HPTO_CRD)
    )
    assert crd["spec"]["versions"][0]["subresources"] == {"status": {}}
    apps, core = client.AppsV1Api(kube), client.CoreV1Api(kube)
    dep = as_dict(kube, apps.read_namespaced_deployment(jobs.HPTO_OPERATOR, jobs.HPTO_NAMESPACE))
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == jobs.HPTO_OPERATOR
    core.read_namespaced_service_account(jobs.HPTO_OPERATOR, jobs.HPTO_NAMESPACE)

    def operator_log() -> str | None:  # what `hyp get-operator-logs` reads
        found = core.list_namespaced_pod(
            jobs.HPTO_NAMESPACE, label_selector=jobs.HPTO_CONTROL_PLANE_LABEL
        )
        pods = [as_dict(kube, p) for p in found.items]
        if not pods or pods[0]["status"].get("phase") != "Running":
            return None
        try:
            text: str = core.read_namespaced_pod_log(
                pods[0]["metadata"]["name"],
                jobs.HPTO_NAMESPACE,
                timestamps=True,
                since_seconds=3600,
            )
        except ApiException:
            return None  # kwok has not seen the Logs object yet
        return text if "serving HyperPodPyTorchJobs" in text else None

    wait_for("the operator's log through the apiserver", operator_log, timeout=60)


def test_job_pods_conditions_and_a_full_restart_after_a_node_fault(
    kube: client.ApiClient, operator: Operator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "podwarden.hpto")
    custom(kube).create_namespaced_custom_object(
        jobs.HPTO_GROUP, jobs.HPTO_VERSION, NS, jobs.HPTO_PLURAL, hyp_job("hp-restart", 2)
    )
    pods = running_pods(kube, "hp-restart", 2)
    uid = read_job(kube, "hp-restart")["metadata"]["uid"]
    assert sorted(p["metadata"]["name"] for p in pods) == ["hp-restart-pod-0", "hp-restart-pod-1"]
    for pod in pods:
        (owner,) = pod["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"], owner["controller"]) == (
            "HyperPodPyTorchJob",
            uid,
            True,
        )
    wait_shown(kube, "hp-restart", "Running")
    job = read_job(kube, "hp-restart")
    assert {r["name"] for r in job["status"]["jobPods"]} == {"hp-restart-pod-0", "hp-restart-pod-1"}

    bad = next(p["spec"]["nodeName"] for p in pods if p["metadata"]["name"] == "hp-restart-pod-0")
    fault(kube, bad)
    try:
        wait_for(
            "the restart recorded",
            lambda: read_job(kube, "hp-restart")["status"]["restartCount"] == 1,
        )
        pods = running_pods(kube, "hp-restart", 2)
        assert sorted(p["metadata"]["name"] for p in pods) == [
            "hp-restart-pod-0-r1",
            "hp-restart-pod-1-r1",
        ]
        assert bad not in {p["spec"]["nodeName"] for p in pods}
        wait_shown(kube, "hp-restart", "Running")
        status = read_job(kube, "hp-restart")["status"]
        conds = {c["type"]: c for c in status["conditions"]}
        assert conds["Restarting"]["status"] == "False"
        assert conds["Restarting"]["reason"] == "JobRestarted"
        assert status["latestFaultyPodInstanceList"]["faultyPodList"] == ["hp-restart-pod-0"]
        events = client.CoreV1Api(kube).list_namespaced_event(
            NS, field_selector="involvedObject.name=hp-restart"
        )
        restarting = [e.message or "" for e in events.items if e.reason == "JobRestarting"]
        assert restarting and bad in restarting[0]
    finally:
        heal(kube, bad)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_spare_takes_the_place_of_a_faulted_worker(
    kube: client.ApiClient, operator: Operator
) -> None:
    custom(kube).create_namespaced_custom_object(
        jobs.HPTO_GROUP, jobs.HPTO_VERSION, NS, jobs.HPTO_PLURAL, hyp_job("hp-spare", 1, spares=1)
    )
    pods = {p["metadata"]["name"]: p for p in running_pods(kube, "hp-spare", 2)}
    assert pods["hp-spare-pod-1"]["metadata"]["labels"][jobs.HPTO_ROLE_LABEL] == jobs.HPTO_SPARE
    wait_shown(kube, "hp-spare", "Running")
    bad = pods["hp-spare-pod-0"]["spec"]["nodeName"]
    fault(kube, bad)
    try:

        def promoted() -> dict[str, Any] | None:
            pod = as_dict(kube, client.CoreV1Api(kube).read_namespaced_pod("hp-spare-pod-1", NS))
            return pod if pod["metadata"]["labels"].get(jobs.HPTO_RANK_LABEL) == "0" else None

        pod = wait_for("the spare to take rank 0", promoted)
        assert pod["metadata"]["labels"][jobs.HPTO_ROLE_LABEL] == jobs.HPTO_WORKER
        # a new spare in the freed slot, on another node; the job never restarted
        pods = {p["metadata"]["name"]: p for p in running_pods(kube, "hp-spare", 2)}
        assert set(pods) == {"hp-spare-pod-0", "hp-spare-pod-1"}
        assert pods["hp-spare-pod-0"]["metadata"]["labels"][jobs.HPTO_ROLE_LABEL] == "spare"
        assert pods["hp-spare-pod-0"]["spec"]["nodeName"] != bad
        status = read_job(kube, "hp-spare")["status"]
        assert status["restartCount"] == 0 and status["restartStatus"]["restartCount"] == 1
        assert shown(read_job(kube, "hp-spare")) == "Running"
    finally:
        heal(kube, bad)


def test_a_restarted_operator_converges_and_deleting_the_job_deletes_its_pods(
    kube: client.ApiClient, operator: Operator, control_plane: ControlPlane, tmp_path: Path
) -> None:
    custom(kube).create_namespaced_custom_object(
        jobs.HPTO_GROUP, jobs.HPTO_VERSION, NS, jobs.HPTO_PLURAL, hyp_job("hp-gone", 2)
    )
    before = {p["metadata"]["uid"] for p in running_pods(kube, "hp-gone", 2)}
    with Operator(control_plane, tmp_path / "second.log") as second:  # two at once, even
        wait_for("the second operator active", lambda: second.installed and second.installed[-1])
        wait_shown(kube, "hp-gone", "Running")
        assert {p["metadata"]["uid"] for p in running_pods(kube, "hp-gone", 2)} == before
    custom(kube).delete_namespaced_custom_object(
        jobs.HPTO_GROUP, jobs.HPTO_VERSION, NS, jobs.HPTO_PLURAL, "hp-gone"
    )
    wait_for("the garbage collector to delete the pods", lambda: not job_pods(kube, "hp-gone"))


def test_removing_the_addon_stops_the_operator(
    kube: client.ApiClient, operator: Operator, control_plane: ControlPlane
) -> None:
    asyncio.run(_install(control_plane.kubeconfig, remove=True))
    wait_for("the operator idle again", lambda: not operator.installed[-1])

    def crd_gone() -> bool:
        try:
            client.ApiextensionsV1Api(kube).read_custom_resource_definition(jobs.HPTO_CRD)
        except ApiException as exc:
            return bool(exc.status == 404)
        return False

    wait_for("the CRD gone, and the jobs with it", crd_gone)
    wait_for("the jobs' pods gone", lambda: not job_pods(kube, "hp-restart"))
