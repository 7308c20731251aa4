"""The shapes of a JSON protocol compiled into converters: a JSON value -> the Python value
botocore's client would have taken (``decoder``), and back (``encoder``). ``json_protocol``
compiles each operation's once and caches them; its docstring says what they accept, reject
and write, and why.

A decoder raises ``Malformed`` at the first wrong JSON type, with AWS's deserializer's words
(``STRING_VALUE can not be converted to an Integer``...); ``json_protocol`` answers it as a
``SerializationException``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import math
from collections.abc import Callable
from typing import Any, Final

from podwarden.wire.models import Shape, compile_once

Convert = Callable[[Any], Any]


class Malformed(Exception):
    """Raised inside a decoder; becomes ``WireError(SERIALIZATION, message)``."""


def identity(value: Any) -> Any:
    """The converter of a value that JSON and Python write alike."""
    return value


# ---- decoding -------------------------------------------------------------------------------

_TOKENS: Final = {str: "STRING_VALUE", int: "NUMBER_VALUE", float: "DECIMAL_VALUE"}
_SCALAR_FOR: Final = {"structure": "null", "list": "list or null", "map": "map or null"}


def token(value: object) -> str:
    """How AWS's deserializer names a JSON value's type: ``STRING_VALUE``, ``NUMBER_VALUE``..."""
    if isinstance(value, bool) or value is None:
        return {True: "TRUE_VALUE", False: "FALSE_VALUE", None: "NULL_VALUE"}[value]
    return _TOKENS.get(type(value), type(value).__name__)


def _mismatch(value: object, target: str) -> Malformed:
    if isinstance(value, list):
        return Malformed("Start of list found where not expected")
    if isinstance(value, dict):
        return Malformed("Start of structure or map found where not expected.")
    if target in _SCALAR_FOR:
        return Malformed(f"Expected {_SCALAR_FOR[target]}")
    return Malformed(f"{token(value)} can not be converted to {target}")


def _out_of_range(target: str) -> Malformed:
    return Malformed(f"NUMBER_VALUE can not be converted to {target}: out of range")


def _expect(value: Any, expected: type, target: str) -> Any:
    if not isinstance(value, expected):
        raise _mismatch(value, target)
    return value


def decoder(shape: Shape, memo: dict[str, Convert]) -> Convert:
    """The decoder of ``shape``; ``memo`` holds the structures compiled so far (recursion)."""
    kind = shape.type_name
    if kind == "structure":
        return identity if shape.is_document_type else compile_once(shape, memo, _structure_in)
    if kind == "list":
        item = decoder(shape.member, memo)
        return lambda v: [None if x is None else item(x) for x in _expect(v, list, kind)]
    if kind == "map":
        val = decoder(shape.value, memo)
        return lambda v: {
            k: None if x is None else val(x) for k, x in _expect(v, dict, kind).items()
        }
    return _SCALARS_IN.get(kind, identity)


def _structure_in(shape: Shape, memo: dict[str, Convert]) -> Convert:
    members = {
        member.serialization.get("name", name): (name, decoder(member, memo))
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
            raise Malformed(
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
        raise Malformed(
            f"'{_short(value)}' can not be converted to a Timestamp: "
            "expected epoch seconds or an ISO 8601 date-time"
        ) from None
    return _aware(parsed)


def _blob(value: Any) -> bytes:
    try:
        return base64.b64decode(_expect(value, str, "a Blob"), validate=True)
    except (binascii.Error, ValueError):
        raise Malformed(
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


def encoder(shape: Shape, memo: dict[str, Convert]) -> Convert:
    """The encoder of ``shape``; ``memo`` holds the structures compiled so far (recursion)."""
    kind = shape.type_name
    if kind == "structure" and not shape.is_document_type:
        return compile_once(shape, memo, _structure_out)
    if kind == "list":
        item = encoder(shape.member, memo)
        return identity if item is identity else lambda v: [item(x) for x in v]
    if kind == "map":
        val = encoder(shape.value, memo)
        return identity if val is identity else lambda v: {k: val(x) for k, x in v.items()}
    if kind == "timestamp":
        fmt = shape.serialization.get("timestampFormat", "unixTimestamp").lower()
        return _TIMESTAMPS_OUT.get(fmt, _epoch_seconds)
    return _SCALARS_OUT.get(kind, identity)


def _structure_out(shape: Shape, memo: dict[str, Convert]) -> Convert:
    members = {
        name: (member.serialization.get("name", name), encoder(member, memo))
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
