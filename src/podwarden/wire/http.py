"""An HTTP request and response as the protocol codecs see them: no ASGI, no sockets."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote


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

    def path_segments(self) -> list[str]:
        """The path split at ``/`` and percent-decoded segment by segment (so an encoded ``/``
        inside an S3 key stays part of its segment)."""
        return [unquote(s) for s in self.path.split("/")[1:]]


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
