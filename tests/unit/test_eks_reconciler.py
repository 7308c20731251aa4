"""The EKS lifecycle as a plan (``logic.eks_plan``) and the reconciler that applies it
(``operator.eks``), over records the real handlers write in a real SQLite store; control planes
and Kubernetes objects are fakes at their protocols (the integration tests run real ones)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from podwarden.control.context import Context
from podwarden.control.eks import OPERATIONS
from podwarden.logic import eks_plan as ep
from podwarden.logic.kube_snapshot import KubeSnapshot
from podwarden.model.aws import kinds
from podwarden.model.aws.private import plane_network
from podwarden.model.errors import TerminalError
from podwarden.model.planes import PlaneInfo, PlaneNetwork
from podwarden.operator.eks import OBSERVE_SECONDS, EksReconciler, Workloads
from tests.aws_helpers import ACCOUNT, REGION, make_context

SCOPE = f"{ACCOUNT}/{REGION}"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/eks-cluster"
KEY = (SCOPE, "c1")
VPC = {"subnetIds": ["subnet-a", "subnet-b"]}


def doc(status: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, **extra}


def addon(name: str, status: str, version: str = "v1", **private: Any) -> dict[str, Any]:
    return {"addonName": name, "status": status, "addonVersion": version, "_podwarden": private}


def plan(cluster: dict[str, Any], *addons: dict[str, Any], **kw: Any) -> ep.EksPlan:
    updates = kw.pop("updates", {})
    observed_at = kw.pop("observed_at", None)
    return ep.plan_eks_cluster(
        cluster, list(addons), updates, observed_at=observed_at, now=100.0, observe_every=5.0
    )


def test_a_deleting_cluster_stops_its_plane_then_forgets_its_records() -> None:
    assert plan(doc("DELETING")).actions == [ep.Step.STOP_PLANE, ep.Step.FORGET_CLUSTER]
    assert plan(doc("DELETING")).requeue_after is None


def test_a_failed_cluster_is_left_alone() -> None:
    assert plan(doc("FAILED"), addon("coredns", "CREATING")) == ep.EksPlan()


def test_a_creating_cluster_gets_its_plane_is_activated_and_observed() -> None:
    found = plan(doc("CREATING"))
    assert found.actions == [ep.Step.ENSURE_PLANE, ep.Step.ACTIVATE_CLUSTER, ep.Step.OBSERVE]
    assert found.requeue_after == 5.0


def test_live_state_is_read_when_due_and_the_next_pass_asked_for_then() -> None:
    assert ep.Step.OBSERVE not in plan(doc("ACTIVE"), observed_at=98.0).actions
    assert plan(doc("ACTIVE"), observed_at=98.0).requeue_after == pytest.approx(3.0)
    assert plan(doc("ACTIVE"), observed_at=95.0).actions == [ep.Step.ENSURE_PLANE, ep.Step.OBSERVE]


def test_a_pending_update_is_finished_or_forgotten_when_its_record_is_gone() -> None:
    cluster = doc("UPDATING", _podwarden={"pending_update": "u1"})
    found = plan(cluster, updates={"u1": {"id": "u1"}}, observed_at=99.0).actions
    assert found == [ep.Step.ENSURE_PLANE, ep.FinishUpdate(None, "u1")]
    assert plan(cluster, observed_at=99.0).actions == [
        ep.Step.ENSURE_PLANE,
        ep.FinishUpdate(None, None),
    ]


def test_a_version_update_moves_the_plane_before_it_is_finished() -> None:
    cluster = doc("UPDATING", _podwarden={"pending_update": "u1", "kubernetes": "v1.32.9"})
    update = {
        "id": "u1",
        "_podwarden": {"changes": {"version": "1.33", ep.RELEASE_CHANGE: "v1.33.4"}},
    }
    assert plan(cluster, updates={"u1": update}, observed_at=99.0).actions == [
        ep.Step.ENSURE_PLANE,
        ep.UpgradePlane("v1.33.4", "u1"),
        ep.FinishUpdate(None, "u1"),
    ]


def test_addons_are_applied_activated_updated_and_removed() -> None:
    updating = addon("vpc-cni", "UPDATING", "v1", pending_update="u2")
    update = {"id": "u2", "_podwarden": {"changes": {"addonVersion": "v2"}}}
    found = plan(
        doc("ACTIVE"),
        addon("coredns", "CREATING", "v7"),
        updating,
        addon("kube-proxy", "DELETING", "v3"),
        addon("metrics", "DELETING", "v4", preserve=True),
        addon("quiet", "ACTIVE"),
        updates={"u2": update},
        observed_at=99.0,
    ).actions
    assert found == [
        ep.Step.ENSURE_PLANE,
        ep.Addon(ep.AddonStep.APPLY, "coredns", "v7"),
        ep.Addon(ep.AddonStep.ACTIVATE, "coredns"),
        ep.Addon(ep.AddonStep.APPLY, "vpc-cni", "v2"),
        ep.FinishUpdate("vpc-cni", "u2"),
        ep.Addon(ep.AddonStep.REMOVE, "kube-proxy", "v3"),
        ep.Addon(ep.AddonStep.FORGET, "kube-proxy"),
        ep.Addon(ep.AddonStep.FORGET, "metrics"),  # preserved: its workloads stay
    ]


# ---------------------------------------------------------------- the reconciler


class Planes:
    def __init__(self, tmp_path: Path) -> None:
        self.info = PlaneInfo("https://127.0.0.1:16443", "Q0E=", tmp_path / "kubeconfig")
        self.started: list[str] = []
        self.removed: list[str] = []
        self.broken = False
        self.runs: dict[str, str | None] = {}  # the release each plane was started or moved on
        self.upgrades: list[tuple[str, str]] = []
        self.refuse_upgrade = False
        self.networks: dict[str, PlaneNetwork | None] = {}  # the network each plane started with

    async def ensure(
        self,
        key: str,
        *,
        adopted: bool,
        kubernetes: str | None = None,
        network: PlaneNetwork | None = None,
    ) -> PlaneInfo:
        if self.broken:
            raise TerminalError("etcd would not start")
        self.started.append(key)
        self.runs.setdefault(key, kubernetes)  # a running plane keeps its release
        self.networks.setdefault(key, network)
        return self.info

    async def upgrade(
        self, key: str, *, adopted: bool, kubernetes: str, network: PlaneNetwork | None = None
    ) -> PlaneInfo:
        if self.refuse_upgrade:
            raise TerminalError("kube-apiserver exited with code 1 while starting")
        self.upgrades.append((key, kubernetes))
        self.runs[key] = kubernetes
        return self.info

    async def remove(self, key: str, *, adopted: bool) -> None:
        self.removed.append(key)


class Objects:
    def __init__(self, planes: Planes | None = None) -> None:
        self.applied: list[str] = []
        self.deleted: list[str] = []
        self.closed = False
        self.planes = planes

    async def version(self) -> str:
        """What the apiserver reports: the release the (only) plane runs."""
        runs = list(self.planes.runs.values()) if self.planes else []
        return (runs[0] if runs else None) or "v1.32.9"

    async def snapshot(self) -> KubeSnapshot:
        return KubeSnapshot()

    async def apply(self, obj: dict[str, Any]) -> None:
        self.applied.append(f"{obj['kind']}/{obj['metadata']['name']}")

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        self.deleted.append(f"{kind}/{name}")

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return make_context(tmp_path)


def call(ctx: Context, op: str, **params: Any) -> dict[str, Any]:
    return OPERATIONS[op](ctx, params)


def reconciler(ctx: Context, planes: Planes, objects: Objects) -> EksReconciler:
    async def workloads(_kubeconfig: Path) -> Workloads:
        return objects

    return EksReconciler(ctx.store.resources, planes, workloads, clock=ctx.now)


def status(ctx: Context, kind: str, key: str) -> str | None:
    rec = ctx.store.resources.get(kind, SCOPE, key)
    return None if rec is None else str(rec.doc["status"])


def test_a_cluster_is_started_activated_observed_and_its_addon_installed(
    ctx: Context, tmp_path: Path
) -> None:
    planes, objects = Planes(tmp_path), Objects()
    call(ctx, "CreateCluster", name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)
    call(ctx, "CreateAddon", clusterName="c1", addonName="coredns")
    eks = reconciler(ctx, planes, objects)
    after = asyncio.run(eks.reconcile(KEY))
    assert status(ctx, kinds.EKS_CLUSTER, "c1") == "ACTIVE"
    assert status(ctx, kinds.EKS_ADDON, "c1/coredns") == "ACTIVE"
    assert any(a.startswith("Deployment/coredns") for a in objects.applied)
    assert ctx.store.resources.get(kinds.EKS_OBSERVED, SCOPE, "c1") is not None
    assert after == OBSERVE_SECONDS
    assert len(planes.started) == 1
    asyncio.run(eks.reconcile(KEY))  # nothing more to do: the plane is ensured, nothing applied
    assert len(planes.started) == 2
    assert sum(a.startswith("Deployment/coredns") for a in objects.applied) == 1


def test_a_plane_that_cannot_start_fails_the_cluster_with_its_reason(
    ctx: Context, tmp_path: Path
) -> None:
    planes, objects = Planes(tmp_path), Objects()
    planes.broken = True
    call(ctx, "CreateCluster", name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)
    assert asyncio.run(reconciler(ctx, planes, objects).reconcile(KEY)) is None
    cluster = call(ctx, "DescribeCluster", name="c1")["cluster"]
    assert cluster["status"] == "FAILED"
    assert cluster["health"]["issues"][0]["message"] == "etcd would not start"


def test_a_deleted_cluster_loses_its_plane_client_and_records(ctx: Context, tmp_path: Path) -> None:
    planes, objects = Planes(tmp_path), Objects()
    call(ctx, "CreateCluster", name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)
    call(ctx, "CreateAddon", clusterName="c1", addonName="coredns")
    eks = reconciler(ctx, planes, objects)
    asyncio.run(eks.reconcile(KEY))
    call(ctx, "DeleteCluster", name="c1")
    assert asyncio.run(eks.reconcile(KEY)) is None
    assert planes.removed == planes.started[:1]
    assert objects.closed
    for kind in (kinds.EKS_CLUSTER, kinds.EKS_OBSERVED):
        assert ctx.store.resources.get(kind, SCOPE, "c1") is None
    assert ctx.store.resources.list(kinds.EKS_ADDON, SCOPE) == []
    assert eks.all_keys() == []


def test_a_cluster_of_a_further_minor_starts_its_plane_on_that_release(
    ctx: Context, tmp_path: Path
) -> None:
    planes = Planes(tmp_path)
    objects = Objects(planes)
    call(ctx, "CreateCluster", name="c1", roleArn=ROLE, resourcesVpcConfig=VPC, version="1.34")
    asyncio.run(reconciler(ctx, planes, objects).reconcile(KEY))
    assert planes.runs == {planes.started[0]: "v1.34.2"}
    cluster = call(ctx, "DescribeCluster", name="c1")["cluster"]
    assert (cluster["status"], cluster["version"]) == ("ACTIVE", "1.34")


def test_an_ipv6_cluster_starts_an_ipv6_plane_with_its_service_range(
    ctx: Context, tmp_path: Path
) -> None:
    planes = Planes(tmp_path)
    for name, config in (("c1", {"ipFamily": "ipv6"}), ("c2", {})):
        call(
            ctx,
            "CreateCluster",
            name=name,
            roleArn=ROLE,
            resourcesVpcConfig=VPC,
            kubernetesNetworkConfig=config,
        )
        asyncio.run(reconciler(ctx, planes, Objects(planes)).reconcile((SCOPE, name)))
    ipv6 = call(ctx, "DescribeCluster", name="c1")["cluster"]["kubernetesNetworkConfig"]
    (first, second) = planes.started
    assert planes.networks[first] == PlaneNetwork("ipv6", ipv6["serviceIpv6Cidr"])
    assert planes.networks[second] == PlaneNetwork()  # IPv4: the local default range


def test_an_ipv6_record_with_a_range_of_before_ipv6_planes_keeps_its_ipv4_plane() -> None:
    def network(config: dict[str, str]) -> PlaneNetwork:
        return plane_network({"kubernetesNetworkConfig": config})

    assert network({"ipFamily": "ipv6", "serviceIpv6Cidr": "fd12:3456:789a::/108"}).ipv6
    # what podwarden stored before: six hex digits in a group, not an address
    assert network({"ipFamily": "ipv6", "serviceIpv6Cidr": "fd1a2b:3c4d::/108"}) == PlaneNetwork()
    assert network({"ipFamily": "ipv4", "serviceIpv4Cidr": "10.100.0.0/16"}) == PlaneNetwork()


def test_a_version_update_upgrades_the_plane_then_succeeds(ctx: Context, tmp_path: Path) -> None:
    planes = Planes(tmp_path)
    objects = Objects(planes)
    call(ctx, "CreateCluster", name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)
    eks = reconciler(ctx, planes, objects)
    asyncio.run(eks.reconcile(KEY))
    (key,) = planes.runs
    assert planes.runs[key] == "v1.32.9"
    update = call(ctx, "UpdateClusterVersion", name="c1", version="1.33")["update"]
    asyncio.run(eks.reconcile(KEY))
    assert planes.upgrades == [(key, "v1.33.4")]
    cluster = call(ctx, "DescribeCluster", name="c1")["cluster"]
    assert (cluster["status"], cluster["version"]) == ("ACTIVE", "1.33")
    done = call(ctx, "DescribeUpdate", name="c1", updateId=update["id"])["update"]
    assert done["status"] == "Successful"
    # the next pass starts nothing new and leaves the plane on 1.33
    asyncio.run(eks.reconcile(KEY))
    assert planes.upgrades == [(key, "v1.33.4")] and planes.runs[key] == "v1.33.4"


def test_a_plane_that_cannot_move_fails_the_update_not_the_cluster(
    ctx: Context, tmp_path: Path
) -> None:
    planes = Planes(tmp_path)
    objects = Objects(planes)
    call(ctx, "CreateCluster", name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)
    eks = reconciler(ctx, planes, objects)
    asyncio.run(eks.reconcile(KEY))
    planes.refuse_upgrade = True
    update = call(ctx, "UpdateClusterVersion", name="c1", version="1.33")["update"]
    asyncio.run(eks.reconcile(KEY))
    cluster = call(ctx, "DescribeCluster", name="c1")["cluster"]
    assert (cluster["status"], cluster["version"]) == ("ACTIVE", "1.32")
    failed = call(ctx, "DescribeUpdate", name="c1", updateId=update["id"])["update"]
    assert failed["status"] == "Failed"
    assert failed["errors"][0]["errorMessage"] == "kube-apiserver exited with code 1 while starting"


def test_an_apiserver_reporting_another_minor_fails_the_update(
    ctx: Context, tmp_path: Path
) -> None:
    planes = Planes(tmp_path)
    objects = Objects()  # its apiserver reports v1.32.9 whatever the plane was moved to
    call(ctx, "CreateCluster", name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)
    eks = reconciler(ctx, planes, objects)
    asyncio.run(eks.reconcile(KEY))
    update = call(ctx, "UpdateClusterVersion", name="c1", version="1.33")["update"]
    asyncio.run(eks.reconcile(KEY))
    failed = call(ctx, "DescribeUpdate", name="c1", updateId=update["id"])["update"]
    assert failed["status"] == "Failed"
    assert "reports Kubernetes v1.32.9, not v1.33.4" in failed["errors"][0]["errorMessage"]
    assert call(ctx, "DescribeCluster", name="c1")["cluster"]["version"] == "1.32"
