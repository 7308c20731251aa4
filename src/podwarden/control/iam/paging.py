"""IAM's pagination members: ``Marker``/``MaxItems`` in, ``IsTruncated``/``Marker`` out.

The Marker is opaque to callers (as IAM's is): an offset token of ``podwarden.control.pagination``
into the listing, which every List* operation sorts the same way on every call, bound to the
request's other members (its ``PathPrefix``, ``RoleName``...). A bad one, or one issued for other
members, raises ``InvalidToken``, which ``podwarden.wire.errors_iam`` answers as IAM does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from podwarden.control import pagination

T = TypeVar("T")
DEFAULT_MAX_ITEMS = 100  # IAM's default page size for every List* operation


def paged(
    member: str,
    items: Sequence[T],
    params: dict[str, Any],
    render: Callable[[T], Any] | None = None,
) -> dict[str, Any]:
    """A List* operation's output: ``member`` holds the page ``params`` asks for (each item
    through ``render`` when given), then ``IsTruncated`` and, when there is more, ``Marker``."""
    query = {k: v for k, v in params.items() if k not in ("Marker", "MaxItems")}
    size = int(params.get("MaxItems") or DEFAULT_MAX_ITEMS)
    chunk, marker = pagination.window(items, params.get("Marker"), size, query)
    out: dict[str, Any] = {member: [render(i) for i in chunk] if render else chunk}
    out["IsTruncated"] = marker is not None
    if marker is not None:
        out["Marker"] = marker
    return out
