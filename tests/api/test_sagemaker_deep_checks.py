"""Deep health checks' rules through boto3 over real HTTP: OnStartDeepHealthChecks in
CreateCluster/UpdateCluster and StartClusterHealthCheck refuse what a check cannot run on, in
SageMaker's error format (``logic.deep_check_rules``), and StartClusterHealthCheck records the
checks and the instances checked together. The server runs no reconciler: the tests put the
cluster InService and its instances Running as it would."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from podwarden.model.cluster import ClusterStatus, DeepCheck, GroupStatus, Instance, InstanceStatus
from tests.api.aws_server import ACCOUNT, REGION, SEEDED_EKS, AwsServer

MNTV = "MultiNodeTrainingValidation"
NAMES = itertools.count()


@pytest.fixture(scope="module")
def sm(aws: AwsServer) -> Any:
    return aws.client("sagemaker")


def group(instance_type: str, count: int, checks: list[str], name: str = "w") -> dict[str, Any]:
    return {
        "InstanceGroupName": name,
        "InstanceType": instance_type,
        "InstanceCount": count,
        "ExecutionRole": f"arn:aws:iam::{ACCOUNT}:role/hyperpod",
        "OnStartDeepHealthChecks": checks,
    }


def refused(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def running(aws: AwsServer, arn: str, count: int) -> list[str]:
    """Put the cluster InService with ``count`` Running instances in group w; their ids."""
    cluster = aws.store.get_cluster(ACCOUNT, REGION, cluster_id=arn.rsplit("/", 1)[1])
    assert cluster is not None
    cluster.status = ClusterStatus.IN_SERVICE
    for g in cluster.groups.values():
        g.status = GroupStatus.IN_SERVICE
    aws.store.save_cluster(cluster)
    base = 0x100 * (next(NAMES) + 1)
    new = [
        Instance(
            instance_id=f"i-{base + k:017x}",
            cluster_id=cluster.cluster_id,
            group="w",
            logical_id=f"w-{k}",
            instance_type=cluster.groups["w"].instance_type,
            status=InstanceStatus.RUNNING,
            launch_time=0.0,
            ready_at=0.0,
        )
        for k in range(count)
    ]
    aws.store.add_instances(new)
    return [i.instance_id for i in new]


def test_on_start_validation_needs_efa_accelerators_and_two_instances(sm: Any) -> None:
    code, message = refused(
        sm.create_cluster,
        ClusterName="dhc-noefa",
        InstanceGroups=[group("ml.g5.xlarge", 2, ["InstanceStress", MNTV])],
        Orchestrator=SEEDED_EKS,
    )
    assert code == "ValidationException"
    assert message == (
        "Instance group w: MultiNodeTrainingValidation is not supported on instance type "
        "ml.g5.xlarge; it runs on GPU or Trainium instance types with EFA."
    )
    code, message = refused(
        sm.create_cluster,
        ClusterName="dhc-one",
        InstanceGroups=[group("ml.p5.48xlarge", 1, [MNTV])],
        Orchestrator=SEEDED_EKS,
    )
    assert code == "ValidationException"
    assert message == (
        "Instance group w: MultiNodeTrainingValidation in OnStartDeepHealthChecks runs across at "
        "least 2 instances checked together; the InstanceCount is 1."
    )


def test_update_cluster_applies_the_same_rules(sm: Any, aws: AwsServer) -> None:
    arn = sm.create_cluster(
        ClusterName="dhc-update",
        InstanceGroups=[group("ml.g5.8xlarge", 2, [MNTV])],
        Orchestrator=SEEDED_EKS,
    )["ClusterArn"]
    running(aws, arn, 0)
    code, message = refused(
        sm.update_cluster, ClusterName=arn, InstanceGroups=[group("ml.g5.8xlarge", 1, [MNTV])]
    )
    assert (code, message) == (
        "ValidationException",
        "Instance group w: MultiNodeTrainingValidation in OnStartDeepHealthChecks runs across at "
        "least 2 instances checked together; the InstanceCount is 1.",
    )


def test_start_cluster_health_check_records_the_nodes_checked_together(
    sm: Any, aws: AwsServer
) -> None:
    arn = sm.create_cluster(
        ClusterName="dhc-start",
        InstanceGroups=[group("ml.g5.8xlarge", 3, ["InstanceStress"])],
        Orchestrator=SEEDED_EKS,
    )["ClusterArn"]
    a, b, c = running(aws, arn, 3)
    code, message = refused(
        sm.start_cluster_health_check,
        ClusterName=arn,
        DeepHealthCheckConfigurations=[
            {"InstanceGroupName": "w", "InstanceIds": [a], "DeepHealthChecks": [MNTV]}
        ],
    )
    assert (code, message) == (
        "ValidationException",
        f"Instance group w: MultiNodeTrainingValidation runs across at least 2 instances checked "
        f"together; the request selects 1 ({a}).",
    )
    configs = [
        {"InstanceGroupName": "w", "InstanceIds": [a, b], "DeepHealthChecks": [MNTV]},
        {"InstanceGroupName": "w", "InstanceIds": [b, c], "DeepHealthChecks": ["InstanceStress"]},
    ]
    sm.start_cluster_health_check(ClusterName=arn, DeepHealthCheckConfigurations=configs)
    records = {i.instance_id: i for i in aws.store.list_instances(arn.rsplit("/", 1)[1])}
    assert {i: r.deep_check for i, r in records.items()} == dict.fromkeys(
        (a, b, c), DeepCheck.REQUESTED
    )
    assert records[a].deep_checks == [MNTV]
    assert records[b].deep_checks == ["InstanceStress", MNTV]  # merged, in run order
    assert records[c].deep_checks == ["InstanceStress"]
    assert records[a].deep_check_peers == records[b].deep_check_peers == sorted([a, b])
    assert records[c].deep_check_peers == []
    (op,) = sm.list_cluster_operations(ClusterName=arn, Type="DeepHealthCheck")[
        "ClusterOperationSummaries"
    ]
    described = sm.describe_cluster_operation(ClusterName=arn, OperationId=op["OperationId"])
    assert described["DeepHealthCheckDetails"] == configs
