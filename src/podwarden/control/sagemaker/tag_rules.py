"""The rules of a HyperPod cluster's tags, shared by CreateCluster's ``Tags`` and AddTags /
DeleteTags (``control.sagemaker.tags``): pure functions over ``[{"Key", "Value"}]`` lists.

From AWS's tagging rules ("Tagging your AWS resources", the SageMaker ``Tag`` shape): keys are
unique per resource and case sensitive (``Env`` and ``env`` are two tags); at most 50 user tags
per resource; keys starting with ``aws:`` in any case are reserved for AWS: a user can neither
create nor delete them, and they do not count against the 50. Lengths and characters (keys 1-128,
values 0-256, ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]``) are the model's and checked by the wire layer.
"""

from __future__ import annotations

from collections.abc import Iterable

from podwarden.model.errors import Invalid

MAX_TAGS = 50
RESERVED_PREFIX = "aws:"
Tags = list[dict[str, str]]


def reserved(key: str) -> bool:
    return key.lower().startswith(RESERVED_PREFIX)


def refuse_reserved(keys: Iterable[str]) -> None:
    """Invalid when any key is AWS's (``aws:``, any case)."""
    taken = [k for k in keys if reserved(k)]
    if taken:
        raise Invalid(reason="reserved-tag-keys", keys=taken)


def check_new(tags: Tags) -> None:
    """Tags a request sets (CreateCluster, AddTags): no reserved key, no key twice."""
    keys = [t["Key"] for t in tags]
    refuse_reserved(keys)
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise Invalid(reason="duplicate-tag-keys", keys=twice)


def merged(current: Tags, new: Tags) -> Tags:
    """``current`` with ``new`` added; a key already there keeps its place and takes the new
    value. Invalid past :data:`MAX_TAGS` user tags, existing ones included."""
    check_new(new)
    out = {t["Key"]: dict(t) for t in current}
    out.update({t["Key"]: {"Key": t["Key"], "Value": t["Value"]} for t in new})
    count = sum(1 for k in out if not reserved(k))
    if count > MAX_TAGS:
        raise Invalid(reason="too-many-tags", count=count, limit=MAX_TAGS)
    return list(out.values())


def without(current: Tags, keys: list[str]) -> Tags:
    """``current`` less the tags of ``keys``; a key the resource does not have is no error."""
    refuse_reserved(keys)
    gone = set(keys)
    return [t for t in current if t["Key"] not in gone]
