"""Tags of IAM entities (roles, customer-managed policies, instance profiles, OIDC providers):
at most 50 per entity, keys compared ignoring case, as IAM does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from podwarden.control.context import Context, Handler
from podwarden.model.errors import Invalid, LimitExceeded

MAX_TAGS = 50
Tags = list[dict[str, str]]
# apply a change to the document of the entity the request names (``RoleName``...)
Edit = Callable[[Context, dict[str, Any], Callable[[dict[str, Any]], None]], object]


def merge_tags(current: Tags, new: Tags) -> Tags:
    """``current`` with ``new`` added or replacing same-key tags (keys compare ignoring case)."""
    keys = [t["Key"].lower() for t in new]
    if len(keys) != len(set(keys)):
        raise Invalid(reason="duplicate-tag-keys")
    merged = {t["Key"].lower(): t for t in current}
    merged.update({t["Key"].lower(): {"Key": t["Key"], "Value": t.get("Value", "")} for t in new})
    if len(merged) > MAX_TAGS:
        raise LimitExceeded(reason="quota-exceeded", quota="TagsPerEntity", limit=MAX_TAGS)
    return list(merged.values())


def drop_tags(current: Tags, keys: list[str]) -> Tags:
    gone = {k.lower() for k in keys}
    return [t for t in current if t["Key"].lower() not in gone]


def tag_handlers(edit: Edit) -> tuple[Handler, Handler]:
    """An entity's Tag<Entity> and Untag<Entity> handlers (``Tags``, ``TagKeys``)."""

    def tag(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        def change(doc: dict[str, Any]) -> None:
            doc["Tags"] = merge_tags(doc["Tags"], params["Tags"])

        edit(ctx, params, change)
        return {}

    def untag(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        def change(doc: dict[str, Any]) -> None:
            doc["Tags"] = drop_tags(doc["Tags"], params["TagKeys"])

        edit(ctx, params, change)
        return {}

    return tag, untag
