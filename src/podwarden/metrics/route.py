"""``GET /_podwarden/metrics``: a server's metrics in Prometheus' text format (OpenMetrics when the
scraper asks for it in ``Accept``), on the API's port.

Not ``/metrics``: that path is S3's, path-style, for a bucket named ``metrics``. podwarden's own
routes live under ``/_podwarden/``, which no bucket name can address (bucket names have no
``_``). No SigV4, as Prometheus scrapes; loopback clients only (403 otherwise, even when
``--host`` widens the listener), like ``/_podwarden/capacity``: a scraper runs on the same host,
or reaches it through a tunnel (docs/metrics.md).
"""

from __future__ import annotations

from typing import Final

from prometheus_client.exposition import choose_encoder

from podwarden.metrics.instruments import Metrics
from podwarden.wire.asgi import Receive, Scope, Send, header, is_loopback, reply

PATH: Final = "/_podwarden/metrics"


class MetricsRoute:
    """The ASGI route at :data:`PATH` (``api.app`` dispatches to it)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_loopback(scope):
            await reply(send, 403, b"/_podwarden/metrics answers loopback clients only\n")
        elif scope["method"] not in ("GET", "HEAD"):
            await reply(send, 405, b"expected GET\n", [(b"allow", b"GET, HEAD")])
        else:
            accept = header(scope, b"accept")
            encode, content_type = choose_encoder(accept)
            body = encode(self.metrics.registry)
            headers = [(b"content-type", content_type.encode())]
            await reply(send, 200, body, headers, head=scope["method"] == "HEAD")
