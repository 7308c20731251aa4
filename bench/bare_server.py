"""The floor for bench/api.py: the same ASGI server stack as podwarden (uvicorn, httptools,
uvloop) answering every request with a canned body, doing no work at all.

    python bench/bare_server.py PORT BODY_FILE
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import uvicorn


def make_app(body: bytes) -> Any:
    headers = [
        (b"content-type", b"application/x-amz-json-1.1"),
        (b"content-length", str(len(body)).encode()),
        (b"x-amzn-requestid", b"00000000-0000-0000-0000-000000000000"),
    ]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


if __name__ == "__main__":
    port, body_file = int(sys.argv[1]), Path(sys.argv[2])
    uvicorn.run(
        make_app(body_file.read_bytes()),
        host="127.0.0.1",
        port=port,
        http="httptools",
        loop="uvloop",
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
