"""What the EKS handlers share: their records, as output, looked up, created and paged.

The records are the ``eks:*`` kinds of ``podwarden.model.aws.kinds`` in the caller's regional
scope: a cluster keyed by its name, and under it (``parent`` the cluster) its add-ons, access
entries, updates and Pod Identity associations keyed ``<cluster>/<name or id>``
(:func:`child_key`). Each document is the operation's output shape plus a private
``_podwarden`` dict (``podwarden.model.aws.private``) that :func:`public` leaves out;
timestamps are stored as epoch seconds and leave as aware datetimes.

Handlers record desired state only and wake the EKS reconciler (``podwarden.operator.eks``),
which does the I/O; both move records along with ``podwarden.logic.eks_lifecycle``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from podwarden.control import pagination
from podwarden.control.context import Context
from podwarden.logic import eks_lifecycle
from podwarden.model.aws import kinds
from podwarden.model.aws.private import KEY
from podwarden.model.errors import Conflict, NotFound, PodwardenError
from podwarden.store.resources import Duplicate, Record

TIMESTAMPS = frozenset({"createdAt", "modifiedAt", "associatedAt", "activationExpiry"})


# ---------------------------------------------------------------- output


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored doc as the output shape: no ``_podwarden``, timestamps as aware datetimes."""

    def convert(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: convert(v, k) for k, v in value.items() if k != KEY}
        if isinstance(value, list):
            return [convert(v) for v in value]
        if key in TIMESTAMPS and isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        return value

    out: dict[str, Any] = convert(doc)
    return out


def page(member: str, items: Sequence[Any], params: dict[str, Any]) -> dict[str, Any]:
    """EKS's ``maxResults``/``nextToken`` over ``items``: ``{member: the page}`` and the next
    token, bound to the request's other members (a bad one is InvalidToken, which EKS answers
    as InvalidParameterException)."""
    query = {k: v for k, v in params.items() if k not in ("maxResults", "nextToken")}
    size = int(params.get("maxResults") or pagination.DEFAULT_PAGE)
    chunk, token = pagination.window(items, params.get("nextToken"), size, query)
    out: dict[str, Any] = {member: chunk}
    if token:
        out["nextToken"] = token
    return out


# ---------------------------------------------------------------- lookups


def get_cluster(ctx: Context, name: str) -> Record:
    rec = ctx.store.resources.get(kinds.EKS_CLUSTER, ctx.scope, name)
    if rec is None:
        raise NotFound(reason="cluster-not-found", clusterName=name)
    return rec


def require_live(rec: Record) -> None:
    """Adding add-ons, access entries or policies to a cluster being deleted (or failed) is
    refused; a ``CREATING`` cluster takes them (they are desired state the reconciler applies
    once the control plane runs)."""
    if rec.doc["status"] in ("DELETING", "FAILED"):
        raise Conflict(reason="cluster-not-active", clusterName=rec.key)


def children(ctx: Context, kind: str, cluster: str) -> list[Record]:
    return ctx.store.resources.list(kind, ctx.scope, parent=cluster)


# ---------------------------------------------------------------- writes


def create(
    ctx: Context,
    kind: str,
    key: str,
    doc: dict[str, Any],
    *,
    created: float,
    parent: str = "",
    taken: PodwardenError,
) -> Record:
    """Store a new record; ``taken`` is raised when one of that key exists already."""
    rec = Record(kind, ctx.scope, key, doc, parent=parent, created=created)
    try:
        return ctx.store.resources.create(rec)
    except Duplicate:
        raise taken from None


def start_update(
    ctx: Context,
    target: Record,
    update_type: str,
    shown: Iterable[tuple[str, str]],
    changes: dict[str, Any],
    *,
    addon: str | None = None,
) -> dict[str, Any]:
    """Record an ``InProgress`` update of the cluster or add-on ``target`` (``shown``: its
    ``(UpdateParamType, value)`` pairs, ``changes``: what it will change), mark the target
    ``UPDATING`` and wake the reconciler; the update as UpdateClusterConfig and UpdateAddon
    return it."""
    cluster = target.parent or target.key
    update_id, now = str(uuid.uuid4()), ctx.now()
    doc = eks_lifecycle.new_update(update_id, update_type, shown, changes, now, addon=addon)
    rec = Record(
        kinds.EKS_UPDATE, ctx.scope, kinds.child_key(cluster, update_id), doc, cluster, now
    )
    ctx.store.resources.create(rec)
    eks_lifecycle.start_update(target.doc, update_id)
    ctx.store.resources.save(target)
    ctx.wake(kinds.EKS_CLUSTER, cluster)
    return {"update": public(doc)}
