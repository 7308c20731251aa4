"""The floor for bench/api.py: the same ASGI server stack as podwarden (uvicorn, httptools,
uvloop) answering every request with a canned response, doing no work at all.

    python bench/bare_server.py PORT BODY_FILE            # a SageMaker JSON body
    python bench/bare_server.py --replay PORT RECORD_FILE  # a recorded response

A record (bench/api.py's account suite) is JSON: ``status``, ``headers`` (pairs) and ``body``
(base64). This module imports nothing of podwarden, so that a floor starts in a blink.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import uvicorn


def canned_app(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> Any:
    """An ASGI app that reads each request and answers ``status``, ``headers`` (with a
    content-length added) and ``body``."""
    headers = [*headers, (b"content-length", str(len(body)).encode())]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def make_app(body: bytes) -> Any:
    headers = [
        (b"content-type", b"application/x-amz-json-1.1"),
        (b"x-amzn-requestid", b"00000000-0000-0000-0000-000000000000"),
    ]
    return canned_app(200, headers, body)


def serve(app: Any, port: int) -> None:
    """Run ``app`` on ``port`` under podwarden's server stack, until killed."""
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        http="httptools",
        loop="uvloop",
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


def replay_app(record: dict[str, Any]) -> Any:
    """The floor of the account suite: one recorded podwarden response (its status, headers and
    body) to every request."""
    headers = [(k.lower().encode(), v.encode()) for k, v in record["headers"]]
    return canned_app(record["status"], headers, base64.b64decode(record["body"]))


if __name__ == "__main__":
    if sys.argv[1] == "--replay":
        port, record = int(sys.argv[2]), json.loads(Path(sys.argv[3]).read_text())
        serve(replay_app(record), port)
    else:
        port, body_file = int(sys.argv[1]), Path(sys.argv[2])
        serve(make_app(body_file.read_bytes()), port)
