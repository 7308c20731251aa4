"""IAM and STS through boto3 over real HTTP (query protocol): the HyperPod execution-role flow,
AWS-managed policies, pagination, IAM's errors, and credentials STS issues being accepted."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.api.aws_server import AwsServer
from tests.aws_helpers import SAGEMAKER_TRUST_POLICY as TRUST

INSTANCE_POLICY = "arn:aws:iam::aws:policy/AmazonSageMakerClusterInstanceRolePolicy"


def error(err: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    resp = err.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"]


def test_execution_role_flow(aws: AwsServer) -> None:
    iam = aws.client("iam")
    role = iam.create_role(RoleName="hp-exec", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
    assert role["Arn"] == "arn:aws:iam::000000000000:role/hp-exec"
    assert role["RoleId"].startswith("AROA")
    iam.attach_role_policy(RoleName="hp-exec", PolicyArn=INSTANCE_POLICY)
    got = iam.get_role(RoleName="hp-exec")["Role"]
    assert got["AssumeRolePolicyDocument"] == TRUST  # boto3 decodes the URL-encoded JSON
    attached = iam.list_attached_role_policies(RoleName="hp-exec")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [INSTANCE_POLICY]
    policy = iam.get_policy(PolicyArn=INSTANCE_POLICY)["Policy"]
    assert policy["PolicyName"] == "AmazonSageMakerClusterInstanceRolePolicy"
    assert policy["AttachmentCount"] >= 1


def test_errors_and_pagination(aws: AwsServer) -> None:
    iam = aws.client("iam")
    with pytest.raises(ClientError) as err:
        iam.get_role(RoleName="nobody")
    assert error(err) == (404, "NoSuchEntity")
    iam.create_role(RoleName="dup-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    with pytest.raises(ClientError) as err:
        iam.create_role(RoleName="dup-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    assert error(err) == (409, "EntityAlreadyExists")
    with pytest.raises(ClientError) as err:
        iam.create_role(RoleName="bad-doc", AssumeRolePolicyDocument="{not json")
    assert error(err) == (400, "MalformedPolicyDocument")
    with pytest.raises(ClientError) as err:
        iam.create_role(RoleName="x" * 70, AssumeRolePolicyDocument=json.dumps(TRUST))
    assert error(err) == (400, "ValidationError")
    with pytest.raises(ClientError) as err:
        iam.attach_role_policy(RoleName="dup-role", PolicyArn="arn:aws:iam::aws:policy/Nope")
    assert error(err) == (404, "NoSuchEntity")
    for i in range(5):
        iam.create_role(RoleName=f"page-{i}", AssumeRolePolicyDocument=json.dumps(TRUST))
    pages = list(iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 2}))
    names = [r["RoleName"] for p in pages for r in p["Roles"]]
    assert {f"page-{i}" for i in range(5)} <= set(names)
    assert len(names) == len(set(names)) and len(pages) > 2


def test_sts_identity_and_assumed_role(aws: AwsServer) -> None:
    sts = aws.client("sts")
    me = sts.get_caller_identity()
    assert me["Account"] == "000000000000"
    assert me["Arn"] == "arn:aws:iam::000000000000:user/podwarden"
    iam = aws.client("iam")
    trust_account = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    with pytest.raises(ClientError) as err:  # the role trusts SageMaker, not this user
        iam.create_role(RoleName="sm-only", AssumeRolePolicyDocument=json.dumps(TRUST))
        sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/sm-only", RoleSessionName="s2")
    assert error(err) == (403, "AccessDenied")
    iam.create_role(RoleName="assumable", AssumeRolePolicyDocument=json.dumps(trust_account))
    creds = sts.assume_role(
        RoleArn="arn:aws:iam::000000000000:role/assumable", RoleSessionName="s1"
    )["Credentials"]
    key, secret = creds["AccessKeyId"], creds["SecretAccessKey"]
    assumed = aws.client("sts", key=key, secret=secret, token=creds["SessionToken"])
    who = assumed.get_caller_identity()
    assert who["Arn"] == "arn:aws:sts::000000000000:assumed-role/assumable/s1"
    forged = aws.client("sts", key=key, secret=secret, token="not-the-token")
    with pytest.raises(ClientError) as err:
        forged.get_caller_identity()
    assert error(err)[0] == 403
    with pytest.raises(ClientError) as err:
        sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/missing", RoleSessionName="s2")
    assert error(err) == (403, "AccessDenied")
