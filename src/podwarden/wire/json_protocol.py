"""The awsJson1.1 codec (botocore's ``json`` protocol): request bodies in, response bodies out.

Each shape is compiled once into small closures (``json_converters``), cached per
operation, so a request does no model lookups. Decoding follows AWS's JSON services (quoted
texts are theirs):

- Unknown members are ignored (forward compatibility, as AWS and Smithy servers do); a member
  whose value is ``null`` counts as absent. Null list items and map values are kept for the
  validator, which rejects them (``Member must not be null``).
- A wrong JSON type raises ``SerializationException`` (400) at the first one, as AWS's
  deserializer does: ``STRING_VALUE can not be converted to an Integer``, ``NUMBER_VALUE can not
  be converted to a String``, ``TRUE_VALUE``/``FALSE_VALUE ...``, ``Start of list found where not
  expected``, ``Start of structure or map found where not expected.``, ``Expected list or null``
  (a scalar for a list), ``Expected map or null``, ``Expected null`` (a scalar for a structure).
  Not confirmed, ours: the token ``DECIMAL_VALUE`` for fractions (DynamoDB's) and the target
  names ``a Long``/``a Float``/``a Double``/``a Boolean``/``a Timestamp``/``a Blob``.
- No coercion: ``"5"``, ``1.5`` and ``1.0`` are not integers (Smithy's malformed-request tests
  reject float truncation), ``"true"`` is not a boolean. Integers must fit 32 bits and longs 64
  (Smithy: overflow is a ``SerializationException``). Floats and doubles also take ``"NaN"``,
  ``"Infinity"`` and ``"-Infinity"``, which botocore sends for those values.
- Timestamps: numbers are epoch seconds (what botocore sends), strings ISO 8601 (as the API
  reference documents); both become aware UTC ``datetime`` (no offset means UTC). Blobs are
  base64 strings and become ``bytes``.
- A union needs exactly one member set, unknown members included, else ``SerializationException``
  (Smithy's protocol tests); the message is ours, as are those for bodies that are not JSON, not
  an object, use ``NaN``/``Infinity`` literals or nest too deeply (AWS sends a bare
  ``SerializationException``). A top-level array gets AWS's ``Start of list ...``.
- Then the validator runs; violations raise ``ValidationException`` with AWS's summary text.

Bodies must be UTF-8. Encoding drops ``None`` values and members the output shape lacks, writes
timestamps as epoch seconds (or the shape's ``timestampFormat``), blobs as base64, non-finite
floats as strings, and escapes non-ASCII characters.
"""

from __future__ import annotations

import json
import weakref
from typing import Any, Final, NamedTuple

from podwarden.wire.errors import WireError
from podwarden.wire.json_converters import Convert, Malformed, decoder, encoder, identity, token
from podwarden.wire.models import OperationModel, Shape
from podwarden.wire.validate import TYPE, format_violations, validate

SERIALIZATION: Final = "SerializationException"
VALIDATION: Final = "ValidationException"


class _Codec(NamedTuple):
    input_shape: Shape | None
    decode: Convert
    encode: Convert


_codecs: weakref.WeakKeyDictionary[Any, _Codec] = weakref.WeakKeyDictionary()
_value_decoders: weakref.WeakKeyDictionary[Any, Convert] = weakref.WeakKeyDictionary()
_value_encoders: weakref.WeakKeyDictionary[Any, Convert] = weakref.WeakKeyDictionary()


def content_type(op: OperationModel) -> str:
    """``application/x-amz-json-1.1`` (or 1.0), from the service's ``jsonVersion``."""
    return f"application/x-amz-json-{op.metadata.get('jsonVersion', '1.1')}"


def decode_request(op: OperationModel, body: bytes) -> dict[str, Any]:
    """The validated input parameters of ``op``, as botocore's client would have taken them."""
    codec = _codec(op)
    try:
        data = _JSON_IN.decode(body.decode()) if body else {}
    except RecursionError:
        raise WireError(SERIALIZATION, "Malformed JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, not UTF-8, NaN, integers over 4300 digits
        raise WireError(SERIALIZATION, f"Malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        if isinstance(data, list):
            raise WireError(SERIALIZATION, "Start of list found where not expected")
        raise WireError(SERIALIZATION, f"The request body must be a JSON object, not {token(data)}")
    if codec.input_shape is None:
        return {}
    try:
        params: dict[str, Any] = codec.decode(data)
        violations = validate(codec.input_shape, params)
    except Malformed as exc:
        raise WireError(SERIALIZATION, str(exc)) from None
    except RecursionError:
        raise WireError(SERIALIZATION, "The request is nested too deeply") from None
    if violations:
        wrong = [v for v in violations if v.kind == TYPE]  # the decoder should have caught these
        if wrong:
            raise WireError(SERIALIZATION, str(wrong[0]))
        raise WireError(VALIDATION, format_violations(violations))
    return params


def encode_response(op: OperationModel, output: dict[str, Any]) -> bytes:
    """The JSON body of a successful response (``{}`` for operations without output)."""
    body = _codec(op).encode(output)
    return _JSON_OUT.encode(body).encode()


def decode_members(op: OperationModel, data: dict[str, Any]) -> dict[str, Any]:
    """The input members found in a JSON object (rest-json bodies), not yet validated;
    ``SerializationException`` on a wrong JSON type."""
    try:
        decoded: dict[str, Any] = _codec(op).decode(data)
    except Malformed as exc:
        raise WireError(SERIALIZATION, str(exc)) from None
    return decoded


def decode_value(shape: Shape, data: Any) -> Any:
    """A JSON value of ``shape`` (a rest-json payload document), not yet validated."""
    try:
        return _value_decoder(shape)(data)
    except Malformed as exc:
        raise WireError(SERIALIZATION, str(exc)) from None


def parse_json(body: bytes) -> Any:
    """A request body as JSON (``SerializationException`` if it is not)."""
    try:
        return _JSON_IN.decode(body.decode()) if body else {}
    except RecursionError:
        raise WireError(SERIALIZATION, "Malformed JSON: nested too deeply") from None
    except ValueError as exc:
        raise WireError(SERIALIZATION, f"Malformed JSON: {exc}") from None


def encode_value(shape: Shape, value: Any) -> bytes:
    """Any value of ``shape`` as JSON (rest-json bodies and payloads)."""
    return _JSON_OUT.encode(_value_encoder(shape)(value)).encode()


def encode_error_body(doc: dict[str, Any]) -> bytes:
    """A rest-json error document (message and the modeled exception's fields)."""
    return json.dumps(doc, default=str).encode()


def encode_error(code: str, message: str) -> bytes:
    """The JSON body of an error response."""
    return json.dumps({"__type": code, "message": message}).encode()


def _value_decoder(shape: Shape) -> Convert:
    """The compiled decoder of one shape (a rest-json payload), built on first use."""
    found = _value_decoders.get(shape)
    if found is None:
        found = _value_decoders[shape] = decoder(shape, {})
    return found


def _value_encoder(shape: Shape) -> Convert:
    """The compiled encoder of one shape (a rest-json body or payload), built on first use:
    compiling it per request was a third of an EKS DescribeCluster's time in the app."""
    found = _value_encoders.get(shape)
    if found is None:
        found = _value_encoders[shape] = encoder(shape, {})
    return found


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


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


# one decoder and encoder for the process: json.loads/dumps with options build one per call
_JSON_IN: Final = json.JSONDecoder(parse_constant=_reject_constant)
# ASCII output: a lone surrogate a client sent ("\\ud800") can be echoed back without failing
_JSON_OUT: Final = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
