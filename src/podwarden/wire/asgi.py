"""The few ASGI steps podwarden's own routes share (``/_podwarden/...``, the EKS token webhook,
the dashboard): who is asking, reading a bounded body, answering with a body."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from ipaddress import ip_address
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TEXT = b"text/plain; charset=utf-8"


def is_loopback(scope: Scope) -> bool:
    """The request comes from a loopback address (the routes that answer only this host)."""
    client = scope.get("client")
    if not isinstance(client, list | tuple) or not client:
        return False
    try:
        return ip_address(str(client[0])).is_loopback
    except ValueError:
        return False


def header(scope: Scope, name: bytes) -> str:
    """A request header's value ("" when absent); ``name`` in lower case."""
    for key, value in scope.get("headers") or ():
        if bytes(key).lower() == name:
            return bytes(value).decode("latin-1")
    return ""


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body; None when the client went away or it is over ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def cluster_post(
    scope: Scope, receive: Receive, send: Send, prefix: str, limit: int
) -> tuple[tuple[str, str, str], bytes | None] | None:
    """A POST to ``<prefix><account>/<region>/<cluster>`` (the EKS webhooks' paths): those three
    and the body (None when the client went away or it is over ``limit``); None after answering
    404 (another path) or 405 (another method) itself."""
    path = scope["path"]
    parts = path.removeprefix(prefix).split("/")
    if not path.startswith(prefix) or len(parts) != 3 or not all(parts):
        await reply_json(send, 404, {"message": f"expected {prefix}<account>/<region>/<cluster>"})
        return None
    if scope["method"] != "POST":
        await reply_json(send, 405, {"message": "expected POST"})
        return None
    account, region, cluster = parts
    return (account, region, cluster), await read_body(receive, limit)


async def reply(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    head: bool = False,
) -> None:
    """Answer ``body`` (plain text unless ``headers`` name a content type; none for HEAD)."""
    fields = [*(headers or [(b"content-type", TEXT)])]
    fields.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": fields})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def reply_json(send: Send, status: int, doc: dict[str, Any]) -> None:
    await reply(send, status, json.dumps(doc).encode(), [(b"content-type", b"application/json")])
