"""EKS tags through boto3 over real HTTP (rest-json, the ARN in the URI path): TagResource,
UntagResource and ListTagsForResource on a cluster, an add-on, an access entry and a Pod
Identity association, and their errors as EKS puts them on the wire."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.api.aws_server import REGION, AwsServer
from tests.api.test_aws_cli import Cli, cli, failed, ok
from tests.api.test_aws_eks import ACCOUNT, create, error, make_network, message
from tests.api.test_aws_pod_identity_oidc import POD_TRUST

USER = f"arn:aws:iam::{ACCOUNT}:user/tagged-user"
__all__ = ["cli"]  # the AWS CLI fixture, used here as a user would type the commands


@pytest.fixture(scope="module")
def network(aws: AwsServer) -> dict[str, Any]:
    return make_network(aws, "10.72")


@pytest.fixture(scope="module")
def arns(aws: AwsServer, network: dict[str, Any]) -> dict[str, str]:
    """One resource of each taggable kind, on the cluster ``tagged``, each made with team=ml."""
    eks, iam = aws.client("eks"), aws.client("iam")
    tags = {"team": "ml"}
    cluster = create(
        eks, "tagged", network["subnets"], accessConfig={"authenticationMode": "API"}, tags=tags
    )
    addon = eks.create_addon(clusterName="tagged", addonName="vpc-cni", tags=tags)["addon"]
    entry = eks.create_access_entry(clusterName="tagged", principalArn=USER, tags=tags)
    role = iam.create_role(RoleName="tagged-app", AssumeRolePolicyDocument=json.dumps(POD_TRUST))
    association = eks.create_pod_identity_association(
        clusterName="tagged",
        namespace="ml",
        serviceAccount="trainer",
        roleArn=role["Role"]["Arn"],
        tags=tags,
    )["association"]
    return {
        "cluster": cluster["arn"],
        "addon": addon["addonArn"],
        "access-entry": entry["accessEntry"]["accessEntryArn"],
        "podidentityassociation": association["associationArn"],
    }


@pytest.mark.parametrize("kind", ["cluster", "addon", "access-entry", "podidentityassociation"])
def test_tag_round_trip(aws: AwsServer, arns: dict[str, str], kind: str) -> None:
    eks, arn = aws.client("eks"), arns[kind]
    assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "ml"}
    eks.tag_resource(resourceArn=arn, tags={"env": "dev", "team": "infra", "note": ""})
    tags = {"team": "infra", "env": "dev", "note": ""}
    assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == tags
    eks.untag_resource(resourceArn=arn, tagKeys=["env", "absent"])
    assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "infra", "note": ""}
    eks.untag_resource(resourceArn=arn, tagKeys=["note"])
    eks.tag_resource(resourceArn=arn, tags={"team": "ml"})  # as it was, for the other tests
    assert eks.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "ml"}


def test_describe_shows_the_tags(aws: AwsServer, arns: dict[str, str]) -> None:
    eks = aws.client("eks")
    eks.tag_resource(resourceArn=arns["cluster"], tags={"cost-center": "42"})
    tags = eks.describe_cluster(name="tagged")["cluster"]["tags"]
    assert tags == {"team": "ml", "cost-center": "42"}
    eks.tag_resource(resourceArn=arns["addon"], tags={"cost-center": "42"})
    addon = eks.describe_addon(clusterName="tagged", addonName="vpc-cni")["addon"]
    assert addon["tags"] == {"team": "ml", "cost-center": "42"}
    for kind in ("cluster", "addon"):
        eks.untag_resource(resourceArn=arns[kind], tagKeys=["cost-center"])


def test_unknown_arns_are_not_found(aws: AwsServer, arns: dict[str, str]) -> None:
    eks = aws.client("eks")
    gone = [
        f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/no-such-cluster",
        f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/tagged",
        f"arn:aws:eks:{REGION}:999999999999:cluster/tagged",
        f"arn:aws:eks:{REGION}:{ACCOUNT}:nodegroup/tagged/ng/6ac5a6d5-7a9e-4b7a-8e2f-3b3c1f0e0a11",
        arns["addon"].rsplit("/", 1)[0] + "/00000000-0000-4000-8000-000000000000",
    ]
    for arn in gone:
        with pytest.raises(ClientError) as err:
            eks.list_tags_for_resource(resourceArn=arn)
        assert error(err) == (404, "NotFoundException")
        assert message(err) == f"Resource was not found: {arn}"
        with pytest.raises(ClientError) as err:
            eks.tag_resource(resourceArn=arn, tags={"a": "1"})
        assert error(err) == (404, "NotFoundException")
        with pytest.raises(ClientError) as err:
            eks.untag_resource(resourceArn=arn, tagKeys=["a"])
        assert error(err) == (404, "NotFoundException")


def test_bad_requests(aws: AwsServer, arns: dict[str, str]) -> None:
    eks, cluster = aws.client("eks"), arns["cluster"]
    for arn in ("not-an-arn", f"arn:aws:iam::{ACCOUNT}:role/tagged-app"):
        with pytest.raises(ClientError) as err:
            eks.list_tags_for_resource(resourceArn=arn)
        assert error(err) == (400, "BadRequestException")
        assert message(err) == f"{arn} is not the ARN of an Amazon EKS resource that supports tags."
    for tags in ({"aws:owner": "x"}, {"AWS:owner": "x"}, {"owner": "aws:x"}):
        with pytest.raises(ClientError) as err:
            eks.tag_resource(resourceArn=cluster, tags=tags)
        assert error(err) == (400, "BadRequestException")
        assert "reserved for AWS use" in message(err)
    with pytest.raises(ClientError) as err:
        eks.untag_resource(resourceArn=cluster, tagKeys=["aws:cloudformation:stack-name"])
    assert error(err) == (400, "BadRequestException")
    # 49 more fill the cluster's 50; one more over two calls is refused and changes nothing
    eks.tag_resource(resourceArn=cluster, tags={f"k{i}": "v" for i in range(49)})
    with pytest.raises(ClientError) as err:
        eks.tag_resource(resourceArn=cluster, tags={"one-more": "v"})
    assert error(err) == (400, "BadRequestException")
    assert message(err) == f"A resource can have at most 50 tags; {cluster} would have 51."
    eks.untag_resource(resourceArn=cluster, tagKeys=[f"k{i}" for i in range(49)])
    assert eks.list_tags_for_resource(resourceArn=cluster)["tags"] == {"team": "ml"}


def test_the_models_constraints_are_checked_before_the_handler(
    aws: AwsServer, arns: dict[str, str]
) -> None:
    """51 tags in one request, a 129-character key, a 257-character value: the request
    validator's error (EKS's InvalidParameterException for every rest-json input;
    ``wire.protocols``)."""
    eks, cluster = aws.client("eks", parameter_validation=False), arns["cluster"]
    for tags in ({f"k{i}": "v" for i in range(51)}, {"k" * 129: "v"}, {"k": "v" * 257}):
        with pytest.raises(ClientError) as err:
            eks.tag_resource(resourceArn=cluster, tags=tags)
        assert error(err) == (400, "InvalidParameterException")
    assert eks.list_tags_for_resource(resourceArn=cluster)["tags"] == {"team": "ml"}


def test_the_aws_cli(cli: Cli, arns: dict[str, str]) -> None:
    arn = arns["access-entry"]
    assert ok(cli("eks", "tag-resource", "--resource-arn", arn, "--tags", "a=1,b=2")) is None
    listed = ok(cli("eks", "list-tags-for-resource", "--resource-arn", arn))
    assert listed == {"tags": {"team": "ml", "a": "1", "b": "2"}}
    ok(cli("eks", "untag-resource", "--resource-arn", arn, "--tag-keys", "a", "b"))
    listed = ok(cli("eks", "list-tags-for-resource", "--resource-arn", arn))
    assert listed == {"tags": {"team": "ml"}}
    gone = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/nowhere"
    stderr = failed(
        cli("eks", "list-tags-for-resource", "--resource-arn", gone),
        "NotFoundException",
        "ListTagsForResource",
    )
    assert f"Resource was not found: {gone}" in stderr
