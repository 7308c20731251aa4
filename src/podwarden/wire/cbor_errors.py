"""Error answers in Smithy RPC v2 CBOR, for clients of services whose models list it first.

CloudWatch is served in this protocol (``wire.cbor_protocol``); a request signed for a service
podwarden does not serve that is shaped as Smithy RPC v2 CBOR (``acm-pca`` and newer services
list ``smithy-rpc-v2-cbor``; SDKs that prefer it send it) must still get a refusal its client can
parse: a CBOR map with ``__type`` and
``message``, ``Content-Type: application/cbor`` and ``smithy-protocol: rpc-v2-cbor``, which is
what botocore's ``RpcV2CBORParser`` reads. Only definite-length maps of text strings are written
(RFC 8949 major types 3 and 5), which is all an error needs.
"""

from __future__ import annotations

from typing import Any

from podwarden.wire.errors import UnknownOperation, WireError
from podwarden.wire.http import HttpRequest, HttpResponse

_TEXT = 3
_MAP = 5


def _head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes([major << 5 | length])
    for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if length < 1 << (8 * size):
            return bytes([major << 5 | extra]) + length.to_bytes(size, "big")
    raise ValueError("too long for CBOR")


def _text(value: str) -> bytes:
    data = value.encode("utf-8", "replace")
    return _head(_TEXT, len(data)) + data


def encode_error(code: str, message: str) -> bytes:
    """``{"__type": code, "message": message}`` as CBOR."""
    return _head(_MAP, 2) + _text("__type") + _text(code) + _text("message") + _text(message)


class CborErrorCodec:
    """A codec that can only refuse: enough for the error path of ``api.app``."""

    family = "smithy-rpc-v2-cbor"

    def resolve(self, service: str, request: HttpRequest, target: str) -> Any:
        raise UnknownOperation(f"podwarden does not serve {service} (smithy-rpc-v2-cbor).")

    def decode(self, resolved: Any, request: HttpRequest) -> Any:
        raise UnknownOperation("podwarden does not decode smithy-rpc-v2-cbor.")

    def encode(self, call: Any, output: dict[str, Any], request_id: str) -> HttpResponse:
        raise UnknownOperation("podwarden does not encode smithy-rpc-v2-cbor.")

    def error(self, error: WireError, request_id: str, request: HttpRequest | None) -> HttpResponse:
        headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        return HttpResponse(error.status, headers, encode_error(error.code, error.message))
