"""The awsJson1.1 codec (botocore's ``json`` protocol): request bodies in, response bodies out.

Each shape is compiled once into small closures, cached per operation, so a request does no
model lookups. Decoding follows AWS's JSON services (quoted texts are theirs):

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

import base64
import binascii
import datetime as dt
import email.utils
import json
import math
import weakref
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from podwarden.wire.errors import WireError
from podwarden.wire.models import OperationModel, Shape, compile_once
from podwarden.wire.validate import TYPE, format_violations, validate

SERIALIZATION: Final = "SerializationException"
VALIDATION: Final = "ValidationException"

Convert = Callable[[Any], Any]


class _Malformed(Exception):
    """Raised inside the decoder; becomes ``WireError(SERIALIZATION, message)``."""


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
        raise WireError(
            SERIALIZATION, f"The request body must be a JSON object, not {_token(data)}"
        )
    if codec.input_shape is None:
        return {}
    try:
        params: dict[str, Any] = codec.decode(data)
        violations = validate(codec.input_shape, params)
    except _Malformed as exc:
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
    except _Malformed as exc:
        raise WireError(SERIALIZATION, str(exc)) from None
    return decoded


def decode_value(shape: Shape, data: Any) -> Any:
    """A JSON value of ``shape`` (a rest-json payload document), not yet validated."""
    try:
        return _value_decoder(shape)(data)
    except _Malformed as exc:
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
        found = _value_decoders[shape] = _decoder(shape, {})
    return found


def _value_encoder(shape: Shape) -> Convert:
    """The compiled encoder of one shape (a rest-json body or payload), built on first use:
    compiling it per request was a third of an EKS DescribeCluster's time in the app."""
    found = _value_encoders.get(shape)
    if found is None:
        found = _value_encoders[shape] = _encoder(shape, {})
    return found


def _codec(op: OperationModel) -> _Codec:
    codec = _codecs.get(op)
    if codec is None:
        shape_in, shape_out = op.input_shape, op.output_shape
        codec = _codecs[op] = _Codec(
            shape_in,
            _decoder(shape_in, {}) if shape_in is not None else _identity,
            _encoder(shape_out, {}) if shape_out is not None else (lambda _: {}),
        )
    return codec


def _identity(value: Any) -> Any:
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


# one decoder and encoder for the process: json.loads/dumps with options build one per call
_JSON_IN: Final = json.JSONDecoder(parse_constant=_reject_constant)
# ASCII output: a lone surrogate a client sent ("\\ud800") can be echoed back without failing
_JSON_OUT: Final = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


# ---- decoding -------------------------------------------------------------------------------

_TOKENS: Final = {str: "STRING_VALUE", int: "NUMBER_VALUE", float: "DECIMAL_VALUE"}
_SCALAR_FOR: Final = {"structure": "null", "list": "list or null", "map": "map or null"}


def _token(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "TRUE_VALUE", False: "FALSE_VALUE", None: "NULL_VALUE"}[value]
    return _TOKENS.get(type(value), type(value).__name__)


def _mismatch(value: object, target: str) -> _Malformed:
    if isinstance(value, list):
        return _Malformed("Start of list found where not expected")
    if isinstance(value, dict):
        return _Malformed("Start of structure or map found where not expected.")
    if target in _SCALAR_FOR:
        return _Malformed(f"Expected {_SCALAR_FOR[target]}")
    return _Malformed(f"{_token(value)} can not be converted to {target}")


def _out_of_range(target: str) -> _Malformed:
    return _Malformed(f"NUMBER_VALUE can not be converted to {target}: out of range")


def _expect(value: Any, expected: type, target: str) -> Any:
    if not isinstance(value, expected):
        raise _mismatch(value, target)
    return value


def _decoder(shape: Shape, memo: dict[str, Convert]) -> Convert:
    kind = shape.type_name
    if kind == "structure":
        return _identity if shape.is_document_type else compile_once(shape, memo, _structure_in)
    if kind == "list":
        item = _decoder(shape.member, memo)
        return lambda v: [None if x is None else item(x) for x in _expect(v, list, kind)]
    if kind == "map":
        val = _decoder(shape.value, memo)
        return lambda v: {
            k: None if x is None else val(x) for k, x in _expect(v, dict, kind).items()
        }
    return _SCALARS_IN.get(kind, _identity)


def _structure_in(shape: Shape, memo: dict[str, Convert]) -> Convert:
    members = {
        member.serialization.get("name", name): (name, _decoder(member, memo))
        for name, member in shape.members.items()
    }
    union = bool(shape.is_tagged_union)

    def decode(value: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        present = 0
        for key, item in _expect(value, dict, "structure").items():
            if item is not None:
                present += 1
                if (found := members.get(key)) is not None:
                    out[found[0]] = found[1](item)
        if union and (present != 1 or len(out) != 1):
            raise _Malformed(
                f"A {shape.name} must have exactly one of {', '.join(members)} set; found "
                f"{', '.join(k for k, v in value.items() if v is not None) or 'none'}"
            )
        return out

    return decode


def _integer(bits: int, target: str) -> Convert:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def decode(value: Any) -> int:
        if type(value) is not int:
            raise _mismatch(value, target)
        if not low <= value <= high:
            raise _out_of_range(target)
        return value

    return decode


_NAMED_FLOATS: Final = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _floating(target: str) -> Convert:
    def decode(value: Any) -> float:
        if type(value) is float or type(value) is int:
            try:
                return float(value)
            except OverflowError:
                raise _out_of_range(target) from None
        if isinstance(value, str) and value in _NAMED_FLOATS:
            return _NAMED_FLOATS[value]
        raise _mismatch(value, target)

    return decode


def _short(text: str) -> str:
    return text if len(text) <= 64 else text[:61] + "..."


def _timestamp(value: Any) -> dt.datetime:
    if type(value) is int or type(value) is float:
        try:
            return dt.datetime.fromtimestamp(value, tz=dt.UTC)
        except (OverflowError, ValueError, OSError):
            raise _out_of_range("a Timestamp") from None
    try:
        parsed = dt.datetime.fromisoformat(_expect(value, str, "a Timestamp"))
    except ValueError:
        raise _Malformed(
            f"'{_short(value)}' can not be converted to a Timestamp: "
            "expected epoch seconds or an ISO 8601 date-time"
        ) from None
    return _aware(parsed)


def _blob(value: Any) -> bytes:
    try:
        return base64.b64decode(_expect(value, str, "a Blob"), validate=True)
    except (binascii.Error, ValueError):
        raise _Malformed(
            f"'{_short(value)}' can not be converted to a Blob: invalid Base64"
        ) from None


_SCALARS_IN: Final[dict[str, Convert]] = {
    "string": lambda v: _expect(v, str, "a String"),
    "boolean": lambda v: _expect(v, bool, "a Boolean"),
    "integer": _integer(32, "an Integer"),
    "long": _integer(64, "a Long"),
    "float": _floating("a Float"),
    "double": _floating("a Double"),
    "timestamp": _timestamp,
    "blob": _blob,
}


# ---- encoding -------------------------------------------------------------------------------


def _encoder(shape: Shape, memo: dict[str, Convert]) -> Convert:
    kind = shape.type_name
    if kind == "structure" and not shape.is_document_type:
        return compile_once(shape, memo, _structure_out)
    if kind == "list":
        item = _encoder(shape.member, memo)
        return _identity if item is _identity else lambda v: [item(x) for x in v]
    if kind == "map":
        val = _encoder(shape.value, memo)
        return _identity if val is _identity else lambda v: {k: val(x) for k, x in v.items()}
    if kind == "timestamp":
        fmt = shape.serialization.get("timestampFormat", "unixTimestamp").lower()
        return _TIMESTAMPS_OUT.get(fmt, _epoch_seconds)
    return _SCALARS_OUT.get(kind, _identity)


def _structure_out(shape: Shape, memo: dict[str, Convert]) -> Convert:
    members = {
        name: (member.serialization.get("name", name), _encoder(member, memo))
        for name, member in shape.members.items()
    }

    def encode(value: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, item in value.items():
            if item is not None and (found := members.get(name)) is not None:
                out[found[0]] = found[1](item)
        return out

    return encode


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _epoch_seconds(value: Any) -> int | float:
    if isinstance(value, dt.datetime):  # timestamp() rounds once, as botocore's serializer does
        seconds = (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
        return seconds if value.microsecond else int(seconds)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    raise TypeError(f"a timestamp must be a datetime or epoch seconds, not {type(value).__name__}")


def _finite_or_name(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


_TIMESTAMPS_OUT: Final[dict[str, Convert]] = {
    "unixtimestamp": _epoch_seconds,
    "iso8601": lambda v: _aware(v).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    "rfc822": lambda v: email.utils.format_datetime(_aware(v), usegmt=True),
}
_SCALARS_OUT: Final[dict[str, Convert]] = {
    "blob": lambda v: base64.b64encode(v).decode("ascii"),
    "float": _finite_or_name,
    "double": _finite_or_name,
}
