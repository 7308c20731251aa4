"""IAM of the local AWS account: handlers, policy documents, AWS-managed policies, persistence."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from podwarden.control.context import Context
from podwarden.control.iam import OPERATIONS as HANDLERS
from podwarden.control.iam import policy_doc as pdoc
from podwarden.model.errors import PodwardenError
from podwarden.policy.aws_policies import load_aws_policies, parse_aws_policies
from podwarden.policy.yaml_tables import TableError
from podwarden.wire.errors import wire_error
from tests.aws_helpers import ACCOUNT, SAGEMAKER_TRUST_POLICY, assert_shape, make_context

AWS = "arn:aws:iam::aws:policy/"
INSTANCE_POLICY = AWS + "AmazonSageMakerClusterInstanceRolePolicy"
SAGEMAKER_TRUST = json.dumps(SAGEMAKER_TRUST_POLICY)
S3_READ = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
)


def call(ctx: Context, op: str, **params: Any) -> dict[str, Any]:
    """Run a handler and check its output against botocore's output shape."""
    out = HANDLERS[op](ctx, params)
    assert_shape("iam", op, out)
    return out


def fails(ctx: Context, op: str, code: str, status: int, **params: Any) -> str:
    with pytest.raises(PodwardenError) as info:
        HANDLERS[op](ctx, params)
    err = wire_error("iam", info.value)  # as IAM answers it (podwarden.wire.errors_iam)
    assert (err.code, err.status) == (code, status), err.message
    return err.message


def decoded(text: str) -> Any:
    """What boto3 does with a policy document IAM returns: URL-decode, then parse the JSON."""
    return json.loads(unquote(text))


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return make_context(tmp_path)


def make_role(ctx: Context, name: str = "exec", **params: Any) -> dict[str, Any]:
    return call(
        ctx, "CreateRole", RoleName=name, AssumeRolePolicyDocument=SAGEMAKER_TRUST, **params
    )


# --- the HyperPod execution role, as the preflight will read it ----------------------------------


def test_hyperpod_execution_role_flow(ctx: Context) -> None:
    created = make_role(ctx, "HyperPodExecutionRole", Path="/hyperpod/")["Role"]
    call(ctx, "AttachRolePolicy", RoleName="HyperPodExecutionRole", PolicyArn=INSTANCE_POLICY)

    role = call(ctx, "GetRole", RoleName="HyperPodExecutionRole")["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/hyperpod/HyperPodExecutionRole"
    assert role["RoleId"] == created["RoleId"]
    assert re.fullmatch(r"AROA[A-Z0-9]{17}", role["RoleId"])
    assert role["MaxSessionDuration"] == 3600 and role["RoleLastUsed"] == {}
    assert "%22" in role["AssumeRolePolicyDocument"]  # URL-encoded, as IAM sends it
    trust = decoded(role["AssumeRolePolicyDocument"])
    assert trust["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}

    attached = call(ctx, "ListAttachedRolePolicies", RoleName="HyperPodExecutionRole")
    assert attached["AttachedPolicies"] == [
        {"PolicyName": "AmazonSageMakerClusterInstanceRolePolicy", "PolicyArn": INSTANCE_POLICY}
    ]
    assert attached["IsTruncated"] is False
    policy = call(ctx, "GetPolicy", PolicyArn=INSTANCE_POLICY)["Policy"]
    assert policy["AttachmentCount"] == 1 and policy["DefaultVersionId"] == "v1"
    version = call(ctx, "GetPolicyVersion", PolicyArn=INSTANCE_POLICY, VersionId="v1")
    document = decoded(version["PolicyVersion"]["Document"])
    sids = [s["Sid"] for s in document["Statement"]]
    assert "DataRetrievalFromS3BucketPermissions" in sids


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    first = make_context(tmp_path)
    role = make_role(first, tags := "tagged", Tags=[{"Key": "team", "Value": "ml"}])["Role"]
    call(first, "AttachRolePolicy", RoleName=tags, PolicyArn=INSTANCE_POLICY)
    call(first, "PutRolePolicy", RoleName=tags, PolicyName="s3", PolicyDocument=S3_READ)
    policy = call(first, "CreatePolicy", PolicyName="mine", PolicyDocument=S3_READ)["Policy"]
    call(first, "CreateInstanceProfile", InstanceProfileName="nodes")
    call(first, "AddRoleToInstanceProfile", InstanceProfileName="nodes", RoleName=tags)

    again = make_context(tmp_path)  # a new Store on the same SQLite file
    assert call(again, "GetRole", RoleName=tags)["Role"]["RoleId"] == role["RoleId"]
    assert call(again, "ListRoleTags", RoleName=tags)["Tags"] == [{"Key": "team", "Value": "ml"}]
    attached = call(again, "ListAttachedRolePolicies", RoleName=tags)["AttachedPolicies"]
    assert [a["PolicyArn"] for a in attached] == [INSTANCE_POLICY]
    assert call(again, "ListRolePolicies", RoleName=tags)["PolicyNames"] == ["s3"]
    got = call(again, "GetPolicy", PolicyArn=policy["Arn"])["Policy"]
    assert got["PolicyId"] == policy["PolicyId"]
    profile = call(again, "GetInstanceProfile", InstanceProfileName="nodes")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [tags]


# --- roles ---------------------------------------------------------------------------------------


def test_create_role_returns_what_was_asked(ctx: Context) -> None:
    role = make_role(
        ctx,
        "r1",
        Description="d",
        MaxSessionDuration=7200,
        Tags=[{"Key": "k", "Value": "v"}],
        PermissionsBoundary=AWS + "AmazonS3ReadOnlyAccess",
    )["Role"]
    assert role["Description"] == "d" and role["MaxSessionDuration"] == 7200
    assert role["Tags"] == [{"Key": "k", "Value": "v"}]
    assert role["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "Policy",
        "PermissionsBoundaryArn": AWS + "AmazonS3ReadOnlyAccess",
    }
    assert role["CreateDate"].tzinfo is not None and "RoleLastUsed" not in role
    assert decoded(role["AssumeRolePolicyDocument"]) == json.loads(SAGEMAKER_TRUST)


def test_role_names_are_unique_ignoring_case(ctx: Context) -> None:
    make_role(ctx, "Exec")
    message = fails(
        ctx,
        "CreateRole",
        "EntityAlreadyExists",
        409,
        RoleName="EXEC",
        AssumeRolePolicyDocument=SAGEMAKER_TRUST,
    )
    assert message == "Role with name EXEC already exists."
    assert call(ctx, "GetRole", RoleName="exec")["Role"]["RoleName"] == "Exec"


def test_unknown_role(ctx: Context) -> None:
    message = fails(ctx, "GetRole", "NoSuchEntity", 404, RoleName="nope")
    assert message == "The role with name nope cannot be found."
    fails(ctx, "DeleteRole", "NoSuchEntity", 404, RoleName="nope")
    fails(ctx, "AttachRolePolicy", "NoSuchEntity", 404, RoleName="nope", PolicyArn=INSTANCE_POLICY)


def test_unknown_permissions_boundary(ctx: Context) -> None:
    message = fails(
        ctx,
        "CreateRole",
        "NoSuchEntity",
        404,
        RoleName="r",
        AssumeRolePolicyDocument=SAGEMAKER_TRUST,
        PermissionsBoundary=AWS + "Nope",
    )
    assert message == f"Scope ARN: {AWS}Nope does not exist or is not attachable."


def test_list_roles_pages_and_filters(ctx: Context) -> None:
    for name in ("e", "d", "c", "b", "a"):
        make_role(ctx, name, Path="/team/" if name in "ab" else "/")
    first = call(ctx, "ListRoles", MaxItems=2)
    assert [r["RoleName"] for r in first["Roles"]] == ["a", "b"] and first["IsTruncated"]
    assert "Tags" not in first["Roles"][0] and "RoleLastUsed" not in first["Roles"][0]
    names = [r["RoleName"] for r in first["Roles"]]
    marker = first["Marker"]
    while marker:
        more = call(ctx, "ListRoles", MaxItems=2, Marker=marker)
        names += [r["RoleName"] for r in more["Roles"]]
        marker = more.get("Marker")
    assert names == ["a", "b", "c", "d", "e"] and more["IsTruncated"] is False
    team = call(ctx, "ListRoles", PathPrefix="/team/")["Roles"]
    assert [r["RoleName"] for r in team] == ["a", "b"]
    fails(ctx, "ListRoles", "InvalidInput", 400, Marker="not-a-marker")


def test_a_marker_pages_only_the_listing_that_issued_it(ctx: Context) -> None:
    """A Marker is bound to the request's other members (``PathPrefix``, ``RoleName``...), not
    to ``MaxItems``: replayed with another PathPrefix, or for another role, it is refused as IAM
    refuses an invalid Marker instead of paging a listing it was not issued for."""
    for name in ("a", "b", "c", "d"):
        make_role(ctx, name, Path="/team/" if name in "abc" else "/")
        call(ctx, "TagRole", RoleName=name, Tags=[{"Key": "k1"}, {"Key": "k2"}])
    marker = call(ctx, "ListRoles", PathPrefix="/team/", MaxItems=1)["Marker"]
    rest = call(ctx, "ListRoles", PathPrefix="/team/", Marker=marker, MaxItems=5)["Roles"]
    assert [r["RoleName"] for r in rest] == ["b", "c"]
    for other in ({"PathPrefix": "/"}, {}, {"PathPrefix": "/team/a/"}):
        message = fails(ctx, "ListRoles", "InvalidInput", 400, Marker=marker, **other)
        assert message == "Invalid Marker."
    tags = call(ctx, "ListRoleTags", RoleName="a", MaxItems=1)
    assert tags["IsTruncated"]
    assert call(ctx, "ListRoleTags", RoleName="a", Marker=tags["Marker"])["Tags"] == [
        {"Key": "k2", "Value": ""}
    ]
    message = fails(ctx, "ListRoleTags", "InvalidInput", 400, RoleName="b", Marker=tags["Marker"])
    assert message == "Invalid Marker."


def test_delete_role_needs_it_bare(ctx: Context) -> None:
    make_role(ctx, "r")
    call(ctx, "AttachRolePolicy", RoleName="r", PolicyArn=INSTANCE_POLICY)
    message = fails(ctx, "DeleteRole", "DeleteConflict", 409, RoleName="r")
    assert message == "Cannot delete entity, must detach all policies first."
    call(ctx, "DetachRolePolicy", RoleName="r", PolicyArn=INSTANCE_POLICY)
    call(ctx, "PutRolePolicy", RoleName="r", PolicyName="p", PolicyDocument=S3_READ)
    message = fails(ctx, "DeleteRole", "DeleteConflict", 409, RoleName="r")
    assert message == "Cannot delete entity, must delete policies first."
    call(ctx, "DeleteRolePolicy", RoleName="r", PolicyName="p")
    call(ctx, "CreateInstanceProfile", InstanceProfileName="ip")
    call(ctx, "AddRoleToInstanceProfile", InstanceProfileName="ip", RoleName="r")
    message = fails(ctx, "DeleteRole", "DeleteConflict", 409, RoleName="r")
    assert message == "Cannot delete entity, must remove roles from instance profile first."
    call(ctx, "RemoveRoleFromInstanceProfile", InstanceProfileName="ip", RoleName="r")
    assert call(ctx, "DeleteRole", RoleName="r") == {}
    fails(ctx, "GetRole", "NoSuchEntity", 404, RoleName="r")


def test_update_trust_and_settings(ctx: Context) -> None:
    make_role(ctx, "r")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    call(ctx, "UpdateAssumeRolePolicy", RoleName="r", PolicyDocument=trust)
    call(ctx, "UpdateRole", RoleName="r", MaxSessionDuration=43200)
    call(ctx, "UpdateRoleDescription", RoleName="r", Description="now described")
    role = call(ctx, "GetRole", RoleName="r")["Role"]
    assert decoded(role["AssumeRolePolicyDocument"]) == json.loads(trust)
    assert role["MaxSessionDuration"] == 43200 and role["Description"] == "now described"
    fails(
        ctx,
        "UpdateAssumeRolePolicy",
        "MalformedPolicyDocument",
        400,
        RoleName="r",
        PolicyDocument="{",
    )


def test_role_tags(ctx: Context) -> None:
    make_role(ctx, "r", Tags=[{"Key": "a", "Value": "1"}])
    call(
        ctx, "TagRole", RoleName="r", Tags=[{"Key": "A", "Value": "2"}, {"Key": "b", "Value": "3"}]
    )
    tags = call(ctx, "ListRoleTags", RoleName="r")["Tags"]
    assert tags == [{"Key": "A", "Value": "2"}, {"Key": "b", "Value": "3"}]  # keys ignore case
    call(ctx, "UntagRole", RoleName="r", TagKeys=["a"])
    page = call(ctx, "ListRoleTags", RoleName="r", MaxItems=1)
    assert page["Tags"] == [{"Key": "b", "Value": "3"}] and page["IsTruncated"] is False
    dup = [{"Key": "x", "Value": "1"}, {"Key": "X", "Value": "2"}]
    message = fails(ctx, "TagRole", "InvalidInput", 400, RoleName="r", Tags=dup)
    assert message.startswith("Duplicate tag keys found.")
    many = [{"Key": f"k{i}", "Value": ""} for i in range(50)]
    fails(ctx, "TagRole", "LimitExceeded", 409, RoleName="r", Tags=many)


# --- inline policies -----------------------------------------------------------------------------


def test_inline_policies(ctx: Context) -> None:
    make_role(ctx, "r")
    call(ctx, "PutRolePolicy", RoleName="r", PolicyName="b", PolicyDocument=S3_READ)
    call(ctx, "PutRolePolicy", RoleName="r", PolicyName="a", PolicyDocument=S3_READ)
    assert call(ctx, "ListRolePolicies", RoleName="r")["PolicyNames"] == ["a", "b"]
    got = call(ctx, "GetRolePolicy", RoleName="r", PolicyName="a")
    assert got["RoleName"] == "r" and decoded(got["PolicyDocument"]) == json.loads(S3_READ)
    call(ctx, "DeleteRolePolicy", RoleName="r", PolicyName="a")
    message = fails(ctx, "GetRolePolicy", "NoSuchEntity", 404, RoleName="r", PolicyName="a")
    assert message == "The role policy with name a cannot be found."
    fails(ctx, "DeleteRolePolicy", "NoSuchEntity", 404, RoleName="r", PolicyName="a")


def test_inline_policies_share_a_size_quota(ctx: Context) -> None:
    make_role(ctx, "r")
    actions = [f"s3:Get{'x' * 40}{i}" for i in range(120)]
    big = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
    )
    call(ctx, "PutRolePolicy", RoleName="r", PolicyName="one", PolicyDocument=big)
    call(ctx, "PutRolePolicy", RoleName="r", PolicyName="one", PolicyDocument=big)  # replaces
    message = fails(
        ctx,
        "PutRolePolicy",
        "LimitExceeded",
        409,
        RoleName="r",
        PolicyName="two",
        PolicyDocument=big,
    )
    assert message == "Maximum policy size of 10240 bytes exceeded for role r"


# --- managed policies and attachments ------------------------------------------------------------


def test_aws_managed_policies_exist_everywhere(tmp_path: Path) -> None:
    ctx = make_context(tmp_path, account="111122223333")
    for name in (
        "AmazonSageMakerClusterInstanceRolePolicy",
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
        "AmazonEC2ContainerRegistryReadOnly",
        "AmazonSageMakerFullAccess",
        "AmazonEKSClusterPolicy",
        "AmazonS3ReadOnlyAccess",
        "AmazonEKSServicePolicy",
    ):
        policy = call(ctx, "GetPolicy", PolicyArn=AWS + name)["Policy"]
        assert policy["Arn"] == AWS + name and policy["Path"] == "/"
        assert policy["AttachmentCount"] == 0 and policy["Description"]
        assert re.fullmatch(r"ANPA[A-Z0-9]{17}", policy["PolicyId"])
    hyperpod = AWS + "aws-service-role/AmazonSageMakerHyperPodServiceRolePolicy"
    assert call(ctx, "GetPolicy", PolicyArn=hyperpod)["Policy"]["Path"] == "/aws-service-role/"
    (tmp_path / "other").mkdir()
    other = make_context(tmp_path / "other")
    assert (
        call(other, "GetPolicy", PolicyArn=INSTANCE_POLICY)["Policy"]["PolicyId"]
        == call(ctx, "GetPolicy", PolicyArn=INSTANCE_POLICY)["Policy"]["PolicyId"]
    )


def test_attach_errors(ctx: Context) -> None:
    make_role(ctx, "r")
    message = fails(ctx, "AttachRolePolicy", "NoSuchEntity", 404, RoleName="r", PolicyArn=AWS + "X")
    assert message == "Policy arn:aws:iam::aws:policy/X does not exist or is not attachable."
    message = fails(ctx, "AttachRolePolicy", "InvalidInput", 400, RoleName="r", PolicyArn="bogus")
    assert message == "ARN bogus is not valid."
    slr_policy = AWS + "aws-service-role/AmazonSageMakerHyperPodServiceRolePolicy"
    fails(ctx, "AttachRolePolicy", "PolicyNotAttachable", 400, RoleName="r", PolicyArn=slr_policy)
    message = fails(
        ctx, "DetachRolePolicy", "NoSuchEntity", 404, RoleName="r", PolicyArn=INSTANCE_POLICY
    )
    assert message == f"Policy {INSTANCE_POLICY} was not found."


def test_attach_is_idempotent_and_limited(ctx: Context) -> None:
    make_role(ctx, "r")
    call(ctx, "AttachRolePolicy", RoleName="r", PolicyArn=INSTANCE_POLICY)
    call(ctx, "AttachRolePolicy", RoleName="r", PolicyArn=INSTANCE_POLICY)
    assert len(call(ctx, "ListAttachedRolePolicies", RoleName="r")["AttachedPolicies"]) == 1
    for i in range(9):
        arn = call(ctx, "CreatePolicy", PolicyName=f"p{i}", PolicyDocument=S3_READ)["Policy"]["Arn"]
        call(ctx, "AttachRolePolicy", RoleName="r", PolicyArn=arn)
    extra = call(ctx, "CreatePolicy", PolicyName="p9", PolicyDocument=S3_READ)["Policy"]["Arn"]
    message = fails(ctx, "AttachRolePolicy", "LimitExceeded", 409, RoleName="r", PolicyArn=extra)
    assert message == "Cannot exceed quota for PoliciesPerRole: 10"
    first = call(ctx, "ListAttachedRolePolicies", RoleName="r", MaxItems=4)
    assert first["IsTruncated"] and first["AttachedPolicies"][0]["PolicyArn"] == INSTANCE_POLICY
    rest = call(ctx, "ListAttachedRolePolicies", RoleName="r", Marker=first["Marker"])
    assert len(rest["AttachedPolicies"]) == 6 and not rest["IsTruncated"]


def test_customer_policies(ctx: Context) -> None:
    created = call(
        ctx,
        "CreatePolicy",
        PolicyName="mine",
        Path="/team/",
        PolicyDocument=S3_READ,
        Description="d",
    )["Policy"]
    assert created["Arn"] == f"arn:aws:iam::{ACCOUNT}:policy/team/mine"
    assert re.fullmatch(r"ANPA[A-Z0-9]{17}", created["PolicyId"])
    assert created["DefaultVersionId"] == "v1" and created["AttachmentCount"] == 0
    got = call(ctx, "GetPolicy", PolicyArn=created["Arn"])["Policy"]
    assert got["Description"] == "d"
    message = fails(
        ctx, "CreatePolicy", "EntityAlreadyExists", 409, PolicyName="MINE", PolicyDocument=S3_READ
    )
    assert message == "A policy called MINE already exists. Duplicate names are not allowed."
    fails(ctx, "GetPolicy", "NoSuchEntity", 404, PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/mine")
    make_role(ctx, "r")
    call(ctx, "AttachRolePolicy", RoleName="r", PolicyArn=created["Arn"])
    message = fails(ctx, "DeletePolicy", "DeleteConflict", 409, PolicyArn=created["Arn"])
    assert message == "Cannot delete a policy attached to entities."
    call(ctx, "DetachRolePolicy", RoleName="r", PolicyArn=created["Arn"])
    call(ctx, "DeletePolicy", PolicyArn=created["Arn"])
    fails(ctx, "GetPolicy", "NoSuchEntity", 404, PolicyArn=created["Arn"])
    fails(ctx, "DeletePolicy", "UnmodifiableEntity", 400, PolicyArn=INSTANCE_POLICY)


def test_policy_versions(ctx: Context) -> None:
    arn = call(ctx, "CreatePolicy", PolicyName="v", PolicyDocument=S3_READ)["Policy"]["Arn"]
    v2 = call(ctx, "CreatePolicyVersion", PolicyArn=arn, PolicyDocument=S3_READ, SetAsDefault=True)
    assert v2["PolicyVersion"]["VersionId"] == "v2" and v2["PolicyVersion"]["IsDefaultVersion"]
    assert call(ctx, "GetPolicy", PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    for _ in range(3):
        call(ctx, "CreatePolicyVersion", PolicyArn=arn, PolicyDocument=S3_READ)
    fails(ctx, "CreatePolicyVersion", "LimitExceeded", 409, PolicyArn=arn, PolicyDocument=S3_READ)
    versions = call(ctx, "ListPolicyVersions", PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    message = fails(
        ctx, "DeletePolicyVersion", "DeleteConflict", 409, PolicyArn=arn, VersionId="v2"
    )
    assert message == "Cannot delete the default version of a policy."
    fails(ctx, "DeletePolicy", "DeleteConflict", 409, PolicyArn=arn)
    call(ctx, "SetDefaultPolicyVersion", PolicyArn=arn, VersionId="v1")
    for v in ("v2", "v3", "v4", "v5"):
        call(ctx, "DeletePolicyVersion", PolicyArn=arn, VersionId=v)
    fails(ctx, "GetPolicyVersion", "NoSuchEntity", 404, PolicyArn=arn, VersionId="v5")
    call(ctx, "DeletePolicy", PolicyArn=arn)
    fails(
        ctx,
        "CreatePolicyVersion",
        "UnmodifiableEntity",
        400,
        PolicyArn=INSTANCE_POLICY,
        PolicyDocument=S3_READ,
    )


def test_list_policies_scopes_and_pages(ctx: Context) -> None:
    aws_count = len(load_aws_policies())
    call(ctx, "CreatePolicy", PolicyName="local", PolicyDocument=S3_READ)
    everything = call(ctx, "ListPolicies")["Policies"]
    assert len(everything) == aws_count + 1
    assert "Description" not in everything[0] and "Tags" not in everything[0]
    local = call(ctx, "ListPolicies", Scope="Local")["Policies"]
    assert [p["PolicyName"] for p in local] == ["local"]
    assert len(call(ctx, "ListPolicies", Scope="AWS")["Policies"]) == aws_count
    make_role(ctx, "r")
    call(ctx, "AttachRolePolicy", RoleName="r", PolicyArn=INSTANCE_POLICY)
    attached = call(ctx, "ListPolicies", OnlyAttached=True)["Policies"]
    assert [(p["Arn"], p["AttachmentCount"]) for p in attached] == [(INSTANCE_POLICY, 1)]
    service = call(ctx, "ListPolicies", Scope="AWS", PathPrefix="/aws-service-role/")["Policies"]
    assert {p["Path"] for p in service} == {"/aws-service-role/"}
    names, marker = [], None
    while True:
        page = call(ctx, "ListPolicies", MaxItems=3, **({"Marker": marker} if marker else {}))
        names += [p["PolicyName"] for p in page["Policies"]]
        marker = page.get("Marker")
        if not page["IsTruncated"]:
            break
    assert names == [p["PolicyName"] for p in everything]


# --- service-linked roles and instance profiles --------------------------------------------------


def test_service_linked_roles(ctx: Context) -> None:
    role = call(ctx, "CreateServiceLinkedRole", AWSServiceName="hyperpod.sagemaker.amazonaws.com")[
        "Role"
    ]
    assert role["RoleName"] == "AWSServiceRoleForSageMakerHyperPod"
    assert role["Path"] == "/aws-service-role/hyperpod.sagemaker.amazonaws.com/"
    trust = decoded(role["AssumeRolePolicyDocument"])
    assert trust["Statement"][0]["Principal"] == {"Service": "hyperpod.sagemaker.amazonaws.com"}
    attached = call(ctx, "ListAttachedRolePolicies", RoleName=role["RoleName"])["AttachedPolicies"]
    assert attached[0]["PolicyName"] == "AmazonSageMakerHyperPodServiceRolePolicy"
    message = fails(
        ctx,
        "CreateServiceLinkedRole",
        "InvalidInput",
        400,
        AWSServiceName="hyperpod.sagemaker.amazonaws.com",
    )
    assert message == (
        "Service role name AWSServiceRoleForSageMakerHyperPod has been taken in this account, "
        "please try a different suffix."
    )
    sagemaker = call(ctx, "CreateServiceLinkedRole", AWSServiceName="sagemaker.amazonaws.com")[
        "Role"
    ]
    assert sagemaker["RoleName"] == "AWSServiceRoleForAmazonSageMakerNotebooks"
    fails(ctx, "CreateServiceLinkedRole", "InvalidInput", 400, AWSServiceName="nope.amazonaws.com")
    fails(
        ctx,
        "CreateServiceLinkedRole",
        "InvalidInput",
        400,
        AWSServiceName="eks.amazonaws.com",
        CustomSuffix="x",
    )
    fails(ctx, "DeleteRole", "UnmodifiableEntity", 400, RoleName=role["RoleName"])
    fails(
        ctx,
        "DetachRolePolicy",
        "UnmodifiableEntity",
        400,
        RoleName=role["RoleName"],
        PolicyArn=attached[0]["PolicyArn"],
    )
    task = call(ctx, "DeleteServiceLinkedRole", RoleName=role["RoleName"])["DeletionTaskId"]
    assert task.startswith("task/aws-service-role/hyperpod.sagemaker.amazonaws.com/")
    status = call(ctx, "GetServiceLinkedRoleDeletionStatus", DeletionTaskId=task)
    assert status == {"Status": "SUCCEEDED"}
    fails(ctx, "GetRole", "NoSuchEntity", 404, RoleName=role["RoleName"])


def test_instance_profiles(ctx: Context) -> None:
    make_role(ctx, "node")
    profile = call(ctx, "CreateInstanceProfile", InstanceProfileName="nodes", Path="/eks/")
    assert profile["InstanceProfile"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:instance-profile/eks/nodes"
    assert re.fullmatch(r"AIPA[A-Z0-9]{17}", profile["InstanceProfile"]["InstanceProfileId"])
    fails(ctx, "CreateInstanceProfile", "EntityAlreadyExists", 409, InstanceProfileName="NODES")
    call(ctx, "AddRoleToInstanceProfile", InstanceProfileName="nodes", RoleName="node")
    fails(
        ctx,
        "AddRoleToInstanceProfile",
        "LimitExceeded",
        409,
        InstanceProfileName="nodes",
        RoleName="node",
    )
    for_role = call(ctx, "ListInstanceProfilesForRole", RoleName="node")["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in for_role] == ["nodes"]
    assert len(call(ctx, "ListInstanceProfiles")["InstanceProfiles"]) == 1
    fails(ctx, "DeleteInstanceProfile", "DeleteConflict", 409, InstanceProfileName="nodes")
    call(ctx, "RemoveRoleFromInstanceProfile", InstanceProfileName="nodes", RoleName="node")
    call(ctx, "DeleteInstanceProfile", InstanceProfileName="nodes")
    fails(ctx, "GetInstanceProfile", "NoSuchEntity", 404, InstanceProfileName="nodes")


# --- policy documents ----------------------------------------------------------------------------


def _doc(*statements: dict[str, Any], version: str | None = "2012-10-17") -> str:
    body: dict[str, Any] = {"Statement": list(statements)}
    if version:
        body["Version"] = version
    return json.dumps(body)


ALLOW = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
PERMISSIONS_CASES = [
    ("{not json", "Syntax errors in policy."),
    ("[]", "Syntax errors in policy."),
    (json.dumps({"Version": "2012-10-17"}), "Syntax errors in policy."),
    (_doc(ALLOW, version=None), "Policy document must be version 2012-10-17 or greater."),
    (_doc(ALLOW, version="2008-10-17"), "Policy document must be version 2012-10-17 or greater."),
    (_doc(ALLOW, version="2020-01-01"), "Syntax errors in policy."),
    (_doc({**ALLOW, "Extra": 1}), "Syntax errors in policy."),
    (_doc({**ALLOW, "Effect": "allow"}), "The policy failed legacy parsing"),
    (
        _doc({**ALLOW, "Sid": "a"}, {**ALLOW, "Sid": "a"}),
        "Statement IDs (SID) in a single policy must be unique.",
    ),
    (_doc({"Effect": "Allow", "Resource": "*"}), "Policy statement must contain actions."),
    (_doc({"Effect": "Allow", "Action": "s3:*"}), "Policy statement must contain resources."),
    (_doc({**ALLOW, "Resource": "bucket"}), 'Resource bucket must be in ARN format or "*".'),
    (
        _doc({**ALLOW, "Action": "GetObject"}),
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
    ),
    (_doc({**ALLOW, "Action": "s3:a:b"}), "Actions/Condition can contain only one colon."),
    (_doc({**ALLOW, "Principal": "*"}), "Policy document should not specify a principal."),
    # issue #17: what IAM's grammar rejects beyond JSON types
    (
        _doc({**ALLOW, "Resource": "arn:error:s3:::b"}),
        'Partition "error" is not valid for resource "arn:error:s3:::b".',
    ),
    (
        _doc({**ALLOW, "Resource": "a:b:cadfsdf"}),
        'Partition "b" is not valid for resource "arn:b:cadfsdf:*:*:*".',
    ),
    (
        _doc(
            {**ALLOW, "Resource": ["arn:error:s3:::example_bucket", "arn:error:s3::example_bucket"]}
        ),
        'Partition "error" is not valid for resource "arn:error:s3:::example_bucket".',
    ),
    (
        _doc({**ALLOW, "Resource": "arn:aws:iam:us-east-1:123456789012:role/x"}),
        "IAM resource arn:aws:iam:us-east-1:123456789012:role/x cannot contain region information.",
    ),
    (
        _doc({**ALLOW, "Resource": "arn:aws:s3:us-east-1::b"}),
        "Resource arn:aws:s3:us-east-1::b can not contain region information.",
    ),
    (
        _doc({**ALLOW, "Resource": "arn:aws:iam:::example"}),
        'IAM resource path must either be "*" or start with user/, federated-user/, role/, '
        "group/, instance-profile/, mfa/, server-certificate/, policy/, sms-mfa/, "
        "saml-provider/, oidc-provider/, report/, access-report/.",
    ),
    (
        _doc({**ALLOW, "Resource": "arn:aws"}),
        "Resource vendor must be fully qualified and cannot contain regexes.",
    ),
    (_doc({**ALLOW, "Resource": "arn:aws:s3::b"}), "The policy failed legacy parsing"),
    (_doc({**ALLOW, "Resource": "arn:aws::::b"}), "The policy failed legacy parsing"),
    (
        _doc({**ALLOW, "Condition": {"DateGreaterThan": {"aws:CurrentTime": "yesterday"}}}),
        "The policy failed legacy parsing",
    ),
    (
        _doc({**ALLOW, "Condition": {"ForAnyValue:DateLessThan": {"aws:CurrentTime": ["234-13"]}}}),
        "The policy failed legacy parsing",
    ),
    (
        _doc({**ALLOW, "Condition": {"StringSortOf": {"aws:username": "a"}}}),
        "Syntax errors in policy.",
    ),
    (
        _doc({**ALLOW, "Condition": {"ForAnyValue::StringEquals": {"aws:username": "a"}}}),
        "Syntax errors in policy.",
    ),
    (_doc({**ALLOW, "Condition": {"StringEquals": {"a": {}}}}), "Syntax errors in policy."),
    (_doc({**ALLOW, "Condition": {"StringEquals": {"a": [None]}}}), "Syntax errors in policy."),
    (_doc({**ALLOW, "Condition": {"StringEquals": "a"}}), "Syntax errors in policy."),
    # the order of IAM's checks: legacy parsing before Sids, actions before resource ARNs
    (
        _doc({**ALLOW, "Resource": "arn:error:s3:::b", "Condition": {"DateEquals": {"a": "x"}}}),
        "The policy failed legacy parsing",
    ),
    (
        _doc({"Effect": "Allow", "Resource": "arn:error:s3:::b"}),
        "Policy statement must contain actions.",
    ),
    (
        _doc({**ALLOW, "Action": "GetObject", "Resource": "arn:error:s3:::b"}),
        'Partition "error" is not valid for resource "arn:error:s3:::b".',
    ),
]

VALID_DOCUMENTS = [
    _doc({**ALLOW, "Resource": "arn:aws:iam::*:user/${aws:username}"}),
    _doc({**ALLOW, "Resource": "arn:aws:iam::123456789012:*"}),
    _doc({**ALLOW, "Resource": "arn:aws:ec2:us-east-1::volume/*"}),
    _doc({**ALLOW, "Resource": "arn:aws:fdsasf"}),
    _doc({**ALLOW, "Resource": "arn:*:s3:::b"}),
    _doc({**ALLOW, "Condition": {"DateLessThanEquals": {"a": "2016-12-13T21:20:37.593194+00:00"}}}),
    _doc({**ALLOW, "Condition": {"DateGreaterThan": {"a": "01T"}, "DateLessThan": {"a": "1"}}}),
    _doc({**ALLOW, "Condition": {"ForAnyValue:StringEqualsIfExists": {"a": "asf"}}}),
    _doc({**ALLOW, "Condition": {"x": {}, "DateGreaterThan": {"a": []}}}),
    _doc({**ALLOW, "Condition": {"Bool": {"aws:SecureTransport": False}}}),
    _doc({**ALLOW, "Condition": {"NumericLessThan": {"s3:max-keys": 10}}}),
    _doc({**ALLOW, "Condition": {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}}}),
    _doc({**ALLOW, "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}}}),
]


@pytest.mark.parametrize("text", VALID_DOCUMENTS)
def test_documents_iam_accepts(text: str) -> None:
    assert pdoc.check(text, pdoc.PERMISSIONS) == json.loads(text)


@pytest.mark.parametrize(("text", "message"), PERMISSIONS_CASES)
def test_permissions_policy_checks(text: str, message: str) -> None:
    with pytest.raises(PodwardenError) as info:
        pdoc.check(text, pdoc.PERMISSIONS)
    err = wire_error("iam", info.value)
    assert (err.code, err.status, err.message) == (
        "MalformedPolicyDocument",
        400,
        message,
    )


TRUST = {
    "Effect": "Allow",
    "Principal": {"Service": "sagemaker.amazonaws.com"},
    "Action": "sts:AssumeRole",
}
TRUST_CASES = [
    ("not json", "This policy contains invalid Json"),
    (_doc({**TRUST, "Resource": "*"}), "Has prohibited field Resource"),
    (
        _doc({k: v for k, v in TRUST.items() if k != "Principal"}),
        "Missing required field Principal",
    ),
    (
        _doc({**TRUST, "Principal": {"Service": "sagemaker"}}),
        'Invalid principal in policy: "SERVICE":"sagemaker"',
    ),
    (
        _doc({**TRUST, "Principal": {"AWS": "someone"}}),
        'Invalid principal in policy: "AWS":"someone"',
    ),
    (
        _doc({**TRUST, "Action": "s3:GetObject"}),
        "AssumeRole policy may only specify STS AssumeRole actions.",
    ),
]


@pytest.mark.parametrize(("text", "message"), TRUST_CASES)
def test_trust_policy_checks(text: str, message: str) -> None:
    with pytest.raises(PodwardenError) as info:
        pdoc.check(text, pdoc.TRUST)
    assert wire_error("iam", info.value).message == message


def test_trust_policy_accepts_the_old_version_and_one_statement() -> None:
    doc = json.dumps({"Version": "2008-10-17", "Statement": TRUST})
    assert pdoc.check(doc, pdoc.TRUST)["Statement"] == TRUST
    assert pdoc.check(_doc(TRUST, version=None), pdoc.TRUST)


def test_create_role_checks_its_trust_policy(ctx: Context) -> None:
    fails(
        ctx,
        "CreateRole",
        "MalformedPolicyDocument",
        400,
        RoleName="r",
        AssumeRolePolicyDocument="{",
    )
    long_trust = _doc(*[{**TRUST, "Sid": f"s{i:03}"} for i in range(40)])
    message = fails(
        ctx, "CreateRole", "LimitExceeded", 409, RoleName="r", AssumeRolePolicyDocument=long_trust
    )
    assert message == "Cannot exceed quota for ACLSizePerRole: 2048"


def test_documents_are_url_encoded_as_iam_does() -> None:
    text = '{"Version": "2012-10-17", "a/b": "c:d~e"}'
    encoded = pdoc.encode(text)
    assert encoded.startswith("%7B%22Version%22%3A%20%22") and "%2F" in encoded and "~" in encoded
    assert unquote(encoded) == text
    assert pdoc.size(' { "a" : 1 }\n') == 7


# --- the table of AWS-managed policies -----------------------------------------------------------


def test_table_loads_with_arns_and_documents() -> None:
    policies = load_aws_policies()
    for arn, policy in policies.items():
        assert arn == f"arn:aws:iam::aws:policy{policy.path}{policy.name}"
        assert json.loads(policy.document_json)["Version"] == "2012-10-17"
        assert re.fullmatch(r"v\d+", policy.version_id) and policy.updated >= policy.created
        pdoc.check(policy.document_json, pdoc.PERMISSIONS)  # AWS's documents pass IAM's checks


ENTRY = """\
policies:
  Good:
    path: /
    arn: arn:aws:iam::aws:policy/Good
    description: d
    version: v1
    created: "2020-01-01T00:00:00Z"
    updated: "2020-01-01T00:00:00Z"
    source: s
    document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "*", Resource: "*"}]}
"""


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("arn: arn:aws:iam::aws:policy/Good", "arn: arn:aws:iam::aws:policy/Bad"),
            ":4: policy 'Good', field 'arn'",
        ),
        (("path: /", "path: /x/"), ":3: policy 'Good', field 'path'"),
        (("version: v1", "version: 1"), ":6: policy 'Good', field 'version'"),
        (("    source: s\n", ""), "policy 'Good', field 'source': missing required field"),
        (
            ("    source: s\n", "    source: s\n    extra: 1\n"),
            ":10: policy 'Good', field 'extra': unknown field",
        ),
        (
            ('created: "2020-01-01T00:00:00Z"', "created: soon"),
            ":7: policy 'Good', field 'created'",
        ),
        (("Effect: Allow, ", ""), "policy 'Good', field 'document'"),
        (("policies:", "policy:"), "expected exactly one top-level key"),
    ],
)
def test_table_errors_name_the_entry(change: tuple[str, str], expected: str) -> None:
    parse_aws_policies(ENTRY, "t.yaml")
    with pytest.raises(TableError) as info:
        parse_aws_policies(ENTRY.replace(*change), "t.yaml")
    assert expected in str(info.value) and str(info.value).startswith("t.yaml")


@pytest.mark.parametrize("depth", [pdoc.MAX_DEPTH + 1, 5000, 100_000])
def test_a_deeply_nested_document_is_malformed_not_a_crash(depth: int) -> None:
    """A Statement nested thousands deep raised RecursionError (HTTP 500) in the rule walk."""
    text = '{"Version": "2012-10-17", "Statement": ' + "[" * depth + "]" * depth + "}"
    with pytest.raises(PodwardenError) as err:
        pdoc.check(text, pdoc.PERMISSIONS)
    assert wire_error("iam", err.value).code == "MalformedPolicyDocument"
