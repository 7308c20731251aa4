"""The shapes of Smithy RPC v2 CBOR compiled into converters: a decoded CBOR value -> the Python
value botocore's client would have taken (``decoder``), and back (``encoder``). ``cbor_protocol``
compiles each operation's once and caches them; it says what the wire carries.

CBOR carries most of the types itself (byte strings are blobs, tag 1 is a timestamp), so
decoding is mostly checking. What the Smithy specification asks and what is ours:

- Unknown members and ``__type`` are ignored; ``null`` and ``undefined`` (simple value 23, which
  the specification says servers MUST read as null) count as absent. Null list items and map
  values are kept for the validator, which rejects them (``Member must not be null``).
- No coercion: a float is no integer, a text string no number. Integers must fit the shape
  (32 bits for ``integer``, 64 for ``long``, 16 and 8 for ``short`` and ``byte``). Floats and
  doubles also take integers (Smithy lets a float that loses nothing travel as an integer),
  half-precision values and NaN/Infinity.
- A timestamp is tag 1 over epoch seconds (what the decoder turned into an aware ``datetime``);
  a bare number or string is not one. A blob is a byte string.
- A wrong type raises ``Malformed`` naming the expected type and the CBOR type found (the
  words are ours); ``cbor_protocol`` answers it as a ``SerializationException``.

Encoding drops ``None`` values and members the output shape lacks, writes timestamps as tag 1
over epoch seconds (an integer when whole, else a double: millisecond resolution is what the
specification promises), blobs as byte strings, and float and double members as CBOR floats
even when the value is whole.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, Final

from cbor2 import CBORTag, undefined

from podwarden.wire.json_converters import Malformed
from podwarden.wire.models import Shape, compile_once

Convert = Callable[[Any], Any]
EPOCH_TAG: Final = 1


def identity(value: Any) -> Any:
    return value


def absent(value: Any) -> bool:
    """CBOR's null and undefined: a member that is not there."""
    return value is None or value is undefined


def kind_of(value: object) -> str:
    """How an error names the CBOR type of a decoded value."""
    if isinstance(value, bool):
        return "a boolean"
    for types, name in _KINDS:
        if isinstance(value, types):
            return name
    return "an unsupported CBOR item"


_KINDS: Final[tuple[tuple[type | tuple[type, ...], str], ...]] = (
    (int, "an integer"),
    (float, "a float"),
    (str, "a text string"),
    ((bytes, bytearray), "a byte string"),
    (list, "an array"),
    (dict, "a map"),
    (dt.datetime, "a timestamp (tag 1)"),
)


def _expect(value: Any, expected: type | tuple[type, ...], target: str) -> Any:
    if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
        raise Malformed(f"Expected {target}, found {kind_of(value)}")
    return value


# ---- decoding -------------------------------------------------------------------------------


def decoder(shape: Shape, memo: dict[str, Convert]) -> Convert:
    """The decoder of ``shape``; ``memo`` holds the structures compiled so far (recursion)."""
    kind = shape.type_name
    if kind == "structure":
        return identity if shape.is_document_type else compile_once(shape, memo, _structure_in)
    if kind == "list":
        item = decoder(shape.member, memo)
        return lambda v: [None if absent(x) else item(x) for x in _expect(v, list, "an array")]
    if kind == "map":
        val = decoder(shape.value, memo)
        return lambda v: {
            _expect(k, str, "a text string map key"): None if absent(x) else val(x)
            for k, x in _expect(v, dict, "a map").items()
        }
    return _SCALARS_IN.get(kind, identity)


def _structure_in(shape: Shape, memo: dict[str, Convert]) -> Convert:
    members = {name: decoder(member, memo) for name, member in shape.members.items()}
    union = bool(shape.is_tagged_union)

    def decode(value: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        present: list[str] = []
        for key, item in _expect(value, dict, f"a map for {shape.name}").items():
            if absent(item) or key == "__type":
                continue
            present.append(str(key))
            if (convert := members.get(key)) is not None:
                out[key] = convert(item)
        if union and (len(present) != 1 or len(out) != 1):
            raise Malformed(
                f"A {shape.name} must have exactly one of {', '.join(members)} set; found "
                f"{', '.join(present) or 'none'}"
            )
        return out

    return decode


def _integer(bits: int, target: str) -> Convert:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def decode(value: Any) -> int:
        if type(value) is not int:
            raise Malformed(f"Expected {target}, found {kind_of(value)}")
        if not low <= value <= high:
            raise Malformed(f"{value} is out of range for {target}")
        return value

    return decode


def _floating(target: str) -> Convert:
    def decode(value: Any) -> float:
        if type(value) is float:
            return value
        if type(value) is int:
            try:
                return float(value)
            except OverflowError:
                raise Malformed(f"{value} is out of range for {target}") from None
        raise Malformed(f"Expected {target}, found {kind_of(value)}")

    return decode


def _timestamp(value: Any) -> dt.datetime:
    stamp: dt.datetime = _expect(value, dt.datetime, "a timestamp (tag 1 over epoch seconds)")
    return stamp.replace(tzinfo=dt.UTC) if stamp.tzinfo is None else stamp.astimezone(dt.UTC)


_SCALARS_IN: Final[dict[str, Convert]] = {
    "string": lambda v: _expect(v, str, "a text string"),
    "boolean": lambda v: _expect(v, bool, "a boolean"),
    "byte": _integer(8, "a byte"),
    "short": _integer(16, "a short"),
    "integer": _integer(32, "an integer"),
    "long": _integer(64, "a long"),
    "float": _floating("a float"),
    "double": _floating("a double"),
    "timestamp": _timestamp,
    "blob": lambda v: bytes(_expect(v, (bytes, bytearray), "a byte string")),
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
    return _SCALARS_OUT.get(kind, identity)


def _structure_out(shape: Shape, memo: dict[str, Convert]) -> Convert:
    members = {name: encoder(member, memo) for name, member in shape.members.items()}

    def encode(value: dict[str, Any]) -> dict[str, Any]:
        return {
            name: convert(item)
            for name, item in value.items()
            if item is not None and (convert := members.get(name)) is not None
        }

    return encode


def epoch(value: Any) -> CBORTag:
    """A timestamp as tag 1 over epoch seconds (an aware or naive-UTC datetime, or seconds)."""
    if isinstance(value, dt.datetime):
        seconds = (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
        return CBORTag(EPOCH_TAG, seconds if value.microsecond else int(seconds))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return CBORTag(EPOCH_TAG, value)
    raise TypeError(f"a timestamp must be a datetime or epoch seconds, not {type(value).__name__}")


def _as_float(value: Any) -> Any:
    return float(value) if type(value) is int else value


_SCALARS_OUT: Final[dict[str, Convert]] = {
    "timestamp": epoch,
    "blob": bytes,
    "float": _as_float,
    "double": _as_float,
}
