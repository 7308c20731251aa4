"""One client of bench/bigbody.py: large S3 PutObjects in a loop, raw signed HTTP on loopback.

    AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… \
        python bench/put_loop.py URL BUCKET KEY MIB MAX_PUTS RESULT_FILE

Prints ``ready`` once its body is made, then reads one line from stdin: the wall-clock time
(``time.time()``) to stop at. Until then, and at most ``MAX_PUTS`` times, it PUTs ``MIB`` MiB of
random bytes to ``BUCKET/KEY`` over one keep-alive connection, each signed with SigV4 and the
payload's SHA-256, with the CRC32 checksum that boto3 sends by default (both computed once: the
client's own cost stays out of the server's way, whose work is a boto3 PutObject's). Each
answer must be 200. Writes JSON to ``RESULT_FILE``: ``puts`` and ``put_s`` (each put's seconds).

Only botocore's signer is imported (no podwarden, no boto3), so that it starts quickly.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import sys
import time
import zlib
from pathlib import Path
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

REGION = "us-west-2"


def signed_headers(url: str, body: dict[str, str]) -> dict[str, str]:
    """SigV4 headers of a PUT of a body with these headers (its size and checksums)."""
    request = AWSRequest(method="PUT", url=url, headers=dict(body))
    credentials = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    SigV4Auth(credentials, "s3", REGION).add_auth(request)
    return dict(request.headers.items())


def put_loop(url: str, body: bytes, until: float, max_puts: int) -> list[float]:
    described = {
        "Content-Length": str(len(body)),
        "X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest(),
        "x-amz-checksum-crc32": base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode(),
        "x-amz-sdk-checksum-algorithm": "CRC32",
    }
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=300)
    seconds: list[float] = []
    try:
        while time.time() < until and len(seconds) < max_puts:
            t0 = time.perf_counter()
            conn.request("PUT", parts.path, body=body, headers=signed_headers(url, described))
            response = conn.getresponse()
            answer = response.read()
            if response.status != 200:
                raise SystemExit(
                    f"PutObject {parts.path}: HTTP {response.status}: {answer[:500]!r}"
                )
            seconds.append(time.perf_counter() - t0)
    finally:
        conn.close()
    return seconds


def main() -> None:
    endpoint, bucket, key, mib, max_puts, result = sys.argv[1:7]
    body = os.urandom(int(float(mib) * 2**20))
    print("ready", flush=True)
    until = float(sys.stdin.readline() or 0)  # EOF (the parent gone): stop at once
    seconds = put_loop(f"{endpoint}/{bucket}/{key}", body, until, int(max_puts))
    outcome = {"puts": len(seconds), "put_s": [round(s, 4) for s in seconds]}
    Path(result).write_text(json.dumps(outcome))


if __name__ == "__main__":
    main()
