"""SageMaker's AddTags, ListTags and DeleteTags on HyperPod clusters through boto3 and the AWS CLI
over real HTTP: CreateCluster's tags, AWS's limits, the model's validation and the refusals in
SageMaker's error format (``control.sagemaker.tags``)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.api.aws_server import ACCOUNT, REGION, SEEDED_EKS, AwsServer
from tests.api.test_aws_cli import cli_env

EKS = SEEDED_EKS
GROUP = {
    "InstanceGroupName": "workers",
    "InstanceType": "ml.c5.xlarge",
    "InstanceCount": 1,
    "ExecutionRole": f"arn:aws:iam::{ACCOUNT}:role/hyperpod",
    "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-x/lc/", "OnCreate": "on_create.sh"},
}


NAMES = itertools.count()


def kv(**pairs: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


def refused(call: Callable[[], Any]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as info:
        call()
    resp = info.value.response
    return (
        resp["ResponseMetadata"]["HTTPStatusCode"],
        resp["Error"]["Code"],
        resp["Error"]["Message"],
    )


@pytest.fixture(scope="module")
def sm(aws: AwsServer) -> Any:
    return aws.client("sagemaker")


@pytest.fixture(scope="module")
def unchecked(aws: AwsServer) -> Any:
    """A client that sends what it is given: the server's validation answers (boto3 checks only
    minimums itself)."""
    return aws.client("sagemaker", parameter_validation=False)


@pytest.fixture
def cluster(sm: Any, aws: AwsServer) -> Iterator[str]:
    """A fresh cluster tagged team=ml, env=dev at creation; its ARN. Deleted afterwards, and
    removed as the reconciler (which this server does not run) would."""
    name = f"tags-{next(NAMES)}"
    arn = sm.create_cluster(
        ClusterName=name, InstanceGroups=[GROUP], Orchestrator=EKS, Tags=kv(team="ml", env="dev")
    )["ClusterArn"]
    yield str(arn)
    sm.delete_cluster(ClusterName=arn)
    aws.store.delete_cluster(arn.rsplit("/", 1)[1])


def test_round_trip(sm: Any, cluster: str) -> None:
    assert sm.list_tags(ResourceArn=cluster)["Tags"] == kv(team="ml", env="dev")
    added = sm.add_tags(ResourceArn=cluster, Tags=kv(env="prod", owner="platform", empty=""))
    assert added["Tags"] == kv(env="prod", owner="platform", empty="")
    assert sm.list_tags(ResourceArn=cluster)["Tags"] == kv(
        team="ml", env="prod", owner="platform", empty=""
    )
    sm.delete_tags(ResourceArn=cluster, TagKeys=["team", "empty", "never-set"])
    pages = sm.get_paginator("list_tags").paginate(ResourceArn=cluster)
    assert [t for p in pages for t in p["Tags"]] == kv(env="prod", owner="platform")
    # the cluster's own shapes have no tags
    described = sm.describe_cluster(ClusterName=cluster)
    assert "Tags" not in described
    (summary,) = [c for c in sm.list_clusters()["ClusterSummaries"] if c["ClusterArn"] == cluster]
    assert set(summary) == {"ClusterArn", "ClusterName", "CreationTime", "ClusterStatus"}


def test_the_limit_counts_existing_tags(sm: Any, cluster: str) -> None:
    fill = [{"Key": f"k{i}", "Value": str(i)} for i in range(48)]
    sm.add_tags(ResourceArn=cluster, Tags=fill)
    status, code, message = refused(lambda: sm.add_tags(ResourceArn=cluster, Tags=kv(one="1")))
    assert (status, code) == (400, "ValidationException")
    assert message == "The resource would have 51 tags; a resource can have at most 50 tags."
    assert len(sm.list_tags(ResourceArn=cluster, MaxResults=50)["Tags"]) == 50
    sm.add_tags(ResourceArn=cluster, Tags=kv(team="new value"))  # an existing key: no new tag


@pytest.mark.parametrize(
    ("op", "params", "wanted"),
    [
        ("add_tags", {"Tags": kv(**{"aws:owner": "x"})}, "reserved for AWS use: aws:owner."),
        ("delete_tags", {"TagKeys": ["AWS:owner"]}, "reserved for AWS use: AWS:owner."),
        ("add_tags", {"Tags": [*kv(a="1"), *kv(a="2")]}, "unique per resource; repeated: a."),
        ("add_tags", {"Tags": kv(**{"bad!": "v"})}, "regular expression pattern"),
        ("add_tags", {"Tags": kv(**{"k" * 129: "v"})}, "length less than or equal to 128"),
        ("add_tags", {"Tags": kv(k="v" * 257)}, "length less than or equal to 256"),
        ("add_tags", {"Tags": kv(k="a\x01b")}, "regular expression pattern"),
        ("add_tags", {"Tags": [{"Key": f"k{i}", "Value": ""} for i in range(51)]}, "50"),
        ("delete_tags", {"TagKeys": []}, "length greater than or equal to 1"),
        ("list_tags", {"MaxResults": 10}, "greater than or equal to 50"),
        ("list_tags", {"NextToken": "bm90IGEgdG9rZW4"}, "pagination token"),
    ],
)
def test_refusals_in_sagemaker_format(
    unchecked: Any, cluster: str, op: str, params: dict[str, Any], wanted: str
) -> None:
    status, code, message = refused(lambda: getattr(unchecked, op)(ResourceArn=cluster, **params))
    assert (status, code) == (400, "ValidationException")
    assert wanted in message
    assert unchecked.list_tags(ResourceArn=cluster)["Tags"] == kv(team="ml", env="dev")


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/job-1",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/ep",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:cluster/abcdefabcdef",
        f"arn:aws:sagemaker:{REGION}:111111111111:cluster/abcdefabcdef",
    ],
)
def test_arns_of_nothing_here(sm: Any, arn: str) -> None:
    for call in (
        lambda: sm.list_tags(ResourceArn=arn),
        lambda: sm.add_tags(ResourceArn=arn, Tags=kv(a="1")),
        lambda: sm.delete_tags(ResourceArn=arn, TagKeys=["a"]),
    ):
        assert refused(call) == (400, "ValidationException", f'Could not find resource "{arn}".')


def test_another_services_arn_fails_the_model(sm: Any, cluster: str) -> None:
    eks = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/podwarden"
    status, code, message = refused(lambda: sm.list_tags(ResourceArn=eks))
    assert (status, code) == (400, "ValidationException")
    assert "regular expression pattern" in message


def test_another_regions_client_finds_nothing(aws: AwsServer, cluster: str) -> None:
    east = aws.client("sagemaker", region="us-east-1")
    status, code, _ = refused(lambda: east.list_tags(ResourceArn=cluster))
    assert (status, code) == (400, "ValidationException")


def test_a_deleted_cluster_has_no_tags(sm: Any, aws: AwsServer) -> None:
    arn = sm.create_cluster(
        ClusterName="tags-deleted", InstanceGroups=[GROUP], Orchestrator=EKS, Tags=kv(a="1")
    )["ClusterArn"]
    sm.delete_cluster(ClusterName=arn)
    assert sm.list_tags(ResourceArn=arn)["Tags"] == kv(a="1")  # Deleting: still there
    aws.store.delete_cluster(arn.rsplit("/", 1)[1])  # the reconciler's last step
    assert refused(lambda: sm.list_tags(ResourceArn=arn))[1] == "ValidationException"


def test_create_cluster_refuses_reserved_and_repeated_keys(sm: Any) -> None:
    for tags in (kv(**{"aws:x": "1"}), [*kv(a="1"), *kv(a="2")]):
        create = lambda t=tags: sm.create_cluster(  # noqa: E731
            ClusterName="tags-refused", InstanceGroups=[GROUP], Orchestrator=EKS, Tags=t
        )
        assert refused(create)[:2] == (400, "ValidationException")
    names = [c["ClusterName"] for c in sm.list_clusters()["ClusterSummaries"]]
    assert "tags-refused" not in names


def test_the_aws_cli(
    aws: AwsServer, cluster: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = cli_env(tmp_path_factory.mktemp("cli-home"))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "awscli", "sagemaker", *args]
        argv += ["--endpoint-url", aws.endpoint, "--region", REGION, "--output", "json"]
        return subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=120, check=False
        )

    added = cli("add-tags", "--resource-arn", cluster, "--tags", "Key=cost-center,Value=42")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["Tags"] == kv(**{"cost-center": "42"})
    gone = cli("delete-tags", "--resource-arn", cluster, "--tag-keys", "team", "env")
    assert gone.returncode == 0, gone.stderr
    listed = cli("list-tags", "--resource-arn", cluster)
    assert json.loads(listed.stdout)["Tags"] == kv(**{"cost-center": "42"})
    bad = cli("list-tags", "--resource-arn", cluster.replace("cluster/", "endpoint/"))
    assert bad.returncode == 255
    assert (
        "An error occurred (ValidationException) when calling the ListTags operation" in bad.stderr
    )
