"""The real Kubeflow training operator in every local control plane, and container logs of pods
on kwok nodes through the apiserver (issue #10 items 1 and 5).

The operator is the Go module's own reconcilers and webhooks (tools/k8s/training-operator), run
out of cluster with its own client certificate and ClusterRole; kwok serves the kubelet API on
loopback, reading each container's log file from the pod's kwok ``Logs`` object.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from podwarden.local.runtime import ControlPlane
from podwarden.model import jobs

from .kube_objects import create, hyperpod_node, node_is_ready, wait_for

P5 = "ml.p5.48xlarge"
NODE = "hyperpod-i-0a1b2c3d4e5f6a001"
NAMESPACE = "kubeflow"


def _pytorchjob(
    name: str, replicas: int, container: str = "pytorch", gpus: int = 4
) -> dict[str, Any]:
    return {
        "apiVersion": f"{jobs.KUBEFLOW_GROUP}/{jobs.KUBEFLOW_VERSION}",
        "kind": jobs.PYTORCHJOB_KIND,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "pytorchReplicaSpecs": {
                "Worker": {
                    "replicas": replicas,
                    "restartPolicy": "OnFailure",
                    "template": {
                        "spec": {
                            "nodeSelector": {"kubernetes.io/hostname": NODE},
                            "containers": [
                                {
                                    "name": container,
                                    "image": "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
                                    "command": ["torchrun", "train.py"],
                                    "resources": {"limits": {"nvidia.com/gpu": str(gpus)}},
                                }
                            ],
                        }
                    },
                }
            }
        },
    }


@pytest.fixture(scope="module")
def node(kube: client.ApiClient) -> str:
    create(kube, hyperpod_node(NODE, P5, gpus=8, pods=49))
    wait_for(f"node {NODE} Ready", lambda: node_is_ready(kube, NODE))
    try:
        client.CoreV1Api(kube).create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE))
        )
    except ApiException as exc:
        if exc.status != 409:
            raise
    return NODE


def _custom(kube: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kube)


def _job_pods(kube: client.ApiClient, name: str) -> list[Any]:
    pods = client.CoreV1Api(kube).list_namespaced_pod(
        NAMESPACE, label_selector=f"{jobs.KUBEFLOW_JOB_NAME}={name}"
    )
    return list(pods.items)


def test_pytorchjob_pods_are_created_by_the_real_operator(
    kube: client.ApiClient, node: str
) -> None:
    custom = _custom(kube)
    custom.create_namespaced_custom_object(
        jobs.KUBEFLOW_GROUP, jobs.KUBEFLOW_VERSION, NAMESPACE, jobs.PYTORCHJOBS, _pytorchjob("a", 2)
    )

    def running() -> list[Any] | None:
        pods = _job_pods(kube, "a")
        return pods if len(pods) == 2 and all(p.status.phase == "Running" for p in pods) else None

    pods = wait_for("2 Running pods of PyTorchJob a", running)
    for pod in pods:
        [owner] = pod.metadata.owner_references
        assert (owner.kind, owner.name, owner.controller) == ("PyTorchJob", "a", True)
        assert pod.spec.node_name == node
        assert pod.status.host_ip == "127.0.0.1"  # kwok's node IP: the kubelet API on loopback

    def job_running() -> bool:
        job: dict[str, Any] = custom.get_namespaced_custom_object(  # type: ignore[assignment]
            jobs.KUBEFLOW_GROUP, jobs.KUBEFLOW_VERSION, NAMESPACE, jobs.PYTORCHJOBS, "a"
        )
        conditions = job.get("status", {}).get("conditions", [])
        return any(c["type"] == "Running" and c["status"] == "True" for c in conditions)

    wait_for("PyTorchJob a Running", job_running)


def test_the_operators_webhook_refuses_an_invalid_job(kube: client.ApiClient, node: str) -> None:
    with pytest.raises(ApiException) as info:
        _custom(kube).create_namespaced_custom_object(
            jobs.KUBEFLOW_GROUP,
            jobs.KUBEFLOW_VERSION,
            NAMESPACE,
            jobs.PYTORCHJOBS,
            _pytorchjob("bad", 1, container="not-pytorch"),
        )
    assert info.value.status == 403
    body = json.loads(info.value.body or "{}")
    assert "validator.pytorchjob.training-operator.kubeflow.org" in body["message"]
    assert "pytorch" in body["message"]


def test_the_operator_runs_with_its_own_role_not_as_an_admin(kube: client.ApiClient) -> None:
    def allowed(verb: str, resource: str, group: str = "") -> bool:
        review = client.V1SubjectAccessReview(
            spec=client.V1SubjectAccessReviewSpec(
                user="training-operator",
                resource_attributes=client.V1ResourceAttributes(
                    verb=verb, resource=resource, group=group
                ),
            )
        )
        answer = client.AuthorizationV1Api(kube).create_subject_access_review(review)
        return answer.status is not None and bool(answer.status.allowed)

    assert allowed("create", "pods")
    assert allowed("update", "pytorchjobs/status", jobs.KUBEFLOW_GROUP)
    assert not allowed("delete", "nodes")
    assert not allowed("create", "clusterrolebindings", "rbac.authorization.k8s.io")


def _cri(text: str, at: float) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + ".000000001Z"
    return f"{stamp} stdout F {text}\n"


def test_container_logs_of_a_kwok_pod_come_through_the_apiserver(
    kube: client.ApiClient, node: str, control_plane: ControlPlane, tmp_path: Path
) -> None:
    # a plain pod, no job's labels: kwok's logs path alone, whatever else runs on the plane
    # (the training simulator re-points the Logs of job pods at its own files)
    name = "plain-logs"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "nodeName": node,
            "containers": [{"name": "pytorch", "image": "busybox:1.36"}],
        },
    }
    core = client.CoreV1Api(kube)
    core.create_namespaced_pod(NAMESPACE, client.V1Pod.from_dict(pod))  # type: ignore[arg-type]
    wait_for(
        f"pod {name} Running",
        lambda: core.read_namespaced_pod(name, NAMESPACE).status.phase == "Running",  # type: ignore[union-attr]
    )
    log = tmp_path / f"{name}.log"
    log.write_text(
        _cri("step 1 loss 2.31", 1_780_000_000) + _cri("step 2 loss 2.27", 1_780_000_001)
    )
    logs = {
        "apiVersion": f"{jobs.KWOK_GROUP}/{jobs.KWOK_VERSION}",
        "kind": "Logs",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"logs": [{"containers": ["pytorch"], "logsFile": str(log), "follow": True}]},
    }
    _custom(kube).create_namespaced_custom_object(
        jobs.KWOK_GROUP, jobs.KWOK_VERSION, NAMESPACE, jobs.KWOK_LOGS, logs
    )

    last: list[str] = []

    def read() -> str | None:
        try:
            text: str = core.read_namespaced_pod_log(name, NAMESPACE, timestamps=True)
        except ApiException as exc:  # kwok has not seen the Logs object yet
            last[:] = [f"HTTP {exc.status}: {exc.body}"]
            return None
        last[:] = [repr(text)]
        return text or None

    text = wait_for(f"the log of {name}", read, seen=lambda: last)
    assert text.splitlines() == [
        "2026-05-28T20:26:40.000000001Z step 1 loss 2.31",
        "2026-05-28T20:26:41.000000001Z step 2 loss 2.27",
    ]

    # --follow streams what is appended later
    streamed: list[str] = []

    def follow() -> None:
        resp: Any = core.read_namespaced_pod_log(
            name, NAMESPACE, follow=True, _preload_content=False, _request_timeout=30
        )
        for line in resp.stream(decode_content=True):
            streamed.append(line.decode())
            if "step 3" in "".join(streamed):
                resp.close()
                return

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    wait_for("the first lines streamed", lambda: "step 2" in "".join(streamed), timeout=30)
    with log.open("a") as f:
        f.write(_cri("step 3 loss 2.20", 1_780_000_002))
    reader.join(timeout=30)
    assert "step 3 loss 2.20" in "".join(streamed)
    control_plane.check()
