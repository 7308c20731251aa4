"""Scalars that travel as text: query-string and form parameters, HTTP headers, URI labels and
XML element content, in both directions.

``parse(shape, text)`` returns the Python value botocore's client would have taken
(``int``, ``bool``, ``float``, aware ``datetime``, ``bytes``) or raises ``Malformed``;
``render(shape, value, default_timestamp)`` writes it back. Timestamps: ISO 8601 (with or without
fractional seconds or an offset; no offset means UTC), epoch seconds, or RFC 822 dates (HTTP
headers) are all accepted on input; output uses the shape's ``timestampFormat`` or the location's
default (headers: RFC 822; XML and query strings: ISO 8601), as botocore's serializers do.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import math
from collections.abc import Callable
from typing import Any, Final

from podwarden.wire.models import Shape


class Malformed(Exception):
    """A text value that cannot be the shape's type; the message names value and type."""


def _short(text: str) -> str:
    return text if len(text) <= 64 else text[:61] + "..."


def _integer(bits: int, name: str) -> Callable[[str], int]:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def parse(text: str) -> int:
        try:
            value = int(text.strip(), 10)
        except ValueError:
            raise Malformed(f"'{_short(text)}' can not be converted to {name}") from None
        if not low <= value <= high:
            raise Malformed(f"'{_short(text)}' can not be converted to {name}: out of range")
        return value

    return parse


_NAMED: Final = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _floating(text: str) -> float:
    if text in _NAMED:
        return _NAMED[text]
    try:
        value = float(text)
    except ValueError:
        raise Malformed(f"'{_short(text)}' can not be converted to a Double") from None
    if not math.isfinite(value):  # "inf", "1e999": only the three names above are allowed
        raise Malformed(f"'{_short(text)}' can not be converted to a Double")
    return value


def _boolean(text: str) -> bool:
    if text in ("true", "false"):
        return text == "true"
    raise Malformed(f"'{_short(text)}' can not be converted to a Boolean")


def parse_timestamp(text: str) -> dt.datetime:
    stripped = text.strip()
    try:
        return dt.datetime.fromtimestamp(float(stripped), tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        value = dt.datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        try:
            value = email.utils.parsedate_to_datetime(stripped)
        except (TypeError, ValueError):
            raise Malformed(f"'{_short(text)}' can not be converted to a Timestamp") from None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _blob(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Malformed(
            f"'{_short(text)}' can not be converted to a Blob: invalid Base64"
        ) from None


_PARSERS: Final[dict[str, Callable[[str], Any]]] = {
    "string": lambda t: t,
    "integer": _integer(32, "an Integer"),
    "long": _integer(64, "a Long"),
    "float": _floating,
    "double": _floating,
    "boolean": _boolean,
    "timestamp": parse_timestamp,
    "blob": _blob,
}


def parse(shape: Shape, text: str) -> Any:
    return _PARSERS.get(shape.type_name, _PARSERS["string"])(text)


# ---- rendering ------------------------------------------------------------------------------


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return _aware(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    raise TypeError(f"a timestamp must be a datetime or epoch seconds, not {type(value).__name__}")


def _iso8601(value: Any) -> str:
    moment = _as_datetime(value)
    spec = "milliseconds" if moment.microsecond else "seconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


def _epoch(value: Any) -> str:
    seconds = _as_datetime(value).timestamp()
    return str(int(seconds)) if seconds == int(seconds) else repr(seconds)


_TIMESTAMPS: Final[dict[str, Callable[[Any], str]]] = {
    "iso8601": _iso8601,
    "rfc822": lambda v: email.utils.format_datetime(_as_datetime(v), usegmt=True),
    "unixtimestamp": _epoch,
}


def _float_text(value: Any) -> str:
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return repr(number) if number != int(number) else str(int(number))


_RENDERERS: Final[dict[str, Callable[[Any], str]]] = {
    "boolean": lambda v: "true" if v else "false",
    "integer": lambda v: str(int(v)),
    "long": lambda v: str(int(v)),
    "float": _float_text,
    "double": _float_text,
    "blob": lambda v: base64.b64encode(v if isinstance(v, bytes) else str(v).encode()).decode(),
}


def render(shape: Shape, value: Any, default_timestamp: str = "iso8601") -> str:
    kind = shape.type_name
    if kind == "timestamp":
        fmt = shape.serialization.get("timestampFormat", default_timestamp).lower()
        return _TIMESTAMPS.get(fmt, _iso8601)(value)
    renderer = _RENDERERS.get(kind)
    return renderer(value) if renderer is not None else str(value)
