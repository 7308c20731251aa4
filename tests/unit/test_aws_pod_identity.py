"""EKS Pod Identity associations of the local AWS account: create, read, list, update, delete,
the role checks, add-on owned associations, and what goes with the cluster."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from podwarden.control.context import Context
from podwarden.control.eks import OPERATIONS as HANDLERS
from podwarden.control.eks import pod_identity as eks_pod_identity
from podwarden.control.iam import OPERATIONS as IAM
from podwarden.logic import eks_lifecycle
from podwarden.model.aws import kinds
from podwarden.model.errors import PodwardenError
from podwarden.operator import eks as eks_operator
from podwarden.wire.errors import wire_error
from tests.aws_helpers import (
    ACCOUNT,
    POD_TRUST,
    REGION,
    SAGEMAKER_TRUST_POLICY,
    assert_shape,
    make_context,
)

SCOPE = f"{ACCOUNT}/{REGION}"


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    c = make_context(tmp_path)
    HANDLERS["CreateCluster"](
        c,
        {
            "name": "c1",
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
            "resourcesVpcConfig": {"subnetIds": ["subnet-a", "subnet-b"]},
            "accessConfig": {"authenticationMode": "API"},
        },
    )
    return c


def role(ctx: Context, name: str, trust: dict[str, Any] = POD_TRUST) -> str:
    out = IAM["CreateRole"](ctx, {"RoleName": name, "AssumeRolePolicyDocument": json.dumps(trust)})
    return str(out["Role"]["Arn"])


def call(ctx: Context, op: str, **params: Any) -> dict[str, Any]:
    out = HANDLERS[op](ctx, params)
    assert_shape("eks", op, out)
    return out


def fails(ctx: Context, op: str, code: str, **params: Any) -> str:
    with pytest.raises(PodwardenError) as info:
        HANDLERS[op](ctx, params)
    error = wire_error("eks", info.value)
    assert error.code == code, error.message
    status = {"ResourceNotFoundException": 404, "ResourceInUseException": 409}.get(code, 400)
    assert error.status == status
    return error.message


def associate(ctx: Context, ns: str, sa: str, arn: str, **extra: Any) -> dict[str, Any]:
    params = {"clusterName": "c1", "namespace": ns, "serviceAccount": sa, "roleArn": arn}
    found: dict[str, Any] = call(ctx, "CreatePodIdentityAssociation", **params, **extra)[
        "association"
    ]
    return found


def test_create_describe_list_update_delete(ctx: Context) -> None:
    arn = role(ctx, "app")
    made = associate(ctx, "ml", "trainer", arn, tags={"team": "a"})
    assert re.fullmatch(r"a-[a-z0-9]{17}", made["associationId"])
    assert made["associationArn"] == (
        f"arn:aws:eks:{REGION}:{ACCOUNT}:podidentityassociation/c1/{made['associationId']}"
    )
    assert (made["namespace"], made["serviceAccount"], made["roleArn"]) == ("ml", "trainer", arn)
    assert made["tags"] == {"team": "a"} and made["disableSessionTags"] is False
    assert "ownerArn" not in made
    ident = {"clusterName": "c1", "associationId": made["associationId"]}
    assert call(ctx, "DescribePodIdentityAssociation", **ident)["association"] == made

    other = associate(ctx, "ml", "eval", arn)
    third = associate(ctx, "web", "trainer", arn)
    listed = call(ctx, "ListPodIdentityAssociations", clusterName="c1")["associations"]
    assert [a["associationId"] for a in listed] == [
        made["associationId"],
        other["associationId"],
        third["associationId"],
    ]
    assert set(listed[0]) == {
        "clusterName",
        "namespace",
        "serviceAccount",
        "associationArn",
        "associationId",
    }
    by_ns = call(ctx, "ListPodIdentityAssociations", clusterName="c1", namespace="ml")
    assert len(by_ns["associations"]) == 2
    by_sa = call(ctx, "ListPodIdentityAssociations", clusterName="c1", serviceAccount="trainer")
    assert {a["namespace"] for a in by_sa["associations"]} == {"ml", "web"}
    first = call(ctx, "ListPodIdentityAssociations", clusterName="c1", maxResults=2)
    assert len(first["associations"]) == 2 and first["nextToken"]
    rest = call(
        ctx,
        "ListPodIdentityAssociations",
        clusterName="c1",
        maxResults=2,
        nextToken=first["nextToken"],
    )
    assert [a["associationId"] for a in rest["associations"]] == [third["associationId"]]
    assert "nextToken" not in rest

    new_role = role(ctx, "app2")
    updated = call(ctx, "UpdatePodIdentityAssociation", **ident, roleArn=new_role)["association"]
    assert updated["roleArn"] == new_role and updated["createdAt"] == made["createdAt"]
    assert updated["modifiedAt"] >= made["modifiedAt"]
    assert "at least one" in fails(
        ctx, "UpdatePodIdentityAssociation", "InvalidParameterException", **ident
    )

    gone = call(ctx, "DeletePodIdentityAssociation", **ident)["association"]
    assert gone["associationId"] == made["associationId"]
    fails(ctx, "DescribePodIdentityAssociation", "ResourceNotFoundException", **ident)
    fails(ctx, "DeletePodIdentityAssociation", "ResourceNotFoundException", **ident)


def test_one_association_per_service_account(ctx: Context) -> None:
    arn = role(ctx, "app")
    made = associate(ctx, "ml", "trainer", arn)
    message = fails(
        ctx,
        "CreatePodIdentityAssociation",
        "ResourceInUseException",
        clusterName="c1",
        namespace="ml",
        serviceAccount="trainer",
        roleArn=arn,
    )
    assert message == f"Association already exists: {made['associationId']}"


def test_cluster_and_ids(ctx: Context) -> None:
    arn = role(ctx, "app")
    base = {"namespace": "ml", "serviceAccount": "t", "roleArn": arn}
    fails(ctx, "CreatePodIdentityAssociation", "ResourceNotFoundException", clusterName="x", **base)
    fails(ctx, "ListPodIdentityAssociations", "ResourceNotFoundException", clusterName="x")
    message = fails(
        ctx,
        "DescribePodIdentityAssociation",
        "InvalidParameterException",
        clusterName="c1",
        associationId="a-short",
    )
    assert message == "The parameter associationId should be 19 characters long."
    fails(
        ctx,
        "DescribePodIdentityAssociation",
        "ResourceNotFoundException",
        clusterName="c1",
        associationId="a-0123456789abcdefg",
    )


def test_the_role_must_exist_and_trust_pod_identity(ctx: Context) -> None:
    base = {"clusterName": "c1", "namespace": "ml", "serviceAccount": "t"}
    missing = f"arn:aws:iam::{ACCOUNT}:role/nope"
    message = fails(
        ctx, "CreatePodIdentityAssociation", "InvalidParameterException", **base, roleArn=missing
    )
    assert message == "Role provided in the request does not exist"
    sagemaker = role(ctx, "exec", SAGEMAKER_TRUST_POLICY)
    message = fails(
        ctx, "CreatePodIdentityAssociation", "InvalidParameterException", **base, roleArn=sagemaker
    )
    assert message.startswith("Trust policy of the role provided is invalid.")
    assume_only = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    no_tags = role(ctx, "notags", assume_only)
    fails(ctx, "CreatePodIdentityAssociation", "InvalidParameterException", **base, roleArn=no_tags)
    made = associate(ctx, "ml", "t", no_tags, disableSessionTags=True)
    assert made["disableSessionTags"] is True
    # turning session tags back on needs sts:TagSession
    ident = {"clusterName": "c1", "associationId": made["associationId"]}
    fails(
        ctx,
        "UpdatePodIdentityAssociation",
        "InvalidParameterException",
        **ident,
        disableSessionTags=False,
    )
    fails(
        ctx, "UpdatePodIdentityAssociation", "InvalidParameterException", **ident, roleArn=missing
    )


def test_trust_policy_reading() -> None:
    def trust(*statements: dict[str, Any]) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})

    pods = {"Service": ["ec2.amazonaws.com", "pods.eks.amazonaws.com"]}
    allow = {"Effect": "Allow", "Principal": pods, "Action": "sts:*"}
    assert eks_pod_identity.trusts_pods(trust(allow))
    deny = {"Effect": "Deny", "Principal": pods, "Action": "sts:TagSession"}
    assert not eks_pod_identity.trusts_pods(trust(allow, deny))
    assert eks_pod_identity.trusts_pods(trust(allow, deny), tag_session=False)
    assert eks_pod_identity.trusts_pods(trust({**allow, "Principal": "*"}))


def test_target_role_gets_an_external_id(ctx: Context) -> None:
    target = "arn:aws:iam::111122223333:role/cross"
    made = associate(ctx, "ml", "t", role(ctx, "app"), targetRoleArn=target)
    assert made["targetRoleArn"] == target and made["externalId"]


def test_addon_associations_are_real_and_owned(ctx: Context) -> None:
    arn = role(ctx, "cni")
    addon = call(
        ctx,
        "CreateAddon",
        clusterName="c1",
        addonName="vpc-cni",
        podIdentityAssociations=[{"serviceAccount": "aws-node", "roleArn": arn}],
    )["addon"]
    listed = call(ctx, "ListPodIdentityAssociations", clusterName="c1")["associations"]
    assert [a["associationArn"] for a in listed] == addon["podIdentityAssociations"]
    owned = listed[0]
    assert (owned["namespace"], owned["serviceAccount"]) == ("kube-system", "aws-node")
    assert owned["ownerArn"] == addon["addonArn"]
    ident = {"clusterName": "c1", "associationId": owned["associationId"]}
    fails(ctx, "DeletePodIdentityAssociation", "InvalidRequestException", **ident)
    fails(ctx, "UpdatePodIdentityAssociation", "InvalidRequestException", **ident, roleArn=arn)
    # the service account is taken: by hand, or by another add-on's pairs
    fails(
        ctx,
        "CreatePodIdentityAssociation",
        "ResourceInUseException",
        clusterName="c1",
        namespace="kube-system",
        serviceAccount="aws-node",
        roleArn=arn,
    )
    mine = associate(ctx, "kube-system", "coredns", arn)
    fails(
        ctx,
        "CreateAddon",
        "ResourceInUseException",
        clusterName="c1",
        addonName="coredns",
        podIdentityAssociations=[{"serviceAccount": "coredns", "roleArn": arn}],
    )
    assert call(ctx, "ListAddons", clusterName="c1")["addons"] == ["vpc-cni"]

    # UpdateAddon: re-point the kept one, add one, drop none
    rec = ctx.store.resources.get(kinds.EKS_ADDON, SCOPE, "c1/vpc-cni")
    assert rec is not None
    eks_lifecycle.activate_addon(rec.doc, ctx.now())
    ctx.store.resources.save(rec)
    other = role(ctx, "cni2")
    pairs = [
        {"serviceAccount": "aws-node", "roleArn": other},
        {"serviceAccount": "cni-metrics", "roleArn": arn},
    ]
    call(ctx, "UpdateAddon", clusterName="c1", addonName="vpc-cni", podIdentityAssociations=pairs)
    kept = call(ctx, "DescribePodIdentityAssociation", **ident)["association"]
    assert kept["roleArn"] == other
    names = {
        a["serviceAccount"]
        for a in call(ctx, "ListPodIdentityAssociations", clusterName="c1")["associations"]
    }
    assert names == {"aws-node", "cni-metrics", "coredns"}

    # the add-on goes: its associations go, the hand-made one stays
    call(ctx, "DeleteAddon", clusterName="c1", addonName="vpc-cni")
    eks_operator.forget_addon(ctx.store.resources, SCOPE, "c1", "vpc-cni")
    listed = call(ctx, "ListPodIdentityAssociations", clusterName="c1")["associations"]
    assert [a["associationId"] for a in listed] == [mine["associationId"]]


def test_associations_go_with_the_cluster(ctx: Context) -> None:
    associate(ctx, "ml", "t", role(ctx, "app"))
    assert ctx.store.resources.list(kinds.EKS_POD_IDENTITY, SCOPE)
    call(ctx, "DeleteCluster", name="c1")
    eks_operator.forget_cluster(ctx.store.resources, SCOPE, "c1")
    assert ctx.store.resources.list(kinds.EKS_POD_IDENTITY, SCOPE) == []
