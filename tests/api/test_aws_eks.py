"""EKS through boto3 over real HTTP (rest-json): clusters on subnets made with EC2, the
authentication-mode and version rules, the add-on catalog and add-on lifecycle, access entries
and access policies, EKS's errors on the wire, and everything kept across a restart.

``AwsServer`` runs no reconciler: a new cluster stays ``CREATING`` and an update ``InProgress``
until something moves them. Where a rule needs an ``ACTIVE`` cluster the test plays the
reconciler's part through the store, with the same ``eks_lifecycle`` functions it calls
(``activate_cluster``, ``finish_update``, ``activate_addon``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from podwarden.logic import eks_lifecycle
from podwarden.model.aws import kinds
from podwarden.store.resources import Record
from tests.api.aws_server import REGION, AwsServer

ACCOUNT = "000000000000"
SCOPE = f"{ACCOUNT}/{REGION}"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/eks-cluster-role"
CALLER = f"arn:aws:iam::{ACCOUNT}:user/podwarden"  # the local credentials' identity
ENGINEER = f"arn:aws:iam::{ACCOUNT}:role/ml-engineer"
NODE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/hyperpod-execution"
POLICY = "arn:aws:eks::aws:cluster-access-policy/"
ISSUE_ADDONS = {
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


def error(err: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    resp = err.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"]


def message(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Message"])


def make_network(aws: AwsServer, cidr_prefix: str = "10.70") -> dict[str, Any]:
    """A VPC with two subnets in two zones (what CreateCluster needs) and a third in the first
    zone."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock=f"{cidr_prefix}.0.0/16")["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"{cidr_prefix}.{i}.0/24", AvailabilityZone=zone)[
            "Subnet"
        ]["SubnetId"]
        for i, zone in enumerate([zones[0], zones[1], zones[0]])
    ]
    return {"vpc": vpc, "subnets": subnets[:2], "same_zone": [subnets[0], subnets[2]]}


@pytest.fixture(scope="module")
def network(aws: AwsServer) -> dict[str, Any]:
    return make_network(aws)


def create(eks: Any, name: str, subnets: list[str], **extra: Any) -> dict[str, Any]:
    cluster: dict[str, Any] = eks.create_cluster(
        name=name, roleArn=ROLE, resourcesVpcConfig={"subnetIds": subnets}, **extra
    )["cluster"]
    return cluster


def record(aws: AwsServer, kind: str, key: str) -> Record:
    rec = aws.store.resources.get(kind, SCOPE, key)
    assert rec is not None, (kind, key)
    return rec


def activate(aws: AwsServer, name: str) -> None:
    """The reconciler's part once the control plane answers."""
    rec = record(aws, kinds.EKS_CLUSTER, name)
    eks_lifecycle.activate_cluster(
        rec.doc,
        endpoint="https://127.0.0.1:16443",
        certificate_authority="Q0E=",
        kubernetes_version="v1.32.9",
    )
    aws.store.resources.save(rec)


def finish(aws: AwsServer, name: str, update_id: str, addon: str | None = None) -> None:
    """The reconciler's part once an update is carried out."""
    key = kinds.child_key(name, addon) if addon else name
    target = record(aws, kinds.EKS_ADDON if addon else kinds.EKS_CLUSTER, key)
    update = record(aws, kinds.EKS_UPDATE, kinds.child_key(name, update_id))
    eks_lifecycle.finish_update(target.doc, update.doc, time.time())
    aws.store.resources.save(update)
    aws.store.resources.save(target)


def activate_addon(aws: AwsServer, cluster: str, addon: str) -> None:
    rec = record(aws, kinds.EKS_ADDON, kinds.child_key(cluster, addon))
    eks_lifecycle.activate_addon(rec.doc, time.time())
    aws.store.resources.save(rec)


# ---------------------------------------------------------------- clusters


def test_cluster_lifecycle(aws: AwsServer, network: dict[str, Any]) -> None:
    eks = aws.client("eks")
    made = create(
        eks,
        "hyperpod-eks",
        network["subnets"],
        version="1.32",
        accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"},
        tags={"team": "ml"},
    )
    assert made["status"] == "CREATING"
    assert made["arn"] == f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/hyperpod-eks"
    assert made["version"] == "1.32"
    assert made["roleArn"] == ROLE
    assert made["resourcesVpcConfig"]["vpcId"] == network["vpc"]
    assert made["resourcesVpcConfig"]["subnetIds"] == network["subnets"]
    assert made["resourcesVpcConfig"]["clusterSecurityGroupId"].startswith("sg-")
    # the VPC is in 10.0.0.0/8, so services get the other documented block
    assert made["kubernetesNetworkConfig"] == {
        "ipFamily": "ipv4",
        "serviceIpv4Cidr": "172.20.0.0/16",
    }
    assert made["accessConfig"] == {
        "bootstrapClusterCreatorAdminPermissions": True,
        "authenticationMode": "API_AND_CONFIG_MAP",
    }
    assert made["tags"] == {"team": "ml"}
    assert made["identity"]["oidc"]["issuer"].startswith(
        f"https://oidc.eks.{REGION}.amazonaws.com/id/"
    )
    assert "_podwarden" not in made
    got = eks.describe_cluster(name="hyperpod-eks")["cluster"]
    assert got["status"] == "CREATING"  # no reconciler here: nothing has started it
    assert "endpoint" not in got and got["certificateAuthority"] == {}
    assert got["createdAt"] == made["createdAt"] and got["id"] == made["id"]
    assert "hyperpod-eks" in eks.list_clusters()["clusters"]
    # the creator got cluster admin through an access entry, as EKS does in an API mode
    assert eks.list_access_entries(clusterName="hyperpod-eks")["accessEntries"] == [CALLER]
    held = eks.list_associated_access_policies(clusterName="hyperpod-eks", principalArn=CALLER)
    assert [p["policyArn"] for p in held["associatedAccessPolicies"]] == [
        POLICY + "AmazonEKSClusterAdminPolicy"
    ]
    gone = eks.delete_cluster(name="hyperpod-eks")["cluster"]
    assert gone["status"] == "DELETING"
    assert eks.describe_cluster(name="hyperpod-eks")["cluster"]["status"] == "DELETING"
    assert eks.delete_cluster(name="hyperpod-eks")["cluster"]["status"] == "DELETING"
    # until the reconciler stops it, the record stays and the name stays taken
    with pytest.raises(ClientError) as err:
        create(eks, "hyperpod-eks", network["subnets"])
    assert error(err) == (409, "ResourceInUseException")


def test_list_clusters_pages(aws: AwsServer, network: dict[str, Any]) -> None:
    eks = aws.client("eks")
    names = [f"page-{i}" for i in range(5)]
    for name in names:
        create(eks, name, network["subnets"])
    first = eks.list_clusters(maxResults=2)
    assert len(first["clusters"]) == 2 and first["nextToken"]
    pages = list(eks.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 2}))
    listed = [c for p in pages for c in p["clusters"]]
    assert set(names) <= set(listed) and len(listed) == len(set(listed))
    assert all(len(p["clusters"]) <= 2 for p in pages) and len(pages) >= 3
    with pytest.raises(ClientError) as err:
        eks.list_clusters(maxResults=2, nextToken="bogus")
    assert error(err) == (400, "InvalidParameterException")


def test_cluster_errors_over_the_wire(aws: AwsServer, network: dict[str, Any]) -> None:
    eks = aws.client("eks")
    with pytest.raises(ClientError) as err:
        eks.describe_cluster(name="nowhere")
    assert error(err) == (404, "ResourceNotFoundException")
    assert message(err) == "No cluster found for name: nowhere."
    assert err.value.response["clusterName"] == "nowhere"  # the modeled member
    with pytest.raises(ClientError) as err:
        eks.delete_cluster(name="nowhere")
    assert error(err) == (404, "ResourceNotFoundException")
    create(eks, "taken", network["subnets"])
    with pytest.raises(ClientError) as err:
        create(eks, "taken", network["subnets"])
    assert error(err) == (409, "ResourceInUseException")
    assert message(err) == "Cluster already exists with name: taken"
    with pytest.raises(ClientError) as err:  # the name's pattern, checked by the server
        create(eks, "bad name!", network["subnets"])
    assert error(err) == (400, "InvalidParameterException")
    assert message(err).startswith(
        "1 validation error detected: Value 'bad name!' at 'name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern"
    )
    with pytest.raises(ClientError) as err:
        create(eks, "x" * 101, network["subnets"])
    assert error(err) == (400, "InvalidParameterException")
    assert message(err).endswith("Member must have length less than or equal to 100")
    refusals: dict[str, tuple[dict[str, Any], str]] = {
        "one zone": (
            {"resourcesVpcConfig": {"subnetIds": network["same_zone"]}},
            "Subnets specified must be in at least two different AZs",
        ),
        "unknown subnet": (
            {
                "resourcesVpcConfig": {
                    "subnetIds": [network["subnets"][0], "subnet-0123456789abcdef0"]
                }
            },
            "The subnet ID 'subnet-0123456789abcdef0' does not exist",
        ),
        "one subnet": (
            {"resourcesVpcConfig": {"subnetIds": network["subnets"][:1]}},
            "Subnets specified must be in at least two different AZs",
        ),
        "not runnable": (
            {"version": "1.31"},
            "Kubernetes 1.31 is an EKS version podwarden cannot run",
        ),
        "unknown version": ({"version": "1.99"}, "unsupported Kubernetes version 1.99"),
        "role": ({"roleArn": "not-a-role"}, "Invalid Role Arn: 'not-a-role'"),
        "config map without creator admin": (
            {"accessConfig": {"bootstrapClusterCreatorAdminPermissions": False}},
            "bootstrapClusterCreatorAdminPermissions must be true",
        ),
    }
    for case, (change, text) in refusals.items():
        params: dict[str, Any] = {
            "name": "refused",
            "roleArn": ROLE,
            "resourcesVpcConfig": {"subnetIds": network["subnets"]},
            **change,
        }
        with pytest.raises(ClientError) as err:
            eks.create_cluster(**params)
        assert error(err) == (400, "InvalidParameterException"), case
        assert text in message(err), (case, message(err))
    with pytest.raises(ClientError) as err:
        eks.describe_cluster(name="refused")
    assert error(err)[0] == 404


# ---------------------------------------------------------------- updates


def test_authentication_mode_updates(aws: AwsServer, network: dict[str, Any]) -> None:
    eks = aws.client("eks")
    cluster = create(eks, "auth-modes", network["subnets"])
    assert cluster["accessConfig"]["authenticationMode"] == "CONFIG_MAP"  # the API's default
    with pytest.raises(ClientError) as err:  # access entries need the EKS API
        eks.create_access_entry(clusterName="auth-modes", principalArn=ENGINEER)
    assert error(err) == (400, "InvalidRequestException")
    assert message(err) == (
        "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to "
        "perform this operation."
    )
    with pytest.raises(ClientError) as err:
        eks.list_access_entries(clusterName="auth-modes")
    assert error(err) == (400, "InvalidRequestException")
    with pytest.raises(ClientError) as err:  # still CREATING
        eks.update_cluster_config(
            name="auth-modes", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"}
        )
    assert error(err) == (400, "InvalidRequestException")
    assert message(err) == "Cluster 'auth-modes' is not in ACTIVE status"
    activate(aws, "auth-modes")
    active = eks.describe_cluster(name="auth-modes")["cluster"]
    assert active["status"] == "ACTIVE" and active["endpoint"] == "https://127.0.0.1:16443"
    for mode in ("API", "CONFIG_MAP"):  # no skipping a step, no staying put
        with pytest.raises(ClientError) as err:
            eks.update_cluster_config(name="auth-modes", accessConfig={"authenticationMode": mode})
        assert error(err) == (400, "InvalidParameterException")
        assert message(err) == f"Unsupported authentication mode update from CONFIG_MAP to {mode}"
    with pytest.raises(ClientError) as err:
        eks.update_cluster_config(
            name="auth-modes",
            accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"},
            logging={"clusterLogging": [{"types": ["api"], "enabled": True}]},
        )
    assert error(err) == (400, "InvalidParameterException")
    assert message(err) == "Only one type of update can be allowed."
    update = eks.update_cluster_config(
        name="auth-modes", accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"}
    )["update"]
    assert update["status"] == "InProgress" and update["type"] == "AccessConfigUpdate"
    assert update["params"] == [{"type": "AuthenticationMode", "value": "API_AND_CONFIG_MAP"}]
    assert eks.describe_cluster(name="auth-modes")["cluster"]["status"] == "UPDATING"
    described = eks.describe_update(name="auth-modes", updateId=update["id"])["update"]
    assert described == update
    assert eks.list_updates(name="auth-modes")["updateIds"] == [update["id"]]
    with pytest.raises(ClientError) as err:  # one update at a time
        eks.update_cluster_config(name="auth-modes", accessConfig={"authenticationMode": "API"})
    assert error(err) == (409, "ResourceInUseException")
    assert message(err) == (
        f"Cannot AccessConfigUpdate because cluster auth-modes currently has update "
        f"{update['id']} in progress"
    )
    with pytest.raises(ClientError) as err:
        eks.delete_cluster(name="auth-modes")
    assert error(err) == (409, "ResourceInUseException")
    with pytest.raises(ClientError) as err:
        eks.describe_update(name="auth-modes", updateId="00000000-0000-0000-0000-000000000000")
    assert error(err) == (404, "ResourceNotFoundException")
    finish(aws, "auth-modes", update["id"])
    assert eks.describe_update(name="auth-modes", updateId=update["id"])["update"]["status"] == (
        "Successful"
    )
    cluster = eks.describe_cluster(name="auth-modes")["cluster"]
    assert cluster["status"] == "ACTIVE"
    assert cluster["accessConfig"]["authenticationMode"] == "API_AND_CONFIG_MAP"
    with pytest.raises(ClientError) as err:  # never back to a mode without the EKS API
        eks.update_cluster_config(
            name="auth-modes", accessConfig={"authenticationMode": "CONFIG_MAP"}
        )
    assert error(err) == (400, "InvalidParameterException")
    # access entries work now
    eks.create_access_entry(clusterName="auth-modes", principalArn=ENGINEER)
    last = eks.update_cluster_config(name="auth-modes", accessConfig={"authenticationMode": "API"})
    finish(aws, "auth-modes", last["update"]["id"])
    cluster = eks.describe_cluster(name="auth-modes")["cluster"]
    assert cluster["accessConfig"]["authenticationMode"] == "API"
    assert len(eks.list_updates(name="auth-modes")["updateIds"]) == 2


def test_version_updates_are_refused(aws: AwsServer, network: dict[str, Any]) -> None:
    eks = aws.client("eks")
    create(eks, "versions", network["subnets"])
    with pytest.raises(ClientError) as err:
        eks.update_cluster_version(name="versions", version="1.33")
    assert error(err) == (400, "InvalidRequestException")  # not ACTIVE yet
    activate(aws, "versions")
    refusals = {
        "1.34": "Unsupported Kubernetes minor version update from 1.32 to 1.34",
        "1.31": "Unsupported Kubernetes minor version update from 1.32 to 1.31",
        "1.32": "Unsupported Kubernetes minor version update from 1.32 to 1.32",
        "1.77": "unsupported Kubernetes version 1.77",
    }
    for version, text in refusals.items():
        with pytest.raises(ClientError) as err:
            eks.update_cluster_version(name="versions", version=version)
        assert error(err) == (400, "InvalidParameterException"), version
        assert message(err).startswith(text), message(err)
    cluster = eks.describe_cluster(name="versions")["cluster"]
    assert cluster["status"] == "ACTIVE" and cluster["version"] == "1.32"
    assert eks.list_updates(name="versions")["updateIds"] == []
    # the next minor is accepted: podwarden runs 1.33 (toolchain.toml's kubernetes_releases)
    update = eks.update_cluster_version(name="versions", version="1.33")["update"]
    assert (update["type"], update["status"]) == ("VersionUpdate", "InProgress")
    assert eks.describe_cluster(name="versions")["cluster"]["status"] == "UPDATING"


# ---------------------------------------------------------------- add-ons


def test_describe_addon_versions(aws: AwsServer) -> None:
    eks = aws.client("eks")
    cni = eks.describe_addon_versions(addonName="vpc-cni", kubernetesVersion="1.32")["addons"]
    assert len(cni) == 1
    assert (cni[0]["type"], cni[0]["publisher"], cni[0]["owner"]) == ("networking", "eks", "aws")
    versions = {v["addonVersion"]: v for v in cni[0]["addonVersions"]}
    assert {"v1.19.2-eksbuild.1", "v1.18.3-eksbuild.3", "v1.18.2-eksbuild.1"} <= set(versions)
    defaults = [v for v, info in versions.items() if info["compatibilities"][0]["defaultVersion"]]
    assert defaults == ["v1.19.2-eksbuild.1"]
    assert all(
        [c["clusterVersion"] for c in info["compatibilities"]] == ["1.32"]
        for info in versions.values()
    )
    pages = list(
        eks.get_paginator("describe_addon_versions").paginate(PaginationConfig={"PageSize": 3})
    )
    names = [a["addonName"] for p in pages for a in p["addons"]]
    assert set(names) >= ISSUE_ADDONS and len(names) == len(set(names))
    assert all(len(p["addons"]) <= 3 for p in pages) and len(pages) >= 4
    networking = eks.describe_addon_versions(types=["networking"])["addons"]
    assert {a["addonName"] for a in networking} >= {"vpc-cni", "kube-proxy", "coredns"}
    assert {a["type"] for a in networking} == {"networking"}
    by_eks = eks.describe_addon_versions(publishers=["eks"], owners=["aws"])["addons"]
    assert by_eks and all(a["publisher"] == "eks" for a in by_eks)
    assert eks.describe_addon_versions(addonName="no-such-addon")["addons"] == []
    old = eks.describe_addon_versions(addonName="kube-proxy", kubernetesVersion="1.30")["addons"]
    assert [v["addonVersion"] for v in old[0]["addonVersions"]] == ["v1.30.6-eksbuild.3"]


def test_addon_lifecycle(aws: AwsServer, network: dict[str, Any]) -> None:
    eks = aws.client("eks")
    create(eks, "addons", network["subnets"], accessConfig={"authenticationMode": "API"})
    cni = eks.create_addon(
        clusterName="addons",
        addonName="vpc-cni",
        addonVersion="v1.18.3-eksbuild.3",
        serviceAccountRoleArn=f"arn:aws:iam::{ACCOUNT}:role/cni",
        tags={"owner": "ml"},
    )["addon"]
    assert cni["status"] == "CREATING" and cni["addonVersion"] == "v1.18.3-eksbuild.3"
    assert cni["addonArn"].startswith(f"arn:aws:eks:{REGION}:{ACCOUNT}:addon/addons/vpc-cni/")
    assert cni["serviceAccountRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/cni"
    coredns = eks.create_addon(clusterName="addons", addonName="coredns")["addon"]
    default = eks.describe_addon_versions(addonName="coredns", kubernetesVersion="1.32")["addons"][
        0
    ]
    expected = [
        v["addonVersion"]
        for v in default["addonVersions"]
        if v["compatibilities"][0]["defaultVersion"]
    ]
    assert [coredns["addonVersion"]] == expected
    got = eks.describe_addon(clusterName="addons", addonName="vpc-cni")["addon"]
    assert got == cni
    assert sorted(eks.list_addons(clusterName="addons")["addons"]) == ["coredns", "vpc-cni"]
    pages = list(
        eks.get_paginator("list_addons").paginate(
            clusterName="addons", PaginationConfig={"PageSize": 1}
        )
    )
    assert [p["addons"] for p in pages if p["addons"]] in (
        [["coredns"], ["vpc-cni"]],
        [["vpc-cni"], ["coredns"]],
    )
    with pytest.raises(ClientError) as err:
        eks.create_addon(clusterName="addons", addonName="vpc-cni")
    assert error(err) == (409, "ResourceInUseException")
    assert message(err) == "Addon already exists."
    with pytest.raises(ClientError) as err:
        eks.create_addon(
            clusterName="addons", addonName="kube-proxy", addonVersion="v1.30.6-eksbuild.3"
        )
    assert error(err) == (400, "InvalidParameterException")
    assert message(err) == "Addon version specified is not supported"
    assert err.value.response["addonName"] == "kube-proxy"
    with pytest.raises(ClientError) as err:
        eks.create_addon(clusterName="addons", addonName="no-such-addon")
    assert error(err) == (400, "InvalidParameterException")
    assert message(err) == "Addon specified is not supported"
    with pytest.raises(ClientError) as err:
        eks.describe_addon(clusterName="addons", addonName="kube-proxy")
    assert error(err) == (404, "ResourceNotFoundException")
    assert message(err) == "No addon: kube-proxy found in cluster: addons"
    with pytest.raises(ClientError) as err:
        eks.create_addon(clusterName="nowhere", addonName="vpc-cni")
    assert error(err) == (404, "ResourceNotFoundException")
    with pytest.raises(ClientError) as err:  # still being installed
        eks.update_addon(
            clusterName="addons", addonName="vpc-cni", addonVersion="v1.19.2-eksbuild.1"
        )
    assert error(err) == (409, "ResourceInUseException")
    activate_addon(aws, "addons", "vpc-cni")
    assert (
        eks.describe_addon(clusterName="addons", addonName="vpc-cni")["addon"]["status"] == "ACTIVE"
    )
    update = eks.update_addon(
        clusterName="addons",
        addonName="vpc-cni",
        addonVersion="v1.19.2-eksbuild.1",
        resolveConflicts="OVERWRITE",
    )["update"]
    assert update["type"] == "AddonUpdate" and update["status"] == "InProgress"
    assert {"type": "AddonVersion", "value": "v1.19.2-eksbuild.1"} in update["params"]
    assert (
        eks.describe_addon(clusterName="addons", addonName="vpc-cni")["addon"]["status"]
        == "UPDATING"
    )
    assert (
        eks.describe_update(name="addons", updateId=update["id"], addonName="vpc-cni")["update"]
        == update
    )
    assert eks.list_updates(name="addons", addonName="vpc-cni")["updateIds"] == [update["id"]]
    assert eks.list_updates(name="addons")["updateIds"] == []  # the cluster's own
    finish(aws, "addons", update["id"], addon="vpc-cni")
    done = eks.describe_addon(clusterName="addons", addonName="vpc-cni")["addon"]
    assert (done["status"], done["addonVersion"]) == ("ACTIVE", "v1.19.2-eksbuild.1")
    with pytest.raises(ClientError) as err:
        eks.update_addon(
            clusterName="addons", addonName="vpc-cni", addonVersion="v9.9.9-eksbuild.1"
        )
    assert error(err) == (400, "InvalidParameterException")
    deleted = eks.delete_addon(clusterName="addons", addonName="coredns", preserve=True)["addon"]
    assert deleted["status"] == "DELETING"
    with pytest.raises(ClientError) as err:
        eks.update_addon(clusterName="addons", addonName="coredns", resolveConflicts="NONE")
    assert error(err) == (400, "InvalidRequestException")


# ---------------------------------------------------------------- access entries


def test_access_entries(aws: AwsServer, network: dict[str, Any]) -> None:
    eks = aws.client("eks")
    create(eks, "access", network["subnets"], accessConfig={"authenticationMode": "API"})
    entry = eks.create_access_entry(
        clusterName="access",
        principalArn=ENGINEER,
        kubernetesGroups=["ml-engineers"],
        tags={"team": "ml"},
    )["accessEntry"]
    assert entry["type"] == "STANDARD"
    assert (
        entry["username"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/ml-engineer/{{{{SessionName}}}}"
    )
    assert entry["kubernetesGroups"] == ["ml-engineers"]
    assert entry["accessEntryArn"].startswith(
        f"arn:aws:eks:{REGION}:{ACCOUNT}:access-entry/access/role/{ACCOUNT}/ml-engineer/"
    )
    assert (
        eks.describe_access_entry(clusterName="access", principalArn=ENGINEER)["accessEntry"]
        == entry
    )
    associated = eks.associate_access_policy(
        clusterName="access",
        principalArn=ENGINEER,
        policyArn=POLICY + "AmazonEKSEditPolicy",
        accessScope={"type": "namespace", "namespaces": ["ml"]},
    )
    assert associated["clusterName"] == "access" and associated["principalArn"] == ENGINEER
    assert associated["associatedAccessPolicy"]["accessScope"] == {
        "type": "namespace",
        "namespaces": ["ml"],
    }
    eks.associate_access_policy(
        clusterName="access",
        principalArn=ENGINEER,
        policyArn=POLICY + "AmazonEKSViewPolicy",
        accessScope={"type": "cluster"},
    )
    held = eks.list_associated_access_policies(clusterName="access", principalArn=ENGINEER)
    assert [
        (p["policyArn"], p["accessScope"]["type"]) for p in held["associatedAccessPolicies"]
    ] == [
        (POLICY + "AmazonEKSEditPolicy", "namespace"),
        (POLICY + "AmazonEKSViewPolicy", "cluster"),
    ]
    by_policy = eks.list_access_entries(
        clusterName="access", associatedPolicyArn=POLICY + "AmazonEKSEditPolicy"
    )
    assert by_policy["accessEntries"] == [ENGINEER]
    assert sorted(eks.list_access_entries(clusterName="access")["accessEntries"]) == sorted(
        [CALLER, ENGINEER]
    )
    node = eks.create_access_entry(
        clusterName="access", principalArn=NODE_ROLE, type="HYPERPOD_LINUX"
    )["accessEntry"]
    assert node["type"] == "HYPERPOD_LINUX"
    assert node["username"] == "system:node:{{SessionName}}"
    assert node["kubernetesGroups"] == ["system:nodes"]
    with pytest.raises(ClientError) as err:  # node entries take no access policies
        eks.associate_access_policy(
            clusterName="access",
            principalArn=NODE_ROLE,
            policyArn=POLICY + "AmazonEKSViewPolicy",
            accessScope={"type": "cluster"},
        )
    assert error(err) == (400, "InvalidParameterException")
    with pytest.raises(ClientError) as err:  # node entries are for roles only
        eks.create_access_entry(
            clusterName="access",
            principalArn=f"arn:aws:iam::{ACCOUNT}:user/bob",
            type="HYPERPOD_LINUX",
        )
    assert error(err) == (400, "InvalidParameterException")
    with pytest.raises(ClientError) as err:
        eks.create_access_entry(clusterName="access", principalArn=ENGINEER)
    assert error(err) == (409, "ResourceInUseException")
    assert message(err) == "The specified access entry resource is already in use on this cluster."
    with pytest.raises(ClientError) as err:
        eks.create_access_entry(
            clusterName="access", principalArn=f"arn:aws:iam::{ACCOUNT}:role/x", type="NOT_A_TYPE"
        )
    assert error(err) == (400, "InvalidParameterException")
    missing = f"arn:aws:iam::{ACCOUNT}:role/nobody"
    with pytest.raises(ClientError) as err:
        eks.describe_access_entry(clusterName="access", principalArn=missing)
    assert error(err) == (404, "ResourceNotFoundException")
    assert message(err).startswith("The specified principalArn could not be found.")
    with pytest.raises(ClientError) as err:
        eks.associate_access_policy(
            clusterName="access",
            principalArn=ENGINEER,
            policyArn=POLICY + "NoSuchPolicy",
            accessScope={"type": "cluster"},
        )
    assert error(err) == (400, "InvalidParameterException")
    eks.disassociate_access_policy(
        clusterName="access", principalArn=ENGINEER, policyArn=POLICY + "AmazonEKSViewPolicy"
    )
    eks.delete_access_entry(clusterName="access", principalArn=NODE_ROLE)
    assert sorted(eks.list_access_entries(clusterName="access")["accessEntries"]) == sorted(
        [CALLER, ENGINEER]
    )
    policies = eks.get_paginator("list_access_policies").paginate(PaginationConfig={"PageSize": 5})
    arns = [p["arn"] for page in policies for p in page["accessPolicies"]]
    assert POLICY + "AmazonSagemakerHyperpodClusterPolicy" in arns and len(arns) >= 19


# ---------------------------------------------------------------- persistence


def snapshot(eks: Any, name: str, principal: str, update_id: str) -> dict[str, Any]:
    calls = {
        "cluster": eks.describe_cluster(name=name),
        "clusters": eks.list_clusters(),
        "addon": eks.describe_addon(clusterName=name, addonName="vpc-cni"),
        "addons": eks.list_addons(clusterName=name),
        "entry": eks.describe_access_entry(clusterName=name, principalArn=principal),
        "entries": eks.list_access_entries(clusterName=name),
        "policies": eks.list_associated_access_policies(clusterName=name, principalArn=principal),
        "update": eks.describe_update(name=name, updateId=update_id),
    }
    for out in calls.values():
        out.pop("ResponseMetadata")
    return calls


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    first = AwsServer(tmp_path).start()
    try:
        network = make_network(first)
        eks = first.client("eks")
        create(
            eks,
            "durable",
            network["subnets"],
            accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"},
        )
        eks.create_addon(
            clusterName="durable", addonName="vpc-cni", addonVersion="v1.19.0-eksbuild.1"
        )
        eks.create_access_entry(clusterName="durable", principalArn=ENGINEER)
        eks.associate_access_policy(
            clusterName="durable",
            principalArn=ENGINEER,
            policyArn=POLICY + "AmazonEKSAdminPolicy",
            accessScope={"type": "namespace", "namespaces": ["a", "b"]},
        )
        activate(first, "durable")
        update = eks.update_cluster_config(
            name="durable", accessConfig={"authenticationMode": "API"}
        )["update"]
        before = snapshot(eks, "durable", ENGINEER, update["id"])
    finally:
        first.stop()
    second = AwsServer(tmp_path).start()
    try:
        eks = second.client("eks")
        after = snapshot(eks, "durable", ENGINEER, update["id"])
        assert after == before
        assert after["cluster"]["cluster"]["status"] == "UPDATING"
        assert after["cluster"]["cluster"]["resourcesVpcConfig"]["vpcId"] == network["vpc"]
        with pytest.raises(ClientError) as err:  # the update in progress is still known
            eks.update_cluster_config(name="durable", accessConfig={"authenticationMode": "API"})
        assert error(err) == (409, "ResourceInUseException")
        assert update["id"] in message(err)
    finally:
        second.stop()
