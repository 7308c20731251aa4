"""What IAM's handlers share: errors, ids, times, Marker pagination, tags and the role record.

IAM is global: every record's scope is the account (``ctx.account``), never a region. Names of
roles, policies and instance profiles are unique regardless of case in IAM ("you cannot create
roles named both PRODROLE and prodrole"), and lookups ignore case too, so records are keyed by the
lower-cased name and keep the name as created in the document.

A role is one record (kind ``iam:role``) holding everything IAM hangs on it: the trust policy
text, attached managed policy ARNs (in attach order), inline policies, tags, the permissions
boundary, the service a service-linked role belongs to, and when STS last assumed it.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

from podwarden.control import pagination
from podwarden.control.context import Context
from podwarden.model.errors import Conflict, InvalidToken, ServiceError
from podwarden.store.resources import Record

T = TypeVar("T")

ROLE = "iam:role"
POLICY = "iam:policy"
PROFILE = "iam:instance-profile"

# IAM's error codes and their HTTP statuses, as the model's exception shapes declare them.
STATUS = {
    "NoSuchEntity": 404,
    "EntityAlreadyExists": 409,
    "MalformedPolicyDocument": 400,
    "DeleteConflict": 409,
    "InvalidInput": 400,
    "LimitExceeded": 409,
    "UnmodifiableEntity": 400,
    "PolicyNotAttachable": 400,
    "ConcurrentModification": 409,
}

DEFAULT_MAX_ITEMS = 100  # IAM's default page size for every List* operation
MAX_TAGS = 50
_ID_CHARS = string.ascii_uppercase + string.digits
_RETRIES = 5


def fail(code: str, message: str) -> NoReturn:
    raise ServiceError(code, message, STATUS[code])


def new_id(prefix: str) -> str:
    """An IAM unique id: a 4-letter type prefix (AROA role, ANPA policy, AIPA instance profile)
    and 17 uppercase letters and digits, 21 characters as IAM's are."""
    return prefix + "".join(secrets.choice(_ID_CHARS) for _ in range(17))


def when(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def key(name: str) -> str:
    return name.lower()


def normalize_path(path: str | None) -> str:
    return path or "/"


# --- pagination: Marker / MaxItems / IsTruncated -----------------------------------------------


def page(items: Sequence[T], params: dict[str, Any]) -> tuple[list[T], dict[str, Any]]:
    """The page ``params`` asks for and the ``IsTruncated``/``Marker`` members of the output.

    The Marker is opaque to callers (as IAM's is): an offset into the listing, which every List*
    operation sorts the same way on every call, bound to the request's other members (its
    ``PathPrefix``, ``RoleName``...). A bad one is ``InvalidInput`` "Invalid Marker." (IAM's
    code for it is unverified: one emulator reports ``ValidationError`` with that message).
    """
    query = {k: v for k, v in params.items() if k not in ("Marker", "MaxItems")}
    size = int(params.get("MaxItems") or DEFAULT_MAX_ITEMS)
    try:
        chunk, marker = pagination.window(items, params.get("Marker"), size, query)
    except InvalidToken:
        fail("InvalidInput", "Invalid Marker.")
    if marker is None:
        return chunk, {"IsTruncated": False}
    return chunk, {"IsTruncated": True, "Marker": marker}


# --- tags ----------------------------------------------------------------------------------------


def merge_tags(current: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, str]]:
    """``current`` with ``new`` added or replacing same-key tags (keys compare ignoring case)."""
    keys = [t["Key"].lower() for t in new]
    if len(keys) != len(set(keys)):
        fail(
            "InvalidInput",
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        )
    merged = {t["Key"].lower(): t for t in current}
    merged.update({t["Key"].lower(): {"Key": t["Key"], "Value": t.get("Value", "")} for t in new})
    if len(merged) > MAX_TAGS:
        fail("LimitExceeded", f"Cannot exceed quota for TagsPerEntity: {MAX_TAGS}")
    return list(merged.values())


def drop_tags(current: list[dict[str, str]], keys: list[str]) -> list[dict[str, str]]:
    gone = {k.lower() for k in keys}
    return [t for t in current if t["Key"].lower() not in gone]


# --- records -------------------------------------------------------------------------------------


def role_arn(account: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role{path}{name}"


def no_role(name: str) -> NoReturn:
    fail("NoSuchEntity", f"The role with name {name} cannot be found.")


def get_role(ctx: Context, name: str, account: str | None = None) -> Record:
    rec = ctx.store.resources.get(ROLE, account or ctx.account, key(name))
    if rec is None:
        no_role(name)
    return rec


def protect(doc: dict[str, Any]) -> None:
    """Refuse a caller's change to a service-linked role: those are AWS's, as in IAM."""
    if doc.get("ServiceName"):
        fail(
            "UnmodifiableEntity",
            f"Cannot perform the operation on the protected role '{doc['RoleName']}' - "
            "this role is only modifiable by AWS",
        )


def roles(ctx: Context) -> list[dict[str, Any]]:
    """Every role of the account, sorted by name as IAM lists them."""
    docs = [r.doc for r in ctx.store.resources.list(ROLE, ctx.account)]
    return sorted(docs, key=lambda d: d["RoleName"].lower())


def update(
    ctx: Context,
    kind: str,
    name: str,
    change: Callable[[dict[str, Any]], T],
    missing: Callable[[], NoReturn],
) -> T:
    """Read a record, apply ``change`` to its document and write it back, retrying when another
    writer got there first (the store's optimistic versions). ``change`` may raise to refuse."""
    for _ in range(_RETRIES):
        rec = ctx.store.resources.get(kind, ctx.account, key(name))
        if rec is None:
            missing()
        result = change(rec.doc)
        try:
            ctx.store.resources.save(rec)
        except Conflict:
            continue
        return result
    fail("ConcurrentModification", f"{name} was modified concurrently; retry the request.")


def attachment_counts(ctx: Context) -> Counter[str]:
    """How many of this account's roles each managed policy ARN is attached to."""
    return Counter(arn for doc in roles(ctx) for arn in doc.get("Attached", []))
