"""A stdlib HTTP server on loopback that verifies every request's signature with a given check and
answers as AWS would (S3 XML without ``X-Amz-Target``, awsJson with it): what the SigV4 and SigV2
end-to-end tests point real boto3 clients at."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape

from podwarden.wire.sigv4 import AuthFailure, IncomingRequest, ProtocolFamily, Verified

Check = Callable[[IncomingRequest], Verified]


class VerifyingServer:
    def __init__(self, check: Check) -> None:
        self.seen: list[Verified] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(check, self.seen))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)


@contextmanager
def running(check: Check) -> Iterator[VerifyingServer]:
    server = VerifyingServer(check)
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(timeout=5)


def _error_body(wire: Any, s3: bool) -> bytes:
    if s3:
        return (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{wire.code}</Code>"
            f"<Message>{escape(wire.message)}</Message></Error>"
        ).encode()
    return json.dumps({"__type": wire.code, "message": wire.message}).encode()


def _handler(check: Check, seen: list[Verified]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path, _, query = self.path.partition("?")
            request = IncomingRequest(self.command, path, query, list(self.headers.items()), body)
            s3 = "X-Amz-Target" not in self.headers
            try:
                seen.append(check(request))
            except AuthFailure as error:
                wire = error.wire(ProtocolFamily.S3 if s3 else ProtocolFamily.JSON)
                self._reply(wire.status, _error_body(wire, s3))
                return
            self._reply(200, b"" if s3 else b"{}")

        def _reply(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
