"""Opaque pagination tokens: the one place a token from a client is encoded, decoded and checked.

Every service's paging (SageMaker's ``NextToken``, EKS's ``nextToken``, EC2's ``NextToken``,
IAM's ``Marker``, S3's ``ContinuationToken``) goes through here; the services' modules only adapt
their member names and answer :class:`InvalidToken` with their own error code.

A token is ``base64url(JSON object)`` with exactly the fields of its kind:

* an *offset* token ``{"o": offset, "q": fingerprint}``: where the next page starts in a listing
  that the operation sorts the same way on every call;
* a *marker* token ``{"a": base64url(UTF-8 of the last entry), "q": fingerprint}``: S3 resumes
  after the last key or CommonPrefix returned, which stays right when keys come and go;
* a *key* token ``{"k": "<float> <id>", "q": fingerprint}``: the sort key of the last item of a
  page read through an index (ListClusterNodes: launch time and instance id,
  ``store.instance_order``), so the next page starts there rather than at an offset.

``q`` is a hash of the request's other members (filters, sort, prefix, path prefix...): a token
is only good for the query that issued it. Tokens are not secret (a client could forge one for
its own query), and need not be: an offset past the end gives an empty page, a marker any string.

A token from a client is untrusted input. :func:`decode` bounds its length before decoding,
decodes base64 strictly (no characters skipped), refuses JSON that is not one flat object with
exactly the expected keys, floats (``1e400``), ``NaN``/``Infinity``, integers of more than
:data:`MAX_INT_DIGITS` digits, booleans for integers, negative or too large offsets, and markers
that are not UTF-8 or longer than an S3 key. Whatever the token holds, the only exception that
leaves this module is :class:`InvalidToken`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from podwarden.model.errors import InvalidToken

T = TypeVar("T")
DEFAULT_PAGE = 100  # MaxResults' upper bound in the model; also used when it is omitted
MAX_TOKEN_CHARS = 4096  # our longest (an S3 marker of a 1024-byte key) is about 1,900
MAX_OFFSET = 2**31 - 1
MAX_INT_DIGITS = 10
MAX_MARKER_BYTES = 1024  # S3's longest key, in UTF-8 bytes
MAX_KEY_CHARS = 128  # a float's repr and an id
_FINGERPRINT_CHARS = 16

Query = Mapping[str, Any]


def fingerprint(query: Query) -> str:
    """The hash a token carries of the request's other members."""
    text = json.dumps(query, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:_FINGERPRINT_CHARS]


# --- encoding ------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def _wrap(fields: dict[str, Any], query: Query) -> str:
    body = json.dumps({**fields, "q": fingerprint(query)}, separators=(",", ":"))
    return _b64(body.encode("ascii"))


def encode_offset(offset: int, query: Query) -> str:
    return _wrap({"o": offset}, query)


def encode_marker(marker: str, query: Query) -> str:
    return _wrap({"a": _b64(marker.encode("utf-8", "surrogatepass"))}, query)


def encode_key(key: tuple[float, str], query: Query) -> str:
    return _wrap({"k": f"{key[0]!r} {key[1]}"}, query)


# --- decoding ------------------------------------------------------------------------------------


def _refuse_float(text: str) -> Any:
    raise ValueError(f"a number with a fraction or exponent ({text[:20]})")


def _refuse_constant(text: str) -> Any:
    raise ValueError(f"a non-finite number ({text})")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError("an integer out of bounds")
    return int(text)


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("a repeated field")
    return out


_DECODER = json.JSONDecoder(
    parse_float=_refuse_float,
    parse_int=_bounded_int,
    parse_constant=_refuse_constant,
    object_pairs_hook=_unique,
)


def _unb64(text: str) -> bytes:
    """Strict base64url: any character outside the alphabet, or bad padding, is refused."""
    return base64.b64decode(text.encode("ascii"), altchars=b"-_", validate=True)


def _offset(value: Any) -> int:
    if type(value) is not int or not 0 <= value <= MAX_OFFSET:
        raise ValueError("an offset that is not an integer in bounds")
    return value


def _marker(value: Any) -> str:
    if type(value) is not str:
        raise ValueError("a marker that is not a string")
    raw = _unb64(value)
    if len(raw) > MAX_MARKER_BYTES:
        raise ValueError("a marker longer than a key")
    return raw.decode("utf-8", "surrogatepass")


def _key(value: Any) -> tuple[float, str]:
    if type(value) is not str or len(value) > MAX_KEY_CHARS:
        raise ValueError("a key that is not a string of a key's length")
    number, _, ident = value.partition(" ")
    position = float(number)  # ValueError for what is not a number
    if not math.isfinite(position):
        raise ValueError("a key that is not a finite number")
    if not ident or not ident.isascii() or not ident.isprintable() or " " in ident:
        raise ValueError("a key without an id")
    return position, ident


_FIELDS: Mapping[str, Callable[[Any], Any]] = {"o": _offset, "a": _marker, "k": _key}


class _Foreign(Exception):
    """A well-formed token issued for another query."""


def _open(token: str, field: str, query: Query) -> Any:
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
        raise ValueError("not a string of a token's length")
    data = _DECODER.decode(_unb64(token).decode("ascii"))
    if type(data) is not dict or set(data) != {field, "q"}:
        raise ValueError("not an object with a token's fields")
    value = _FIELDS[field](data[field])
    if data["q"] != fingerprint(query):
        raise _Foreign
    return value


def decode(token: str, field: str, query: Query, **details: object) -> Any:
    """The ``field`` (``"o"`` or ``"a"``) of a token issued for ``query``, checked; otherwise
    :class:`InvalidToken` and nothing else, with ``details`` (what the service's error says of
    the token: S3's ``ArgumentName``/``ArgumentValue``)."""
    try:
        return _open(token, field, query)
    except _Foreign:
        raise InvalidToken(
            "The pagination token does not belong to this request.", reason="", **details
        ) from None
    except (ValueError, TypeError, RecursionError, binascii.Error, UnicodeError) as exc:
        message = f"The pagination token is not valid: {exc}."
        raise InvalidToken(message, reason="", **details) from None


def decode_offset(token: str, query: Query) -> int:
    return int(decode(token, "o", query))


def decode_marker(token: str, query: Query, **details: object) -> str:
    return str(decode(token, "a", query, **details))


def decode_key(token: str, query: Query) -> tuple[float, str]:
    position, ident = decode(token, "k", query)
    return float(position), str(ident)


# --- paging --------------------------------------------------------------------------------------


def window(
    items: Sequence[T], token: str | None, size: int, query: Query
) -> tuple[list[T], str | None]:
    """``size`` items from where ``token`` (an offset token for ``query``) says, and the token
    of the next window, None after the last."""
    start = decode_offset(token, query) if token else 0
    chunk = list(items[start : start + size])
    if start + size >= len(items):
        return chunk, None
    return chunk, encode_offset(start + size, query)


def page(items: Sequence[T], request: Mapping[str, Any]) -> tuple[list[T], str | None]:
    """SageMaker's ``MaxResults``/``NextToken`` over ``items``: the page and the next token,
    bound to the request's other members (its filters and sort). A bad token is InvalidToken,
    which SageMaker answers as ValidationException."""
    query = {k: v for k, v in request.items() if k not in ("NextToken", "MaxResults")}
    size = int(request.get("MaxResults") or DEFAULT_PAGE)
    return window(items, request.get("NextToken"), size, query)
