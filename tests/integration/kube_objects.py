"""Kubernetes objects and waits the integration tests share."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes import client

T = TypeVar("T")


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float = 90.0,
    interval: float = 0.25,
    seen: Callable[[], object] | None = None,
) -> T:
    """Poll probe until it returns something truthy; fail with ``what`` after timeout, and with
    what ``seen()`` describes (the last state the probe saw) when given. A probe ends the wait
    at once on a terminal state by raising."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            last = f"; last seen: {str(seen())[:300]}" if seen is not None else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{last}")
        time.sleep(interval)


def hyperpod_node(name: str, instance_type: str, gpus: int, pods: int) -> dict[str, Any]:
    """A kwok-managed node labelled and sized like a HyperPod instance (R11, R12 in
    docs/requirements.md)."""
    capacity = {"cpu": "192", "memory": "2048Gi", "pods": str(pods), "nvidia.com/gpu": str(gpus)}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": {
                "node.kubernetes.io/instance-type": instance_type,
                "beta.kubernetes.io/instance-type": instance_type,
                "kubernetes.io/hostname": name,
                "sagemaker.amazonaws.com/compute-type": "hyperpod",
            },
        },
        "status": {"capacity": capacity, "allocatable": capacity},
    }


def gpu_job(name: str, gpus: int, instance_type: str) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "nodeSelector": {"node.kubernetes.io/instance-type": instance_type},
                    "containers": [
                        {
                            "name": "train",
                            "image": "public.ecr.aws/docker/library/busybox:1.36",
                            "command": ["sh", "-c", "echo training"],
                            "resources": {"limits": {"nvidia.com/gpu": str(gpus)}},
                        }
                    ],
                }
            },
        },
    }


def as_dict(api: client.ApiClient, obj: object) -> dict[str, Any]:
    """A typed client model as the JSON the apiserver sent (camelCase keys)."""
    data: dict[str, Any] = api.sanitize_for_serialization(obj)  # type: ignore[no-untyped-call]
    return data


def create(api: client.ApiClient, obj: dict[str, Any]) -> None:
    """Create a Node or a Job (in ``default``) from its manifest."""
    if obj["kind"] == "Node":
        node = client.V1Node.from_dict(obj)
        assert node is not None
        client.CoreV1Api(api).create_node(node)
    elif obj["kind"] == "Job":
        job = client.V1Job.from_dict(obj)
        assert job is not None
        client.BatchV1Api(api).create_namespaced_job("default", job)
    else:
        raise ValueError(obj["kind"])


def read_node(api: client.ApiClient, name: str) -> dict[str, Any]:
    return as_dict(api, client.CoreV1Api(api).read_node(name))


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for c in obj.get("status", {}).get("conditions") or []:
        if c["type"] == kind:
            return dict(c)
    return None


def node_is_ready(api: client.ApiClient, name: str) -> bool:
    ready = _condition(read_node(api, name), "Ready")
    return ready is not None and ready["status"] == "True"


def job_succeeded(api: client.ApiClient, name: str, namespace: str = "default") -> bool:
    job = as_dict(api, client.BatchV1Api(api).read_namespaced_job(name, namespace))
    complete = _condition(job, "Complete")
    return complete is not None and complete["status"] == "True"


def job_pods(api: client.ApiClient, name: str, namespace: str = "default") -> list[dict[str, Any]]:
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector=f"job-name={name}")
    return [as_dict(api, p) for p in pods.items]


def pod_condition(pod: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return _condition(pod, kind)
