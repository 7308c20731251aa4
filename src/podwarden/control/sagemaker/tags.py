"""SageMaker's AddTags, ListTags and DeleteTags, for HyperPod clusters.

A cluster's tags are its ``spec["Tags"]``: CreateCluster's ``Tags`` are its tags from creation
on, and these operations read and change that list (DescribeCluster and ListClusters do not show
it: their shapes have no ``Tags``). The rules are ``control.sagemaker.tag_rules``.

Which resource: the ``ResourceArn`` must be the ARN of a cluster of the caller's account and
Region, exactly as CreateCluster returned it. An ARN of any other SageMaker resource (a
training job, an endpoint: podwarden serves none), of another account or Region, or of a cluster
that is gone, names nothing here; an ARN of another service fails the model's pattern in the
wire layer. Either way the answer is ``ValidationException``: botocore's model gives AddTags,
ListTags and DeleteTags no error of their own (so not SageMaker's ``ResourceNotFound``), and
that is what AWS answers for a resource that does not exist
(aws/amazon-sagemaker-feedback#108: ListTags and AddTags on a deleted Studio app). The message
is podwarden's, worded as SageMaker words a missing resource elsewhere (DeleteEndpoint:
'Could not find endpoint "arn:aws:sagemaker:...".', aws/amazon-sagemaker-examples#2402). For
the same reason a refused tag (too many, a reserved key, a key twice in one request) is a
``ValidationException`` too, not ``ResourceLimitExceeded``; CreateCluster refuses a reserved or
repeated key in its ``Tags`` the same way.

Where AWS is silent, podwarden chooses:

- AddTags answers the tags of the request (its output is "a list of tags associated with the
  resource", bounded by the same 50 as the input); a key given twice in one request is refused
  rather than letting the last one win;
- DeleteTags of a key the cluster does not have succeeds and changes nothing;
- a cluster being deleted can still be tagged (it is still described), until it is gone;
- ListTags lists in the order the keys were first set. It pages through
  ``control.pagination.page`` as the other List calls do (a token not issued for this request
  is a ``ValidationException``); the model's ``MaxResults`` is at least 50 and a cluster has
  at most 50 user tags, so a second page only ever holds AWS's own ``aws:`` tags (which
  podwarden never sets).

Writes are read-modify-write on the cluster record's optimistic version: a ``Conflict`` (the
reconciler, UpdateCluster or another tag call saved the cluster meanwhile) re-reads and applies
the change again, so no concurrent change is lost. After a few lost races the caller gets
``ServiceUnavailable`` (503), which SDKs retry: one of the common errors, where
``ConflictException`` is modeled for other operations but not these. A write wakes the
cluster's reconciler, whose pass may have lost its own save to this one and plans again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.pagination import page
from podwarden.control.sagemaker import tag_rules
from podwarden.model import ids
from podwarden.model.changes import SAGEMAKER_CLUSTER
from podwarden.model.cluster import Cluster
from podwarden.model.errors import Conflict, Invalid, TemporaryError

RETRIES = 5


def tagged_cluster(ctx: Context, arn: str) -> Cluster:
    """The cluster ``arn`` names in the caller's account and Region, else Invalid."""
    ref = ids.parse_cluster_ref(arn)
    found = None
    if ref.cluster_id is not None:
        found = ctx.store.get_cluster(ctx.account, ctx.region, cluster_id=ref.cluster_id)
    if found is None or found.arn != arn:
        raise Invalid(reason="tagged-resource-not-found", arn=arn)
    return found


def change_tags(
    ctx: Context, arn: str, edit: Callable[[tag_rules.Tags], tag_rules.Tags]
) -> tag_rules.Tags:
    """Apply ``edit`` to the tags of the cluster ``arn`` names and save them, again from a
    fresh read whenever another writer saved the cluster first. ``edit`` may raise to refuse."""
    for _ in range(RETRIES):
        cluster = tagged_cluster(ctx, arn)
        before = cluster.spec.get("Tags", [])
        after = edit(before)
        if after == before:
            return after
        if after:
            cluster.spec["Tags"] = after
        else:
            cluster.spec.pop("Tags", None)
        try:
            ctx.store.save_cluster(cluster)
        except Conflict:
            continue
        ctx.wake(SAGEMAKER_CLUSTER, cluster.cluster_id)
        return after
    raise TemporaryError(f"The tags of {arn} were modified concurrently; retry.")


def add_tags(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    new = req["Tags"]
    change_tags(ctx, req["ResourceArn"], lambda current: tag_rules.merged(current, new))
    return {"Tags": [{"Key": t["Key"], "Value": t["Value"]} for t in new]}


def delete_tags(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    keys = req["TagKeys"]
    change_tags(ctx, req["ResourceArn"], lambda current: tag_rules.without(current, keys))
    return {}


def list_tags(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    cluster = tagged_cluster(ctx, req["ResourceArn"])
    chunk, token = page(cluster.spec.get("Tags", []), req)
    out: dict[str, Any] = {"Tags": chunk}
    if token:
        out["NextToken"] = token
    return out


OPERATIONS: Operations = {
    "AddTags": add_tags,
    "ListTags": list_tags,
    "DeleteTags": delete_tags,
}
