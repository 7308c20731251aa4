"""EKS of the local AWS account: catalogs, clusters, updates, add-ons, access entries."""

from __future__ import annotations

import dataclasses
import ipaddress
import tomllib
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from podwarden.control.context import Context
from podwarden.control.eks import OPERATIONS as HANDLERS
from podwarden.logic import eks_lifecycle
from podwarden.model.aws import arns, kinds
from podwarden.model.errors import PodwardenError
from podwarden.operator import eks as eks_operator
from podwarden.policy import eks_catalog
from podwarden.policy.yaml_tables import TableError
from podwarden.store.resources import Record
from podwarden.store.sql import Store, sqlite_url
from podwarden.wire.errors import WireError, wire_error
from tests.aws_helpers import ACCOUNT, REGION, assert_shape, make_context

ROLE = f"arn:aws:iam::{ACCOUNT}:role/eks-cluster"
NODE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/hyperpod-nodes"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
ADMIN = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
EDIT = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy"
SCOPE = f"{ACCOUNT}/{REGION}"
TOOLCHAIN = Path(__file__).parents[2] / "src/podwarden/local/toolchain.toml"


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return make_context(tmp_path)


def call(ctx: Context, op: str, **params: Any) -> dict[str, Any]:
    """Run a handler and check its output against botocore's output shape."""
    out = HANDLERS[op](ctx, params)
    assert_shape("eks", op, out)
    return out


def fails(ctx: Context, op: str, code: str, **params: Any) -> WireError:
    """Run a handler that must fail; its error as EKS puts it on the wire."""
    with pytest.raises(PodwardenError) as info:
        HANDLERS[op](ctx, params)
    error = wire_error("eks", info.value)
    assert error.code == code, error.message
    status = {"ResourceNotFoundException": 404, "ResourceInUseException": 409}.get(code, 400)
    assert error.status == status
    return error


def create(ctx: Context, name: str = "c1", **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "name": name,
        "roleArn": ROLE,
        "resourcesVpcConfig": {"subnetIds": ["subnet-a", "subnet-b"]},
        **extra,
    }
    cluster: dict[str, Any] = call(ctx, "CreateCluster", **params)["cluster"]
    return cluster


def api_cluster(ctx: Context, name: str = "c1", mode: str = "API_AND_CONFIG_MAP") -> None:
    create(ctx, name, accessConfig={"authenticationMode": mode})
    activate(ctx, name)


def record(ctx: Context, kind: str, key: str) -> Record:
    rec = ctx.store.resources.get(kind, SCOPE, key)
    assert rec is not None
    return rec


def activate(ctx: Context, name: str = "c1") -> None:
    """What the reconciler does once the control plane answers."""
    rec = record(ctx, kinds.EKS_CLUSTER, name)
    eks_lifecycle.activate_cluster(
        rec.doc,
        endpoint="https://127.0.0.1:16443",
        certificate_authority="Q0E=",
        kubernetes_version="v1.32.9",
    )
    ctx.store.resources.save(rec)


def finish(ctx: Context, name: str, update_id: str, addon: str | None = None) -> None:
    """What the reconciler does once an update is carried out."""
    target_key = kinds.child_key(name, addon) if addon else name
    target = record(ctx, kinds.EKS_ADDON if addon else kinds.EKS_CLUSTER, target_key)
    update = record(ctx, kinds.EKS_UPDATE, kinds.child_key(name, update_id))
    eks_lifecycle.finish_update(target.doc, update.doc, ctx.now())
    ctx.store.resources.save(update)
    ctx.store.resources.save(target)


def add_ec2(ctx: Context, vpc_cidr: str = "10.0.0.0/16") -> None:
    """EC2 records as the EC2 handlers store them (read defensively by EKS)."""
    res = ctx.store.resources
    res.create(Record("ec2:vpc", SCOPE, "vpc-1", {"VpcId": "vpc-1", "CidrBlock": vpc_cidr}))
    for sid, az, vpc in (
        ("subnet-a", "us-west-2a", "vpc-1"),
        ("subnet-b", "us-west-2b", "vpc-1"),
        ("subnet-c", "us-west-2b", "vpc-1"),
        ("subnet-x", "us-west-2c", "vpc-2"),
    ):
        doc = {"SubnetId": sid, "VpcId": vpc, "AvailabilityZone": az}
        res.create(Record("ec2:subnet", SCOPE, sid, doc, parent=vpc))


# ---------------------------------------------------------------- catalogs


def test_packaged_tables_load_and_agree_with_the_toolchain() -> None:
    versions = eks_catalog.load_versions()
    toolchain = tomllib.loads(TOOLCHAIN.read_text())
    pinned = {"1.32": toolchain["components"]["kubernetes"]["version"]}
    pinned |= {m: r["version"] for m, r in toolchain["kubernetes_releases"].items()}
    assert versions.runnable == pinned
    assert set(pinned) == {"1.32", "1.33", "1.34"}
    assert versions.default == "1.32"
    assert [v for v, k in versions.versions.items() if k.hyperpod] == [  # R3 (docs/requirements.md)
        "1.34",
        "1.33",
        "1.32",
        "1.31",
        "1.30",
        "1.29",
        "1.28",
    ]
    known = set(versions.versions)
    for addon in eks_catalog.load_addons().addons.values():
        for v in addon.versions:
            assert set(v.kubernetes) <= known, (addon.name, v.version)
    assert len(eks_catalog.load_access().policies) >= 19


def test_addon_catalog_covers_the_issue_list() -> None:
    names = set(eks_catalog.load_addons().addons)
    assert names >= {
        "vpc-cni",
        "coredns",
        "kube-proxy",
        "eks-pod-identity-agent",
        "aws-ebs-csi-driver",
        "aws-fsx-csi-driver",
        "aws-mountpoint-s3-csi-driver",
        "adot",
        "amazon-cloudwatch-observability",
        "aws-guardduty-agent",
    }


def test_vpc_cni_spans_the_hyperpod_minimum() -> None:
    """Seed R5: HyperPod needs VPC CNI >= 1.18.3; versions on both sides, defaults above."""
    cni = eks_catalog.load_addons().addons["vpc-cni"]
    minimum = (1, 18, 3)
    assert any(v.sort_key[:3] < minimum for v in cni.versions)
    assert cni.version("v1.18.2-eksbuild.1") is not None
    assert cni.version("v1.18.3-eksbuild.3") is not None
    assert any(v.sort_key[:3] > minimum for v in cni.versions)
    assert all(v.sort_key[:3] >= minimum for v in cni.versions if v.default_for)


def test_addon_workloads() -> None:
    assert eks_catalog.addon_workload("vpc-cni", "v1.19.2-eksbuild.1") == {
        "kind": "DaemonSet",
        "namespace": "kube-system",
        "name": "aws-node",
        "container": "aws-node",
        "image": "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.19.2-eksbuild.1",
    }
    proxy = eks_catalog.addon_workload("kube-proxy", "v1.32.0-eksbuild.2", region="eu-west-1")
    assert proxy is not None
    assert proxy["kind"] == "DaemonSet"
    assert proxy["image"].startswith("602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/kube-proxy")
    coredns = eks_catalog.addon_workload("coredns", "v1.11.4-eksbuild.2")
    assert coredns is not None
    assert (coredns["kind"], coredns["name"]) == ("Deployment", "coredns")
    agent = eks_catalog.addon_workload("eks-pod-identity-agent", "v1.3.4-eksbuild.1")
    assert agent is not None
    assert agent["kind"] == "DaemonSet"
    ebs = eks_catalog.addon_workloads("aws-ebs-csi-driver", "v1.41.0-eksbuild.1")
    assert [(w["kind"], w["name"]) for w in ebs] == [
        ("Deployment", "ebs-csi-controller"),
        ("DaemonSet", "ebs-csi-node"),
    ]
    assert ebs[1]["image"].endswith("/eks/aws-ebs-csi-driver:v1.41.0")
    assert eks_catalog.addon_workload("no-such-addon", "v1.0.0-eksbuild.1") is None


ADDONS_OK = """
schema_version: 1
registry: "r.{region}"
defaults: {architecture: [amd64], compute_types: [ec2]}
addons:
  a:
    type: networking
    publisher: eks
    owner: aws
    namespace: kube-system
    workloads:
      - {kind: DaemonSet, namespace: kube-system, name: a, container: a, image: "{registry}/a:{version}"}
    versions:
      v1.0.0-eksbuild.1: {kubernetes: "1.31-1.32", default: "1.31-1.32"}
"""


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ('default: "1.31-1.32"', 'default: "1.31"', "exactly one default for Kubernetes 1.32"),
        ("v1.0.0-eksbuild.1", "v1.0", "version 'v1.0'"),
        ('"1.31-1.32", default', '"1.32-1.31", default', "empty or cross-major range"),
        ("kind: DaemonSet", "kind: Job", "workload 0: kind must be one of"),
        (":{version}", ":latest", "image must carry the version"),
        ("owner: aws", "owner: aws\n    colour: red", "add-on 'a': unknown field 'colour'"),
        ("schema_version: 1", "schema_version: 2", "schema_version"),
    ],
)
def test_addon_table_errors_name_the_entry(old: str, new: str, problem: str) -> None:
    assert eks_catalog.parse_addons(ADDONS_OK, "t.yaml").get("a") is not None
    with pytest.raises(TableError, match=problem):
        eks_catalog.parse_addons(ADDONS_OK.replace(old, new, 1), "t.yaml")


VERSIONS_OK = """
schema_version: 1
default: "1.32"
runnable: {"1.32": {kubernetes: v1.32.9}}
versions:
  "1.32": {released: 2025-01-23, end_of_standard_support: 2026-03-23,
           end_of_extended_support: 2027-03-23, platform_version: eks.1, hyperpod: true}
"""


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ('default: "1.32"', 'default: "1.31"', "'1.31' is not a runnable version"),
        ("kubernetes: v1.32.9", "kubernetes: v1.31.9", "runnable '1.32': kubernetes must be"),
        ('runnable: {"1.32"', 'runnable: {"1.33"', "runnable '1.33': not one of the versions"),
        ("platform_version: eks.1", "platform_version: one", "version '1.32': platform_version"),
        ("released: 2025-01-23", "released: soon", "version '1.32': released must be a date"),
    ],
)
def test_version_table_errors_name_the_entry(old: str, new: str, problem: str) -> None:
    assert eks_catalog.parse_versions(VERSIONS_OK, "v.yaml").default == "1.32"
    with pytest.raises(TableError, match=problem):
        eks_catalog.parse_versions(VERSIONS_OK.replace(old, new, 1), "v.yaml")


def test_access_table_errors_name_the_entry() -> None:
    text = """
schema_version: 1
policies: {P: {kubernetes: view, entry_types: [NOPE]}}
entry_types: {STANDARD: {username: null, groups: [], custom: true, roles_only: false}}
"""
    with pytest.raises(TableError, match="policy 'P': unknown entry type 'NOPE'"):
        eks_catalog.parse_access(text, "p.yaml")
    with pytest.raises(TableError, match="policy 'P': kubernetes must be"):
        eks_catalog.parse_access(text.replace("view", "root"), "p.yaml")


# ---------------------------------------------------------------- clusters


def test_create_cluster_records_desired_state(ctx: Context) -> None:
    cluster = create(ctx, tags={"team": "ml"})
    assert cluster["status"] == "CREATING"
    assert cluster["arn"] == f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/c1"
    assert cluster["version"] == "1.32"
    assert cluster["platformVersion"].startswith("eks.")
    assert len(cluster["id"]) == 36
    assert cluster["accessConfig"] == {
        "bootstrapClusterCreatorAdminPermissions": True,
        "authenticationMode": "CONFIG_MAP",  # botocore doc: the API's default
    }
    assert cluster["kubernetesNetworkConfig"] == {
        "ipFamily": "ipv4",
        "serviceIpv4Cidr": "10.100.0.0/16",
    }
    assert cluster["resourcesVpcConfig"]["clusterSecurityGroupId"].startswith("sg-")
    assert "vpcId" not in cluster["resourcesVpcConfig"]  # EC2 not modelled in this region
    assert "endpoint" not in cluster and cluster["certificateAuthority"] == {}
    assert cluster["tags"] == {"team": "ml"}
    assert "_podwarden" not in cluster
    stored = record(ctx, kinds.EKS_CLUSTER, "c1").doc["_podwarden"]
    assert stored["kubernetes"] == "v1.32.9"
    assert stored["data_dir"].startswith("eks/c1-")
    assert stored["creator_arn"] == ctx.principal_arn
    described = call(ctx, "DescribeCluster", name="c1")["cluster"]
    assert described == cluster


def test_reconciler_activates_a_cluster(ctx: Context) -> None:
    create(ctx)
    activate(ctx)
    cluster = call(ctx, "DescribeCluster", name="c1")["cluster"]
    assert cluster["status"] == "ACTIVE"
    assert cluster["endpoint"] == "https://127.0.0.1:16443"
    assert cluster["certificateAuthority"] == {"data": "Q0E="}
    assert cluster["version"] == "1.32"


def test_creator_gets_cluster_admin_in_api_modes(tmp_path: Path) -> None:
    ctx = dataclasses.replace(
        make_context(tmp_path),
        principal_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/session-1",
    )
    create(ctx, accessConfig={"authenticationMode": "API"})
    admin = f"arn:aws:iam::{ACCOUNT}:role/Admin"
    assert call(ctx, "ListAccessEntries", clusterName="c1")["accessEntries"] == [admin]
    policies = call(ctx, "ListAssociatedAccessPolicies", clusterName="c1", principalArn=admin)
    assert [p["policyArn"] for p in policies["associatedAccessPolicies"]] == [ADMIN]
    assert policies["associatedAccessPolicies"][0]["accessScope"]["type"] == "cluster"
    entry = call(ctx, "DescribeAccessEntry", clusterName="c1", principalArn=admin)["accessEntry"]
    assert entry["type"] == "STANDARD"
    assert entry["username"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/{{{{SessionName}}}}"


def test_no_creator_entry_when_not_asked(ctx: Context) -> None:
    create(
        ctx,
        accessConfig={
            "authenticationMode": "API",
            "bootstrapClusterCreatorAdminPermissions": False,
        },
    )
    assert call(ctx, "ListAccessEntries", clusterName="c1")["accessEntries"] == []


def test_create_cluster_at_a_further_minor_records_its_release(ctx: Context) -> None:
    base = {"roleArn": ROLE, "resourcesVpcConfig": {"subnetIds": ["subnet-a", "subnet-b"]}}
    cluster = call(ctx, "CreateCluster", name="new", version="1.34", **base)["cluster"]
    assert (cluster["version"], cluster["platformVersion"]) == ("1.34", "eks.4")
    # the exact release the reconciler starts its control plane on (toolchain.toml)
    assert record(ctx, kinds.EKS_CLUSTER, "new").doc["_podwarden"]["kubernetes"] == "v1.34.2"


def test_create_cluster_errors(ctx: Context) -> None:
    create(ctx)
    e = fails(
        ctx,
        "CreateCluster",
        "ResourceInUseException",
        name="c1",
        roleArn=ROLE,
        resourcesVpcConfig={"subnetIds": ["subnet-a", "subnet-b"]},
    )
    assert e.message == "Cluster already exists with name: c1"
    assert e.fields == {"clusterName": "c1"}
    base = {"roleArn": ROLE, "resourcesVpcConfig": {"subnetIds": ["subnet-a", "subnet-b"]}}
    e = fails(ctx, "CreateCluster", "InvalidParameterException", name="c2", version="1.99", **base)
    assert e.message == "unsupported Kubernetes version 1.99"
    e = fails(ctx, "CreateCluster", "InvalidParameterException", name="c2", version="1.31", **base)
    assert "podwarden cannot run" in e.message and "1.32" in e.message
    e = fails(
        ctx,
        "CreateCluster",
        "InvalidParameterException",
        name="c2",
        accessConfig={"bootstrapClusterCreatorAdminPermissions": False},
        **base,
    )
    assert "must be true if cluster authentication mode is set to CONFIG_MAP" in e.message
    e = fails(
        ctx,
        "CreateCluster",
        "InvalidParameterException",
        name="c2",
        roleArn="not-a-role",
        resourcesVpcConfig=base["resourcesVpcConfig"],
    )
    assert e.message == "Invalid Role Arn: 'not-a-role'"
    e = fails(
        ctx,
        "CreateCluster",
        "InvalidParameterException",
        name="c2",
        roleArn=ROLE,
        resourcesVpcConfig={"subnetIds": ["subnet-a"]},
    )
    assert e.message == "Subnets specified must be in at least two different AZs"
    e = fails(ctx, "DescribeCluster", "ResourceNotFoundException", name="nope")
    assert e.message == "No cluster found for name: nope."
    assert e.fields == {"clusterName": "nope"}


def test_subnets_checked_against_ec2_records(ctx: Context) -> None:
    add_ec2(ctx, vpc_cidr="10.0.0.0/16")
    e = fails(
        ctx,
        "CreateCluster",
        "InvalidParameterException",
        name="c1",
        roleArn=ROLE,
        resourcesVpcConfig={"subnetIds": ["subnet-a", "subnet-zzz"]},
    )
    assert e.message.startswith("The subnet ID 'subnet-zzz' does not exist")
    assert "InvalidSubnetID.NotFound" in e.message
    e = fails(
        ctx,
        "CreateCluster",
        "InvalidParameterException",
        name="c1",
        roleArn=ROLE,
        resourcesVpcConfig={"subnetIds": ["subnet-b", "subnet-c"]},
    )
    assert e.message == "Subnets specified must be in at least two different AZs"
    fails(
        ctx,
        "CreateCluster",
        "InvalidParameterException",
        name="c1",
        roleArn=ROLE,
        resourcesVpcConfig={"subnetIds": ["subnet-a", "subnet-x"]},
    )
    cluster = create(ctx)
    assert cluster["resourcesVpcConfig"]["vpcId"] == "vpc-1"
    # the VPC is in 10.0.0.0/8, so services get the other documented default
    assert cluster["kubernetesNetworkConfig"]["serviceIpv4Cidr"] == "172.20.0.0/16"


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            {"serviceIpv4Cidr": "192.168.0.0/16"},
            {"ipFamily": "ipv4", "serviceIpv4Cidr": "192.168.0.0/16"},
        ),
        ({"ipFamily": "ipv6"}, None),
    ],
)
def test_kubernetes_network_config(
    ctx: Context, config: dict[str, str], expected: dict[str, str] | None
) -> None:
    net = create(ctx, kubernetesNetworkConfig=config)["kubernetesNetworkConfig"]
    if expected:
        assert net == expected
    else:
        assert net["ipFamily"] == "ipv6" and "serviceIpv4Cidr" not in net
        # a /108 of the unique local range, as written (canonical form)
        block = ipaddress.IPv6Network(net["serviceIpv6Cidr"])
        assert str(block) == net["serviceIpv6Cidr"] and block.prefixlen == 108
        assert block.subnet_of(ipaddress.IPv6Network("fd00::/8"))


@pytest.mark.parametrize(
    "config",
    [
        {"serviceIpv4Cidr": "8.8.0.0/16"},
        {"serviceIpv4Cidr": "10.0.0.0/8"},
        {"serviceIpv4Cidr": "nonsense"},
        {"ipFamily": "ipv6", "serviceIpv4Cidr": "10.100.0.0/16"},
    ],
)
def test_bad_kubernetes_network_config(ctx: Context, config: dict[str, str]) -> None:
    fails(
        ctx,
        "CreateCluster",
        "InvalidParameterException",
        name="c1",
        roleArn=ROLE,
        resourcesVpcConfig={"subnetIds": ["subnet-a", "subnet-b"]},
        kubernetesNetworkConfig=config,
    )


def test_echoed_members_fit_the_output_shape(ctx: Context) -> None:
    cluster = create(
        ctx,
        logging={"clusterLogging": [{"types": ["api", "audit"], "enabled": True}]},
        upgradePolicy={"supportType": "STANDARD"},
        zonalShiftConfig={"enabled": True},
        encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:k"}}],
        kubeApiServerConfig={"eventTtl": "1h"},
        deletionProtection=True,
        clientRequestToken="tok",
    )
    assert cluster["logging"]["clusterLogging"] == [
        {"types": ["api", "audit"], "enabled": True},
        {"types": ["authenticator", "controllerManager", "scheduler"], "enabled": False},
    ]
    assert cluster["upgradePolicy"] == {"supportType": "STANDARD"}
    assert cluster["deletionProtection"] is True


def test_list_clusters_pages(ctx: Context) -> None:
    for name in ("a", "b", "c"):
        create(ctx, name)
    first = call(ctx, "ListClusters", maxResults=2)
    assert first["clusters"] == ["a", "b"]
    second = call(ctx, "ListClusters", maxResults=2, nextToken=first["nextToken"])
    assert second == {"clusters": ["c"]}
    fails(ctx, "ListClusters", "InvalidParameterException", nextToken="garbage!")


def test_delete_cluster(ctx: Context) -> None:
    api_cluster(ctx)
    call(ctx, "CreateAddon", clusterName="c1", addonName="vpc-cni")
    gone = call(ctx, "DeleteCluster", name="c1")["cluster"]
    assert gone["status"] == "DELETING"
    addon = call(ctx, "DescribeAddon", clusterName="c1", addonName="vpc-cni")["addon"]
    assert addon["status"] == "DELETING"  # EKS deletes add-ons with the cluster
    fails(
        ctx,
        "CreateCluster",
        "ResourceInUseException",
        name="c1",
        roleArn=ROLE,
        resourcesVpcConfig={"subnetIds": ["subnet-a", "subnet-b"]},
    )
    fails(ctx, "CreateAddon", "InvalidRequestException", clusterName="c1", addonName="coredns")
    assert call(ctx, "DeleteCluster", name="c1")["cluster"]["status"] == "DELETING"
    eks_operator.forget_cluster(ctx.store.resources, SCOPE, "c1")
    fails(ctx, "DescribeCluster", "ResourceNotFoundException", name="c1")
    for kind in kinds.EKS_CHILDREN:
        assert ctx.store.resources.list(kind, SCOPE) == []
    fails(ctx, "DeleteCluster", "ResourceNotFoundException", name="c1")


def test_delete_cluster_refusals(ctx: Context) -> None:
    create(ctx, deletionProtection=True)
    activate(ctx)
    fails(ctx, "DeleteCluster", "InvalidRequestException", name="c1")
    update = call(ctx, "UpdateClusterConfig", name="c1", deletionProtection=False)["update"]
    e = fails(ctx, "DeleteCluster", "ResourceInUseException", name="c1")
    assert e.message == "Cannot delete because cluster c1 currently has an update in progress"
    finish(ctx, "c1", update["id"])
    assert call(ctx, "DeleteCluster", name="c1")["cluster"]["status"] == "DELETING"


def test_records_survive_a_new_store(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    api_cluster(ctx)
    call(
        ctx, "CreateAddon", clusterName="c1", addonName="vpc-cni", addonVersion="v1.18.2-eksbuild.1"
    )
    call(ctx, "CreateAccessEntry", clusterName="c1", principalArn=NODE_ROLE, type="HYPERPOD_LINUX")
    again = make_context(tmp_path, store=Store(sqlite_url(tmp_path)))
    cluster = call(again, "DescribeCluster", name="c1")["cluster"]
    assert cluster["status"] == "ACTIVE"
    addon = call(again, "DescribeAddon", clusterName="c1", addonName="vpc-cni")["addon"]
    assert addon["addonVersion"] == "v1.18.2-eksbuild.1"
    assert NODE_ROLE in call(again, "ListAccessEntries", clusterName="c1")["accessEntries"]


def test_cluster_name_from_arn() -> None:
    found = arns.parse_eks_cluster(f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/c1")
    assert found is not None and found.name == "c1"
    assert arns.parse_eks_cluster("arn:aws:sagemaker:x") is None


def test_describe_cluster_versions(ctx: Context) -> None:
    out = call(ctx, "DescribeClusterVersions", includeAll=True)["clusterVersions"]
    assert [v["clusterVersion"] for v in out][:3] == ["1.34", "1.33", "1.32"]
    assert [v["clusterVersion"] for v in out if v["defaultVersion"]] == ["1.32"]
    only = call(ctx, "DescribeClusterVersions", clusterVersions=["1.28"])["clusterVersions"]
    assert [v["clusterVersion"] for v in only] == ["1.28"]


# ---------------------------------------------------------------- updates


def test_authentication_mode_moves_forward_one_step(ctx: Context) -> None:
    create(ctx)
    e = fails(
        ctx,
        "UpdateClusterConfig",
        "InvalidRequestException",
        name="c1",
        accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"},
    )
    assert e.message == "Cluster 'c1' is not in ACTIVE status"
    activate(ctx)
    e = fails(
        ctx,
        "UpdateClusterConfig",
        "InvalidParameterException",
        name="c1",
        accessConfig={"authenticationMode": "API"},
    )
    assert e.message == "Unsupported authentication mode update from CONFIG_MAP to API"
    fails(
        ctx,
        "UpdateClusterConfig",
        "InvalidParameterException",
        name="c1",
        accessConfig={"authenticationMode": "CONFIG_MAP"},
    )
    update = call(
        ctx,
        "UpdateClusterConfig",
        name="c1",
        accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"},
    )["update"]
    assert update["status"] == "InProgress"
    assert update["type"] == "AccessConfigUpdate"
    assert update["params"] == [{"type": "AuthenticationMode", "value": "API_AND_CONFIG_MAP"}]
    cluster = call(ctx, "DescribeCluster", name="c1")["cluster"]
    assert cluster["status"] == "UPDATING"
    assert cluster["accessConfig"]["authenticationMode"] == "CONFIG_MAP"  # until carried out
    e = fails(
        ctx,
        "UpdateClusterConfig",
        "ResourceInUseException",
        name="c1",
        accessConfig={"authenticationMode": "API"},
    )
    assert e.message == (
        f"Cannot AccessConfigUpdate because cluster c1 currently has update {update['id']} "
        "in progress"
    )
    finish(ctx, "c1", update["id"])
    cluster = call(ctx, "DescribeCluster", name="c1")["cluster"]
    assert (cluster["status"], cluster["accessConfig"]["authenticationMode"]) == (
        "ACTIVE",
        "API_AND_CONFIG_MAP",
    )
    done = call(ctx, "DescribeUpdate", name="c1", updateId=update["id"])["update"]
    assert done["status"] == "Successful"
    e = fails(
        ctx,
        "UpdateClusterConfig",
        "InvalidParameterException",
        name="c1",
        accessConfig={"authenticationMode": "CONFIG_MAP"},
    )
    assert (
        e.message == "Unsupported authentication mode update from API_AND_CONFIG_MAP to CONFIG_MAP"
    )
    update = call(
        ctx, "UpdateClusterConfig", name="c1", accessConfig={"authenticationMode": "API"}
    )["update"]
    finish(ctx, "c1", update["id"])
    for mode in ("API", "API_AND_CONFIG_MAP", "CONFIG_MAP"):
        fails(
            ctx,
            "UpdateClusterConfig",
            "InvalidParameterException",
            name="c1",
            accessConfig={"authenticationMode": mode},
        )
    ids = call(ctx, "ListUpdates", name="c1")["updateIds"]
    assert len(ids) == 2 and update["id"] in ids


def test_update_cluster_config_rules(ctx: Context) -> None:
    api_cluster(ctx)
    e = fails(
        ctx,
        "UpdateClusterConfig",
        "InvalidParameterException",
        name="c1",
        accessConfig={"authenticationMode": "API"},
        deletionProtection=True,
    )
    assert e.message == "Only one type of update can be allowed."
    e = fails(
        ctx,
        "UpdateClusterConfig",
        "InvalidParameterException",
        name="c1",
        kubernetesNetworkConfig={"ipFamily": "ipv6"},
    )
    assert "kubernetesNetworkConfig" in e.message
    e = fails(
        ctx,
        "UpdateClusterConfig",
        "InvalidParameterException",
        name="c1",
        resourcesVpcConfig={"endpointPrivateAccess": True, "subnetIds": ["a", "b"]},
    )
    assert e.message == "Only one type of update can be allowed."
    fails(
        ctx,
        "UpdateClusterConfig",
        "ResourceNotFoundException",
        name="nope",
        deletionProtection=True,
    )
    e = fails(
        ctx,
        "UpdateClusterConfig",
        "InvalidParameterException",
        name="c1",
        logging={"clusterLogging": [{"types": ["api"], "enabled": False}]},
    )
    assert e.message == "No changes needed for the logging config provided"
    update = call(
        ctx,
        "UpdateClusterConfig",
        name="c1",
        logging={"clusterLogging": [{"types": ["audit"], "enabled": True}]},
    )["update"]
    assert update["type"] == "LoggingUpdate"
    finish(ctx, "c1", update["id"])
    logging = call(ctx, "DescribeCluster", name="c1")["cluster"]["logging"]
    assert logging["clusterLogging"][0] == {"types": ["audit"], "enabled": True}
    update = call(
        ctx, "UpdateClusterConfig", name="c1", resourcesVpcConfig={"endpointPrivateAccess": True}
    )["update"]
    assert update["type"] == "EndpointAccessUpdate"
    assert update["params"] == [{"type": "EndpointPrivateAccess", "value": "true"}]


def test_version_updates_one_minor_at_a_time_to_runnable_versions(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    api_cluster(ctx)
    e = fails(ctx, "UpdateClusterVersion", "InvalidParameterException", name="c1", version="1.34")
    assert e.message == "Unsupported Kubernetes minor version update from 1.32 to 1.34"
    e = fails(ctx, "UpdateClusterVersion", "InvalidParameterException", name="c1", version="1.31")
    assert e.message == "Unsupported Kubernetes minor version update from 1.32 to 1.31"
    e = fails(ctx, "UpdateClusterVersion", "InvalidParameterException", name="c1", version="1.32")
    assert e.message == "Unsupported Kubernetes minor version update from 1.32 to 1.32"
    e = fails(ctx, "UpdateClusterVersion", "InvalidParameterException", name="c1", version="9.9")
    assert e.message == "unsupported Kubernetes version 9.9"
    # a toolchain that runs only 1.32: the next minor is refused, naming what runs
    table = eks_catalog.load_versions()
    narrow = dataclasses.replace(table, runnable=MappingProxyType({"1.32": "v1.32.9"}))
    with monkeypatch.context() as m:
        m.setattr(eks_catalog, "load_versions", lambda: narrow)
        e = fails(
            ctx, "UpdateClusterVersion", "InvalidParameterException", name="c1", version="1.33"
        )
        assert e.message.endswith("its local control plane runs 1.32.")
    # the packaged toolchain runs 1.33 (toolchain.toml's kubernetes_releases)
    update = call(ctx, "UpdateClusterVersion", name="c1", version="1.33")["update"]
    assert update["type"] == "VersionUpdate"
    assert {"type": "Version", "value": "1.33"} in update["params"]
    rec = record(ctx, kinds.EKS_UPDATE, kinds.child_key("c1", update["id"]))
    assert eks_lifecycle.pending_changes(rec.doc)["_podwarden.kubernetes"] == "v1.33.4"
    assert call(ctx, "DescribeCluster", name="c1")["cluster"]["version"] == "1.32"
    finish(ctx, "c1", update["id"])
    cluster = call(ctx, "DescribeCluster", name="c1")["cluster"]
    assert (cluster["version"], cluster["status"]) == ("1.33", "ACTIVE")
    assert record(ctx, kinds.EKS_CLUSTER, "c1").doc["_podwarden"]["kubernetes"] == "v1.33.4"
    # and from there 1.34, the newest minor HyperPod supports (R3)
    update = call(ctx, "UpdateClusterVersion", name="c1", version="1.34")["update"]
    rec = record(ctx, kinds.EKS_UPDATE, kinds.child_key("c1", update["id"]))
    assert eks_lifecycle.pending_changes(rec.doc)["_podwarden.kubernetes"] == "v1.34.2"


def test_failed_update(ctx: Context) -> None:
    api_cluster(ctx)
    update = call(ctx, "UpdateClusterConfig", name="c1", deletionProtection=True)["update"]
    cluster = record(ctx, kinds.EKS_CLUSTER, "c1")
    rec = record(ctx, kinds.EKS_UPDATE, kinds.child_key("c1", update["id"]))
    eks_lifecycle.fail_update(cluster.doc, rec.doc, ctx.now(), "Unknown", "boom")
    ctx.store.resources.save(rec)
    ctx.store.resources.save(cluster)
    out = call(ctx, "DescribeUpdate", name="c1", updateId=update["id"])["update"]
    assert out["status"] == "Failed" and out["errors"][0]["errorMessage"] == "boom"
    assert call(ctx, "DescribeCluster", name="c1")["cluster"]["deletionProtection"] is False
    fails(ctx, "DescribeUpdate", "ResourceNotFoundException", name="c1", updateId="nope")


# ---------------------------------------------------------------- add-ons


def test_create_addon_defaults_and_versions(ctx: Context) -> None:
    api_cluster(ctx)
    cni = call(ctx, "CreateAddon", clusterName="c1", addonName="vpc-cni")["addon"]
    assert (cni["status"], cni["addonVersion"]) == ("CREATING", "v1.19.2-eksbuild.1")
    assert cni["addonArn"].startswith(f"arn:aws:eks:{REGION}:{ACCOUNT}:addon/c1/vpc-cni/")
    assert (cni["publisher"], cni["owner"]) == ("eks", "aws")
    proxy = call(ctx, "CreateAddon", clusterName="c1", addonName="kube-proxy")["addon"]
    assert proxy["addonVersion"] == "v1.32.0-eksbuild.2"
    old = call(
        ctx,
        "CreateAddon",
        clusterName="c1",
        addonName="coredns",
        addonVersion="v1.11.3-eksbuild.1",
        configurationValues='{"replicaCount": 3}',
        podIdentityAssociations=[{"serviceAccount": "sa", "roleArn": ROLE}],
    )
    assert old["addon"]["addonVersion"] == "v1.11.3-eksbuild.1"
    assert len(old["addon"]["podIdentityAssociations"]) == 1
    assert call(ctx, "ListAddons", clusterName="c1")["addons"] == [
        "vpc-cni",
        "kube-proxy",
        "coredns",
    ]
    eks_lifecycle.activate_addon(record(ctx, kinds.EKS_ADDON, "c1/vpc-cni").doc, ctx.now())


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        ({"addonName": "nope"}, "InvalidParameterException", "Addon specified is not supported"),
        (
            {"addonName": "kube-proxy", "addonVersion": "v1.31.2-eksbuild.3"},
            "InvalidParameterException",
            "Addon version specified is not supported",
        ),
        (
            {"addonName": "vpc-cni", "addonVersion": "v9.9.9-eksbuild.1"},
            "InvalidParameterException",
            "Addon version specified is not supported",
        ),
        (
            {"addonName": "vpc-cni", "configurationValues": "[1, 2"},
            "InvalidParameterException",
            "configurationValues must be a JSON or YAML object.",
        ),
        ({"addonName": "vpc-cni"}, "ResourceInUseException", "Addon already exists."),
    ],
)
def test_create_addon_errors(ctx: Context, params: dict[str, str], code: str, message: str) -> None:
    api_cluster(ctx)
    call(ctx, "CreateAddon", clusterName="c1", addonName="vpc-cni")
    e = fails(ctx, "CreateAddon", code, clusterName="c1", **params)
    assert e.message == message
    assert e.fields["addonName"] == params["addonName"]


def test_addon_lookups_fail_with_eks_messages(ctx: Context) -> None:
    e = fails(ctx, "CreateAddon", "ResourceNotFoundException", clusterName="x", addonName="vpc-cni")
    assert e.message == "No cluster found for name: x."
    fails(ctx, "ListAddons", "ResourceNotFoundException", clusterName="x")
    create(ctx)
    e = fails(
        ctx, "DescribeAddon", "ResourceNotFoundException", clusterName="c1", addonName="coredns"
    )
    assert e.message == "No addon: coredns found in cluster: c1"
    assert e.fields == {"clusterName": "c1", "addonName": "coredns"}
    fails(ctx, "DeleteAddon", "ResourceNotFoundException", clusterName="c1", addonName="coredns")


def test_update_addon(ctx: Context) -> None:
    api_cluster(ctx)
    call(
        ctx, "CreateAddon", clusterName="c1", addonName="vpc-cni", addonVersion="v1.18.2-eksbuild.1"
    )
    e = fails(
        ctx,
        "UpdateAddon",
        "ResourceInUseException",
        clusterName="c1",
        addonName="vpc-cni",
        addonVersion="v1.19.2-eksbuild.1",
    )
    assert "CREATING" in e.message
    addon = record(ctx, kinds.EKS_ADDON, "c1/vpc-cni")
    eks_lifecycle.activate_addon(addon.doc, ctx.now())
    ctx.store.resources.save(addon)
    fails(
        ctx,
        "UpdateAddon",
        "InvalidParameterException",
        clusterName="c1",
        addonName="vpc-cni",
        addonVersion="v9.0.0-eksbuild.1",
    )
    update = call(
        ctx,
        "UpdateAddon",
        clusterName="c1",
        addonName="vpc-cni",
        addonVersion="v1.19.2-eksbuild.1",
        resolveConflicts="OVERWRITE",
    )["update"]
    assert update["type"] == "AddonUpdate"
    assert {"type": "AddonVersion", "value": "v1.19.2-eksbuild.1"} in update["params"]
    described = call(ctx, "DescribeAddon", clusterName="c1", addonName="vpc-cni")["addon"]
    assert (described["status"], described["addonVersion"]) == ("UPDATING", "v1.18.2-eksbuild.1")
    assert call(ctx, "ListUpdates", name="c1")["updateIds"] == []
    assert call(ctx, "ListUpdates", name="c1", addonName="vpc-cni")["updateIds"] == [update["id"]]
    call(ctx, "DescribeUpdate", name="c1", updateId=update["id"], addonName="vpc-cni")
    fails(ctx, "DescribeUpdate", "ResourceNotFoundException", name="c1", updateId=update["id"])
    e = fails(
        ctx,
        "UpdateAddon",
        "ResourceInUseException",
        clusterName="c1",
        addonName="vpc-cni",
        addonVersion="v1.19.6-eksbuild.1",
    )
    assert update["id"] in e.message
    finish(ctx, "c1", update["id"], addon="vpc-cni")
    described = call(ctx, "DescribeAddon", clusterName="c1", addonName="vpc-cni")["addon"]
    assert (described["status"], described["addonVersion"]) == ("ACTIVE", "v1.19.2-eksbuild.1")
    assert record(ctx, kinds.EKS_ADDON, "c1/vpc-cni").doc["_podwarden"]["resolveConflicts"] == (
        "OVERWRITE"
    )


def test_delete_addon(ctx: Context) -> None:
    api_cluster(ctx)
    call(ctx, "CreateAddon", clusterName="c1", addonName="coredns")
    gone = call(ctx, "DeleteAddon", clusterName="c1", addonName="coredns", preserve=True)["addon"]
    assert gone["status"] == "DELETING"
    assert record(ctx, kinds.EKS_ADDON, "c1/coredns").doc["_podwarden"]["preserve"] is True
    fails(
        ctx,
        "UpdateAddon",
        "InvalidRequestException",
        clusterName="c1",
        addonName="coredns",
        addonVersion="v1.11.4-eksbuild.2",
    )
    eks_operator.forget_addon(ctx.store.resources, SCOPE, "c1", "coredns")
    assert call(ctx, "ListAddons", clusterName="c1")["addons"] == []


def test_describe_addon_versions(ctx: Context) -> None:
    everything = call(ctx, "DescribeAddonVersions")["addons"]
    assert len(everything) == len(eks_catalog.load_addons().addons)
    proxy = call(ctx, "DescribeAddonVersions", addonName="kube-proxy", kubernetesVersion="1.32")
    [entry] = proxy["addons"]
    assert [v["addonVersion"] for v in entry["addonVersions"]] == ["v1.32.0-eksbuild.2"]
    assert entry["addonVersions"][0]["compatibilities"] == [
        {"clusterVersion": "1.32", "platformVersions": ["*"], "defaultVersion": True}
    ]
    assert entry["defaultNamespace"] == "kube-system"
    cni = call(ctx, "DescribeAddonVersions", addonName="vpc-cni", kubernetesVersion="1.32")
    versions = cni["addons"][0]["addonVersions"]
    defaults = [v["addonVersion"] for v in versions if v["compatibilities"][0]["defaultVersion"]]
    assert defaults == ["v1.19.2-eksbuild.1"]
    assert versions[0]["addonVersion"] == "v1.20.4-eksbuild.2"  # newest first
    storage = call(ctx, "DescribeAddonVersions", types=["storage"], publishers=["s3"])["addons"]
    assert [a["addonName"] for a in storage] == ["aws-mountpoint-s3-csi-driver"]
    assert call(ctx, "DescribeAddonVersions", owners=["aws-marketplace"])["addons"] == []
    assert call(ctx, "DescribeAddonVersions", kubernetesVersion="1.20")["addons"] == []
    page1 = call(ctx, "DescribeAddonVersions", maxResults=4)
    page2 = call(ctx, "DescribeAddonVersions", maxResults=4, nextToken=page1["nextToken"])
    names = [a["addonName"] for a in page1["addons"] + page2["addons"]]
    assert names == [a["addonName"] for a in everything][:8]


# ---------------------------------------------------------------- access entries


CONFIG_MAP_OPS: list[tuple[str, dict[str, Any]]] = [
    ("CreateAccessEntry", {"principalArn": USER}),
    ("DescribeAccessEntry", {"principalArn": USER}),
    ("ListAccessEntries", {}),
    ("UpdateAccessEntry", {"principalArn": USER, "kubernetesGroups": ["g"]}),
    ("DeleteAccessEntry", {"principalArn": USER}),
    (
        "AssociateAccessPolicy",
        {"principalArn": USER, "policyArn": ADMIN, "accessScope": {"type": "cluster"}},
    ),
    ("DisassociateAccessPolicy", {"principalArn": USER, "policyArn": ADMIN}),
    ("ListAssociatedAccessPolicies", {"principalArn": USER}),
]


@pytest.mark.parametrize(("op", "params"), CONFIG_MAP_OPS)
def test_access_entries_need_an_api_mode(ctx: Context, op: str, params: dict[str, Any]) -> None:
    create(ctx)  # CONFIG_MAP
    e = fails(ctx, op, "InvalidRequestException", clusterName="c1", **params)
    assert e.message == (
        "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] "
        "to perform this operation."
    )
    fails(ctx, op, "ResourceNotFoundException", clusterName="nope", **params)


@pytest.mark.parametrize(
    ("principal", "entry_type", "username", "groups"),
    [
        (USER, None, USER, []),
        (
            ROLE,
            "STANDARD",
            f"arn:aws:sts::{ACCOUNT}:assumed-role/eks-cluster/{{{{SessionName}}}}",
            [],
        ),
        (
            f"arn:aws:iam::{ACCOUNT}:role/team/a/path-role",
            None,
            f"arn:aws:sts::{ACCOUNT}:assumed-role/path-role/{{{{SessionName}}}}",
            [],
        ),
        (NODE_ROLE, "EC2_LINUX", "system:node:{{EC2PrivateDNSName}}", ["system:nodes"]),
        (NODE_ROLE, "HYPERPOD_LINUX", "system:node:{{SessionName}}", ["system:nodes"]),
        (NODE_ROLE, "HYBRID_LINUX", "system:node:{{SessionName}}", ["system:nodes"]),
    ],
)
def test_create_access_entry(
    ctx: Context, principal: str, entry_type: str | None, username: str, groups: list[str]
) -> None:
    api_cluster(ctx)
    extra = {"type": entry_type} if entry_type else {}
    entry = call(ctx, "CreateAccessEntry", clusterName="c1", principalArn=principal, **extra)
    entry = entry["accessEntry"]
    assert entry["type"] == (entry_type or "STANDARD")
    assert (entry["username"], entry["kubernetesGroups"]) == (username, groups)
    assert entry["accessEntryArn"].startswith(f"arn:aws:eks:{REGION}:{ACCOUNT}:access-entry/c1/")
    assert (
        call(ctx, "DescribeAccessEntry", clusterName="c1", principalArn=principal)["accessEntry"]
        == entry
    )


@pytest.mark.parametrize(
    "params",
    [
        {"principalArn": f"arn:aws:sts::{ACCOUNT}:assumed-role/R/s"},
        {"principalArn": "not-an-arn"},
        {"principalArn": USER, "type": "EC2_LINUX"},
        {"principalArn": "arn:aws:iam::111122223333:role/other", "type": "HYPERPOD_LINUX"},
        {"principalArn": NODE_ROLE, "type": "HYPERPOD_LINUX", "kubernetesGroups": ["g"]},
        {"principalArn": NODE_ROLE, "type": "EC2_LINUX", "username": "me"},
        {"principalArn": USER, "username": "system:admin"},
        {"principalArn": USER, "type": "LINUX"},
    ],
)
def test_bad_access_entries(ctx: Context, params: dict[str, Any]) -> None:
    api_cluster(ctx)
    fails(ctx, "CreateAccessEntry", "InvalidParameterException", clusterName="c1", **params)


def test_access_entry_lifecycle(ctx: Context) -> None:
    api_cluster(ctx, mode="API")
    call(
        ctx,
        "CreateAccessEntry",
        clusterName="c1",
        principalArn=USER,
        kubernetesGroups=["devs"],
        tags={"k": "v"},
    )
    e = fails(
        ctx, "CreateAccessEntry", "ResourceInUseException", clusterName="c1", principalArn=USER
    )
    assert e.message == "The specified access entry resource is already in use on this cluster."
    updated = call(
        ctx,
        "UpdateAccessEntry",
        clusterName="c1",
        principalArn=USER,
        kubernetesGroups=["ops"],
        username="alice",
    )["accessEntry"]
    assert (updated["kubernetesGroups"], updated["username"]) == (["ops"], "alice")
    call(ctx, "DeleteAccessEntry", clusterName="c1", principalArn=USER)
    e = fails(
        ctx, "DescribeAccessEntry", "ResourceNotFoundException", clusterName="c1", principalArn=USER
    )
    assert e.message == (
        "The specified principalArn could not be found. "
        "You can view your available access entries with 'list-access-entries'."
    )
    fails(
        ctx, "DeleteAccessEntry", "ResourceNotFoundException", clusterName="c1", principalArn=USER
    )


def test_access_policies(ctx: Context) -> None:
    api_cluster(ctx)
    call(ctx, "CreateAccessEntry", clusterName="c1", principalArn=USER)
    first = call(
        ctx,
        "AssociateAccessPolicy",
        clusterName="c1",
        principalArn=USER,
        policyArn=EDIT,
        accessScope={"type": "namespace", "namespaces": ["ml"]},
    )
    assoc = first["associatedAccessPolicy"]
    assert assoc["accessScope"] == {"type": "namespace", "namespaces": ["ml"]}
    again = call(
        ctx,
        "AssociateAccessPolicy",
        clusterName="c1",
        principalArn=USER,
        policyArn=EDIT,
        accessScope={"type": "cluster"},
    )["associatedAccessPolicy"]
    assert again["associatedAt"] == assoc["associatedAt"]
    assert again["accessScope"] == {"type": "cluster", "namespaces": []}
    held = call(ctx, "ListAssociatedAccessPolicies", clusterName="c1", principalArn=USER)
    assert [p["policyArn"] for p in held["associatedAccessPolicies"]] == [EDIT]
    assert call(ctx, "ListAccessEntries", clusterName="c1", associatedPolicyArn=EDIT)[
        "accessEntries"
    ] == [USER]
    call(ctx, "DisassociateAccessPolicy", clusterName="c1", principalArn=USER, policyArn=EDIT)
    fails(
        ctx,
        "DisassociateAccessPolicy",
        "ResourceNotFoundException",
        clusterName="c1",
        principalArn=USER,
        policyArn=EDIT,
    )
    assert (
        call(ctx, "ListAccessEntries", clusterName="c1", associatedPolicyArn=EDIT)["accessEntries"]
        == []
    )


@pytest.mark.parametrize(
    ("principal", "entry_type", "policy", "scope"),
    [
        (NODE_ROLE, "EC2_LINUX", EDIT, {"type": "cluster"}),
        (NODE_ROLE, "HYPERPOD_LINUX", ADMIN, {"type": "cluster"}),
        (
            USER,
            None,
            "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy",
            {"type": "cluster"},
        ),
        (USER, None, "arn:aws:eks::aws:cluster-access-policy/Nope", {"type": "cluster"}),
        (USER, None, EDIT, {"type": "namespace"}),
        (USER, None, EDIT, {"type": "cluster", "namespaces": ["a"]}),
    ],
)
def test_bad_policy_associations(
    ctx: Context, principal: str, entry_type: str | None, policy: str, scope: dict[str, Any]
) -> None:
    api_cluster(ctx)
    extra = {"type": entry_type} if entry_type else {}
    call(ctx, "CreateAccessEntry", clusterName="c1", principalArn=principal, **extra)
    fails(
        ctx,
        "AssociateAccessPolicy",
        "InvalidParameterException",
        clusterName="c1",
        principalArn=principal,
        policyArn=policy,
        accessScope=scope,
    )


def test_auto_mode_node_policy_goes_on_ec2_entries(ctx: Context) -> None:
    api_cluster(ctx)
    call(ctx, "CreateAccessEntry", clusterName="c1", principalArn=NODE_ROLE, type="EC2")
    auto = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAutoNodePolicy"
    call(
        ctx,
        "AssociateAccessPolicy",
        clusterName="c1",
        principalArn=NODE_ROLE,
        policyArn=auto,
        accessScope={"type": "cluster"},
    )


def test_list_access_policies(ctx: Context) -> None:
    policies = call(ctx, "ListAccessPolicies")["accessPolicies"]
    names = {p["name"] for p in policies}
    assert {
        "AmazonEKSClusterAdminPolicy",
        "AmazonEKSAdminPolicy",
        "AmazonEKSEditPolicy",
        "AmazonEKSViewPolicy",
    } <= names
    assert all(p["arn"] == eks_catalog.POLICY_ARN_PREFIX + p["name"] for p in policies)
    first = call(ctx, "ListAccessPolicies", maxResults=5)
    assert len(first["accessPolicies"]) == 5 and "nextToken" in first


# ---------------------------------------------------------------- the handler table


def test_handlers_cover_the_issue_operations() -> None:
    import botocore.session  # type: ignore[import-untyped]  # noqa: PLC0415

    issue = {
        "CreateCluster",
        "DescribeCluster",
        "ListClusters",
        "DeleteCluster",
        "UpdateClusterConfig",
        "UpdateClusterVersion",
        "DescribeUpdate",
        "ListUpdates",
        "CreateAddon",
        "DescribeAddon",
        "ListAddons",
        "UpdateAddon",
        "DeleteAddon",
        "DescribeAddonVersions",
        "CreateAccessEntry",
        "DescribeAccessEntry",
        "ListAccessEntries",
        "DeleteAccessEntry",
        "AssociateAccessPolicy",
        "ListAssociatedAccessPolicies",
        "ListAccessPolicies",
    }
    assert issue <= set(HANDLERS)
    model = botocore.session.get_session().get_service_model("eks")
    assert set(HANDLERS) <= set(model.operation_names)
