"""EKS tags: TagResource, UntagResource and ListTagsForResource, on every EKS resource podwarden
has: clusters, add-ons, access entries and Pod Identity associations.

A resource's tags are the ``tags`` member of its own record (the same map its Create took and
its Describe shows); each is found by the ARN it stores (``arn``, ``addonArn``,
``accessEntryArn``, ``associationArn``), in the caller's account and Region. The ARN names the
cluster (``cluster/<name>``, ``addon/<cluster>/…``...), so only that cluster's records are read.

As AWS documents it:

* The rules are the EKS user guide's ("Organize Amazon EKS resources with tags", Tag
  restrictions): at most 50 tags per resource; keys 1-128 characters, values 0-256 (botocore's
  ``TagMap``, which the request validator already applies to each request); keys unique per
  resource, a tag set again takes the new value ("the new value overwrites the earlier
  value"); ``aws:`` in any case is reserved as a prefix "for either keys or values", can't be
  edited or deleted, and does not count against the 50.
* TagResource leaves the tags it does not name as they are; UntagResource removes the keys
  given (botocore's docs of both).
* The three operations declare two exceptions in botocore's ``eks`` model:
  BadRequestException (400, "the request contains a semantic error") and NotFoundException
  (404, "a service resource associated with the request could not be found").

Decisions (AWS's behaviour is not public; a careful operator's expectations):

* A string that is not the ARN of an EKS resource type that takes tags (not an ARN, another
  service, another resource type, no cluster name) is BadRequestException. The types are those
  whose Create takes ``tags`` in botocore's model: podwarden's four, and nodegroup,
  fargateprofile, identityproviderconfig, eks-anywhere-subscription and capability, which it
  does not model. A well-formed ARN that names nothing here (one of those five types, another
  account, Region or partition, a resource deleted or re-created since: the ARN's UUID is new)
  is NotFoundException, as moto answers an unknown cluster ARN ("Resource was not found").
* More than 50 tags after a TagResource is BadRequestException and changes nothing (the model
  gives these operations no limit exception). An ``aws:`` key or value in TagResource, or an
  ``aws:`` key in UntagResource, is BadRequestException too. UntagResource of a key the
  resource does not have is no error (the end state is what was asked); a key listed twice is
  removed once. A JSON map can't name a key twice, so TagResource has no duplicates to refuse.
* Any record that exists takes tags, whatever its status (``CREATING``, ``DELETING``...), until
  the reconciler forgets it; an add-on's own Pod Identity association too (tags change nothing
  the add-on manages). ``modifiedAt`` stays as it is: tags are not the resource's
  configuration.
* No wake-up: tags change only the ``tags`` member, which nothing the EKS reconciler plans on
  reads (``logic.eks_plan`` looks at statuses, pending updates and add-ons), and EKS's
  TagResource starts no update. A reconciler pass that read the record before the write gets a
  version conflict on its own save and is retried (``operator.queue``), reading the new tags;
  the handler likewise retries a write that lost such a race.
* Messages are podwarden's wording (``wire.errors_eks``); EKS's are not on record.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.eks import records
from podwarden.model.aws import arns, kinds
from podwarden.model.errors import Conflict, Invalid, NotFound
from podwarden.store.resources import Record

_ACCOUNT = re.compile(r"[0-9]{12}")
MAX_TAGS = 50
RESERVED = "aws:"
# the ARN's resource type -> the record kind and the member that holds its ARN
MODELLED = {
    "cluster": (kinds.EKS_CLUSTER, "arn"),
    "addon": (kinds.EKS_ADDON, "addonArn"),
    "access-entry": (kinds.EKS_ACCESS_ENTRY, "accessEntryArn"),
    "podidentityassociation": (kinds.EKS_POD_IDENTITY, "associationArn"),
}
# EKS resource types that take tags and podwarden does not model
NOT_MODELLED = frozenset(
    {
        "nodegroup",
        "fargateprofile",
        "identityproviderconfig",
        "eks-anywhere-subscription",
        "capability",
    }
)
# a write that loses a race with the reconciler's save is read and applied again
ATTEMPTS = 3


def _reserved(text: str) -> bool:
    return text.lower().startswith(RESERVED)


def _user_keys(tags: dict[str, str]) -> int:
    """How many tags count against the limit (``aws:`` ones do not)."""
    return sum(1 for key in tags if not _reserved(key))


# ---------------------------------------------------------------- the resource


def find(ctx: Context, resource_arn: str) -> Record:
    """The record ``resource_arn`` names in the caller's account and Region."""
    arn = arns.parse(resource_arn)
    resource_type, _, rest = arn.resource.partition("/") if arn else ("", "", "")
    cluster = rest.split("/", 1)[0]
    if (
        arn is None
        or arn.service != "eks"
        or resource_type not in MODELLED.keys() | NOT_MODELLED
        or not (arn.region and _ACCOUNT.fullmatch(arn.account) and cluster)
    ):
        raise Invalid(reason="invalid-resource-arn", resourceArn=resource_arn)
    missing = NotFound(reason="tagged-resource-not-found", resourceArn=resource_arn)
    if resource_type in NOT_MODELLED or (arn.account, arn.region) != (ctx.account, ctx.region):
        raise missing
    kind, member = MODELLED[resource_type]
    if kind == kinds.EKS_CLUSTER:
        found = ctx.store.resources.get(kind, ctx.scope, cluster)
        candidates = [] if found is None else [found]
    else:
        candidates = records.children(ctx, kind, cluster)
    for rec in candidates:
        if rec.doc.get(member) == resource_arn:
            return rec
    raise missing


def _write(ctx: Context, resource_arn: str, change: Callable[[dict[str, str]], None]) -> None:
    """Apply ``change`` to the resource's tags and save them; nothing else moves."""
    for attempt in range(ATTEMPTS):
        rec = find(ctx, resource_arn)
        tags = dict(rec.doc.get("tags") or {})
        change(tags)
        rec.doc["tags"] = tags
        try:
            ctx.store.resources.save(rec)
            return
        except Conflict:
            if attempt == ATTEMPTS - 1:
                raise


# ---------------------------------------------------------------- handlers


def tag_resource(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    resource_arn, given = params["resourceArn"], dict(params["tags"])
    for key, value in given.items():
        if _reserved(key) or _reserved(value):
            raise Invalid(reason="reserved-tag-prefix", tag=f"{key}={value}")

    def change(tags: dict[str, str]) -> None:
        count = _user_keys(tags | given)
        if count > MAX_TAGS:
            raise Invalid(
                reason="too-many-tags", resourceArn=resource_arn, count=count, limit=MAX_TAGS
            )
        tags.update(given)

    _write(ctx, resource_arn, change)
    return {}


def untag_resource(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    resource_arn, keys = params["resourceArn"], list(dict.fromkeys(params["tagKeys"]))
    for key in keys:
        if _reserved(key):
            raise Invalid(reason="reserved-tag-prefix", tag=key)

    def change(tags: dict[str, str]) -> None:
        for key in keys:
            tags.pop(key, None)

    _write(ctx, resource_arn, change)
    return {}


def list_tags_for_resource(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"tags": dict(find(ctx, params["resourceArn"]).doc.get("tags") or {})}


OPERATIONS: Operations = {
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}
