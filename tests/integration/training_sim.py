"""The training simulator in a thread of its own and the objects its integration tests make
(tests/integration/test_training_simulator.py): kwok nodes of a pool of their own, training
jobs sized through the simulation table's environment overrides, their checkpoint records and
logs read through the apiserver."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from podwarden.kube.nodes import api_client as aio_api_client
from podwarden.local.runtime import ControlPlane
from podwarden.model import jobs
from podwarden.model.labels import (
    HEALTH,
    HEALTH_TAINT_EFFECT,
    HEALTH_TAINT_VALUE,
    PENDING_REPLACEMENT,
    SCHEDULABLE,
)
from podwarden.training.simulator import TrainingSimulator

from .kube_objects import as_dict, hyperpod_node, node_is_ready, wait_for

NAMESPACE = "training-sim"
POOL = "podwarden.io/test-pool"
P5 = "ml.p5.48xlarge"


class Simulator:
    """``TrainingSimulator`` in a thread with its own event loop; stop and start it again to
    restart it."""

    def __init__(self, control_plane: ControlPlane, log_dir: Path) -> None:
        self.kubeconfig = control_plane.kubeconfig
        self.log_dir = log_dir
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        started = threading.Event()
        self._thread = threading.Thread(target=self._main, args=(started,), daemon=True)
        self._thread.start()
        assert started.wait(30), "the simulator thread did not start"

    def stop(self) -> None:
        assert self._loop is not None and self._stop is not None and self._thread is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the simulator did not stop"
        self.check(alive=False)

    def _main(self, started: threading.Event) -> None:
        try:
            asyncio.run(self._serve(started))
        except BaseException as exc:  # reported through check()
            self.error = exc

    async def _serve(self, started: threading.Event) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        started.set()
        api = await aio_api_client(self.kubeconfig)
        task = asyncio.create_task(TrainingSimulator(api, log_dir=self.log_dir, interval=0.2).run())
        try:
            stop = asyncio.create_task(self._stop.wait())
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()  # it runs until cancelled: raise what ended it
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await api.close()

    def check(self, *, alive: bool = True) -> None:
        assert self.error is None, f"the training simulator died: {self.error!r}"
        if alive:
            assert self._thread is not None and self._thread.is_alive(), "the simulator ended"


def make_nodes(kube: client.ApiClient, pool: str, count: int) -> list[str]:
    """``count`` HyperPod nodes (8 GPUs, Schedulable) of a pool only this test's pods tolerate."""
    names = []
    for n in range(count):
        name = f"hyperpod-i-7{pool.encode().hex()[-6:]}{n:010x}"
        manifest = hyperpod_node(name, P5, gpus=8, pods=20)
        manifest["metadata"]["labels"].update({HEALTH: SCHEDULABLE, POOL: pool})
        manifest["spec"] = {"taints": [{"key": POOL, "value": pool, "effect": "NoSchedule"}]}
        node = client.V1Node.from_dict(manifest)
        assert node is not None
        client.CoreV1Api(kube).create_node(node)
        names.append(name)
    for name in names:
        wait_for(f"node {name} Ready", functools.partial(node_is_ready, kube, name))
    return names


def training_env(steps: int, step_seconds: float, checkpoint_every: int) -> list[dict[str, str]]:
    values = {
        "PODWARDEN_TRAIN_STEPS": str(steps),
        "PODWARDEN_TRAIN_STEP_SECONDS": str(step_seconds),
        "PODWARDEN_TRAIN_CHECKPOINT_EVERY": str(checkpoint_every),
        "PODWARDEN_TRAIN_CHECKPOINT_SECONDS": "0.1",
        "PODWARDEN_TRAIN_RESTART_SECONDS": "0.2",
        "PODWARDEN_TRAIN_LOG_EVERY": "5",
    }
    return [{"name": k, "value": v} for k, v in values.items()]


def pod_spec(pool: str, env: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "nodeSelector": {HEALTH: SCHEDULABLE, POOL: pool},
        "tolerations": [{"key": POOL, "operator": "Equal", "value": pool}],
        "containers": [
            {
                "name": "pytorch",
                "image": "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
                "command": ["torchrun", "train.py"],
                "env": env,
                "resources": {"limits": {"nvidia.com/gpu": "8"}},
            }
        ],
    }


def submit_pytorchjob(
    kube: client.ApiClient, name: str, pool: str, workers: int, env: list[dict[str, str]]
) -> None:
    job = {
        "apiVersion": f"{jobs.KUBEFLOW_GROUP}/{jobs.KUBEFLOW_VERSION}",
        "kind": jobs.PYTORCHJOB_KIND,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "pytorchReplicaSpecs": {
                "Worker": {
                    "replicas": workers,
                    "restartPolicy": "OnFailure",
                    "template": {"spec": pod_spec(pool, env)},
                }
            }
        },
    }
    client.CustomObjectsApi(kube).create_namespaced_custom_object(
        jobs.KUBEFLOW_GROUP, jobs.KUBEFLOW_VERSION, NAMESPACE, jobs.PYTORCHJOBS, job
    )


def job_pods(kube: client.ApiClient, label: str, name: str) -> list[dict[str, Any]]:
    found = client.CoreV1Api(kube).list_namespaced_pod(NAMESPACE, label_selector=f"{label}={name}")
    return sorted((as_dict(kube, p) for p in found.items), key=lambda p: p["metadata"]["name"])


def record(kube: client.ApiClient, kind: str, name: str) -> dict[str, str]:
    """The job's checkpoint ConfigMap data ({} while there is none)."""
    try:
        cm = client.CoreV1Api(kube).read_namespaced_config_map(
            f"training-checkpoint.{kind.lower()}.{name}", NAMESPACE
        )
    except ApiException as exc:
        if exc.status == 404:
            return {}
        raise
    return dict(cm.data or {})


def pod_log(kube: client.ApiClient, pod: str, *, timestamps: bool = False) -> str:
    try:
        text: str = client.CoreV1Api(kube).read_namespaced_pod_log(
            pod, NAMESPACE, timestamps=timestamps
        )
    except ApiException:  # kwok has not seen the pod's Logs object yet
        return ""
    return text or ""  # the client gives None for an empty log


def log_with(kube: client.ApiClient, pod: str, text: str) -> str:
    """Wait until the pod's log holds ``text``; the whole log."""

    def probe() -> str | None:
        found = pod_log(kube, pod)
        return found if text in found else None

    return wait_for(
        f"{text!r} in the log of {pod}", probe, timeout=30, seen=lambda: pod_log(kube, pod)[-300:]
    )


def create_pod(kube: client.ApiClient, manifest: dict[str, Any]) -> None:
    pod = client.V1Pod.from_dict(manifest)
    assert pod is not None
    client.CoreV1Api(kube).create_namespaced_pod(NAMESPACE, pod)


def terminated(pod: dict[str, Any]) -> dict[str, Any]:
    [status] = pod["status"]["containerStatuses"]
    state: dict[str, Any] = status["state"]["terminated"]
    return state


def cleanup(kube: client.ApiClient, nodes: list[str], pytorchjob: str | None = None) -> None:
    if pytorchjob:
        with contextlib.suppress(ApiException):
            client.CustomObjectsApi(kube).delete_namespaced_custom_object(
                jobs.KUBEFLOW_GROUP, jobs.KUBEFLOW_VERSION, NAMESPACE, jobs.PYTORCHJOBS, pytorchjob
            )
    for node in nodes:
        with contextlib.suppress(ApiException):
            client.CoreV1Api(kube).delete_node(node)


def fault(kube: client.ApiClient, node: str) -> None:
    """Mark a node for replacement and quarantine it, as the health agent does on Xid 79."""
    taint = {"key": HEALTH, "value": HEALTH_TAINT_VALUE, "effect": HEALTH_TAINT_EFFECT}
    current = as_dict(kube, client.CoreV1Api(kube).read_node(node))
    taints = current["spec"].get("taints") or []
    patch = {
        "metadata": {"labels": {HEALTH: PENDING_REPLACEMENT}},
        "spec": {"taints": [*taints, taint]},
    }
    client.CoreV1Api(kube).patch_node(node, patch)


def checkpoint(kube: client.ApiClient, kind: str, name: str) -> int:
    return int(record(kube, kind, name).get("checkpoint-step", "0"))


def bare_pod(
    name: str, job: str, node: str, pool: str, env: list[dict[str, str]]
) -> dict[str, Any]:
    """A pod labelled ``HPJob=<job>`` as HyperPod's operator labels its pods, bound to ``node``."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {jobs.HPTO_JOB_LABEL: job}},
        "spec": {**pod_spec(pool, env), "nodeName": node, "restartPolicy": "Never"},
    }


def follow(kube: client.ApiClient, pod: str, until: str, into: list[str]) -> threading.Thread:
    """Follow the pod's log (``kubectl logs -f``) in a thread until ``until`` appears; the text
    read lands in ``into``. kwok never ends a follow by itself: the reader closes it."""

    def read() -> None:
        resp: Any = client.CoreV1Api(kube).read_namespaced_pod_log(  # urllib3's response
            pod, NAMESPACE, follow=True, _preload_content=False, _request_timeout=90
        )
        text = ""
        try:
            for chunk in resp.stream(4096):
                text += chunk.decode()
                if until in text:
                    break
        finally:
            resp.release_conn()
            into.append(text)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread
