"""Tags of IAM entities, one set of rules for all four kinds podwarden has: roles, customer-managed
policies, instance profiles and OIDC providers (``podwarden.control.iam.tags``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from podwarden.control.context import Context
from tests.aws_helpers import ACCOUNT, make_context
from tests.unit.test_aws_iam import INSTANCE_POLICY, S3_READ, call, fails, make_role

ISSUER = "https://oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"


@dataclass(frozen=True)
class Entity:
    """One kind of taggable IAM entity: ``create`` makes one (with ``Tags`` given) and returns
    the members that name it; ``get``/``shape`` read its Get* output's tags."""

    noun: str
    create: Callable[[Context, list[dict[str, str]]], dict[str, str]]
    get: str
    shape: str

    def ops(self) -> tuple[str, str, str]:
        return f"Tag{self.noun}", f"Untag{self.noun}", f"List{self.noun}Tags"

    def listed(self, ctx: Context, ident: dict[str, str]) -> list[dict[str, str]]:
        tags: list[dict[str, str]] = call(ctx, self.ops()[2], **ident)["Tags"]
        return tags


def _role(ctx: Context, tags: list[dict[str, str]]) -> dict[str, str]:
    make_role(ctx, "tagged-role", Tags=tags)
    return {"RoleName": "tagged-role"}


def _policy(ctx: Context, tags: list[dict[str, str]]) -> dict[str, str]:
    out = call(ctx, "CreatePolicy", PolicyName="tagged", PolicyDocument=S3_READ, Tags=tags)
    assert out["Policy"]["Tags"] == tags  # CreatePolicy returns them, as IAM does
    return {"PolicyArn": out["Policy"]["Arn"]}


def _profile(ctx: Context, tags: list[dict[str, str]]) -> dict[str, str]:
    out = call(ctx, "CreateInstanceProfile", InstanceProfileName="tagged", Tags=tags)
    assert out["InstanceProfile"]["Tags"] == tags
    return {"InstanceProfileName": "tagged"}


def _provider(ctx: Context, tags: list[dict[str, str]]) -> dict[str, str]:
    out = call(ctx, "CreateOpenIDConnectProvider", Url=ISSUER, Tags=tags)
    return {"OpenIDConnectProviderArn": out["OpenIDConnectProviderArn"]}


ENTITIES = [
    Entity("Role", _role, "GetRole", "Role"),
    Entity("Policy", _policy, "GetPolicy", "Policy"),
    Entity("InstanceProfile", _profile, "GetInstanceProfile", "InstanceProfile"),
    Entity("OpenIDConnectProvider", _provider, "GetOpenIDConnectProvider", ""),
]
BY_NOUN = pytest.mark.parametrize("entity", ENTITIES, ids=[e.noun for e in ENTITIES])


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return make_context(tmp_path)


def tags_of(n: int, prefix: str = "k") -> list[dict[str, str]]:
    return [{"Key": f"{prefix}{i:02}", "Value": str(i)} for i in range(n)]


@BY_NOUN
def test_tag_list_untag(entity: Entity, tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    tag, untag, _ = entity.ops()
    ident = entity.create(ctx, [{"Key": "team", "Value": "ml"}])
    got = call(ctx, entity.get, **ident)
    assert (got[entity.shape] if entity.shape else got)["Tags"] == [{"Key": "team", "Value": "ml"}]
    # a key already there, in any case, is replaced; the listing is sorted by key
    assert (
        call(ctx, tag, **ident, Tags=[{"Key": "TEAM", "Value": "ai"}, {"Key": "Env", "Value": ""}])
        == {}
    )
    expected = [{"Key": "Env", "Value": ""}, {"Key": "TEAM", "Value": "ai"}]
    assert entity.listed(ctx, ident) == expected
    assert entity.listed(make_context(tmp_path), ident) == expected  # kept in the store
    # keys compare ignoring case; a key the entity does not have is no error
    assert call(ctx, untag, **ident, TagKeys=["team", "absent", "aws:absent"]) == {}
    assert entity.listed(ctx, ident) == [{"Key": "Env", "Value": ""}]
    call(ctx, untag, **ident, TagKeys=["env"])
    assert call(ctx, entity.ops()[2], **ident) == {"Tags": [], "IsTruncated": False}


@BY_NOUN
def test_tag_quota_and_key_rules(entity: Entity, ctx: Context) -> None:
    tag = entity.ops()[0]
    ident = entity.create(ctx, tags_of(49))
    message = fails(ctx, tag, "LimitExceeded", 409, **ident, Tags=tags_of(2, "new"))
    assert message == f"Cannot exceed quota for TagsPer{entity.noun}: 50"
    call(ctx, tag, **ident, Tags=tags_of(1, "new"))  # the 50th
    call(ctx, tag, **ident, Tags=[{"Key": "K00", "Value": "again"}])  # a replacement, at 50
    for reserved in ("aws:team", "AWS:Team"):
        message = fails(
            ctx, tag, "InvalidInput", 400, **ident, Tags=[{"Key": reserved, "Value": ""}]
        )
        assert message == "Tag keys starting with 'aws:' are reserved for internal use."
    dup = [{"Key": "x", "Value": "1"}, {"Key": "X", "Value": "2"}]
    message = fails(ctx, tag, "InvalidInput", 400, **ident, Tags=dup)
    assert message == "Duplicate tag keys found. Please note that Tag keys are case insensitive."
    listed = entity.listed(ctx, ident)  # the refusals changed nothing
    assert len(listed) == 50 and {"Key": "K00", "Value": "again"} in listed
    call(ctx, entity.ops()[1], **ident, TagKeys=["k01"])
    call(ctx, tag, **ident, Tags=[{"Key": "owner", "Value": "aws:team"}])  # only keys are reserved


@BY_NOUN
def test_list_tags_pages_with_markers(entity: Entity, ctx: Context) -> None:
    list_tags = entity.ops()[2]
    ident = entity.create(ctx, tags_of(5)[::-1])
    first = call(ctx, list_tags, **ident, MaxItems=2)
    assert [t["Key"] for t in first["Tags"]] == ["k00", "k01"] and first["IsTruncated"]
    rest = call(ctx, list_tags, **ident, Marker=first["Marker"])
    assert [t["Key"] for t in rest["Tags"]] == ["k02", "k03", "k04"] and not rest["IsTruncated"]
    make_role(ctx, "other")  # a Marker is only good for the listing that issued it
    marker = first["Marker"]
    message = fails(ctx, "ListRoleTags", "InvalidInput", 400, RoleName="other", Marker=marker)
    assert message == "Invalid Marker."


def test_unknown_policies_and_profiles(ctx: Context) -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/nothing"
    for op, extra in (
        ("TagPolicy", {"Tags": [{"Key": "k", "Value": "v"}]}),
        ("UntagPolicy", {"TagKeys": ["k"]}),
    ):
        message = fails(ctx, op, "NoSuchEntity", 404, PolicyArn=arn, **extra)
        assert message == f"Policy {arn} was not found."
    fails(ctx, "ListPolicyTags", "NoSuchEntity", 404, PolicyArn=arn)
    message = fails(ctx, "ListPolicyTags", "InvalidInput", 400, PolicyArn="policy/nothing")
    assert message == "ARN policy/nothing is not valid."
    other_account = "arn:aws:iam::111122223333:policy/tagged"
    call(ctx, "CreatePolicy", PolicyName="tagged", PolicyDocument=S3_READ)
    fails(
        ctx,
        "TagPolicy",
        "NoSuchEntity",
        404,
        PolicyArn=other_account,
        Tags=[{"Key": "k", "Value": "v"}],
    )
    name = {"InstanceProfileName": "nobody"}
    message = fails(
        ctx, "TagInstanceProfile", "NoSuchEntity", 404, **name, Tags=[{"Key": "k", "Value": "v"}]
    )
    assert message == "Instance Profile nobody cannot be found."
    fails(ctx, "UntagInstanceProfile", "NoSuchEntity", 404, **name, TagKeys=["k"])
    fails(ctx, "ListInstanceProfileTags", "NoSuchEntity", 404, **name)


def test_aws_managed_policies_are_not_tagged(ctx: Context) -> None:
    for op, extra in (
        ("TagPolicy", {"Tags": [{"Key": "k", "Value": "v"}]}),
        ("UntagPolicy", {"TagKeys": ["k"]}),
    ):
        message = fails(ctx, op, "UnmodifiableEntity", 400, PolicyArn=INSTANCE_POLICY, **extra)
        assert message == f"Cannot modify AWS managed policy {INSTANCE_POLICY}."
    listed = call(ctx, "ListPolicyTags", PolicyArn=INSTANCE_POLICY)
    assert listed == {"Tags": [], "IsTruncated": False}


def test_listings_leave_tags_out(ctx: Context) -> None:
    """IAM's List* operations do not return tags (their references say so); Get* do."""
    tags = [{"Key": "team", "Value": "ml"}]
    make_role(ctx, "node", Tags=tags)
    call(ctx, "CreateInstanceProfile", InstanceProfileName="nodes", Tags=tags)
    call(ctx, "AddRoleToInstanceProfile", InstanceProfileName="nodes", RoleName="node")
    policy = call(ctx, "CreatePolicy", PolicyName="p", PolicyDocument=S3_READ, Tags=tags)
    for op, member, params in (
        ("ListInstanceProfiles", "InstanceProfiles", {}),
        ("ListInstanceProfilesForRole", "InstanceProfiles", {"RoleName": "node"}),
        ("ListPolicies", "Policies", {"Scope": "Local"}),
        ("ListRoles", "Roles", {}),
    ):
        (listed,) = call(ctx, op, **params)[member]
        assert "Tags" not in listed, op
    profile = call(ctx, "GetInstanceProfile", InstanceProfileName="nodes")["InstanceProfile"]
    assert profile["Tags"] == tags and "Tags" not in profile["Roles"][0]
    got = call(ctx, "GetPolicy", PolicyArn=policy["Policy"]["Arn"])["Policy"]
    assert got["Tags"] == tags


def test_create_refuses_bad_tags_and_creates_nothing(ctx: Context) -> None:
    reserved = [{"Key": "aws:cloudformation:stack-name", "Value": "s"}]
    dup = [{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}]
    for tags in (reserved, dup):
        fails(
            ctx,
            "CreatePolicy",
            "InvalidInput",
            400,
            PolicyName="p",
            PolicyDocument=S3_READ,
            Tags=tags,
        )
        fails(
            ctx, "CreateInstanceProfile", "InvalidInput", 400, InstanceProfileName="ip", Tags=tags
        )
    fails(ctx, "GetPolicy", "NoSuchEntity", 404, PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/p")
    fails(ctx, "GetInstanceProfile", "NoSuchEntity", 404, InstanceProfileName="ip")
    created = call(ctx, "CreateInstanceProfile", InstanceProfileName="ip")["InstanceProfile"]
    assert "Tags" not in created  # no tags: no member, as IAM answers
