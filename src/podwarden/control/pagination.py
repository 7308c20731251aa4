"""Opaque NextToken values: an offset into a sorted listing, bound to the listing's filters so
a token cannot be replayed against a different query."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from podwarden.model.errors import Invalid

T = TypeVar("T")
DEFAULT_PAGE = 100  # MaxResults' upper bound in the model; also used when it is omitted


def _fingerprint(query: dict[str, Any]) -> str:
    text = json.dumps(query, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def page(items: Sequence[T], request: dict[str, Any]) -> tuple[list[T], str | None]:
    """The page of ``items`` the request asks for, and the token of the next page. The token is
    bound to the request's other members (its filters and sort)."""
    query = {k: v for k, v in request.items() if k not in ("NextToken", "MaxResults")}
    size = int(request.get("MaxResults") or DEFAULT_PAGE)
    start = 0
    token = request.get("NextToken")
    if token:
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            start, fp = int(data["o"]), str(data["q"])
        except (ValueError, KeyError, TypeError):
            raise Invalid("Invalid pagination token (NextToken).") from None
        if fp != _fingerprint(query) or start < 0:
            raise Invalid("The NextToken does not belong to this request's filters.")
    chunk = list(items[start : start + size])
    if start + size >= len(items):
        return chunk, None
    nxt = json.dumps({"o": start + size, "q": _fingerprint(query)}, separators=(",", ":"))
    return chunk, base64.urlsafe_b64encode(nxt.encode()).decode()
