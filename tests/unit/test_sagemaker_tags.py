"""SageMaker's AddTags, ListTags and DeleteTags on HyperPod clusters (``control.sagemaker.tags``),
on a real SQLite store: CreateCluster's tags, AWS's limits and reserved prefix, unknown ARNs,
paging, and no change lost to a concurrent writer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from podwarden.control.context import Context
from podwarden.control.sagemaker import OPERATIONS, clusters
from podwarden.model.changes import SAGEMAKER_CLUSTER, Change
from podwarden.model.cluster import Cluster, ClusterStatus
from podwarden.model.errors import PodwardenError
from podwarden.store.sql import Store, sqlite_url
from podwarden.wire.errors import WireError, wire_error
from tests.aws_helpers import ACCOUNT, REGION, assert_shape, make_context

EKS = {"Eks": {"ClusterArn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/podwarden"}}
GROUP = {
    "InstanceGroupName": "workers",
    "InstanceType": "ml.c5.large",
    "InstanceCount": 1,
    "ExecutionRole": f"arn:aws:iam::{ACCOUNT}:role/hyperpod",
}


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return make_context(tmp_path)


def call(ctx: Context, op: str, **params: Any) -> dict[str, Any]:
    """Run a handler and check its output against botocore's output shape."""
    out = OPERATIONS[op](ctx, params)
    assert_shape("sagemaker", op, out)
    return out


def fails(ctx: Context, op: str, **params: Any) -> WireError:
    """Run a handler that must fail; its error as SageMaker puts it on the wire."""
    with pytest.raises(PodwardenError) as info:
        OPERATIONS[op](ctx, params)
    return wire_error("sagemaker", info.value)


def invalid(ctx: Context, op: str, **params: Any) -> str:
    """The message of a ValidationException (400) the handler must answer."""
    error = fails(ctx, op, **params)
    assert (error.code, error.status) == ("ValidationException", 400), error.message
    return error.message


def create(ctx: Context, name: str = "tagged", tags: list[dict[str, str]] | None = None) -> str:
    req: dict[str, Any] = {"ClusterName": name, "InstanceGroups": [GROUP], "Orchestrator": EKS}
    if tags is not None:
        req["Tags"] = tags
    return str(clusters.create_cluster(ctx, req)["ClusterArn"])


def tags_of(ctx: Context, arn: str) -> list[dict[str, str]]:
    return list(call(ctx, "ListTags", ResourceArn=arn)["Tags"])


def kv(**pairs: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


def many(n: int, prefix: str = "k") -> list[dict[str, str]]:
    return [{"Key": f"{prefix}{i}", "Value": str(i)} for i in range(n)]


def test_create_cluster_tags_are_the_cluster_tags(ctx: Context) -> None:
    arn = create(ctx, tags=kv(team="ml", env="dev"))
    assert tags_of(ctx, arn) == kv(team="ml", env="dev")
    assert tags_of(ctx, create(ctx, "untagged")) == []
    assert tags_of(ctx, create(ctx, "empty", tags=[])) == []


def test_add_tags_adds_and_overwrites_case_sensitive_keys(ctx: Context) -> None:
    arn = create(ctx, tags=kv(team="ml", env="dev"))
    out = call(ctx, "AddTags", ResourceArn=arn, Tags=kv(env="prod", Env="x", owner=""))
    assert out == {"Tags": kv(env="prod", Env="x", owner="")}  # the request's tags
    # a key already there keeps its place; keys differing in case are two tags
    assert tags_of(ctx, arn) == kv(team="ml", env="prod", Env="x", owner="")
    assert call(ctx, "AddTags", ResourceArn=arn, Tags=[]) == {"Tags": []}
    assert tags_of(ctx, arn) == kv(team="ml", env="prod", Env="x", owner="")


def test_delete_tags(ctx: Context) -> None:
    arn = create(ctx, tags=kv(a="1", b="2", c="3"))
    assert call(ctx, "DeleteTags", ResourceArn=arn, TagKeys=["b", "B", "absent"]) == {}
    assert tags_of(ctx, arn) == kv(a="1", c="3")
    call(ctx, "DeleteTags", ResourceArn=arn, TagKeys=["a", "c"])
    assert tags_of(ctx, arn) == []
    assert "Tags" not in ctx.store.list_clusters()[0].spec
    call(ctx, "DeleteTags", ResourceArn=arn, TagKeys=["a"])  # nothing left: still no error


def test_the_limit_counts_existing_and_new_keys(ctx: Context) -> None:
    arn = create(ctx, tags=many(40))
    message = invalid(ctx, "AddTags", ResourceArn=arn, Tags=many(11, "n"))
    assert message == "The resource would have 51 tags; a resource can have at most 50 tags."
    assert len(tags_of(ctx, arn)) == 40  # nothing of a refused call is kept
    call(ctx, "AddTags", ResourceArn=arn, Tags=many(10, "n"))
    assert len(tags_of(ctx, arn)) == 50
    # at the limit, existing keys can still change value and keys can be swapped
    call(ctx, "AddTags", ResourceArn=arn, Tags=[{"Key": "k0", "Value": "new"}])
    assert tags_of(ctx, arn)[0] == {"Key": "k0", "Value": "new"}
    invalid(ctx, "AddTags", ResourceArn=arn, Tags=kv(one_more="x"))
    call(ctx, "DeleteTags", ResourceArn=arn, TagKeys=["k1"])
    call(ctx, "AddTags", ResourceArn=arn, Tags=kv(one_more="x"))
    assert len(tags_of(ctx, arn)) == 50


@pytest.mark.parametrize("key", ["aws:owner", "AWS:owner", "Aws:cloudformation:stack-name"])
def test_aws_prefixed_keys_are_reserved(ctx: Context, key: str) -> None:
    arn = create(ctx, tags=kv(team="ml"))
    message = invalid(ctx, "AddTags", ResourceArn=arn, Tags=[{"Key": key, "Value": "v"}])
    assert message == f"Tag keys starting with 'aws:' are reserved for AWS use: {key}."
    invalid(ctx, "DeleteTags", ResourceArn=arn, TagKeys=["team", key])
    assert tags_of(ctx, arn) == kv(team="ml")  # the refused delete removed nothing
    req = {"ClusterName": "reserved", "InstanceGroups": [GROUP], "Orchestrator": EKS}
    invalid(ctx, "CreateCluster", **req, Tags=[{"Key": key, "Value": "v"}])
    assert [c.name for c in ctx.store.list_clusters()] == ["tagged"]


def test_aws_prefixed_values_and_lookalike_keys_are_user_tags(ctx: Context) -> None:
    arn = create(ctx)
    tags = [
        {"Key": "team", "Value": "aws:ml"},
        {"Key": "aws", "Value": ""},
        {"Key": "awsx:y", "Value": ""},
    ]
    call(ctx, "AddTags", ResourceArn=arn, Tags=tags)
    assert tags_of(ctx, arn) == tags


def test_a_key_twice_in_one_request_is_refused(ctx: Context) -> None:
    arn = create(ctx)
    twice = [{"Key": "env", "Value": "a"}, {"Key": "env", "Value": "b"}]
    message = invalid(ctx, "AddTags", ResourceArn=arn, Tags=twice)
    assert message == "Tag keys must be unique per resource; repeated: env."
    assert tags_of(ctx, arn) == []
    req = {"ClusterName": "twice", "InstanceGroups": [GROUP], "Orchestrator": EKS}
    invalid(ctx, "CreateCluster", **req, Tags=twice)


def test_arns_of_nothing_podwarden_tags(ctx: Context, tmp_path: Path) -> None:
    arn = create(ctx)
    cid = arn.rsplit("/", 1)[1]
    other_region = make_context(tmp_path, region="us-east-1", store=ctx.store)
    other_account = make_context(tmp_path, account="111111111111", store=ctx.store)
    unknown = [
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/job-1",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/ep",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:cluster/{'0' * 12}",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:cluster/{cid}/extra",
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:cluster/{cid.upper()}",
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:cluster/{cid}",
        f"arn:aws:sagemaker:{REGION}:111111111111:cluster/{cid}",
        f"arn:aws-cn:sagemaker:{REGION}:{ACCOUNT}:cluster/{cid}",
    ]
    for resource in unknown:
        for op, params in (
            ("AddTags", {"Tags": kv(a="1")}),
            ("ListTags", {}),
            ("DeleteTags", {"TagKeys": ["a"]}),
        ):
            message = invalid(ctx, op, ResourceArn=resource, **params)
            assert message == f'Could not find resource "{resource}".'
    # the cluster's own ARN called from another Region or account names nothing there
    for elsewhere in (other_region, other_account):
        invalid(elsewhere, "ListTags", ResourceArn=arn)
        invalid(elsewhere, "AddTags", ResourceArn=arn, Tags=kv(a="1"))
    assert tags_of(ctx, arn) == []


def test_a_deleting_cluster_keeps_its_tags_until_it_is_gone(ctx: Context) -> None:
    arn = create(ctx, tags=kv(team="ml"))
    clusters.delete_cluster(ctx, {"ClusterName": "tagged"})
    call(ctx, "AddTags", ResourceArn=arn, Tags=kv(gone="soon"))
    assert tags_of(ctx, arn) == kv(team="ml", gone="soon")
    ctx.store.delete_cluster(arn.rsplit("/", 1)[1])  # what the reconciler does at the end
    for op, params in (("ListTags", {}), ("AddTags", {"Tags": kv(a="1")})):
        invalid(ctx, op, ResourceArn=arn, **params)
    # a new cluster of the same name is another cluster, with its own ARN and no tags
    assert tags_of(ctx, create(ctx)) == []


def test_aws_tags_do_not_count_and_list_tags_pages(ctx: Context) -> None:
    arn = create(ctx, tags=many(50))
    out = call(ctx, "ListTags", ResourceArn=arn, MaxResults=50)
    assert len(out["Tags"]) == 50 and "NextToken" not in out
    # a tag AWS itself set (as CloudFormation does; podwarden never does): not a user tag
    (cluster,) = ctx.store.list_clusters()
    cluster.spec["Tags"].append({"Key": "aws:cloudformation:stack-name", "Value": "s"})
    ctx.store.save_cluster(cluster)
    call(ctx, "AddTags", ResourceArn=arn, Tags=[{"Key": "k1", "Value": "changed"}])
    message = invalid(ctx, "AddTags", ResourceArn=arn, Tags=kv(one_more="x"))
    assert message.startswith("The resource would have 51 tags")
    first = call(ctx, "ListTags", ResourceArn=arn, MaxResults=50)
    rest = call(ctx, "ListTags", ResourceArn=arn, MaxResults=50, NextToken=first["NextToken"])
    assert len(first["Tags"]) == 50 and "NextToken" not in rest
    assert rest["Tags"] == [{"Key": "aws:cloudformation:stack-name", "Value": "s"}]
    assert len(call(ctx, "ListTags", ResourceArn=arn)["Tags"]) == 51  # MaxResults left out
    # a token is good only for the request that issued it
    other = create(ctx, "other", tags=many(3))
    for token in ("nonsense", "eyJvIjogMX0=", first["NextToken"]):
        invalid(ctx, "ListTags", ResourceArn=other, MaxResults=50, NextToken=token)


def test_describe_and_list_clusters_do_not_change(ctx: Context) -> None:
    arn = create(ctx, tags=kv(team="ml"))
    describe = clusters.describe_cluster(ctx, {"ClusterName": arn})
    listed = clusters.list_clusters(ctx, {})
    assert "Tags" not in describe
    call(ctx, "AddTags", ResourceArn=arn, Tags=kv(env="prod"))
    call(ctx, "DeleteTags", ResourceArn=arn, TagKeys=["team"])
    assert clusters.describe_cluster(ctx, {"ClusterName": arn}) == describe
    assert clusters.list_clusters(ctx, {}) == listed
    assert_shape("sagemaker", "DescribeCluster", describe)


class RacingStore(Store):
    """A store where, before each of the next ``races`` cluster saves, another writer saves the
    cluster first: it marks it InService and adds a tag ``rival<n>``."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.races = 0
        self.rivals = 0

    def save_cluster(self, cluster: Cluster) -> Cluster:
        if self.races > 0:
            self.races -= 1
            self.rivals += 1
            theirs = self.cluster_by_id(cluster.cluster_id)
            assert theirs is not None
            theirs.status = ClusterStatus.IN_SERVICE
            theirs.spec.setdefault("Tags", []).append({"Key": f"rival{self.rivals}", "Value": ""})
            super().save_cluster(theirs)
        return super().save_cluster(cluster)


def test_a_concurrent_change_is_not_lost(tmp_path: Path) -> None:
    store = RacingStore(sqlite_url(tmp_path))
    ctx = make_context(tmp_path, store=store)
    arn = create(ctx, tags=kv(team="ml"))
    store.races = 2
    call(ctx, "AddTags", ResourceArn=arn, Tags=kv(env="prod"))
    assert tags_of(ctx, arn) == kv(team="ml", rival1="", rival2="", env="prod")
    store.races = 1
    call(ctx, "DeleteTags", ResourceArn=arn, TagKeys=["team"])
    assert tags_of(ctx, arn) == kv(rival1="", rival2="", env="prod", rival3="")
    (cluster,) = store.list_clusters()
    assert cluster.status == ClusterStatus.IN_SERVICE  # the rival's own change is kept too


def test_retries_run_out_as_a_temporary_error(tmp_path: Path) -> None:
    store = RacingStore(sqlite_url(tmp_path))
    ctx = make_context(tmp_path, store=store)
    arn = create(ctx)
    store.races = 100
    error = fails(ctx, "AddTags", ResourceArn=arn, Tags=kv(env="prod"))
    assert (error.code, error.status) == ("ServiceUnavailable", 503)  # SDKs retry it
    assert {"Key": "env", "Value": "prod"} not in tags_of(ctx, arn)


def test_a_write_wakes_the_reconciler_and_a_no_op_does_not(tmp_path: Path) -> None:
    woken: list[Change] = []
    base = make_context(tmp_path)
    ctx = Context(
        base.account, base.region, base.store, base.instance_types, woken.append, base.now
    )
    arn = create(ctx, tags=kv(team="ml"))
    cid = arn.rsplit("/", 1)[1]
    woken.clear()
    call(ctx, "AddTags", ResourceArn=arn, Tags=kv(team="ml"))  # already so
    call(ctx, "DeleteTags", ResourceArn=arn, TagKeys=["absent"])
    call(ctx, "ListTags", ResourceArn=arn)
    assert woken == []
    version = base.store.cluster_by_id(cid)
    call(ctx, "AddTags", ResourceArn=arn, Tags=kv(env="prod"))
    call(ctx, "DeleteTags", ResourceArn=arn, TagKeys=["env"])
    assert woken == [Change(SAGEMAKER_CLUSTER, f"{ACCOUNT}/{REGION}", cid)] * 2
    after = base.store.cluster_by_id(cid)
    assert version is not None and after is not None and after.version == version.version + 2
