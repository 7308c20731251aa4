"""BatchAddClusterNodes through boto3 over real HTTP: the answer's shape as botocore parses
it, idempotency by ClientToken, and the refusals in SageMaker's error format
(``control.sagemaker.node_additions``). The server runs no reconciler: the tests put the
cluster InService as it would."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from podwarden.model.cluster import ClusterStatus, GroupStatus
from tests.api.aws_server import ACCOUNT, REGION, SEEDED_EKS, AwsServer

EKS = SEEDED_EKS
GROUP = {
    "InstanceGroupName": "workers",
    "InstanceType": "ml.c5.xlarge",
    "InstanceCount": 1,
    "ExecutionRole": f"arn:aws:iam::{ACCOUNT}:role/hyperpod",
}
NAMES = itertools.count()


@pytest.fixture(scope="module")
def sm(aws: AwsServer) -> Any:
    return aws.client("sagemaker")


def in_service(aws: AwsServer, arn: str) -> None:
    cluster = aws.store.get_cluster(ACCOUNT, REGION, cluster_id=arn.rsplit("/", 1)[1])
    assert cluster is not None
    cluster.status = ClusterStatus.IN_SERVICE
    for group in cluster.groups.values():
        group.status = GroupStatus.IN_SERVICE
    aws.store.save_cluster(cluster)


def new_cluster(sm: Any, aws: AwsServer, **mode: str) -> Iterator[str]:
    name = f"add-{next(NAMES)}"
    arn = sm.create_cluster(ClusterName=name, InstanceGroups=[GROUP], Orchestrator=EKS, **mode)[
        "ClusterArn"
    ]
    in_service(aws, arn)
    yield str(arn)
    sm.delete_cluster(ClusterName=arn)
    aws.store.delete_cluster(arn.rsplit("/", 1)[1])


@pytest.fixture
def cluster(sm: Any, aws: AwsServer) -> Iterator[str]:
    yield from new_cluster(sm, aws, NodeProvisioningMode="Continuous")


@pytest.fixture
def standard(sm: Any, aws: AwsServer) -> Iterator[str]:
    """A cluster without NodeProvisioningMode (the model's only value is Continuous)."""
    yield from new_cluster(sm, aws)


def refused(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def test_adds_nodes_and_replays_by_token(sm: Any, cluster: str) -> None:
    nodes = [
        {"InstanceGroupName": "workers", "IncrementTargetCountBy": 2},
        {"InstanceGroupName": "missing", "IncrementTargetCountBy": 1},
    ]
    out = sm.batch_add_cluster_nodes(ClusterName=cluster, ClientToken="tok-1", NodesToAdd=nodes)
    assert [(n["InstanceGroupName"], n["Status"]) for n in out["Successful"]] == [
        ("workers", "Pending"),
        ("workers", "Pending"),
    ]
    assert out["Failed"] == [
        {
            "InstanceGroupName": "missing",
            "ErrorCode": "InstanceGroupNotFound",
            "FailedCount": 1,
            "Message": out["Failed"][0]["Message"],
        }
    ]
    described = sm.describe_cluster(ClusterName=cluster)
    assert described["ClusterStatus"] == "Updating"
    assert described["InstanceGroups"][0]["TargetCount"] == 3
    again = sm.batch_add_cluster_nodes(ClusterName=cluster, ClientToken="tok-1", NodesToAdd=nodes)
    assert again["Successful"] == out["Successful"] and again["Failed"] == out["Failed"]
    assert sm.describe_cluster(ClusterName=cluster)["InstanceGroups"][0]["TargetCount"] == 3
    code, message = refused(
        sm.batch_add_cluster_nodes, ClusterName=cluster, ClientToken="tok-1", NodesToAdd=nodes[:1]
    )
    assert code == "ValidationException" and "tok-1" in message
    listed = sm.list_cluster_operations(ClusterName=cluster, Status="InProgress", Type="Scaling")
    (summary,) = listed["ClusterOperationSummaries"]
    op = sm.describe_cluster_operation(ClusterName=cluster, OperationId=summary["OperationId"])
    (detail,) = op["ScalingDetails"]
    assert (detail["InstanceGroupName"], detail["Desired"]["TargetCount"]) == ("workers", 3)


def test_token_filled_in_by_botocore(sm: Any, cluster: str) -> None:
    one = [{"InstanceGroupName": "workers", "IncrementTargetCountBy": 1}]
    first = sm.batch_add_cluster_nodes(ClusterName=cluster, NodesToAdd=one)
    second = sm.batch_add_cluster_nodes(ClusterName=cluster, NodesToAdd=one)
    assert first["Successful"][0]["NodeLogicalId"] != second["Successful"][0]["NodeLogicalId"]
    assert sm.describe_cluster(ClusterName=cluster)["InstanceGroups"][0]["TargetCount"] == 3


def test_refusals(sm: Any, aws: AwsServer, cluster: str, standard: str) -> None:
    one = [{"InstanceGroupName": "workers", "IncrementTargetCountBy": 1}]
    code, message = refused(sm.batch_add_cluster_nodes, ClusterName=standard, NodesToAdd=one)
    assert code == "ValidationException" and "Continuous" in message
    code, _ = refused(sm.batch_add_cluster_nodes, ClusterName="no-such-cluster", NodesToAdd=one)
    assert code == "ResourceNotFound"
    # the model's bound, checked by the server (boto3 checks only minimums)
    code, _ = refused(
        sm.batch_add_cluster_nodes,
        ClusterName=cluster,
        NodesToAdd=[{"InstanceGroupName": "workers", "IncrementTargetCountBy": 51}],
    )
    assert code == "ValidationException"
    # the account's instances-per-cluster quota (5000)
    record = aws.store.get_cluster(ACCOUNT, REGION, cluster_id=cluster.rsplit("/", 1)[1])
    assert record is not None
    record.groups["workers"].spec["InstanceCount"] = 4990
    aws.store.save_cluster(record)
    code, message = refused(
        sm.batch_add_cluster_nodes,
        ClusterName=cluster,
        NodesToAdd=[{"InstanceGroupName": "workers", "IncrementTargetCountBy": 11}],
    )
    assert code == "ResourceLimitExceeded" and "5001" in message
