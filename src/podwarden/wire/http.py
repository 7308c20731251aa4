"""An HTTP request and response as the protocol codecs see them: no ASGI, no sockets."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl


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


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
