"""UpdateClusterSoftware and the software members of Describe/List through boto3 and the AWS
CLI over real HTTP (``control.sagemaker.software``, ``control.sagemaker.images``): the
request's effect on DescribeCluster and the cluster's events, every refusal with its code, and
CreateCluster/UpdateCluster's ImageReleaseVersion, ImageId and ScheduledUpdateConfig. The
server runs no reconciler: the tests put clusters InService and write node records as the
reconciler would. The orchestrator's EKS cluster is not in this account, so the cluster's
Kubernetes minor is the EKS default (1.32)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from podwarden.model.cluster import (
    ClusterStatus,
    GroupStatus,
    Instance,
    InstanceStatus,
    SoftwareUpdate,
)
from podwarden.policy.eks_catalog import load_versions
from podwarden.policy.hyperpod_images import day_of, load_images
from tests.api.aws_server import ACCOUNT, REGION, SEEDED_EKS, AwsServer
from tests.api.test_aws_cli import cli_env, failed, ok

MINOR = load_versions().default
CATALOG = load_images()
LATEST = CATALOG.default_release(MINOR) or ""
OLDER = "1.3.0"  # ships for 1.32; a security release (1.3.1) and 1.4.x came after it
OTHER_MINOR = "1.0.1"  # ships for 1.28-1.30 only
CUSTOM_AMI = "ami-0123456789abcdef0"
GROUP = {
    "InstanceGroupName": "workers",
    "InstanceType": "ml.c5.xlarge",
    "InstanceCount": 1,
    "ExecutionRole": f"arn:aws:iam::{ACCOUNT}:role/hyperpod",
}
DEPLOYMENT = {
    "RollingUpdatePolicy": {
        "MaximumBatchSize": {"Type": "CAPACITY_PERCENTAGE", "Value": 50},
        "RollbackMaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
    },
    "WaitIntervalInSeconds": 60,
    "AutoRollbackConfiguration": [{"AlarmName": "gpu-errors"}],
}
NAMES = itertools.count()


def status_of(release: str) -> str:
    found = CATALOG.status(release, MINOR, day_of(time.time()))
    assert found is not None
    return str(found)


@pytest.fixture(scope="module")
def sm(aws: AwsServer) -> Any:
    return aws.client("sagemaker")


def cluster_id(arn: str) -> str:
    return arn.rsplit("/", 1)[1]


def in_service(aws: AwsServer, arn: str) -> None:
    cluster = aws.store.get_cluster(ACCOUNT, REGION, cluster_id=cluster_id(arn))
    assert cluster is not None
    cluster.status = ClusterStatus.IN_SERVICE
    for group in cluster.groups.values():
        group.status = GroupStatus.IN_SERVICE
    aws.store.save_cluster(cluster)


def create(sm: Any, aws: AwsServer, *groups: dict[str, Any], **more: Any) -> str:
    arn = sm.create_cluster(
        ClusterName=f"sw-{next(NAMES)}",
        InstanceGroups=list(groups or [GROUP]),
        Orchestrator=SEEDED_EKS,
        **more,
    )["ClusterArn"]
    return str(arn)


@pytest.fixture
def cluster(sm: Any, aws: AwsServer) -> Iterator[str]:
    """An InService Continuous cluster: workers on OLDER, gpus on the default release."""
    arn = create(
        sm,
        aws,
        {**GROUP, "ImageReleaseVersion": OLDER},
        {**GROUP, "InstanceGroupName": "gpus"},
        NodeProvisioningMode="Continuous",
    )
    in_service(aws, arn)
    yield arn
    aws.store.delete_cluster(cluster_id(arn))


def refused(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def groups_of(sm: Any, arn: str) -> dict[str, dict[str, Any]]:
    described = sm.describe_cluster(ClusterName=arn)
    return {g["InstanceGroupName"]: g for g in described["InstanceGroups"]}


def test_catalog_fits_the_served_kubernetes() -> None:
    assert LATEST and LATEST != OLDER
    assert CATALOG.release_problem(OLDER, MINOR) is None
    assert CATALOG.release_problem(OTHER_MINOR, MINOR) is not None


def test_new_groups_run_the_default_or_the_asked_release(sm: Any, cluster: str) -> None:
    groups = groups_of(sm, cluster)
    workers, gpus = groups["workers"], groups["gpus"]
    assert workers["CurrentImageReleaseVersion"] == workers["DesiredImageReleaseVersion"] == OLDER
    assert gpus["CurrentImageReleaseVersion"] == gpus["DesiredImageReleaseVersion"] == LATEST
    assert workers["CurrentImageId"] == workers["DesiredImageId"] == "default"
    assert workers["ImageVersionStatus"] == status_of(OLDER) == "SecurityUpdateRequired"
    assert gpus["ImageVersionStatus"] == status_of(LATEST)
    assert "SoftwareUpdateStatus" not in workers and "ActiveSoftwareUpdateConfig" not in workers


def test_update_requested(sm: Any, aws: AwsServer, cluster: str) -> None:
    out = sm.update_cluster_software(
        ClusterName=cluster,
        InstanceGroups=[{"InstanceGroupName": "workers"}],
        DeploymentConfig=DEPLOYMENT,
    )
    assert out["ClusterArn"] == cluster
    described = sm.describe_cluster(ClusterName=cluster)
    assert described["ClusterStatus"] == "SystemUpdating"
    groups = {g["InstanceGroupName"]: g for g in described["InstanceGroups"]}
    workers = groups["workers"]
    assert workers["SoftwareUpdateStatus"] == "Pending"
    assert workers["CurrentImageReleaseVersion"] == OLDER
    assert workers["DesiredImageReleaseVersion"] == LATEST
    assert workers["ActiveSoftwareUpdateConfig"] == DEPLOYMENT
    assert workers["TargetStateCount"] == 0
    assert "SoftwareUpdateStatus" not in groups["gpus"]  # not named: left alone
    events = sm.list_cluster_events(ClusterName=cluster, InstanceGroupName="workers")["Events"]
    assert any(
        "UpdateClusterSoftware requested" in e["Description"] and LATEST in e["Description"]
        for e in events
    )
    record = aws.store.get_cluster(ACCOUNT, REGION, cluster_id=cluster_id(cluster))
    assert record is not None
    update = record.groups["workers"].software_update
    assert update is not None
    assert (update.from_release, update.to_release) == (OLDER, LATEST)
    assert update.deployment == DEPLOYMENT and update.requested > 0
    # a second request while this one runs
    code, message = refused(sm.update_cluster_software, ClusterName=cluster)
    assert code == "ConflictException" and "SystemUpdating" in message


def test_all_groups_and_explicit_release(sm: Any, cluster: str) -> None:
    sm.update_cluster_software(
        ClusterName=cluster,
        InstanceGroups=[
            {"InstanceGroupName": "workers", "ImageReleaseVersion": "1.4.0"},
            {"InstanceGroupName": "gpus"},
        ],
    )
    groups = groups_of(sm, cluster)
    assert groups["workers"]["DesiredImageReleaseVersion"] == "1.4.0"
    assert "SoftwareUpdateStatus" not in groups["gpus"]  # already on the latest


def test_omitted_groups_mean_every_group(sm: Any, aws: AwsServer) -> None:
    arn = create(
        sm,
        aws,
        {**GROUP, "ImageReleaseVersion": OLDER},
        {**GROUP, "InstanceGroupName": "gpus", "ImageReleaseVersion": OLDER},
    )
    in_service(aws, arn)
    sm.update_cluster_software(ClusterName=arn, ImageId="default")
    groups = groups_of(sm, arn)
    assert {g["SoftwareUpdateStatus"] for g in groups.values()} == {"Pending"}
    assert {g["DesiredImageReleaseVersion"] for g in groups.values()} == {LATEST}


def test_already_current_is_a_no_op(sm: Any, aws: AwsServer) -> None:
    arn = create(sm, aws)
    in_service(aws, arn)
    assert sm.update_cluster_software(ClusterName=arn)["ClusterArn"] == arn
    described = sm.describe_cluster(ClusterName=arn)
    assert described["ClusterStatus"] == "InService"
    assert "SoftwareUpdateStatus" not in described["InstanceGroups"][0]


def test_custom_ami(sm: Any, aws: AwsServer) -> None:
    arn = create(sm, aws, {**GROUP, "ImageId": CUSTOM_AMI, "ImageReleaseVersion": OLDER})
    in_service(aws, arn)
    (group,) = groups_of(sm, arn).values()
    assert group["CurrentImageId"] == CUSTOM_AMI
    code, message = refused(sm.update_cluster_software, ClusterName=arn)
    assert code == "ValidationException" and CUSTOM_AMI in message and "ImageId" in message
    sm.update_cluster_software(ClusterName=arn, ImageId="default")
    (group,) = groups_of(sm, arn).values()
    assert (group["CurrentImageId"], group["DesiredImageId"]) == (CUSTOM_AMI, "default")


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        ({"InstanceGroups": [{"InstanceGroupName": "missing"}]}, "missing not found"),
        (
            {"InstanceGroups": [{"InstanceGroupName": "workers"}] * 2},
            "workers appears more than once",
        ),
        (
            {"InstanceGroups": [{"InstanceGroupName": "workers", "ImageReleaseVersion": "9.9.9"}]},
            "9.9.9 is not a HyperPod AMI release",
        ),
        (
            {
                "InstanceGroups": [
                    {"InstanceGroupName": "workers", "ImageReleaseVersion": OTHER_MINOR}
                ]
            },
            f"not for the cluster's Kubernetes {MINOR}",
        ),
        (
            {
                "DeploymentConfig": {
                    "RollingUpdatePolicy": {
                        "MaximumBatchSize": {"Type": "CAPACITY_PERCENTAGE", "Value": 150}
                    }
                }
            },
            "at most 100",
        ),
        (
            {
                "DeploymentConfig": {
                    "AutoRollbackConfiguration": [{"AlarmName": "a"}, {"AlarmName": "a"}]
                }
            },
            "repeated: a",
        ),
        # the model's bounds and patterns, checked by the server (boto3 checks only minimums)
        ({"DeploymentConfig": {"WaitIntervalInSeconds": 3601}}, ""),
        (
            {"InstanceGroups": [{"InstanceGroupName": "workers", "ImageReleaseVersion": "1.2"}]},
            "",
        ),
        ({"ImageId": "ami-xyz"}, ""),
    ],
)
def test_validation(sm: Any, cluster: str, request_: dict[str, Any], expected: str) -> None:
    code, message = refused(sm.update_cluster_software, ClusterName=cluster, **request_)
    assert code == "ValidationException", message
    assert expected in message
    assert sm.describe_cluster(ClusterName=cluster)["ClusterStatus"] == "InService"


def test_conflicts(sm: Any, aws: AwsServer, cluster: str) -> None:
    code, _ = refused(sm.update_cluster_software, ClusterName="no-such-cluster")
    assert code == "ResourceNotFound"
    creating = create(sm, aws)  # not yet InService
    code, message = refused(sm.update_cluster_software, ClusterName=creating)
    assert code == "ConflictException" and "Creating" in message
    record = aws.store.get_cluster(ACCOUNT, REGION, cluster_id=cluster_id(cluster))
    assert record is not None
    record.groups["workers"].status = GroupStatus.UPDATING
    record.groups["gpus"].software_update = SoftwareUpdate(
        to_release=LATEST, from_release=OLDER, status="InProgress"
    )
    aws.store.save_cluster(record)
    code, message = refused(
        sm.update_cluster_software,
        ClusterName=cluster,
        InstanceGroups=[{"InstanceGroupName": "workers"}],
    )
    assert code == "ConflictException" and "workers is Updating" in message
    code, message = refused(
        sm.update_cluster_software,
        ClusterName=cluster,
        InstanceGroups=[{"InstanceGroupName": "gpus", "ImageReleaseVersion": "1.4.0"}],
    )
    assert code == "ConflictException" and "InProgress" in message


def _instance(arn: str, release: str, updated: float) -> Instance:
    now = time.time()
    return Instance(
        instance_id="i-0123456789abcdef0",
        cluster_id=cluster_id(arn),
        group="workers",
        logical_id="workers-node-1",
        instance_type=GROUP["InstanceType"],  # type: ignore[arg-type]
        status=InstanceStatus.RUNNING,
        launch_time=now,
        ready_at=now,
        private_ip="10.1.2.3",
        availability_zone=f"{REGION}a",
        image_release=release,
        last_software_update=updated,
    )


def test_node_members(sm: Any, aws: AwsServer, cluster: str) -> None:
    aws.store.add_instances([_instance(cluster, OLDER, 0.0)])
    (summary,) = sm.list_cluster_nodes(ClusterName=cluster)["ClusterNodeSummaries"]
    assert summary["CurrentImageReleaseVersion"] == OLDER
    assert summary["ImageVersionStatus"] == status_of(OLDER)
    assert "LastSoftwareUpdateTime" not in summary
    node = sm.describe_cluster_node(ClusterName=cluster, NodeId="i-0123456789abcdef0")
    details = node["NodeDetails"]
    assert details["DesiredImageReleaseVersion"] == OLDER  # no update running
    assert details["CurrentImageId"] == details["DesiredImageId"] == "default"
    sm.update_cluster_software(
        ClusterName=cluster, InstanceGroups=[{"InstanceGroupName": "workers"}]
    )
    details = sm.describe_cluster_node(ClusterName=cluster, NodeId="i-0123456789abcdef0")[
        "NodeDetails"
    ]
    assert (details["CurrentImageReleaseVersion"], details["DesiredImageReleaseVersion"]) == (
        OLDER,
        LATEST,
    )
    inst = aws.store.list_instances(cluster_id(cluster))[0]
    inst.image_release, inst.last_software_update = LATEST, 1_700_000_000.0
    aws.store.save_instance(inst)
    (summary,) = sm.list_cluster_nodes(ClusterName=cluster)["ClusterNodeSummaries"]
    assert summary["LastSoftwareUpdateTime"].timestamp() == 1_700_000_000.0
    assert groups_of(sm, cluster)["workers"]["TargetStateCount"] == 1


def test_create_and_update_cluster_rules(sm: Any, aws: AwsServer) -> None:
    bad = [
        ({**GROUP, "ImageReleaseVersion": "9.9.9"}, "9.9.9 is not a HyperPod AMI release"),
        ({**GROUP, "ImageReleaseVersion": OTHER_MINOR}, f"Kubernetes {MINOR}"),
        (
            {**GROUP, "ScheduledUpdateConfig": {"ScheduleExpression": "cron(0 3 * * ? *)"}},
            "Day-of-month '*'",
        ),
        (
            {**GROUP, "ScheduledUpdateConfig": {"ScheduleExpression": "cron(0 3 1 1 ? 2024)"}},
            "never falls due",
        ),
    ]
    for group, expected in bad:
        code, message = refused(
            sm.create_cluster,
            ClusterName=f"sw-{next(NAMES)}",
            InstanceGroups=[group],
            Orchestrator=SEEDED_EKS,
        )
        assert (code, expected in message) == ("ValidationException", True), message
    schedule = {"ScheduleExpression": "cron(0 3 ? * 2#1 *)", "DeploymentConfig": DEPLOYMENT}
    arn = create(
        sm, aws, {**GROUP, "ScheduledUpdateConfig": schedule, "ImageReleaseVersion": OLDER}
    )
    assert groups_of(sm, arn)["workers"]["ScheduledUpdateConfig"] == schedule
    in_service(aws, arn)
    code, message = refused(
        sm.update_cluster,
        ClusterName=arn,
        InstanceGroups=[{**GROUP, "ScheduledUpdateConfig": {"ScheduleExpression": "weekly"}}],
    )
    assert code == "ValidationException" and "cron(" in message


def test_update_cluster_new_group_inherits_in_continuous_mode(sm: Any, aws: AwsServer) -> None:
    arn = create(
        sm, aws, {**GROUP, "ImageReleaseVersion": OLDER}, NodeProvisioningMode="Continuous"
    )
    in_service(aws, arn)
    sm.update_cluster(
        ClusterName=arn,
        InstanceGroups=[
            {**GROUP, "ImageReleaseVersion": OLDER},
            {**GROUP, "InstanceGroupName": "more"},
        ],
    )
    groups = groups_of(sm, arn)
    assert groups["more"]["CurrentImageReleaseVersion"] == OLDER


def test_aws_cli(aws: AwsServer, sm: Any, tmp_path: Path) -> None:
    arn = create(sm, aws, {**GROUP, "ImageReleaseVersion": OLDER})
    in_service(aws, arn)
    env = cli_env(tmp_path)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "awscli", "sagemaker", *args]
        argv += ["--endpoint-url", aws.endpoint, "--region", REGION, "--output", "json"]
        return subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=120, check=False
        )

    out = ok(
        cli(
            "update-cluster-software",
            "--cluster-name",
            arn,
            "--instance-groups",
            f"InstanceGroupName=workers,ImageReleaseVersion={LATEST}",
            "--deployment-config",
            '{"RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1}},'
            ' "WaitIntervalInSeconds": 0}',
        )
    )
    assert out == {"ClusterArn": arn}
    described = ok(cli("describe-cluster", "--cluster-name", arn))
    assert described["ClusterStatus"] == "SystemUpdating"
    assert described["InstanceGroups"][0]["SoftwareUpdateStatus"] == "Pending"
    stderr = failed(
        cli("update-cluster-software", "--cluster-name", arn),
        "ConflictException",
        "UpdateClusterSoftware",
    )
    assert "SystemUpdating" in stderr
