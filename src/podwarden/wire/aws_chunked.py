"""S3's ``aws-chunked`` request bodies (``Content-Encoding: aws-chunked``), which botocore sends
for PutObject with ``x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER`` and a checksum
trailer: ``<hex size>[;chunk-signature=…]\\r\\n<data>\\r\\n`` repeated, a ``0`` chunk, then
trailer lines (``x-amz-checksum-crc32:…``) and an empty line. ``decoded`` returns the request
with the plain body, ``aws-chunked`` dropped from ``Content-Encoding`` and the trailer values
added as headers, as S3 presents them to the operation. Signed chunks are refused earlier by
SigV4 verification (not implemented).
"""

from __future__ import annotations

import dataclasses

from podwarden.wire.errors import WireError
from podwarden.wire.http import HttpRequest


def _bad(message: str) -> WireError:
    return WireError("IncompleteBody", message, 400)


def decoded(request: HttpRequest) -> HttpRequest:
    encoding = request.headers.get("content-encoding", "")
    codings = [c.strip() for c in encoding.split(",") if c.strip()]
    if "aws-chunked" not in codings:
        return request
    body, trailers = _dechunk(request.body)
    headers = dict(request.headers)
    rest = [c for c in codings if c != "aws-chunked"]
    if rest:
        headers["content-encoding"] = ",".join(rest)
    else:
        headers.pop("content-encoding", None)
    headers.update(trailers)
    declared = headers.get("x-amz-decoded-content-length")
    if declared is not None and declared.isdigit() and int(declared) != len(body):
        raise _bad("You did not provide the number of bytes specified by the Content-Length")
    return dataclasses.replace(request, body=body, headers=headers)


def _dechunk(raw: bytes) -> tuple[bytes, dict[str, str]]:
    out = bytearray()
    pos = 0
    while True:
        end = raw.find(b"\r\n", pos)
        if end < 0:
            raise _bad("The aws-chunked body ended inside a chunk header")
        size_text = raw[pos:end].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _bad("An aws-chunked chunk size is not hexadecimal") from None
        pos = end + 2
        if size == 0:
            break
        if pos + size + 2 > len(raw) or raw[pos + size : pos + size + 2] != b"\r\n":
            raise _bad("An aws-chunked chunk is shorter than its declared size")
        out += raw[pos : pos + size]
        pos += size + 2
    trailers: dict[str, str] = {}
    for line in raw[pos:].split(b"\r\n"):
        name, sep, value = line.decode("latin-1").partition(":")
        if sep:
            trailers[name.strip().lower()] = value.strip()
    return bytes(out), trailers
