"""The one parser and builder of the local account's ARNs (``model.aws.arns``), table-driven."""

from __future__ import annotations

import pytest

from podwarden.model.aws import arns

ACCOUNT = "123456789012"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "arn",
        "arn:aws:eks",
        "arn:aws:eks:us-west-2:123456789012",  # five fields
        "urn:aws:eks:us-west-2:123456789012:cluster/c",
        "arn:awsx:eks:us-west-2:123456789012:cluster/c",  # not a partition
        "arn:aws::us-west-2:123456789012:cluster/c",  # no service
        "arn:aws:eks:us-west-2:123456789012:",  # no resource
    ],
)
def test_what_is_not_an_arn(text: str) -> None:
    assert arns.parse(text) is None


def test_an_arn_splits_into_its_parts_and_back() -> None:
    text = "arn:aws-us-gov:iam::123456789012:role/a/b/c:with:colons"
    arn = arns.parse(text)
    assert arn == arns.Arn("aws-us-gov", "iam", "", ACCOUNT, "role/a/b/c:with:colons")
    assert str(arn) == text


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (f"arn:aws:eks:us-west-2:{ACCOUNT}:cluster/c-1", ("us-west-2", ACCOUNT, "c-1")),
        (f"arn:aws-cn:eks:cn-north-1:{ACCOUNT}:cluster/c_2", ("cn-north-1", ACCOUNT, "c_2")),
        (f"arn:aws:eks:us-west-2:{ACCOUNT}:cluster/-bad", None),  # EKS's name pattern
        (f"arn:aws:eks:us-west-2:{ACCOUNT}:nodegroup/c/ng/1", None),
        (f"arn:aws:eks::{ACCOUNT}:cluster/c", None),  # no Region
        ("arn:aws:eks:us-west-2:12345:cluster/c", None),  # not 12 digits
        (f"arn:aws:ecs:us-west-2:{ACCOUNT}:cluster/c", None),
    ],
)
def test_eks_cluster_arns(text: str, found: tuple[str, str, str] | None) -> None:
    parsed = arns.parse_eks_cluster(text)
    assert (None if parsed is None else (parsed.region, parsed.account, parsed.name)) == found
    if parsed is not None:
        assert parsed.scope == f"{ACCOUNT}/{parsed.region}"


def test_eks_arns_are_built_as_eks_writes_them() -> None:
    assert arns.eks_cluster("us-west-2", ACCOUNT, "c") == (
        f"arn:aws:eks:us-west-2:{ACCOUNT}:cluster/c"
    )
    assert arns.eks_child("us-west-2", ACCOUNT, "podidentityassociation", "c", "a-1") == (
        f"arn:aws:eks:us-west-2:{ACCOUNT}:podidentityassociation/c/a-1"
    )


@pytest.mark.parametrize(
    ("text", "types", "found"),
    [
        (f"arn:aws:iam::{ACCOUNT}:role/r", (), ("role", "/", "r")),
        (f"arn:aws:iam::{ACCOUNT}:role/team/a/r", (), ("role", "/team/a/", "r")),
        (f"arn:aws:iam::{ACCOUNT}:user/u", ("role",), None),  # not one of the types asked for
        ("arn:aws:iam::aws:policy/service-role/P", (), ("policy", "/service-role/", "P")),
        ("arn:aws:iam::aws:role/r", (), None),  # only policies belong to "aws"
        (f"arn:aws:iam:us-west-2:{ACCOUNT}:role/r", (), None),  # IAM is global
        (f"arn:aws:iam::{ACCOUNT}:role//r", (), None),  # an empty path segment
        (f"arn:aws:iam::{ACCOUNT}:root", (), None),
    ],
)
def test_iam_entities(
    text: str, types: tuple[str, ...], found: tuple[str, str, str] | None
) -> None:
    parsed = arns.parse_iam(text, *types)
    assert (None if parsed is None else (parsed.type, parsed.path, parsed.name)) == found
    if parsed is not None:
        assert parsed.arn == text


def test_roles_need_a_valid_role_name_and_the_root_is_recognized() -> None:
    assert arns.parse_role(f"arn:aws:iam::{ACCOUNT}:role/ok+=,.@-_") is not None
    assert arns.parse_role(f"arn:aws:iam::{ACCOUNT}:role/no spaces") is None
    assert arns.role(ACCOUNT, "r", "/p/") == f"arn:aws:iam::{ACCOUNT}:role/p/r"
    assert arns.is_account_root(arns.account_root(ACCOUNT))
    assert not arns.is_account_root(f"arn:aws:iam::{ACCOUNT}:user/root")


def test_assumed_role_sessions_and_the_role_behind_them() -> None:
    session = arns.parse_assumed_role(f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice@x")
    assert session is not None
    assert (session.role_name, session.session) == ("Admin", "alice@x")
    assert session.role_arn == f"arn:aws:iam::{ACCOUNT}:role/Admin"
    assert session.arn == arns.assumed_role(ACCOUNT, "Admin", "alice@x")
    assert arns.parse_assumed_role(f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin") is None
    assert arns.parse_assumed_role(f"arn:aws:iam::{ACCOUNT}:assumed-role/Admin/s") is None


def test_oidc_providers() -> None:
    arn = arns.oidc_provider(ACCOUNT, "oidc.eks.us-west-2.amazonaws.com/id/ABC")
    assert arns.parse_oidc_provider(arn) == (ACCOUNT, "oidc.eks.us-west-2.amazonaws.com/id/ABC")
    assert arns.parse_oidc_provider(f"arn:aws:iam::{ACCOUNT}:oidc-provider/") is None
    assert arns.parse_oidc_provider(f"arn:aws:iam::{ACCOUNT}:role/r") is None
