"""Reading a request body from ASGI: all of it, or nothing is executed.

A request runs only when its whole declared body has arrived. A client that disconnects first
(a ``Content-Length`` larger than what it sent, then a half-close) gets nothing executed and
nothing stored: the ASGI server reports ``http.disconnect`` and :func:`read_body` says the body is
incomplete. A body over the limit is read to its end and dropped (so the client, still sending,
is not reset and can read the answer), up to :data:`DISCARD_LIMIT`; the caller answers with the
service's own "too large" error once it knows the service.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]

MAX_BODY = 16 * 1024 * 1024
# past this much of an over-limit body podwarden stops reading and answers (the connection closes)
DISCARD_LIMIT = 1024 * 1024 * 1024


@dataclass(frozen=True)
class Body:
    data: bytes  # empty when too large
    complete: bool  # every byte the client declared arrived (no disconnect first)
    received: int  # bytes received, kept or not
    too_large: bool


async def read_body(receive: Receive, limit: int = MAX_BODY) -> Body:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return Body(b"", complete=False, received=size, too_large=size > limit)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        else:
            chunks.clear()
        if not message.get("more_body", False) or size > DISCARD_LIMIT:
            break
    if size > limit:
        return Body(b"", complete=True, received=size, too_large=True)
    return Body(b"".join(chunks), complete=True, received=size, too_large=False)


def declared_length_problem(headers: dict[str, str], received: int) -> str | None:
    """Why the body does not match its ``Content-Length`` (an ASGI server normally guarantees it;
    this keeps the rule where the handler can rely on it), or None."""
    declared = headers.get("content-length")
    if declared is None or "transfer-encoding" in headers:
        return None
    if not declared.strip().isdigit() or int(declared) != received:
        return (
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        )
    return None
