"""IAM tags through boto3 over real HTTP (query protocol): customer-managed policies, instance
profiles, roles and OIDC providers, botocore's paginators, and IAM's errors on the wire."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.api.aws_server import AwsServer
from tests.aws_helpers import SAGEMAKER_TRUST_POLICY as TRUST

ACCOUNT = "000000000000"
MANAGED = "arn:aws:iam::aws:policy/AmazonSageMakerClusterInstanceRolePolicy"
DOCUMENT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
)


def refused(call: Any, **params: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as err:
        call(**params)
    resp = err.value.response
    return (
        resp["ResponseMetadata"]["HTTPStatusCode"],
        resp["Error"]["Code"],
        resp["Error"]["Message"],
    )


def test_policy_tags_round_trip(aws: AwsServer) -> None:
    iam = aws.client("iam")
    tags = [{"Key": "team", "Value": "ml"}]
    created = iam.create_policy(PolicyName="tagged-policy", PolicyDocument=DOCUMENT, Tags=tags)
    arn = created["Policy"]["Arn"]
    assert created["Policy"]["Tags"] == tags
    iam.tag_policy(
        PolicyArn=arn, Tags=[{"Key": "Env", "Value": "dev"}, {"Key": "TEAM", "Value": "ai"}]
    )
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Tags"] == [
        {"Key": "TEAM", "Value": "ai"},
        {"Key": "Env", "Value": "dev"},
    ]
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [
        {"Key": "Env", "Value": "dev"},
        {"Key": "TEAM", "Value": "ai"},
    ]
    iam.untag_policy(PolicyArn=arn, TagKeys=["team", "not-there"])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "Env", "Value": "dev"}]
    assert iam.list_policy_tags(PolicyArn=MANAGED)["Tags"] == []


def test_instance_profile_tags_and_paginator(aws: AwsServer) -> None:
    iam = aws.client("iam")
    many = [{"Key": f"k{i:02}", "Value": str(i)} for i in range(7)]
    iam.create_instance_profile(InstanceProfileName="tagged-profile", Tags=many[:1])
    iam.tag_instance_profile(InstanceProfileName="tagged-profile", Tags=many[1:])
    got = iam.get_instance_profile(InstanceProfileName="tagged-profile")["InstanceProfile"]
    assert len(got["Tags"]) == 7
    pages = iam.get_paginator("list_instance_profile_tags").paginate(
        InstanceProfileName="tagged-profile", PaginationConfig={"PageSize": 3}
    )
    pages = list(pages)
    assert len(pages) == 3 and [t for p in pages for t in p["Tags"]] == many
    iam.untag_instance_profile(InstanceProfileName="tagged-profile", TagKeys=["K00", "k01"])
    left = iam.list_instance_profile_tags(InstanceProfileName="tagged-profile")["Tags"]
    assert [t["Key"] for t in left] == [f"k{i:02}" for i in range(2, 7)]
    listed = iam.list_instance_profiles()["InstanceProfiles"]
    assert all("Tags" not in p for p in listed)


def test_role_and_oidc_untag(aws: AwsServer) -> None:
    iam = aws.client("iam")
    iam.create_role(
        RoleName="tagged-role",
        AssumeRolePolicyDocument=json.dumps(TRUST),
        Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
    )
    iam.untag_role(RoleName="tagged-role", TagKeys=["a"])
    assert iam.list_role_tags(RoleName="tagged-role")["Tags"] == [{"Key": "b", "Value": "2"}]
    url = "https://oidc.eks.us-west-2.amazonaws.com/id/TAGS0123456789ABCDEF0123456789"
    arn = iam.create_open_id_connect_provider(Url=url, Tags=[{"Key": "c", "Value": "3"}])[
        "OpenIDConnectProviderArn"
    ]
    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "d", "Value": ""}])
    iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["c"])
    tags = iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"]
    assert tags == [{"Key": "d", "Value": ""}]


def test_tag_errors_on_the_wire(aws: AwsServer) -> None:
    iam = aws.client("iam")
    arn = iam.create_policy(PolicyName="limits-policy", PolicyDocument=DOCUMENT)["Policy"]["Arn"]
    missing = f"arn:aws:iam::{ACCOUNT}:policy/missing"
    assert refused(iam.tag_policy, PolicyArn=missing, Tags=[{"Key": "k", "Value": "v"}]) == (
        404,
        "NoSuchEntity",
        f"Policy {missing} was not found.",
    )
    status, code, _ = refused(iam.list_instance_profile_tags, InstanceProfileName="missing")
    assert (status, code) == (404, "NoSuchEntity")
    fifty = [{"Key": f"k{i}", "Value": ""} for i in range(50)]
    iam.tag_policy(PolicyArn=arn, Tags=fifty)
    assert refused(iam.tag_policy, PolicyArn=arn, Tags=[{"Key": "one-more", "Value": ""}]) == (
        409,
        "LimitExceeded",
        "Cannot exceed quota for TagsPerPolicy: 50",
    )
    status, code, _ = refused(
        iam.tag_policy, PolicyArn=arn, Tags=[{"Key": "aws:team", "Value": ""}]
    )
    assert (status, code) == (400, "InvalidInput")
    status, code, _ = refused(iam.tag_policy, PolicyArn=arn, Tags=[{"Key": "bad#key", "Value": ""}])
    assert (status, code) == (400, "ValidationError")  # the Tag shape's pattern
    status, code, _ = refused(
        iam.tag_policy, PolicyArn=arn, Tags=[*fifty, {"Key": "x", "Value": ""}]
    )
    assert (status, code) == (400, "ValidationError")  # at most 50 in one request
    status, code, _ = refused(iam.tag_policy, PolicyArn=MANAGED, Tags=[{"Key": "k", "Value": ""}])
    assert (status, code) == (400, "UnmodifiableEntity")
    assert len(iam.list_policy_tags(PolicyArn=arn)["Tags"]) == 50
