"""Tags of IAM entities (roles, customer-managed policies, instance profiles, OIDC providers): one
set of rules and one ``Tag<Entity>``/``Untag<Entity>``/``List<Entity>Tags`` triple for all.

As IAM documents it (the Tag* operations' reference, the Tag shape, "Tagging IAM resources"):

* At most 50 tags per entity; keys 1-128 characters and values 0-256 of letters, digits, spaces
  and ``_ . : / = + - @`` (the wire layer checks those against the model's Tag shape, and the 50
  members per request). Tag keys are case-insensitive within an entity: a key given twice in one
  request, in any case, is InvalidInput "Duplicate tag keys found..." (IAM's message, from public
  error reports); a tag whose key is already there, in any case, replaces it.
* The ``aws:`` prefix (any case) is AWS's: a key starting with it is refused (InvalidInput).
* ``List<Entity>Tags`` returns the tags sorted by key, as its reference says (by code point:
  IAM does not say how it compares), paged with IAM's ``Marker``/``MaxItems``
  (``podwarden.control.iam.paging``).

Where IAM is silent, as a careful operator expects: a replaced tag takes the key's case as now
given (the request's word is the latest); Untag of a key the entity does not have is a no-op
(IAM's Untag* operations have no error for it, UntagRole none for invalid input at all; floci,
another IAM emulator, does the same), keys comparing ignoring case there too; values are not
checked for ``aws:`` (some services' tag rules reserve it in values too; whether IAM does is not
public). Going past 50 is LimitExceeded "Cannot exceed quota for TagsPer<Entity>:
50", IAM's quota message with the quota named per entity as IAM names its other quotas
(``PoliciesPerRole``); those names are not verified against IAM. IAM's message for a reserved
``aws:`` key is not public: podwarden says EC2's ("Tag keys starting with 'aws:' are reserved
for internal use.").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.iam.paging import paged
from podwarden.model.errors import Invalid, LimitExceeded

MAX_TAGS = 50
RESERVED_PREFIX = "aws:"
Tags = list[dict[str, str]]
# apply a change to the document of the entity the request names (``RoleName``...)
Edit = Callable[[Context, dict[str, Any], Callable[[dict[str, Any]], None]], object]
# the tags of the entity the request names
Read = Callable[[Context, dict[str, Any]], Tags]


def _checked(new: Tags) -> Tags:
    """``new`` as stored (``Value`` defaults to empty), refused if a key is reserved or twice."""
    for tag in new:
        if tag["Key"].lower().startswith(RESERVED_PREFIX):
            raise Invalid(reason="reserved-tag-key", key=tag["Key"])
    keys = [t["Key"].lower() for t in new]
    if len(keys) != len(set(keys)):
        raise Invalid(reason="duplicate-tag-keys")
    return [{"Key": t["Key"], "Value": t.get("Value", "")} for t in new]


def merge_tags(current: Tags, new: Tags, quota: str) -> Tags:
    """``current`` with ``new`` added or replacing same-key tags (keys compare ignoring case);
    LimitExceeded naming ``quota`` past :data:`MAX_TAGS`."""
    merged = {t["Key"].lower(): t for t in current}
    merged.update({t["Key"].lower(): t for t in _checked(new)})
    if len(merged) > MAX_TAGS:
        raise LimitExceeded(reason="quota-exceeded", quota=quota, limit=MAX_TAGS)
    return list(merged.values())


def drop_tags(current: Tags, keys: list[str]) -> Tags:
    gone = {k.lower() for k in keys}
    return [t for t in current if t["Key"].lower() not in gone]


@dataclass(frozen=True)
class Tagged:
    """How one kind of IAM entity is tagged: ``noun`` names its operations (``Role`` gives
    TagRole, UntagRole, ListRoleTags), ``quota`` its tag quota, ``edit`` changes and ``read``
    reads the entity the request names (each raising that entity's NoSuchEntity)."""

    noun: str
    edit: Edit
    read: Read

    @property
    def quota(self) -> str:
        return f"TagsPer{self.noun}"

    def initial(self, params: dict[str, Any]) -> Tags:
        """The tags a Create operation's ``Tags`` give a new entity."""
        return merge_tags([], params.get("Tags") or [], self.quota)

    def operations(self) -> Operations:
        def tag(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
            def change(doc: dict[str, Any]) -> None:
                doc["Tags"] = merge_tags(doc["Tags"], params["Tags"], self.quota)

            self.edit(ctx, params, change)
            return {}

        def untag(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
            def change(doc: dict[str, Any]) -> None:
                doc["Tags"] = drop_tags(doc["Tags"], params["TagKeys"])

            self.edit(ctx, params, change)
            return {}

        def list_tags(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
            return paged("Tags", sorted(self.read(ctx, params), key=lambda t: t["Key"]), params)

        return {
            f"Tag{self.noun}": tag,
            f"Untag{self.noun}": untag,
            f"List{self.noun}Tags": list_tags,
        }
