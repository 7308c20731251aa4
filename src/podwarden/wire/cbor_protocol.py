"""Smithy RPC v2 CBOR (botocore's ``smithy-rpc-v2-cbor``): request bodies in, response and error
bodies out, with the ``cbor2`` library (RFC 8949) underneath.

What the protocol is (the Smithy specification, "Smithy RPC v2 CBOR protocol"; botocore's
``RpcV2CBORSerializer`` and ``RpcV2CBORParser`` are what the tests hold it to; docs/sources.md,
"CloudWatch alarms"):

- A request is ``POST {prefix?}/service/{serviceName}/operation/{operationName}`` with
  ``Smithy-Protocol: rpc-v2-cbor``; botocore names the service by its model's ``targetPrefix``
  (CloudWatch: ``GraniteServiceVersion20100801``), and a server SHOULD also take the absolute
  shape id with ``.`` for ``#`` (``com.amazonaws.cloudwatch.GraniteServiceVersion20100801``).
  A request for an operation without input has no body.
- The body is one CBOR data item, a map of the input's members (``cbor_converters`` says what
  each shape's value may be). Timestamps are tag 1 over epoch seconds; no other tag is
  accepted: the decoder's own meanings for tags 0, 2-5, 25-37, 100, 256-261 and so on (bignums,
  decimals, shared and string references, regular expressions...) are switched off, so a body
  can neither build cycles nor make the decoder compile anything; such a value is refused as a
  type mismatch. Maps must have text or byte string keys, each once; nesting is bounded.
- A response is ``200`` with ``Content-Type: application/cbor``, ``Smithy-Protocol:
  rpc-v2-cbor`` and a CBOR map of the output's members. An error is the same map with
  ``__type`` (the error's shape id) and ``message``, with the error's HTTP status.

Error codes, shape ids and the ``x-amzn-query-error`` header of a query-compatible service
(CloudWatch) are ``wire.query_compat``'s.

Errors in a body that does not parse (not CBOR, trailing bytes, a duplicate key, not a map) are
``SerializationException`` with our words.
"""

from __future__ import annotations

import io
import re
import weakref
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import cbor2

from podwarden.wire.cbor_converters import Convert, decoder, encoder, identity, kind_of
from podwarden.wire.errors import WireError
from podwarden.wire.json_converters import Malformed
from podwarden.wire.models import OperationModel, Shape

CONTENT_TYPE: Final = "application/cbor"
PROTOCOL_HEADER: Final = "smithy-protocol"
PROTOCOL: Final = "rpc-v2-cbor"
SERIALIZATION: Final = "SerializationException"
MAX_DEPTH: Final = 64  # maps and arrays nested deeper than any AWS input shape

_ROUTE = re.compile(r"(?:/[^?]*)?/service/(?P<service>[^/]+)/operation/(?P<operation>[^/]+)")
# every tag cbor2 gives a meaning of its own (found by probing 0..1100 and the registered
# higher ones); tag 1, the timestamp, keeps its decoder
_OWN_TAGS: Final = (0, 2, 3, 4, 5, 25, 28, 29, 30, 35, 36, 37, 52, 54, 100, 256, 258, 260, 261)
_OWN_TAGS_HIGH: Final = (1004, 43000, 55799)


def announced(headers: Mapping[str, str]) -> bool:
    """Whether a request says it is Smithy RPC v2 CBOR: a ``Smithy-Protocol`` header naming
    ``rpc-v2-cbor``, repeated or not (routing goes by it; the codec then wants it exact, and
    refuses anything else in CBOR, which is what such a client reads)."""
    value = headers.get(PROTOCOL_HEADER)
    return value is not None and PROTOCOL in (part.strip() for part in value.split(","))


class Route(NamedTuple):
    service: str  # the service segment as sent: a shape name, or a namespaced id with "."
    operation: str


def route(path: str) -> Route | None:
    """The service and operation segments of an RPC v2 path (the last four segments)."""
    found = _ROUTE.fullmatch(path.split("?", 1)[0])
    return Route(found["service"], found["operation"]) if found else None


class _Refused:
    """A tagged value the protocol does not allow: no converter accepts it."""

    __slots__ = ("tag",)

    def __init__(self, tag: int) -> None:
        self.tag = tag


def _refuse(tag: int) -> Any:
    return lambda _value, _immutable: _Refused(tag)


_SEMANTIC: Final = {tag: _refuse(tag) for tag in _OWN_TAGS + _OWN_TAGS_HIGH}


def _unknown_tag(tag: cbor2.CBORTag, _immutable: bool) -> _Refused:
    return _Refused(tag.tag)


def parse(body: bytes) -> Any:
    """The one CBOR data item that is the whole body; ``Malformed`` when it is not."""
    stream = io.BytesIO(body)
    reader = cbor2.CBORDecoder(
        stream,
        tag_hook=_unknown_tag,
        semantic_decoders=_SEMANTIC,
        max_depth=MAX_DEPTH,
        allow_duplicate_keys=False,
        strict_hashable_types=True,
    )
    try:
        value = reader.decode()
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise Malformed(f"The request body is not valid CBOR: {exc}") from None
    if stream.tell() != len(body):
        raise Malformed(
            f"The request body has {len(body) - stream.tell()} bytes after its CBOR data item."
        )
    return value


class _Codec(NamedTuple):
    input_shape: Shape | None
    decode: Convert
    encode: Convert


_codecs: weakref.WeakKeyDictionary[Any, _Codec] = weakref.WeakKeyDictionary()


def _codec(op: OperationModel) -> _Codec:
    codec = _codecs.get(op)
    if codec is None:
        shape_in, shape_out = op.input_shape, op.output_shape
        codec = _codecs[op] = _Codec(
            shape_in,
            decoder(shape_in, {}) if shape_in is not None else identity,
            encoder(shape_out, {}) if shape_out is not None else (lambda _: {}),
        )
    return codec


def decode_members(op: OperationModel, body: bytes) -> dict[str, Any]:
    """The input members of ``op`` in a request body, not yet validated; an empty body is an
    empty input. ``SerializationException`` when the body does not read as the input shape."""
    codec = _codec(op)
    try:
        data = parse(body) if body else {}
        if not isinstance(data, dict):
            raise Malformed(f"The request body must be a CBOR map, not {kind_of(data)}")
        if codec.input_shape is None:
            return {}
        params: dict[str, Any] = codec.decode(data)
    except Malformed as exc:
        raise WireError(SERIALIZATION, str(exc)) from None
    except RecursionError:
        raise WireError(SERIALIZATION, "The request is nested too deeply") from None
    return params


def encode_response(op: OperationModel, output: dict[str, Any]) -> bytes:
    """The CBOR body of a successful response (an empty map for operations without output)."""
    return cbor2.dumps(_codec(op).encode(output))


def encode_error(type_: str, message: str, fields: dict[str, object]) -> bytes:
    """An error body: ``__type``, ``message`` and the exception's modeled members."""
    body: dict[str, object] = {"__type": type_, "message": message}
    body.update((k, v) for k, v in fields.items() if k not in body)
    return cbor2.dumps(body, default=_text)


def _text(encoder: cbor2.CBOREncoder, value: object) -> None:
    encoder.encode(str(value))
