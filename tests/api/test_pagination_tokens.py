"""Crafted pagination tokens over real HTTP with boto3 (issue #17, item 4): each service answers
its own invalid-token error, parsed by botocore, and never a 5xx. Before the fix a NextToken of
``base64url('{"o":1e400,"q":"x"}')`` raised OverflowError (HTTP 500) in SageMaker, EKS, EC2 and
IAM. Tokens issued by the server still walk every page, and only for the query that issued them.

Codes asserted: SageMaker ``ValidationException``, EKS ``InvalidParameterException``, EC2
``InvalidPaginationToken``, IAM ``InvalidInput`` (AWS's exact code is unverified; see
``wire.errors_iam``), S3 ``InvalidArgument``."""

from __future__ import annotations

import base64
import functools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from podwarden.model import ids
from podwarden.model.cluster import Cluster, Instance
from podwarden.store.sql import Store
from tests.api.aws_server import REGION, AwsServer
from tests.aws_helpers import ACCOUNT, SAGEMAKER_TRUST_POLICY

BUCKET = "pagination-tokens"


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


# crafted tokens that every service's model accepts (IAM's Marker: 1-320 of U+0020-U+00FF)
CRAFTED: dict[str, str] = {
    "exponent overflow": b64('{"o":1e400,"q":"x"}'),
    "NaN": b64('{"o":NaN,"q":"x"}'),
    "float": b64('{"o":2.5,"q":"x"}'),
    "negative": b64('{"o":-5,"q":"x"}'),
    "big int": b64('{"o":' + "9" * 200 + ',"q":"x"}'),
    "boolean": b64('{"o":true,"q":"x"}'),
    "list": b64("[1,2,3]"),
    "string": b64('"o"'),
    "nesting": b64("[" * 100 + "]" * 100),
    "marker as offset": b64('{"a":"aw==","q":"x"}'),
    # key tokens (ListClusterNodes): only a finite number and an id make one
    "key overflow": b64('{"k":"1e400 i-0","q":"x"}'),
    "key NaN": b64('{"k":"nan i-0","q":"x"}'),
    "key without id": b64('{"k":"5","q":"x"}'),
    "key not a string": b64('{"k":5,"q":"x"}'),
    "key with a control character": b64('{"k":"5 i-\\u0001","q":"x"}'),
    "wrong fingerprint": b64('{"o":1,"q":"0000000000000000"}'),
    "not JSON": b64("garbage"),
    "not base64": "not*a*token",
    "bad padding": "eyJvIjoxfQ=",
    "latin-1": "\u00e9\u00ff",
}
# longer than IAM's Marker may be: the other services take them
LONG: dict[str, str] = {
    "huge int": b64('{"o":' + "9" * 5000 + ',"q":"x"}'),
    "overlong": "A" * 8000,
}


def refused(call: Callable[[], Any]) -> tuple[int, str]:
    with pytest.raises(ClientError) as err:
        call()
    resp = err.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"]


@pytest.fixture(scope="module")
def cluster(aws: AwsServer) -> str:
    """Three SageMaker clusters (``pg-0``...), put in the store as CreateCluster would leave
    them; the first is returned, with continuous provisioning so it has events."""
    for i in range(3):
        cid = ids.new_cluster_id()
        spec = {"NodeProvisioningMode": "Continuous"}
        aws.store.create_cluster(
            Cluster(
                cid,
                f"pg-{i}",
                ids.cluster_arn(REGION, ACCOUNT, cid),
                REGION,
                ACCOUNT,
                "InService",
                time.time() + i,
                spec,
            )
        )
    return "pg-0"


def sagemaker_calls(aws: AwsServer, cluster: str) -> dict[str, Callable[[str], Any]]:
    sm = aws.client("sagemaker")
    return {
        "ListClusters": lambda t: sm.list_clusters(NextToken=t),
        "ListClusterOperations": lambda t: sm.list_cluster_operations(
            ClusterName=cluster, NextToken=t
        ),
        "ListClusterNodes": lambda t: sm.list_cluster_nodes(ClusterName=cluster, NextToken=t),
        "ListClusterEvents": lambda t: sm.list_cluster_events(ClusterName=cluster, NextToken=t),
    }


@pytest.mark.parametrize("token", [*CRAFTED.values(), *LONG.values()], ids=[*CRAFTED, *LONG])
def test_sagemaker_answers_validation_exception(aws: AwsServer, cluster: str, token: str) -> None:
    for op, call in sagemaker_calls(aws, cluster).items():
        assert refused(functools.partial(call, token)) == (400, "ValidationException"), op


@pytest.mark.parametrize("token", [*CRAFTED.values(), *LONG.values()], ids=[*CRAFTED, *LONG])
def test_eks_answers_invalid_parameter(aws: AwsServer, token: str) -> None:
    eks = aws.client("eks")
    got = refused(lambda: eks.list_clusters(maxResults=10, nextToken=token))
    assert got == (400, "InvalidParameterException")


@pytest.mark.parametrize("token", [*CRAFTED.values(), *LONG.values()], ids=[*CRAFTED, *LONG])
def test_ec2_answers_invalid_pagination_token(aws: AwsServer, token: str) -> None:
    ec2 = aws.client("ec2")
    got = refused(lambda: ec2.describe_vpcs(MaxResults=5, NextToken=token))
    assert got == (400, "InvalidPaginationToken")
    assert refused(lambda: ec2.describe_vpcs(NextToken=token)) == (400, "InvalidPaginationToken")


@pytest.mark.parametrize("token", CRAFTED.values(), ids=list(CRAFTED))
def test_iam_answers_invalid_input(aws: AwsServer, token: str) -> None:
    assert len(token) <= 320  # within IAM's model, so the handler (not the validator) answers
    iam = aws.client("iam")
    assert refused(lambda: iam.list_roles(Marker=token)) == (400, "InvalidInput")


def test_iam_refuses_a_marker_longer_than_its_model(aws: AwsServer) -> None:
    iam = aws.client("iam")
    assert refused(lambda: iam.list_roles(Marker=LONG["huge int"])) == (400, "ValidationError")


@pytest.fixture(scope="module")
def bucket(aws: AwsServer) -> str:
    s3 = aws.client("s3", s3={"addressing_style": "path"})
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    for key in ("a/1", "a/2", "a/3", "b/1"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")
    return BUCKET


@pytest.mark.parametrize(
    "token",
    [*CRAFTED.values(), *LONG.values(), "tok\x01en"],
    ids=[*CRAFTED, *LONG, "control character"],
)
def test_s3_answers_invalid_argument(aws: AwsServer, bucket: str, token: str) -> None:
    s3 = aws.client("s3", s3={"addressing_style": "path"})
    got = refused(lambda: s3.list_objects_v2(Bucket=bucket, ContinuationToken=token))
    assert got == (400, "InvalidArgument")
    assert refused(lambda: s3.list_buckets(ContinuationToken=token)) == (400, "InvalidArgument")


# --- issued tokens walk every page, for their own query only -------------------------------------


def test_sagemaker_tokens_walk_and_are_bound(aws: AwsServer, cluster: str) -> None:
    sm = aws.client("sagemaker")
    query: dict[str, Any] = {"NameContains": "pg-", "SortBy": "NAME", "SortOrder": "Descending"}
    pages = list(
        sm.get_paginator("list_clusters").paginate(**query, PaginationConfig={"PageSize": 1})
    )
    names = [c["ClusterName"] for p in pages for c in p["ClusterSummaries"]]
    assert names == ["pg-2", "pg-1", "pg-0"]
    token = pages[0]["NextToken"]
    other = {**query, "SortOrder": "Ascending"}
    assert refused(lambda: sm.list_clusters(**other, NextToken=token)) == (
        400,
        "ValidationException",
    )


def test_ec2_tokens_walk_and_are_bound(aws: AwsServer) -> None:
    ec2 = aws.client("ec2")
    made = [ec2.create_vpc(CidrBlock=f"10.{90 + i}.0.0/16")["Vpc"]["VpcId"] for i in range(6)]
    pages = list(ec2.get_paginator("describe_vpcs").paginate(PaginationConfig={"PageSize": 5}))
    seen = [v["VpcId"] for p in pages for v in p["Vpcs"]]
    assert set(made) <= set(seen) and len(seen) == len(set(seen))
    token = pages[0]["NextToken"]
    narrowed = [{"Name": "vpc-id", "Values": made}]
    got = refused(lambda: ec2.describe_vpcs(MaxResults=5, NextToken=token, Filters=narrowed))
    assert got == (400, "InvalidPaginationToken")


def test_iam_markers_walk_and_are_bound(aws: AwsServer) -> None:
    iam = aws.client("iam")
    trust = json.dumps(SAGEMAKER_TRUST_POLICY)
    for i in range(3):
        iam.create_role(RoleName=f"pg-role-{i}", Path="/pg/", AssumeRolePolicyDocument=trust)
    pages = list(
        iam.get_paginator("list_roles").paginate(
            PathPrefix="/pg/", PaginationConfig={"PageSize": 1}
        )
    )
    assert [r["RoleName"] for p in pages for r in p["Roles"]] == [f"pg-role-{i}" for i in range(3)]
    marker = pages[0]["Marker"]
    assert refused(lambda: iam.list_roles(Marker=marker)) == (400, "InvalidInput")


def test_s3_tokens_walk_and_are_bound(aws: AwsServer, bucket: str) -> None:
    s3 = aws.client("s3", s3={"addressing_style": "path"})
    pages = list(
        s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix="a/", PaginationConfig={"PageSize": 1}
        )
    )
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == ["a/1", "a/2", "a/3"]
    token = pages[0]["NextContinuationToken"]
    got = refused(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="b/", ContinuationToken=token))
    assert got == (400, "InvalidArgument")


# --- ListClusterNodes: pages read through the store's index (issue #14) --------------------------


def _node(cid: str, n: int, group: str, launch: float) -> Instance:
    return Instance(
        instance_id=f"i-{(n * 7919) % 1000:017x}",  # ids not in launch order
        cluster_id=cid,
        group=group,
        logical_id=f"{group}-{n}",
        instance_type="ml.c5.large",
        status="Running",
        launch_time=launch,
        ready_at=launch,
    )


@pytest.fixture(scope="module")
def node_cluster(aws: AwsServer, cluster: str) -> tuple[str, list[Instance]]:
    """30 instances of pg-0 in two groups, some launched together (equal launch times)."""
    record = aws.store.get_cluster(ACCOUNT, REGION, name=cluster)
    assert record is not None
    base = time.time() - 3600
    made = [
        _node(record.cluster_id, n, "gpu" if n % 3 else "cpu-x", base + n // 4) for n in range(30)
    ]
    aws.store.add_instances(made)
    return cluster, made


ORDERS = [(by, order) for by in ("CREATION_TIME", "NAME") for order in ("Ascending", "Descending")]


@pytest.mark.parametrize("sort", ORDERS, ids=["/".join(o) for o in ORDERS])
@pytest.mark.parametrize("page_size", [1, 4, 30, 100])
def test_list_cluster_nodes_walks_every_order(
    aws: AwsServer,
    node_cluster: tuple[str, list[Instance]],
    sort: tuple[str, str],
    page_size: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster, made = node_cluster
    sort_by, sort_order = sort
    # no page may read the whole cluster: that made paging quadratic in its size
    monkeypatch.setattr(Store, "list_instances", _never)
    sm = aws.client("sagemaker")
    query = {"ClusterName": cluster, "SortBy": sort_by, "SortOrder": sort_order}
    pages = list(
        sm.get_paginator("list_cluster_nodes").paginate(
            **query, PaginationConfig={"PageSize": page_size}
        )
    )
    got = [s["InstanceId"] for p in pages for s in p["ClusterNodeSummaries"]]
    key = (
        (lambda i: i.instance_id)
        if sort_by == "NAME"
        else (lambda i: (i.launch_time, i.instance_id))
    )
    want = [i.instance_id for i in sorted(made, key=key, reverse=sort_order == "Descending")]
    assert got == want
    assert len(pages) == -(-len(made) // page_size)  # no empty last page
    assert "NextToken" not in pages[-1]


def test_list_cluster_nodes_filters_across_pages(
    aws: AwsServer, node_cluster: tuple[str, list[Instance]], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster, made = node_cluster
    monkeypatch.setattr(Store, "list_instances", _never)
    sm = aws.client("sagemaker")
    after = datetime.fromtimestamp(made[9].launch_time, UTC)  # strictly after: from n = 12 on
    pages = list(
        sm.get_paginator("list_cluster_nodes").paginate(
            ClusterName=cluster,
            InstanceGroupNameContains="cpu",
            CreationTimeAfter=after,
            PaginationConfig={"PageSize": 2},
        )
    )
    got = [s["InstanceId"] for p in pages for s in p["ClusterNodeSummaries"]]
    want = [
        i
        for i in sorted(made, key=lambda i: (i.launch_time, i.instance_id))
        if i.group == "cpu-x" and i.launch_time > made[9].launch_time
    ]
    assert got == [i.instance_id for i in want] and len(want) == 6
    token = pages[0]["NextToken"]  # bound to its filter
    got_refused = refused(
        lambda: sm.list_cluster_nodes(ClusterName=cluster, NextToken=token, MaxResults=2)
    )
    assert got_refused == (400, "ValidationException")


def test_list_cluster_nodes_pages_stay_right_when_nodes_come_and_go(
    aws: AwsServer, node_cluster: tuple[str, list[Instance]]
) -> None:
    cluster, made = node_cluster
    sm = aws.client("sagemaker")
    first = sm.list_cluster_nodes(ClusterName=cluster, SortBy="NAME", MaxResults=10)
    seen = [s["InstanceId"] for s in first["ClusterNodeSummaries"]]
    # one node of the first page goes away: an offset would now skip a node of the second page
    aws.store.delete_instance(seen[0])
    try:
        token = first["NextToken"]
        while token:
            page = sm.list_cluster_nodes(
                ClusterName=cluster, SortBy="NAME", MaxResults=10, NextToken=token
            )
            seen += [s["InstanceId"] for s in page["ClusterNodeSummaries"]]
            token = page.get("NextToken")
    finally:
        aws.store.add_instances([i for i in made if i.instance_id == seen[0]])
    assert seen == sorted(i.instance_id for i in made)


def _never(*_: object) -> None:
    raise AssertionError("ListClusterNodes read every instance of the cluster for one page")
