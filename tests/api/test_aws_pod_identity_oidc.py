"""EKS Pod Identity associations and IAM OIDC providers through boto3 over real HTTP: the two
ways pods get AWS credentials without IMDS (R13 in docs/requirements.md), set up as a user would,
with EKS's and IAM's errors on the wire."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.api.aws_server import AwsServer
from tests.api.test_aws_eks import ACCOUNT, create, error, make_network, message

POD_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ],
}


@pytest.fixture(scope="module")
def network(aws: AwsServer) -> dict[str, Any]:
    return make_network(aws, "10.71")


def test_pod_identity_association_lifecycle(aws: AwsServer, network: dict[str, Any]) -> None:
    eks, iam = aws.client("eks"), aws.client("iam")
    create(eks, "pia", network["subnets"], accessConfig={"authenticationMode": "API"})
    role = iam.create_role(RoleName="pia-app", AssumeRolePolicyDocument=json.dumps(POD_TRUST))
    arn = role["Role"]["Arn"]
    made = eks.create_pod_identity_association(
        clusterName="pia", namespace="ml", serviceAccount="trainer", roleArn=arn
    )["association"]
    assert made["associationArn"] == (
        f"arn:aws:eks:us-west-2:{ACCOUNT}:podidentityassociation/pia/{made['associationId']}"
    )
    ident = {"clusterName": "pia", "associationId": made["associationId"]}
    got = eks.describe_pod_identity_association(**ident)["association"]
    assert (got["namespace"], got["serviceAccount"], got["roleArn"]) == ("ml", "trainer", arn)
    pages = eks.get_paginator("list_pod_identity_associations").paginate(
        clusterName="pia", namespace="ml", PaginationConfig={"PageSize": 1}
    )
    assert [a["associationId"] for p in pages for a in p["associations"]] == [made["associationId"]]

    with pytest.raises(ClientError) as err:
        eks.create_pod_identity_association(
            clusterName="pia", namespace="ml", serviceAccount="trainer", roleArn=arn
        )
    assert error(err) == (409, "ResourceInUseException")
    assert message(err) == f"Association already exists: {made['associationId']}"
    with pytest.raises(ClientError) as err:
        eks.create_pod_identity_association(
            clusterName="pia",
            namespace="ml",
            serviceAccount="eval",
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/pia-missing",
        )
    assert error(err) == (400, "InvalidParameterException")
    with pytest.raises(ClientError) as err:
        eks.list_pod_identity_associations(clusterName="nope")
    assert error(err) == (404, "ResourceNotFoundException")

    other = iam.create_role(RoleName="pia-app2", AssumeRolePolicyDocument=json.dumps(POD_TRUST))
    updated = eks.update_pod_identity_association(**ident, roleArn=other["Role"]["Arn"])
    assert updated["association"]["roleArn"] == other["Role"]["Arn"]
    eks.delete_pod_identity_association(**ident)
    assert eks.list_pod_identity_associations(clusterName="pia")["associations"] == []
    with pytest.raises(ClientError) as err:
        eks.describe_pod_identity_association(**ident)
    assert error(err) == (404, "ResourceNotFoundException")


def test_irsa_provider_for_the_cluster_issuer(aws: AwsServer, network: dict[str, Any]) -> None:
    eks, iam = aws.client("eks"), aws.client("iam")
    issuer = create(eks, "irsa", network["subnets"])["identity"]["oidc"]["issuer"]
    arn = iam.create_open_id_connect_provider(Url=issuer, ClientIDList=["sts.amazonaws.com"])[
        "OpenIDConnectProviderArn"
    ]
    assert arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{issuer.removeprefix('https://')}"
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == issuer.removeprefix("https://")
    assert got["ClientIDList"] == ["sts.amazonaws.com"]
    listed = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert {"Arn": arn} in listed
    with pytest.raises(ClientError) as err:
        iam.create_open_id_connect_provider(Url=issuer)
    assert error(err) == (409, "EntityAlreadyExists")
    assert message(err) == f"Provider with url {issuer} already exists."
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="x")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="x")
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    with pytest.raises(ClientError) as err:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert error(err) == (404, "NoSuchEntity")
