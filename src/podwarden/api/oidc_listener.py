"""podwarden's OIDC issuer endpoint: each EKS cluster's discovery document and JWKS over TLS on
loopback, where DescribeCluster's ``identity.oidc.issuer`` points (``logic.oidc_issuer``).

EKS serves ``<issuer>/.well-known/openid-configuration`` and ``<issuer>/keys`` over HTTPS at
``oidc.eks.<region>.amazonaws.com``; IAM requires an ``https://`` URL for an OIDC provider, so a
client that follows the issuer (an OIDC library, ``curl``, a relying party that is not STS) needs
TLS too. This is a second listener beside the API's plain HTTP port, with its own certificate
(``<data dir>/oidc/``: a CA, ``ca.crt``, and a certificate for 127.0.0.1 it signs), serving GET
and HEAD of those two paths for every cluster whose plane's keys the EKS reconciler recorded
(``control.oidc_issuers.keys_at_path``); anything else is 404 (405 for other methods). STS never
calls it: it verifies tokens with the same keys in-process.

The protocol is HTTP/1.1 with ``Connection: close``, one request per connection: what discovery
clients do, and little enough to write here rather than run a second uvicorn server (whose
signal handling would compete with the API's). A request head over 16 KiB, or not complete in
10 s, is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from typing import Any

from podwarden.control.oidc_issuers import LOOPBACK, keys_at_path
from podwarden.logic import oidc_issuer
from podwarden.store.resources import Resources

log = logging.getLogger("podwarden.oidc")

MAX_HEAD = 16 * 1024
READ_TIMEOUT = 10.0
CACHE_SECONDS = 60
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed"}


def documents(resources: Resources, path: str) -> dict[str, Any] | None:
    """The document at ``path`` (discovery or JWKS of a cluster's issuer), or None."""
    routed = oidc_issuer.route(path)
    if routed is None:
        return None
    issuer_path, what = routed
    found = keys_at_path(resources, issuer_path)
    if found is None:
        return None
    if what == "discovery":
        return oidc_issuer.discovery_document(found.issuer)
    return oidc_issuer.public_keys(found.jwks)


def _response(status: int, body: bytes, *, head: bool) -> bytes:
    lines = [
        f"HTTP/1.1 {status} {_REASONS[status]}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        f"Cache-Control: max-age={CACHE_SECONDS}" if status == 200 else "Cache-Control: no-store",
        "Connection: close",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head else body)


def answer(resources: Resources, head_bytes: bytes) -> bytes:
    """The whole response to one request head (pure but for the store read)."""
    request_line = head_bytes.split(b"\r\n", 1)[0].decode("latin-1")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return _response(400, b'{"message":"bad request"}', head=False)
    method, target = parts[0], parts[1]
    if method not in ("GET", "HEAD"):
        return _response(405, b'{"message":"method not allowed"}', head=False)
    doc = documents(resources, target.split("?", 1)[0])
    if doc is None:
        return _response(404, b'{"message":"not found"}', head=method == "HEAD")
    body = json.dumps(doc, separators=(",", ":")).encode()
    return _response(200, body, head=method == "HEAD")


class OidcListener:
    """The TLS listener; ``start(port)`` binds 127.0.0.1 (``port`` 0: one the kernel picks)."""

    def __init__(self, resources: Resources, context: ssl.SSLContext) -> None:
        self.resources = resources
        self.context = context
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int | None:
        if self._server is None or not self._server.sockets:
            return None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, port: int) -> int:
        self._server = await asyncio.start_server(
            self._serve, LOOPBACK, port, ssl=self.context, limit=MAX_HEAD
        )
        bound = self.port
        assert bound is not None
        return bound

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5.0)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            writer.write(answer(self.resources, head))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # a slow, short or oversized request head gets nothing
        except (OSError, ssl.SSLError) as exc:
            log.debug("OIDC request failed: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """The listener's TLS context from its certificate and key files."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context
