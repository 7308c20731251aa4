"""EKS tags of the local AWS account: TagResource, UntagResource and ListTagsForResource on
clusters, add-ons, access entries and Pod Identity associations, with the EKS guide's rules and
the tag operations' own errors (BadRequestException, NotFoundException)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from podwarden.control.context import Context
from podwarden.control.eks import OPERATIONS as HANDLERS
from podwarden.control.eks import tags as eks_tags
from podwarden.control.iam import OPERATIONS as IAM
from podwarden.model.aws import kinds
from podwarden.model.changes import Change
from podwarden.model.errors import PodwardenError
from podwarden.operator import eks as eks_operator
from podwarden.store.resources import Record
from podwarden.wire.errors import WireError, wire_error
from tests.aws_helpers import ACCOUNT, POD_TRUST, REGION, assert_shape, make_context

SCOPE = f"{ACCOUNT}/{REGION}"
CLUSTER_ARN = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/c1"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"


@pytest.fixture
def woken() -> list[Change]:
    return []


@pytest.fixture
def ctx(tmp_path: Path, woken: list[Change]) -> Context:
    c = dataclasses.replace(make_context(tmp_path), notify=woken.append)
    call(
        c,
        "CreateCluster",
        name="c1",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-a", "subnet-b"]},
        accessConfig={"authenticationMode": "API"},
        tags={"team": "ml"},
    )
    return c


def call(ctx: Context, op: str, **params: Any) -> dict[str, Any]:
    out = HANDLERS[op](ctx, params)
    assert_shape("eks", op, out)
    return out


def fails(ctx: Context, op: str, code: str, **params: Any) -> WireError:
    with pytest.raises(PodwardenError) as info:
        HANDLERS[op](ctx, params)
    error = wire_error("eks", info.value)
    assert error.code == code, error.message
    assert error.status == (404 if code == "NotFoundException" else 400)
    return error


def tags_of(ctx: Context, arn: str) -> dict[str, str]:
    found: dict[str, str] = call(ctx, "ListTagsForResource", resourceArn=arn)["tags"]
    return found


def addon(ctx: Context, name: str = "vpc-cni", **extra: Any) -> dict[str, Any]:
    made: dict[str, Any] = call(ctx, "CreateAddon", clusterName="c1", addonName=name, **extra)[
        "addon"
    ]
    return made


def access_entry(ctx: Context, **extra: Any) -> dict[str, Any]:
    made: dict[str, Any] = call(
        ctx, "CreateAccessEntry", clusterName="c1", principalArn=USER, **extra
    )["accessEntry"]
    return made


def association(ctx: Context, **extra: Any) -> dict[str, Any]:
    role = IAM["CreateRole"](
        ctx, {"RoleName": "app", "AssumeRolePolicyDocument": json.dumps(POD_TRUST)}
    )["Role"]["Arn"]
    params = {"clusterName": "c1", "namespace": "ml", "serviceAccount": "trainer"}
    made: dict[str, Any] = call(
        ctx, "CreatePodIdentityAssociation", **params, roleArn=role, **extra
    )["association"]
    return made


def describe(ctx: Context, kind: str, made: dict[str, Any]) -> dict[str, Any]:
    """The resource as its own Describe shows it now."""
    if kind == "cluster":
        return dict(call(ctx, "DescribeCluster", name="c1")["cluster"])
    if kind == "addon":
        return dict(call(ctx, "DescribeAddon", clusterName="c1", addonName="vpc-cni")["addon"])
    if kind == "access-entry":
        out = call(ctx, "DescribeAccessEntry", clusterName="c1", principalArn=USER)
        return dict(out["accessEntry"])
    out = call(
        ctx,
        "DescribePodIdentityAssociation",
        clusterName="c1",
        associationId=made["associationId"],
    )
    return dict(out["association"])


def made_with_tags(ctx: Context, kind: str) -> tuple[str, dict[str, Any]]:
    """A resource of ``kind`` created with the tag team=ml, and its ARN."""
    if kind == "cluster":
        return CLUSTER_ARN, describe(ctx, kind, {})
    if kind == "addon":
        made = addon(ctx, tags={"team": "ml"})
        return made["addonArn"], made
    if kind == "access-entry":
        made = access_entry(ctx, tags={"team": "ml"})
        return made["accessEntryArn"], made
    made = association(ctx, tags={"team": "ml"})
    return made["associationArn"], made


KINDS = ["cluster", "addon", "access-entry", "podidentityassociation"]


@pytest.mark.parametrize("kind", KINDS)
def test_tag_list_untag_on_every_taggable_resource(ctx: Context, kind: str) -> None:
    arn, made = made_with_tags(ctx, kind)
    assert tags_of(ctx, arn) == {"team": "ml"}  # what its Create took
    assert call(ctx, "TagResource", resourceArn=arn, tags={"env": "dev", "team": "infra"}) == {}
    assert tags_of(ctx, arn) == {"team": "infra", "env": "dev"}  # merged, team overwritten
    assert describe(ctx, kind, made)["tags"] == {"team": "infra", "env": "dev"}
    call(ctx, "TagResource", resourceArn=arn, tags={"empty": ""})  # values may be empty
    assert tags_of(ctx, arn)["empty"] == ""
    # a key the resource lacks, and one named twice, are no error
    out = call(ctx, "UntagResource", resourceArn=arn, tagKeys=["env", "absent", "env"])
    assert out == {}
    assert tags_of(ctx, arn) == {"team": "infra", "empty": ""}
    call(ctx, "UntagResource", resourceArn=arn, tagKeys=["team", "empty"])
    assert tags_of(ctx, arn) == {} and describe(ctx, kind, made)["tags"] == {}


def test_a_cluster_created_without_tags_lists_none(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    call(
        ctx,
        "CreateCluster",
        name="bare",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
        resourcesVpcConfig={"subnetIds": ["subnet-a", "subnet-b"]},
    )
    arn = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/bare"
    assert tags_of(ctx, arn) == {}
    call(ctx, "TagResource", resourceArn=arn, tags={"a": "1"})
    assert call(ctx, "DescribeCluster", name="bare")["cluster"]["tags"] == {"a": "1"}


def test_tags_change_nothing_else_and_wake_nobody(ctx: Context, woken: list[Change]) -> None:
    made = addon(ctx)
    woken.clear()
    before = ctx.store.resources.get(kinds.EKS_ADDON, SCOPE, "c1/vpc-cni")
    assert before is not None
    call(ctx, "TagResource", resourceArn=made["addonArn"], tags={"a": "1"})
    call(ctx, "UntagResource", resourceArn=made["addonArn"], tagKeys=["a"])
    call(ctx, "TagResource", resourceArn=CLUSTER_ARN, tags={"a": "1"})
    after = ctx.store.resources.get(kinds.EKS_ADDON, SCOPE, "c1/vpc-cni")
    assert after is not None and after.version == before.version + 2
    assert after.doc == before.doc  # tags back to {}: status, modifiedAt... untouched
    cluster = describe(ctx, "cluster", {})
    assert cluster["status"] == "CREATING" and cluster["tags"] == {"team": "ml", "a": "1"}
    assert woken == []


def test_fifty_tags_per_resource(ctx: Context) -> None:
    many = {f"k{i}": "v" for i in range(49)}
    call(ctx, "TagResource", resourceArn=CLUSTER_ARN, tags=many)  # 49 + team = 50
    assert len(tags_of(ctx, CLUSTER_ARN)) == 50
    call(ctx, "TagResource", resourceArn=CLUSTER_ARN, tags={"k0": "new"})  # overwrite: still 50
    err = fails(ctx, "TagResource", "BadRequestException", resourceArn=CLUSTER_ARN, tags={"x": ""})
    assert err.message == f"A resource can have at most 50 tags; {CLUSTER_ARN} would have 51."
    assert "x" not in tags_of(ctx, CLUSTER_ARN) and tags_of(ctx, CLUSTER_ARN)["k0"] == "new"


def test_aws_tags_do_not_count_and_cannot_be_removed(ctx: Context) -> None:
    # what AWS itself would have put there (CloudFormation's stack tag)
    rec = ctx.store.resources.get(kinds.EKS_CLUSTER, SCOPE, "c1")
    assert rec is not None
    rec.doc["tags"]["aws:cloudformation:stack-name"] = "s"
    ctx.store.resources.save(rec)
    call(ctx, "TagResource", resourceArn=CLUSTER_ARN, tags={f"k{i}": "v" for i in range(49)})
    assert len(tags_of(ctx, CLUSTER_ARN)) == 51  # 50 of the caller's and AWS's own
    for key in ("aws:cloudformation:stack-name", "AWS:x", "Aws:y"):
        err = fails(
            ctx, "UntagResource", "BadRequestException", resourceArn=CLUSTER_ARN, tagKeys=[key]
        )
        assert (
            err.message
            == f"Tag keys and values beginning with aws: are reserved for AWS use: {key}"
        )
    assert tags_of(ctx, CLUSTER_ARN)["aws:cloudformation:stack-name"] == "s"


@pytest.mark.parametrize(
    "tags", [{"aws:team": "a"}, {"AWS:team": "a"}, {"aWs:team": "a"}, {"team": "aws:a"}]
)
def test_the_aws_prefix_is_reserved_for_keys_and_values(ctx: Context, tags: dict[str, str]) -> None:
    fails(ctx, "TagResource", "BadRequestException", resourceArn=CLUSTER_ARN, tags=tags)
    assert tags_of(ctx, CLUSTER_ARN) == {"team": "ml"}
    call(ctx, "TagResource", resourceArn=CLUSTER_ARN, tags={"team": "see aws:x", "awsx": "1"})


OTHER = "999999999999"
NOT_FOUND = [
    f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/gone",  # never created, or deleted
    f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/c1",  # another Region
    f"arn:aws:eks:{REGION}:{OTHER}:cluster/c1",  # another account
    f"arn:aws-cn:eks:{REGION}:{ACCOUNT}:cluster/c1",  # another partition
    f"arn:aws:eks:{REGION}:{ACCOUNT}:nodegroup/c1/ng/0cc5a6d5-7a9e-4b7a-8e2f-3b3c1f0e0a11",
    f"arn:aws:eks:{REGION}:{ACCOUNT}:fargateprofile/c1/fp/1c2d3e4f-0000-4000-8000-000000000000",
    f"arn:aws:eks:{REGION}:{ACCOUNT}:addon/c1/vpc-cni/00000000-0000-4000-8000-000000000000",
    f"arn:aws:eks:{REGION}:{ACCOUNT}:podidentityassociation/c1/a-aaaaaaaaaaaaaaaaa",
    f"arn:aws:eks:{REGION}:{ACCOUNT}:access-entry/c9/user/{ACCOUNT}/alice/0000",
]
BAD = [
    "not-an-arn",
    f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",  # another service
    f"arn:aws:eks:{REGION}:{ACCOUNT}:widget/c1",  # no such EKS type
    f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/",  # no name
    f"arn:aws:eks::{ACCOUNT}:cluster/c1",  # no Region
    f"arn:aws:eks:{REGION}:12345:cluster/c1",  # not an account id
    "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",  # not taggable
]


@pytest.mark.parametrize("arn", NOT_FOUND)
def test_an_arn_of_nothing_here_is_not_found(ctx: Context, arn: str) -> None:
    addon(ctx)
    for op, extra in (
        ("TagResource", {"tags": {"a": "1"}}),
        ("UntagResource", {"tagKeys": ["a"]}),
        ("ListTagsForResource", {}),
    ):
        err = fails(ctx, op, "NotFoundException", resourceArn=arn, **extra)
        assert err.message == f"Resource was not found: {arn}"


@pytest.mark.parametrize("arn", BAD)
def test_a_string_that_is_no_taggable_eks_arn_is_a_bad_request(ctx: Context, arn: str) -> None:
    for op, extra in (
        ("TagResource", {"tags": {"a": "1"}}),
        ("UntagResource", {"tagKeys": ["a"]}),
        ("ListTagsForResource", {}),
    ):
        err = fails(ctx, op, "BadRequestException", resourceArn=arn, **extra)
        assert err.message == f"{arn} is not the ARN of an Amazon EKS resource that supports tags."


def test_tags_go_with_the_resource(ctx: Context) -> None:
    old = addon(ctx, tags={"a": "1"})["addonArn"]
    entry = access_entry(ctx, tags={"b": "2"})["accessEntryArn"]
    eks_operator.forget_addon(ctx.store.resources, SCOPE, "c1", "vpc-cni")
    fails(ctx, "ListTagsForResource", "NotFoundException", resourceArn=old)
    new = addon(ctx)["addonArn"]  # the same add-on again: a new ARN, no tags
    assert new != old and tags_of(ctx, new) == {}
    fails(ctx, "ListTagsForResource", "NotFoundException", resourceArn=old)
    call(ctx, "DeleteCluster", name="c1")  # DELETING: still there, still taggable
    call(ctx, "TagResource", resourceArn=CLUSTER_ARN, tags={"state": "going"})
    eks_operator.forget_cluster(ctx.store.resources, SCOPE, "c1")
    for arn in (CLUSTER_ARN, new, entry):
        fails(ctx, "ListTagsForResource", "NotFoundException", resourceArn=arn)


def test_an_add_on_owned_association_takes_tags(ctx: Context) -> None:
    made = association(ctx)
    rec = ctx.store.resources.get(kinds.EKS_POD_IDENTITY, SCOPE, f"c1/{made['associationId']}")
    assert rec is not None
    rec.doc["ownerArn"] = addon(ctx)["addonArn"]
    ctx.store.resources.save(rec)
    call(ctx, "TagResource", resourceArn=made["associationArn"], tags={"a": "1"})
    assert tags_of(ctx, made["associationArn"]) == {"a": "1"}


def test_a_write_that_loses_a_race_is_applied_again(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reconciler saves the cluster between the handler's read and write: the handler reads
    it again and neither change is lost."""
    find = eks_tags.find
    raced: list[bool] = []

    def racing(c: Context, arn: str) -> Record:
        rec = find(c, arn)
        if not raced:
            raced.append(True)
            other = c.store.resources.get(kinds.EKS_CLUSTER, SCOPE, "c1")
            assert other is not None
            other.doc["status"] = "ACTIVE"
            c.store.resources.save(other)
        return rec

    monkeypatch.setattr(eks_tags, "find", racing)
    call(ctx, "TagResource", resourceArn=CLUSTER_ARN, tags={"a": "1"})
    cluster = describe(ctx, "cluster", {})
    assert cluster["status"] == "ACTIVE" and cluster["tags"] == {"team": "ml", "a": "1"}
