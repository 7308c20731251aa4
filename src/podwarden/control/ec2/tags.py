"""Tags: the ``TagSpecifications`` of every Create*, and CreateTags / DeleteTags, which cross
every resource type (an id's prefix says its type). Tag keys and values are checked by
``podwarden.control.ec2.text.check_tags`` before anything is stored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.ec2.records import fetch, save
from podwarden.control.ec2.resources import BY_PREFIX, Resource
from podwarden.control.ec2.text import check_tags
from podwarden.model.errors import Invalid
from podwarden.store.resources import Record


def initial_tags(res: Resource, params: Mapping[str, Any]) -> list[dict[str, str]]:
    """The tags a Create call's TagSpecifications give the new resource."""
    tags: dict[str, str] = {}
    for spec in params.get("TagSpecifications") or []:
        if spec.get("ResourceType") != res.tag_type:
            raise Invalid(
                f"'{spec.get('ResourceType')}' is not a valid taggable resource type for this "
                "operation."
            )
        check_tags(spec.get("Tags") or [])
        tags |= {t["Key"]: t.get("Value", "") for t in spec.get("Tags") or []}
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _tagged(ctx: Context, resource_id: str) -> Record:
    res = BY_PREFIX.get(resource_id.rsplit("-", 1)[0])
    if res is None:
        raise Invalid(reason="unknown-id", id=resource_id)
    return fetch(ctx, res, resource_id)


def create_tags(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Add or overwrite tags on every resource named; all are checked before any changes."""
    targets = [_tagged(ctx, r) for r in params.get("Resources") or []]
    check_tags(params.get("Tags") or [])
    new = {t["Key"]: t.get("Value", "") for t in params.get("Tags") or []}
    for rec in targets:
        kept = [t for t in rec.doc.get("Tags", []) if t["Key"] not in new]
        rec.doc["Tags"] = kept + [{"Key": k, "Value": v} for k, v in new.items()]
        save(ctx, rec)
    return {}


def _deleted(tag: dict[str, str], request: list[dict[str, Any]]) -> bool:
    """A tag goes if the request names its key with no value, or with its value."""
    return any(
        r["Key"] == tag["Key"] and ("Value" not in r or r["Value"] == tag["Value"]) for r in request
    )


def delete_tags(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Without ``Tags``, every tag of the resources goes, as EC2 does."""
    targets = [_tagged(ctx, r) for r in params.get("Resources") or []]
    request = params.get("Tags")
    for rec in targets:
        tags = rec.doc.get("Tags", [])
        rec.doc["Tags"] = [] if request is None else [t for t in tags if not _deleted(t, request)]
        save(ctx, rec)
    return {}


OPERATIONS: Operations = {"CreateTags": create_tags, "DeleteTags": delete_tags}
