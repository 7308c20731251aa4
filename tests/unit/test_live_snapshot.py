"""The EKS reconciler's live observation costs what changes, not what the cluster holds (issue
#14): ``kube.inspect.LiveSnapshot`` lists each kind once, then watches, holding only what the
snapshot reads (``logic.kube_snapshot``'s ``kept_*``); its snapshot equals one built from a
LIST of the same state; the reconciler writes ``eks:observed`` only when it changes.

The apiserver here is a fake at the generated client's calls (paged lists, a watch stream fed
by the test), so list calls and listed objects can be counted across passes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from podwarden.control.context import Context
from podwarden.kube.informer import Informer
from podwarden.kube.inspect import PAGE, LiveSnapshot
from podwarden.logic.kube_snapshot import (
    KubeSnapshot,
    kept_pod,
    kept_service_account,
    kept_workload,
    list_order,
    snapshot,
)
from podwarden.model.aws import kinds
from podwarden.operator.eks import EksReconciler, Workloads
from tests.aws_helpers import make_context
from tests.unit.test_eks_reconciler import KEY, ROLE, SCOPE, VPC, Objects, Planes, call
from tests.unit.test_kube_snapshot import (
    aws_node,
    calico,
    deployment,
    health_agent,
    pod,
    pod_spec,
    service_account,
)

ROLE_ARN = "arn:aws:iam::000000000000:role/s3-reader"


def served(obj: dict[str, Any], uid: str) -> dict[str, Any]:
    """``obj`` as the apiserver serves it: a uid, a resourceVersion, managedFields, a status."""
    meta = {**obj["metadata"], "uid": uid, "resourceVersion": "7", "managedFields": [{"m": 1}]}
    return {**obj, "metadata": meta, "status": {"phase": "Running"}}


class _Stream:
    """A watch response whose lines the test sends."""

    status = 200

    def __init__(self, lines: asyncio.Queue[bytes]) -> None:
        self._lines = lines
        self.content = self

    async def iter_any(self) -> AsyncIterator[bytes]:
        while True:
            yield await self._lines.get()
            self._lines.task_done()  # asked for more: the informer has applied that line

    def release(self) -> None:
        pass


class _Body:
    status = 200

    def __init__(self, body: dict[str, Any]) -> None:
        self._body = json.dumps(body).encode()

    async def read(self) -> bytes:
        return self._body

    def release(self) -> None:
        pass


class FakeKind:
    """One kind's list (paged by ``limit``/``continue``) and watch calls; counts the list calls
    and the objects they served."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.lists = 0
        self.listed = 0
        self._lines: asyncio.Queue[bytes] = asyncio.Queue()

    async def __call__(self, **params: Any) -> Any:
        if params.get("watch"):
            return _Stream(self._lines)
        self.lists += 1
        start, limit = int(params.get("_continue") or 0), params.get("limit")
        end = start + limit if limit else len(self.items)
        page = self.items[start:end]
        self.listed += len(page)
        meta = {"resourceVersion": "7"}
        if end < len(self.items):
            meta["continue"] = str(end)
        return _Body({"items": page, "metadata": meta})

    def send(self, kind: str, obj: dict[str, Any]) -> None:
        self._lines.put_nowait(json.dumps({"type": kind, "object": obj}).encode() + b"\n")

    async def applied(self, what: str) -> None:
        """Wait until the watching informer has applied every line sent; fail naming ``what``
        after a deadline."""
        try:
            async with asyncio.timeout(10):
                await self._lines.join()
        except TimeoutError:
            raise AssertionError(f"timed out waiting for the informer to apply {what}") from None


def cluster_objects(daemon_pods: int) -> dict[str, list[dict[str, Any]]]:
    """A cluster's objects in no particular order: DaemonSets, a Deployment, ``daemon_pods``
    pods DaemonSets control, a ReplicaSet's pod, pods that stand alone, service accounts."""
    bare = pod("ml", "debug", pod_spec("busybox", host_paths=("/data",)))
    by_job = pod("default", "job-x", pod_spec("job:1", env=("AWS_REGION",)), owner="Job")
    near = pod("a-b", "x", pod_spec("x"))  # "a-b/x" lists before "a/x": storage key order
    far = pod("a", "x", pod_spec("x"))
    daemon = [
        pod("kube-system", f"aws-node-{i:05d}", pod_spec("cni"), owner="DaemonSet")
        for i in range(daemon_pods)
    ]
    replica = pod("default", "train-abc", pod_spec("train:1"), owner="ReplicaSet")
    pods = [bare, *daemon[: daemon_pods // 2], by_job, far, replica, *daemon[daemon_pods // 2 :]]
    return {
        "daemonsets": [served(o, f"ds{i}") for i, o in enumerate([health_agent(), calico()])],
        "deployments": [served(deployment("default", "train", pod_spec("train:1")), "dep")],
        "pods": [served(o, f"pod{i}") for i, o in enumerate([*pods, near])],
        "service_accounts": [
            served(service_account("ml", "reader", ROLE_ARN), "sa0"),
            served(service_account("ml", "default"), "sa1"),
        ],
    }


def listed(objects: dict[str, list[dict[str, Any]]]) -> KubeSnapshot:
    """The snapshot of a LIST of ``objects`` (``kube.inspect.read_api``), in the apiserver's
    order."""
    return snapshot(*(sorted(objects[k], key=list_order) for k in objects))


def held_pods(snap: LiveSnapshot) -> set[str]:
    return {o["metadata"]["name"] for o in snap.informers[2].objects.values()}


def live(fakes: dict[str, FakeKind]) -> LiveSnapshot:
    return LiveSnapshot(
        fakes["daemonsets"], fakes["deployments"], fakes["pods"], fakes["service_accounts"]
    )


# ---------------------------------------------------------------- what the caches keep


def test_what_the_caches_keep_builds_the_same_snapshot_as_the_whole_objects() -> None:
    objects = cluster_objects(4)
    kept = {
        "daemonsets": [kept_workload(o) for o in objects["daemonsets"]],
        "deployments": [kept_workload(o) for o in objects["deployments"]],
        "pods": [k for o in objects["pods"] if (k := kept_pod(o)) is not None],
        "service_accounts": [
            k for o in objects["service_accounts"] if (k := kept_service_account(o)) is not None
        ],
    }
    assert len(kept["pods"]) == 4  # the DaemonSets' and the ReplicaSet's pods are not kept
    assert len(kept["service_accounts"]) == 1
    assert "status" not in kept["pods"][0] and "managedFields" not in kept["pods"][0]["metadata"]
    assert listed(kept) == listed(objects)
    assert [w.ref for w in listed(objects).workloads] == [
        "Deployment default/train",
        "Pod a-b/x",
        "Pod a/x",
        "Pod default/job-x",
        "Pod ml/debug",
    ]


def test_sparse_objects_are_kept_as_snapshot_reads_them() -> None:
    sparse: list[dict[str, Any]] = [{}, {"metadata": {"name": "n"}}, {"spec": None}]
    pods = [k for o in sparse if (k := kept_pod(o)) is not None]
    assert snapshot([], [], pods, []) == snapshot([], [], sparse, [])
    workloads = [kept_workload(o) for o in sparse]
    assert snapshot(workloads, workloads, [], []) == snapshot(sparse, sparse, [], [])


def test_an_informer_lists_in_pages_and_holds_only_what_it_keeps() -> None:
    async def scenario() -> None:
        fake = FakeKind(cluster_objects(2 * PAGE)["pods"])
        informer = Informer("pods", fake, keep=kept_pod, page=PAGE)
        task = asyncio.create_task(informer.run(lambda: None))
        try:
            async with asyncio.timeout(10):
                await informer.synced.wait()
        except TimeoutError:
            raise AssertionError("timed out waiting for the informer's first list") from None
        finally:
            task.cancel()
        assert fake.lists == 3  # 1,006 pods in pages of 500
        assert fake.listed == len(fake.items)
        assert sorted(o["metadata"]["name"] for o in informer.objects.values()) == [
            "debug",
            "job-x",
            "x",
            "x",
        ]

    asyncio.run(scenario())


def test_an_informer_holds_no_managed_fields_listed_or_watched() -> None:
    """No owner reads managedFields, often an object's largest part: the cache drops them."""

    async def scenario() -> None:
        nodes = [served({"metadata": {"name": f"n{i}"}}, f"u{i}") for i in range(3)]
        fake = FakeKind(nodes)
        informer = Informer("nodes", fake)
        task = asyncio.create_task(informer.run(lambda: None))
        try:
            async with asyncio.timeout(10):
                await informer.synced.wait()
            fake.send("MODIFIED", served({"metadata": {"name": "n1", "labels": {"a": "b"}}}, "u1"))
            await fake.applied("a MODIFIED node")
        finally:
            task.cancel()
        held = informer.objects
        assert sorted(held) == ["u0", "u1", "u2"]
        assert held["u1"]["metadata"]["labels"] == {"a": "b"}
        assert not any("managedFields" in o["metadata"] for o in held.values())

    asyncio.run(scenario())


# ---------------------------------------------------------------- reads across passes


def test_reads_list_once_then_follow_the_watch_and_equal_a_fresh_list() -> None:
    async def scenario() -> None:
        objects = cluster_objects(3 * PAGE)
        fakes = {k: FakeKind(v) for k, v in objects.items()}
        snap = live(fakes)
        try:
            first = await snap.read()
            assert first == listed(objects)
            for _ in range(5):  # passes with nothing changed: the same snapshot, no list
                assert await snap.read() is first
            pods = fakes["pods"]
            assert (pods.lists, pods.listed) == (4, len(objects["pods"]))
            assert held_pods(snap) == {"debug", "job-x", "x"}  # only pods that stand alone

            extra = served(pod("ml", "late", pod_spec("late:1")), "late")
            pods.send("ADDED", extra)
            await pods.applied("the ADDED pod")
            assert "late" in held_pods(snap)
            grown = await snap.read()
            assert grown == listed({**objects, "pods": [*objects["pods"], extra]})
            assert "Pod ml/late" in [w.ref for w in grown.workloads]

            node_pod = objects["pods"][1]  # a DaemonSet's pod: held nowhere, changes nothing
            pods.send("MODIFIED", {**node_pod, "status": {"phase": "Failed"}})
            pods.send("DELETED", extra)
            await pods.applied("a MODIFIED and a DELETED pod")
            assert "late" not in held_pods(snap)
            assert await snap.read() == first
            assert (pods.lists, pods.listed) == (4, len(objects["pods"]))
            assert all(fakes[k].lists == 1 for k in fakes if k != "pods")
        finally:
            await snap.stop()
        assert all(t.done() for t in snap._tasks) and snap._tasks == []

    asyncio.run(scenario())


# ---------------------------------------------------------------- the reconciler's record


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return make_context(tmp_path)


class Changing(Objects):
    """Workloads whose snapshot the test sets; counts the reads."""

    def __init__(self) -> None:
        super().__init__()
        self.current = KubeSnapshot()
        self.reads = 0

    async def snapshot(self) -> KubeSnapshot:
        self.reads += 1
        return self.current


def test_the_observed_record_is_written_when_the_snapshot_changes(
    ctx: Context, tmp_path: Path
) -> None:
    objects, now = Changing(), [1000.0]

    async def workloads(_kubeconfig: Path) -> Workloads:
        return objects

    eks = EksReconciler(ctx.store.resources, Planes(tmp_path), workloads, clock=lambda: now[0])
    call(ctx, "CreateCluster", name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)

    def observed_at() -> float:
        rec = ctx.store.resources.get(kinds.EKS_OBSERVED, SCOPE, "c1")
        assert rec is not None
        return float(rec.doc["observed_at"])

    async def passes() -> None:
        await eks.reconcile(KEY)
        assert observed_at() == 1000.0
        for _ in range(3):  # the same snapshot: read every pass, stored once
            now[0] += 6
            await eks.reconcile(KEY)
        assert (objects.reads, observed_at()) == (4, 1000.0)
        objects.current = snapshot([calico()], [], [], [])
        now[0] += 6
        await eks.reconcile(KEY)
        rec = ctx.store.resources.get(kinds.EKS_OBSERVED, SCOPE, "c1")
        assert rec is not None and KubeSnapshot.from_doc(rec.doc) == objects.current
        assert observed_at() == now[0]

    asyncio.run(passes())


def test_a_snapshot_of_the_same_state_built_again_is_not_written_again(
    ctx: Context, tmp_path: Path
) -> None:
    objects = Changing()
    objects.current = snapshot([aws_node()], [], [], [])

    async def workloads(_kubeconfig: Path) -> Workloads:
        return objects

    now = [1000.0]
    eks = EksReconciler(ctx.store.resources, Planes(tmp_path), workloads, clock=lambda: now[0])
    call(ctx, "CreateCluster", name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)

    async def passes() -> None:
        await eks.reconcile(KEY)
        objects.current = snapshot([aws_node()], [], [], [])  # equal, not the same object
        now[0] += 6
        await eks.reconcile(KEY)

    asyncio.run(passes())
    rec = ctx.store.resources.get(kinds.EKS_OBSERVED, SCOPE, "c1")
    assert rec is not None and rec.doc["observed_at"] == 1000.0
