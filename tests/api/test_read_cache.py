"""The API's read cache over real HTTP (``api.read_cache``): polling DescribeCluster is answered
from it while the store is unchanged, and never once anything changed it (this server's writes,
another connection's, another process's); each answer has its own request id; every request is
still authenticated first; a region or account sees only its own."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from podwarden.model.cluster import ClusterStatus
from podwarden.policy.read_cache import load_read_cache
from tests.api.aws_server import ACCOUNT, REGION, SEEDED_EKS, AwsServer
from tests.api.test_metrics_and_status import instance
from tests.api.test_sagemaker_tags import GROUP, refused

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def counted(aws: AwsServer, result: str) -> float:
    value = aws.app.services.metrics.registry.get_sample_value(
        "podwarden_api_read_cache_total", {"result": result}
    )
    return value or 0.0


def answer(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def created(aws: AwsServer, name: str) -> Any:
    sm = aws.client("sagemaker")
    sm.create_cluster(ClusterName=name, InstanceGroups=[GROUP], Orchestrator=SEEDED_EKS)
    return sm


def test_polling_is_answered_from_the_cache_until_the_store_changes(aws: AwsServer) -> None:
    sm = created(aws, "rc-poll")
    first = sm.describe_cluster(ClusterName="rc-poll")
    hits, misses = counted(aws, "hit"), counted(aws, "miss")
    second = sm.describe_cluster(ClusterName="rc-poll")
    assert counted(aws, "hit") == hits + 1 and counted(aws, "miss") == misses
    assert answer(second) == answer(first)
    ids = {r["ResponseMetadata"]["RequestId"] for r in (first, second)}
    assert len(ids) == 2  # a kept answer still carries its own request's id

    # what the reconciler does: the same store, its own connection
    cluster = aws.store.get_cluster(ACCOUNT, REGION, name="rc-poll")
    assert cluster is not None
    cluster.status = ClusterStatus.IN_SERVICE
    aws.store.save_cluster(cluster)
    after = sm.describe_cluster(ClusterName="rc-poll")
    assert after["ClusterStatus"] == "InService"
    assert counted(aws, "miss") == misses + 1

    sm.update_cluster(ClusterName="rc-poll", InstanceGroups=[{**GROUP, "InstanceCount": 2}])
    groups = sm.describe_cluster(ClusterName="rc-poll")["InstanceGroups"]
    assert [g["TargetCount"] for g in groups] == [2]  # this server's own write


def test_another_process_writing_the_store_is_seen_at_once(aws: AwsServer) -> None:
    sm = created(aws, "rc-other")
    sm.describe_cluster(ClusterName="rc-other")
    assert sm.describe_cluster(ClusterName="rc-other")["ClusterStatus"] == "Creating"  # kept
    script = (
        "import sys\n"
        "from podwarden.store.sql import Store, sqlite_url\n"
        "from pathlib import Path\n"
        "store = Store(sqlite_url(Path(sys.argv[1])))\n"
        f"cluster = store.get_cluster({ACCOUNT!r}, {REGION!r}, name='rc-other')\n"
        "cluster.status = 'Failed'\n"
        "cluster.failure_message = 'written by another process'\n"
        "store.save_cluster(cluster)\n"
        "store.close()\n"
    )
    subprocess.run([sys.executable, "-c", script, str(aws.data_dir)], check=True, timeout=60)
    seen = sm.describe_cluster(ClusterName="rc-other")
    assert (seen["ClusterStatus"], seen["FailureMessage"]) == (
        "Failed",
        "written by another process",
    )


def test_a_kept_answer_is_never_given_without_authentication(aws: AwsServer) -> None:
    sm = created(aws, "rc-auth")
    sm.describe_cluster(ClusterName="rc-auth")
    sm.describe_cluster(ClusterName="rc-auth")  # kept now
    hits = counted(aws, "hit")
    wrong_secret = aws.client("sagemaker", secret="not-the-secret")
    unknown_key = aws.client("sagemaker", key="AKIANOTAKEY000000000", secret="x")
    other_region = aws.client("sagemaker", region="us-east-1")
    assert refused(lambda: wrong_secret.describe_cluster(ClusterName="rc-auth"))[:2] == (
        400,
        "InvalidSignatureException",
    )
    assert refused(lambda: unknown_key.describe_cluster(ClusterName="rc-auth"))[:2] == (
        400,
        "UnrecognizedClientException",
    )
    # the same request body in another region: that region has no such cluster
    assert refused(lambda: other_region.describe_cluster(ClusterName="rc-auth"))[:2] == (
        400,
        "ResourceNotFound",
    )
    assert counted(aws, "hit") == hits


def test_a_query_protocol_answer_carries_its_request_id_in_body_and_header(
    aws: AwsServer,
) -> None:
    iam = aws.client("iam")
    iam.create_role(RoleName="rc-role", AssumeRolePolicyDocument=TRUST)
    seen = []
    for _ in range(3):
        got = iam.get_role(RoleName="rc-role")
        meta = got["ResponseMetadata"]
        assert meta["RequestId"] == meta["HTTPHeaders"]["x-amzn-requestid"]
        seen.append(meta["RequestId"])
    assert len(set(seen)) == 3
    iam.update_role(RoleName="rc-role", Description="changed")
    assert iam.get_role(RoleName="rc-role")["Role"]["Description"] == "changed"


def test_every_listed_read_is_kept(aws: AwsServer) -> None:
    """Each operation of ``policy/tables/read_cache.yaml`` answers from the cache the second
    time (none trips its clock rule, so the table says what the handlers do)."""
    sm = created(aws, "rc-listed")
    iam = aws.client("iam")
    iam.create_role(RoleName="rc-listed-role", AssumeRolePolicyDocument=TRUST)
    eks, ec2 = aws.client("eks"), aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.193.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for cidr, zone in (("10.193.0.0/18", "us-west-2a"), ("10.193.64.0/18", "us-west-2b"))
    ]
    eks.create_cluster(
        name="rc-eks",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/rc-eks",
        resourcesVpcConfig={"subnetIds": subnets},
    )
    calls: dict[str, Callable[[], Any]] = {
        "sagemaker DescribeCluster": lambda: sm.describe_cluster(ClusterName="rc-listed"),
        "sagemaker ListClusters": sm.list_clusters,
        "sagemaker ListClusterNodes": lambda: sm.list_cluster_nodes(ClusterName="rc-listed"),
        "eks DescribeCluster": lambda: eks.describe_cluster(name="rc-eks"),
        "eks ListClusters": eks.list_clusters,
        "ec2 DescribeSubnets": ec2.describe_subnets,
        "ec2 DescribeVpcs": ec2.describe_vpcs,
        "ec2 DescribeSecurityGroups": ec2.describe_security_groups,
        "iam GetRole": lambda: iam.get_role(RoleName="rc-listed-role"),
    }
    # a launched instance, as the reconciler (which this server does not run) would record it
    cluster = aws.store.get_cluster(ACCOUNT, REGION, name="rc-listed")
    assert cluster is not None
    node = instance(cluster.cluster_id, 0xA1C1, "Running")
    aws.store.add_instances([node])
    calls["sagemaker DescribeClusterNode"] = lambda: sm.describe_cluster_node(
        ClusterName="rc-listed", NodeId=node.instance_id
    )
    listed = {f"{service} {op}" for service, op in load_read_cache().clocks}
    assert listed == set(calls)
    for name, call in calls.items():
        call()
        hits = counted(aws, "hit")
        second = call()
        assert counted(aws, "hit") == hits + 1, name
        assert second["ResponseMetadata"]["HTTPStatusCode"] == 200, name
