"""``/_podwarden/metrics`` over real HTTP after real boto3 requests: the request counters by
service, operation and code; what the route refuses; S3's bucket ``metrics`` is not shadowed.
And ``podwarden status`` against the running server (no Kubernetes here: the instance records
and an event are written to the store as the reconciler would)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from prometheus_client.parser import text_string_to_metric_families

from podwarden.cli.main import main
from podwarden.model.cluster import ClusterEvent, Instance
from tests.api.aws_server import SEEDED_EKS, AwsServer

PATH = "/_podwarden/metrics"
Counts = dict[tuple[str, str, str], float]


def requests_total(aws: AwsServer) -> Counts:
    with urllib.request.urlopen(aws.endpoint + PATH, timeout=10) as response:
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    return {
        (s.labels["service"], s.labels["operation"], s.labels["code"]): s.value
        for family in text_string_to_metric_families(text)
        if family.name == "podwarden_api_requests"
        for s in family.samples
        if s.name == "podwarden_api_requests_total"
    }


def delta(before: Counts, after: Counts) -> Counts:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def test_requests_are_counted_by_service_operation_and_code(aws: AwsServer) -> None:
    before = requests_total(aws)
    sm, ec2 = aws.client("sagemaker"), aws.client("ec2")
    for _ in range(3):
        sm.list_clusters()
    with pytest.raises(ClientError):
        sm.describe_cluster(ClusterName="no-such-cluster")
    ec2.describe_vpcs()
    with pytest.raises(ClientError):  # a wrong secret: refused before the operation is read
        aws.client("sagemaker", secret="wrong").list_clusters()
    got = delta(before, requests_total(aws))
    assert got == {
        ("sagemaker", "ListClusters", "200"): 3,
        ("sagemaker", "DescribeCluster", "400"): 1,
        ("ec2", "DescribeVpcs", "200"): 1,
        ("sagemaker", "unknown", "400"): 1,  # InvalidSignatureException, before routing
    }


def test_the_route_answers_get_only(aws: AwsServer) -> None:
    request = urllib.request.Request(aws.endpoint + PATH, data=b"", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405


def test_openmetrics_when_asked(aws: AwsServer) -> None:
    request = urllib.request.Request(
        aws.endpoint + PATH, headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["content-type"].startswith("application/openmetrics-text")
        assert response.read().decode().rstrip().endswith("# EOF")


def test_a_bucket_named_metrics_is_still_s3s(aws: AwsServer) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(
        Bucket="metrics", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    s3.put_object(Bucket="metrics", Key="k", Body=b"v")
    assert s3.get_object(Bucket="metrics", Key="k")["Body"].read() == b"v"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="metrics")["Contents"]] == ["k"]


def instance(cluster_id: str, n: int, status: str) -> Instance:
    return Instance(
        instance_id=f"i-0{n:016x}",
        cluster_id=cluster_id,
        group="workers",
        logical_id=f"lid-{n}",
        instance_type="ml.c5.xlarge",
        status=status,
        launch_time=time.time(),
        ready_at=time.time(),
    )


def test_podwarden_status_shows_the_servers_clusters(
    aws: AwsServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sm: Any = aws.client("sagemaker")
    group = {
        "InstanceGroupName": "workers",
        "InstanceType": "ml.c5.xlarge",
        "InstanceCount": 3,
        "ExecutionRole": "arn:aws:iam::000000000000:role/hyperpod",
    }
    arn = sm.create_cluster(
        ClusterName="status-shown",
        InstanceGroups=[group],
        Orchestrator=SEEDED_EKS,
        NodeProvisioningMode="Continuous",
        NodeRecovery="Automatic",
    )["ClusterArn"]
    cluster_id = arn.rsplit("/", 1)[1]
    aws.store.add_instances(
        [instance(cluster_id, 1, "Running"), instance(cluster_id, 2, "Pending")]
    )
    event = ClusterEvent("ev-1", cluster_id, time.time(), "Instance", "Warn", "a node rebooted")
    aws.store.add_events([event])
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["status", "--endpoint", aws.endpoint]) == 0
    out = capsys.readouterr().out
    assert f"podwarden at {aws.endpoint} (us-west-2)" in out
    (row,) = [line for line in out.splitlines() if "status-shown" in line and "workers" in line]
    assert "ml.c5.xlarge" in row and "1/3" in row  # CurrentCount: the running instances
    assert "1 Pending, 1 Running" in row
    assert "a node rebooted" in out and "Warn" in out
    sm.delete_cluster(ClusterName=arn)


def test_podwarden_status_says_why_it_cannot_read_a_server(aws: AwsServer) -> None:
    with pytest.raises(SystemExit) as failed:
        main(["status", "--endpoint", "http://127.0.0.1:9"])  # nothing listens on port 9
    assert "podwarden status: http://127.0.0.1:9" in str(failed.value.code)
