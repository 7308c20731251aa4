"""How IAM's records are keyed, identified, dated and changed.

IAM is global: every record's scope is the account (:func:`scope_of`), never a region. Names of
roles, policies and instance profiles are unique regardless of case in IAM ("you cannot create
roles named both PRODROLE and prodrole"), and lookups ignore case too, so records are keyed by the
lower-cased name (:func:`key`) and keep the name as created in the document. OIDC providers are
the exception: keyed by their URL exactly as given (``podwarden.control.iam.oidc``).
"""

from __future__ import annotations

import datetime as dt
import secrets
import string
from collections.abc import Callable
from typing import Any, TypeVar

from podwarden.control.context import Context
from podwarden.model.aws.scope import account_wide
from podwarden.model.errors import Conflict, PodwardenError
from podwarden.store.resources import Duplicate, Record

T = TypeVar("T")
Doc = dict[str, Any]

_ID_CHARS = string.ascii_uppercase + string.digits
_RETRIES = 5


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


def scope_of(ctx: Context) -> str:
    """The scope of IAM's records: the caller's account, whatever Region it called."""
    return account_wide(ctx.account)


def get(ctx: Context, kind: str, record_key: str) -> Record | None:
    return ctx.store.resources.get(kind, scope_of(ctx), record_key)


def require(ctx: Context, kind: str, record_key: str, missing: PodwardenError) -> Record:
    """The record, or ``missing`` raised (the entity's NoSuchEntity)."""
    rec = get(ctx, kind, record_key)
    if rec is None:
        raise missing
    return rec


def of_kind(ctx: Context, kind: str) -> list[Record]:
    return ctx.store.resources.list(kind, scope_of(ctx))


def delete(ctx: Context, kind: str, record_key: str) -> None:
    ctx.store.resources.delete(kind, scope_of(ctx), record_key)


def create(ctx: Context, kind: str, record_key: str, doc: Doc, taken: PodwardenError) -> None:
    """Store a new entity created at ``doc["CreateDate"]``; ``taken`` if the key is in use."""
    record = Record(kind, scope_of(ctx), record_key, doc, created=doc["CreateDate"])
    try:
        ctx.store.resources.create(record)
    except Duplicate:
        raise taken from None


def identity(doc: Doc, noun: str) -> dict[str, Any]:
    """What every path-bearing entity's output starts with, in IAM's member order: ``Path``,
    ``<noun>Name``, ``<noun>Id``, ``Arn``, ``CreateDate`` (``noun``: "Role", "InstanceProfile")."""
    return {
        "Path": doc["Path"],
        f"{noun}Name": doc[f"{noun}Name"],
        f"{noun}Id": doc[f"{noun}Id"],
        "Arn": doc["Arn"],
        "CreateDate": when(doc["CreateDate"]),
    }


def change(
    ctx: Context,
    kind: str,
    record_key: str,
    edit: Callable[[Doc], T],
    *,
    missing: PodwardenError,
    label: str,
) -> T:
    """Read a record, apply ``edit`` to its document and write it back, retrying when another
    writer got there first (the store's optimistic versions). ``edit`` may raise to refuse;
    ``missing`` is raised when there is no such record, ``label`` names it when the retries
    run out (IAM's ``ConcurrentModification``)."""
    for _ in range(_RETRIES):
        rec = require(ctx, kind, record_key, missing)
        result = edit(rec.doc)
        try:
            ctx.store.resources.save(rec)
        except Conflict:
            continue
        return result
    raise Conflict(reason="concurrent-modification", name=label)
