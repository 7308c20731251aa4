"""``GET /_podwarden/metrics``: a server's metrics in Prometheus' text format (OpenMetrics when the
scraper asks for it in ``Accept``), on the API's port.

Not ``/metrics``: that path is S3's, path-style, for a bucket named ``metrics``. podwarden's own
routes live under ``/_podwarden/``, which no bucket name can address (bucket names have no
``_``). No SigV4, as Prometheus scrapes; loopback clients only (403 otherwise, even when
``--host`` widens the listener), like ``/_podwarden/capacity``: a scraper runs on the same host,
or reaches it through a tunnel (docs/metrics.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from ipaddress import ip_address
from typing import Any, Final

from prometheus_client.exposition import choose_encoder

from podwarden.metrics.instruments import Metrics

PATH: Final = "/_podwarden/metrics"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class MetricsRoute:
    """The ASGI route at :data:`PATH` (``api.app`` dispatches to it)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _loopback(scope.get("client")):
            await _reply(send, 403, b"/_podwarden/metrics answers loopback clients only\n")
        elif scope["method"] not in ("GET", "HEAD"):
            await _reply(send, 405, b"expected GET\n", [(b"allow", b"GET, HEAD")])
        else:
            accept = _header(scope, b"accept")
            encode, content_type = choose_encoder(accept)
            body = encode(self.metrics.registry)
            headers = [(b"content-type", content_type.encode())]
            await _reply(send, 200, body, headers, head=scope["method"] == "HEAD")


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


def _loopback(client: object) -> bool:
    if not isinstance(client, list | tuple) or not client:
        return False
    try:
        return ip_address(str(client[0])).is_loopback
    except ValueError:
        return False


async def _reply(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]] | None = None,
    *,
    head: bool = False,
) -> None:
    fields = [*(headers or [(b"content-type", b"text/plain; charset=utf-8")])]
    fields.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": fields})
    await send({"type": "http.response.body", "body": b"" if head else body})
