"""HyperPod's job auto-resume for Kubeflow PyTorchJobs (issue #10 item 2) against the real control
plane and the real Kubeflow training operator: a fault under one pod restarts the whole job,
restarts are counted on the job, retries used up fail it (and Kubeflow leaves it Failed), jobs
without the annotation or outside the namespaces are left alone, an interrupted restart is
finished without being counted twice, and the service holds HyperPod's job-auto-restart
permissions and no more.

The service runs in a thread of its own (``JobAutoResume.run`` in an event loop) against the
session's control plane. HyperPod nodes are kwok nodes labelled as HyperPod labels them; a fault
is the health label (and taint) the health agent or a user would set, or the node deleted, as a
replacement does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from podwarden.kube.nodes import api_client as aio_api_client
from podwarden.local.runtime import ControlPlane
from podwarden.logic.auto_resume import FAILED_REASON
from podwarden.model import jobs
from podwarden.model.labels import (
    CLUSTER_ID,
    HEALTH,
    PENDING_REBOOT,
    PENDING_REPLACEMENT,
    SCHEDULABLE,
)
from podwarden.policy.job_auto_restart_rbac import load_rbac
from podwarden.training.auto_resume import RESTART_REASON, JobAutoResume

from .conftest import api_client
from .kube_objects import as_dict, hyperpod_node, node_is_ready, wait_for

CLUSTER = "arcluster001"
INSTANCE_TYPE = "ml.p4d.24xlarge"
POOL = "podwarden.io/test-pool"  # keeps other tests' pods off these nodes, and these off theirs
Event = tuple[str, str, str, str]


class Service:
    """``JobAutoResume`` in a thread with its own event loop; the cluster events it records."""

    def __init__(self, control_plane: ControlPlane) -> None:
        self.kubeconfig = control_plane.kubeconfig
        self.events: list[Event] = []
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._main, name="job-auto-resume", daemon=True)

    def __enter__(self) -> Service:
        self._thread.start()
        assert self._started.wait(30), "the auto-resume thread did not start"
        return self

    def __exit__(self, *_: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "the auto-resume service did not stop"

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by the tests through check()
            self.error = exc

    async def _record(self, cluster: str, instance: str, level: str, text: str) -> None:
        self.events.append((cluster, instance, level, text))

    async def _serve(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._started.set()
        api = await aio_api_client(self.kubeconfig)
        service = JobAutoResume(api, record_cluster_event=self._record, resync=2.0)
        task = asyncio.create_task(service.run())
        try:
            stop = asyncio.create_task(self._stop.wait())
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()  # it must run until cancelled: raise what ended it
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await api.close()

    def check(self) -> None:
        assert self.error is None, f"the auto-resume service died: {self.error!r}"
        assert self._thread.is_alive(), "the auto-resume service ended"


@pytest.fixture(scope="module")
def service(control_plane: ControlPlane, kube: client.ApiClient) -> Iterator[Service]:
    for namespace in ("kubeflow", "hyperpod-team-a"):
        with contextlib.suppress(ApiException):  # 409: it exists
            client.CoreV1Api(kube).create_namespace(
                client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace))
            )
    with Service(control_plane) as running:
        yield running
        running.check()


# --- objects ------------------------------------------------------------------------------------


def make_nodes(kube: client.ApiClient, pool: str, count: int, prefix: int) -> list[str]:
    """``count`` HyperPod nodes of one pool, labelled Schedulable, 8 GPUs each."""
    names = []
    for n in range(count):
        name = f"hyperpod-i-{prefix:02x}{n:015x}"
        manifest = hyperpod_node(name, INSTANCE_TYPE, gpus=8, pods=50)
        manifest["metadata"]["labels"].update(
            {HEALTH: SCHEDULABLE, CLUSTER_ID: CLUSTER, POOL: pool}
        )
        manifest["spec"] = {"taints": [{"key": POOL, "value": pool, "effect": "NoSchedule"}]}
        node = client.V1Node.from_dict(manifest)
        assert node is not None
        client.CoreV1Api(kube).create_node(node)
        names.append(name)
    for name in names:
        wait_for(f"node {name} Ready", functools.partial(node_is_ready, kube, name))
    return names


def pytorchjob(
    name: str,
    pool: str,
    *,
    workers: int = 1,
    namespace: str = "kubeflow",
    max_retry: str | None = "1",
    auto_resume: bool = True,
) -> dict[str, Any]:
    """A PyTorchJob as HyperPod's docs write one: OnFailure, pinned to Schedulable nodes, with
    the auto-resume annotations; each worker takes a whole node (8 GPUs)."""
    annotations = {jobs.AUTO_RESUME: "true"} if auto_resume else {}
    if auto_resume and max_retry is not None:
        annotations[jobs.MAX_RETRY] = max_retry
    container = {
        "name": "pytorch",
        "image": "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
        "command": ["torchrun", "--rdzv-conf=timeout=1800", "train.py"],
        "resources": {"limits": {"nvidia.com/gpu": "8"}},
    }
    template = {
        "spec": {
            "nodeSelector": {HEALTH: SCHEDULABLE, POOL: pool},
            "tolerations": [{"key": POOL, "operator": "Equal", "value": pool}],
            "containers": [container],
        }
    }
    return {
        "apiVersion": f"{jobs.KUBEFLOW_GROUP}/{jobs.KUBEFLOW_VERSION}",
        "kind": jobs.PYTORCHJOB_KIND,
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations},
        "spec": {
            "pytorchReplicaSpecs": {
                "Worker": {"replicas": workers, "restartPolicy": "OnFailure", "template": template}
            }
        },
    }


def submit(kube: client.ApiClient, job: dict[str, Any]) -> None:
    client.CustomObjectsApi(kube).create_namespaced_custom_object(
        jobs.KUBEFLOW_GROUP,
        jobs.KUBEFLOW_VERSION,
        job["metadata"]["namespace"],
        jobs.PYTORCHJOBS,
        job,
    )


def read_job(kube: client.ApiClient, name: str, namespace: str = "kubeflow") -> dict[str, Any]:
    job: dict[str, Any] = client.CustomObjectsApi(kube).get_namespaced_custom_object(  # type: ignore[assignment]
        jobs.KUBEFLOW_GROUP, jobs.KUBEFLOW_VERSION, namespace, jobs.PYTORCHJOBS, name
    )
    return job


def pods(kube: client.ApiClient, name: str, namespace: str = "kubeflow") -> list[dict[str, Any]]:
    found = client.CoreV1Api(kube).list_namespaced_pod(
        namespace, label_selector=f"{jobs.KUBEFLOW_JOB_NAME}={name}"
    )
    return [as_dict(kube, p) for p in found.items]


def running(
    kube: client.ApiClient, name: str, count: int, namespace: str = "kubeflow"
) -> dict[str, str] | None:
    """uid -> node of the job's pods once exactly ``count`` run and none is being deleted."""
    found = pods(kube, name, namespace)
    live = [
        p
        for p in found
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    ]
    if len(found) != count or len(live) != count:
        return None
    return {p["metadata"]["uid"]: p["spec"]["nodeName"] for p in live}


def replaced(
    kube: client.ApiClient, name: str, count: int, old: dict[str, str], namespace: str = "kubeflow"
) -> dict[str, str] | None:
    """uid -> node of the job's pods once ``count`` run again, none of them one of ``old``."""
    now = running(kube, name, count, namespace)
    return now if now and not set(now) & set(old) else None


def set_health(kube: client.ApiClient, node: str, value: str, *, taint: bool = False) -> None:
    """What the health agent (or a user asking for a recovery) writes on a node."""
    current = as_dict(kube, client.CoreV1Api(kube).read_node(node))
    taints = [t for t in current["spec"].get("taints") or [] if t["key"] != HEALTH]
    if taint:
        taints.append({"key": HEALTH, "value": "Unschedulable", "effect": "NoSchedule"})
    patch = {"metadata": {"labels": {HEALTH: value}}, "spec": {"taints": taints}}
    client.CoreV1Api(kube).patch_node(node, patch)


def annotation(kube: client.ApiClient, name: str, key: str, namespace: str = "kubeflow") -> str:
    value: str = (read_job(kube, name, namespace)["metadata"].get("annotations") or {}).get(key, "")
    return value


def condition(job: dict[str, Any], kind: str) -> dict[str, Any] | None:
    found = [c for c in (job.get("status") or {}).get("conditions") or [] if c["type"] == kind]
    return found[0] if found else None


def job_events(kube: client.ApiClient, name: str, namespace: str = "kubeflow") -> list[Any]:
    found = client.CoreV1Api(kube).list_namespaced_event(
        namespace, field_selector=f"involvedObject.kind=PyTorchJob,involvedObject.name={name}"
    )
    return list(found.items)


def instance(node: str) -> str:
    return node.removeprefix("hyperpod-")


def cleanup(kube: client.ApiClient, job_names: list[tuple[str, str]], nodes: list[str]) -> None:
    for namespace, name in job_names:
        with contextlib.suppress(ApiException):
            client.CustomObjectsApi(kube).delete_namespaced_custom_object(
                jobs.KUBEFLOW_GROUP, jobs.KUBEFLOW_VERSION, namespace, jobs.PYTORCHJOBS, name
            )
    for node in nodes:
        with contextlib.suppress(ApiException):
            client.CoreV1Api(kube).delete_node(node)


# --- tests --------------------------------------------------------------------------------------


def test_rbac_is_hyperpods_and_a_call_outside_it_is_refused(
    service: Service, kube: client.ApiClient, control_plane: ControlPlane
) -> None:
    rbac = client.RbacAuthorizationV1Api(kube)

    def role() -> dict[str, Any] | None:
        try:
            return as_dict(kube, rbac.read_cluster_role("job-auto-restart"))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    assert wait_for("the job-auto-restart ClusterRole", role)["rules"] == load_rbac().role["rules"]
    binding = as_dict(kube, rbac.read_cluster_role_binding("job-auto-restart"))
    assert binding["subjects"][0]["name"] == jobs.SERVICE_LINKED_USER

    # the service's identity: inside the rules it may act, outside them it is refused
    with api_client(control_plane.kubeconfig) as admin:
        admin.set_default_header("Impersonate-User", jobs.SERVICE_LINKED_USER)
        core = client.CoreV1Api(admin)
        core.list_pod_for_all_namespaces(limit=1)
        client.CustomObjectsApi(admin).list_cluster_custom_object(
            jobs.KUBEFLOW_GROUP, jobs.KUBEFLOW_VERSION, jobs.PYTORCHJOBS
        )
        pod = client.V1Pod(
            metadata=client.V1ObjectMeta(name="not-allowed"),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]),
        )
        refused: list[Callable[[], object]] = [
            lambda: core.create_namespaced_pod("kubeflow", pod),
            lambda: core.patch_namespaced_pod("anything", "kubeflow", {"metadata": {}}),
            lambda: core.list_namespaced_secret("kubeflow"),
            lambda: core.delete_node("hyperpod-i-00000000000000000"),
        ]
        for call in refused:
            with pytest.raises(ApiException) as info:
                call()
            assert info.value.status == 403, info.value.body
            message = json.loads(info.value.body or "{}")["message"]
            assert f'User "{jobs.SERVICE_LINKED_USER}" cannot' in message
    service.check()


def test_a_fault_restarts_the_whole_job_then_retries_used_up_fail_it(
    service: Service, kube: client.ApiClient
) -> None:
    nodes = make_nodes(kube, "replace", 3, prefix=0xA1)
    try:
        submit(kube, pytorchjob("resume-a", "replace", workers=2, max_retry="1"))
        first = wait_for("2 Running pods of resume-a", lambda: running(kube, "resume-a", 2))
        faulted = sorted(first.values())[0]

        # Xid 79 on one node: the agent labels it for replacement
        set_health(kube, faulted, PENDING_REPLACEMENT, taint=True)
        second = wait_for(
            "resume-a restarted: 2 new pods Running on healthy nodes",
            functools.partial(replaced, kube, "resume-a", 2, first),
            seen=lambda: pods(kube, "resume-a"),
        )
        assert faulted not in second.values()
        assert annotation(kube, "resume-a", jobs.AUTO_RESUME_RESTARTS) == "1"
        [event] = [e for e in job_events(kube, "resume-a") if e.reason == RESTART_REASON]
        assert event.type == "Warning"
        assert faulted in event.message and "auto-resume restart 1 of 1" in event.message
        assert (CLUSTER, instance(faulted), "Warn") in [e[:3] for e in service.events]

        # the replacement: a node under the new generation is gone. No restart left: it fails
        gone = sorted(second.values())[0]
        client.CoreV1Api(kube).delete_node(gone)

        def failed() -> dict[str, Any] | None:
            return condition(read_job(kube, "resume-a"), "Failed")

        cond = wait_for("resume-a Failed", failed, seen=lambda: read_job(kube, "resume-a"))
        assert (cond["status"], cond["reason"]) == ("True", FAILED_REASON)
        assert gone in cond["message"] and "used all 1 auto-resume restart" in cond["message"]
        assert condition(read_job(kube, "resume-a"), "Running")["status"] == "False"  # type: ignore[index]
        assert (CLUSTER, instance(gone), "Error") in [e[:3] for e in service.events]
        assert annotation(kube, "resume-a", jobs.AUTO_RESUME_RESTARTS) == "1"

        # its pods are removed, and Kubeflow does not bring the job back: once it has created
        # the pods of a job submitted after (one worker thread, in order), resume-a still has
        # no pods and is still Failed
        wait_for("resume-a's pods deleted", lambda: not pods(kube, "resume-a"))
        submit(kube, pytorchjob("barrier-a", "replace", auto_resume=False))
        wait_for("barrier-a's pod", lambda: pods(kube, "barrier-a"))
        wait_for("resume-a's pods deleted", lambda: not pods(kube, "resume-a"))
        still = condition(read_job(kube, "resume-a"), "Failed")
        assert still is not None and still["reason"] == FAILED_REASON
    finally:
        cleanup(kube, [("kubeflow", "resume-a"), ("kubeflow", "barrier-a")], nodes)
    service.check()


def test_only_annotated_jobs_in_hyperpod_namespaces_resume_after_recovery(
    service: Service, kube: client.ApiClient
) -> None:
    nodes = make_nodes(kube, "quarantine", 4, prefix=0xB2)
    names = [
        ("kubeflow", "plain-b"),  # no annotation: Kubeflow's own policy
        ("default", "elsewhere-b"),  # annotated, but not in kubeflow or hyperpod*
        ("hyperpod-team-a", "resume-b"),
    ]
    try:
        submit(kube, pytorchjob("plain-b", "quarantine", auto_resume=False))
        submit(kube, pytorchjob("elsewhere-b", "quarantine", namespace="default"))
        submit(
            kube, pytorchjob("resume-b", "quarantine", namespace="hyperpod-team-a", max_retry="3")
        )
        before = {
            name: wait_for(f"{name} Running", functools.partial(running, kube, name, 1, ns))
            for ns, name in names
        }
        # quarantine all three nodes, resume-b's last: the pass that restarts it has seen all
        for _, name in names:
            [node] = before[name].values()
            set_health(kube, node, "Unschedulable", taint=True)

        after = wait_for(
            "resume-b restarted on the healthy node",
            functools.partial(replaced, kube, "resume-b", 1, before["resume-b"], "hyperpod-team-a"),
        )
        [spare] = set(nodes) - {n for r in before.values() for n in r.values()}
        assert list(after.values()) == [spare]
        assert running(kube, "plain-b", 1) == before["plain-b"]
        assert running(kube, "elsewhere-b", 1, "default") == before["elsewhere-b"]
        assert all(e.reason != RESTART_REASON for e in job_events(kube, "plain-b"))

        # a reboot of the node it moved to: no Schedulable node is left, so the restarted pod
        # waits (Pending) until a node recovers, then runs there
        set_health(kube, spare, PENDING_REBOOT, taint=True)

        def waiting() -> bool:
            found = pods(kube, "resume-b", "hyperpod-team-a")
            pending = all(p["status"].get("phase") == "Pending" for p in found)
            return (
                bool(found) and pending and not {p["metadata"]["uid"] for p in found} & set(after)
            )

        wait_for("resume-b's pod waiting for a healthy node", waiting)
        assert annotation(kube, "resume-b", jobs.AUTO_RESUME_RESTARTS, "hyperpod-team-a") == "2"
        recovered = before["resume-b"][next(iter(before["resume-b"]))]
        set_health(kube, recovered, SCHEDULABLE)
        final = wait_for(
            "resume-b running on the recovered node",
            lambda: running(kube, "resume-b", 1, "hyperpod-team-a"),
        )
        assert list(final.values()) == [recovered]
        assert annotation(kube, "resume-b", jobs.AUTO_RESUME_RESTARTS, "hyperpod-team-a") == "2"
        assert condition(read_job(kube, "resume-b", "hyperpod-team-a"), "Failed") is None
    finally:
        cleanup(kube, names, nodes)
    service.check()


def test_an_interrupted_restart_is_finished_and_not_counted_again(
    service: Service, kube: client.ApiClient
) -> None:
    """What a podwarden killed between recording a restart and deleting the pods leaves: a
    faulted node under the job, the record on the job (count 1, the pods' uids), the pods still
    there. The job is annotated only together with the record, so the service sees exactly
    that state: it deletes the pods and counts nothing more (with max 1, a second count would
    fail the job)."""
    nodes = make_nodes(kube, "interrupted", 2, prefix=0xC3)
    try:
        submit(kube, pytorchjob("resume-c", "interrupted", auto_resume=False))
        first = wait_for("resume-c Running", lambda: running(kube, "resume-c", 1))
        [node] = first.values()
        set_health(kube, node, PENDING_REPLACEMENT, taint=True)
        reported = len(service.events)
        record = {
            jobs.AUTO_RESUME: "true",
            jobs.MAX_RETRY: "1",
            jobs.AUTO_RESUME_RESTARTS: "1",
            jobs.AUTO_RESUME_HANDLED_PODS: ",".join(first),
        }
        client.CustomObjectsApi(kube).patch_namespaced_custom_object(
            jobs.KUBEFLOW_GROUP,
            jobs.KUBEFLOW_VERSION,
            "kubeflow",
            jobs.PYTORCHJOBS,
            "resume-c",
            {"metadata": {"annotations": record}},
        )
        after = wait_for(
            "resume-c's pod replaced",
            functools.partial(replaced, kube, "resume-c", 1, first),
            seen=lambda: pods(kube, "resume-c"),
        )
        assert list(after.values()) == sorted(set(nodes) - {node})
        job = read_job(kube, "resume-c")
        assert job["metadata"]["annotations"][jobs.AUTO_RESUME_RESTARTS] == "1"
        assert condition(job, "Failed") is None
        assert not [e for e in service.events[reported:] if e[1] == instance(node)]
    finally:
        cleanup(kube, [("kubeflow", "resume-c")], nodes)
    service.check()
