"""An HTTP request and response as the protocol codecs see them: no ASGI, no sockets."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import parse_qsl

from podwarden.wire.errors import WireError


@dataclass(frozen=True)
class HttpRequest:
    """``path`` is the raw (still percent-encoded) path without the query string;
    ``headers`` have lower-case names (repeated headers joined with ``,`` as RFC 9110 allows)."""

    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    body: bytes

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query_string, keep_blank_values=True)

    @property
    def host(self) -> str:
        return self.headers.get("host", "")

    @functools.cached_property
    def form(self) -> Mapping[str, str]:
        """Query-protocol parameters: the query string, then a form body (the body wins). Parsed
        once per request: routing, resolving and decoding all read it (read-only)."""
        params = dict(self.query)
        ctype = self.headers.get("content-type", "")
        if self.body and (not ctype or ctype.startswith("application/x-www-form-urlencoded")):
            try:
                text = self.body.decode()
            except UnicodeDecodeError:
                raise WireError("MalformedQueryString", "The request body is not UTF-8") from None
            params.update(parse_qsl(text, keep_blank_values=True))
        return MappingProxyType(params)


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
