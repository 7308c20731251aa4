"""The HTTP semantics S3 gives object reads and writes: byte ranges, part numbers, conditional
requests and Content-MD5. Pure functions of the request's members and the object's ETag, time,
size and part sizes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import datetime

from podwarden.model.errors import Conflict, Invalid

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
MIN_PART_NUMBER, MAX_PART_NUMBER = 1, 10000


def byte_range(spec: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(first, last)`` byte positions a ``Range`` asks for, or None for the whole
    object.

    S3 honours one range of the forms ``bytes=a-b``, ``bytes=a-`` and ``bytes=-n`` (the last n
    bytes), clamping ``b`` to the object's end. A range starting at or beyond the end, or a
    suffix of 0 bytes (every range of an empty object), is unsatisfiable: ``InvalidRange`` 416.
    A header S3 cannot use (several ranges, which S3 does not support; ``b < a``; another unit;
    garbage) is ignored and the whole object returned, as RFC 9110 (14.2) has servers do.
    """
    if not spec:
        return None
    m = _RANGE.match(spec.strip())
    if m is None or m.group(1) == m.group(2) == "":
        return None
    first_s, last_s = m.groups()
    if first_s == "":
        n = int(last_s)
        if n == 0 or size == 0:
            raise Invalid(reason="invalid-range", RangeRequested=spec, ActualObjectSize=size)
        return max(size - n, 0), size - 1
    first = int(first_s)
    last = int(last_s) if last_s else size - 1
    if last_s and last < first:
        return None
    if first >= size:
        raise Invalid(reason="invalid-range", RangeRequested=spec, ActualObjectSize=size)
    return first, min(last, size - 1)


def part_number(value: object) -> int:
    """A request's ``partNumber`` (UploadPart's, GetObject's...): InvalidArgument outside 1 to
    10,000, with S3's message."""
    number = int(str(value))
    if not MIN_PART_NUMBER <= number <= MAX_PART_NUMBER:
        raise Invalid(
            "Part number must be an integer between 1 and 10000, inclusive",
            reason="invalid-argument",
            ArgumentName="partNumber",
            ArgumentValue=str(number),
        )
    return number


def part_range(
    number: int, part_sizes: list[int] | None, size: int, *, ranged: bool
) -> tuple[int, int]:
    """The inclusive ``(first, last)`` bytes of part ``number`` of an object whose completed
    upload had parts of ``part_sizes`` (None: the object was not uploaded in parts); ``last``
    is ``first - 1`` for an empty part.

    S3's rules: a part number and a Range together are InvalidRequest; parts are numbered by
    their position in the completed object (1 to the parts count, whatever numbers the parts
    had in the upload); a number past the last part is 416 InvalidPartNumber. An object not
    uploaded in parts is its own part 1, so ``partNumber=1`` is the whole object (still a 206
    with a Content-Range).
    """
    if ranged:
        raise Invalid(
            "Cannot specify both Range header and partNumber query parameter",
            reason="invalid-request",
        )
    sizes = part_sizes if part_sizes else [size]
    if number > len(sizes):
        raise Invalid(
            reason="invalid-part-number", PartNumberRequested=number, ActualPartCount=len(sizes)
        )
    first = sum(sizes[: number - 1])
    return first, first + sizes[number - 1] - 1


def content_range(first: int, last: int, size: int) -> str:
    return f"bytes {first}-{last}/{size}"


def etag_matches(condition: str, etag: str) -> bool:
    """Whether an If-Match/If-None-Match list names ``etag`` (quoted or not; ``*`` is any)."""
    tags = {t.strip() for t in condition.split(",")}
    return "*" in tags or etag in tags or etag.strip('"') in {t.strip('"') for t in tags}


def check_read(params: dict[str, object], etag: str, modified: int, prefix: str = "") -> None:
    """Evaluate a read's conditions (``IfMatch``... or, with ``prefix="CopySource"``, a copy's
    ``CopySourceIfMatch``...) against the object's ETag and LastModified (whole seconds).

    Precedence is S3's (and RFC 9110's): when If-Match holds, If-Unmodified-Since is not
    consulted; when If-None-Match is given, If-Modified-Since is not. A failed If-Match or
    If-Unmodified-Since is 412 PreconditionFailed; a failed If-None-Match or If-Modified-Since is
    304 NotModified for GET and HEAD, and 412 for CopyObject's source conditions (a copy has no
    304).
    """
    if_match = params.get(f"{prefix}IfMatch")
    unmodified = params.get(f"{prefix}IfUnmodifiedSince")
    if isinstance(if_match, str):
        if not etag_matches(if_match, etag):
            raise Conflict(reason="precondition-failed", Condition="If-Match")
    elif isinstance(unmodified, datetime) and modified > unmodified.timestamp():
        raise Conflict(reason="precondition-failed", Condition="If-Unmodified-Since")
    none_match = params.get(f"{prefix}IfNoneMatch")
    since = params.get(f"{prefix}IfModifiedSince")
    failed = None
    if isinstance(none_match, str):
        if etag_matches(none_match, etag):
            failed = "If-None-Match"
    elif isinstance(since, datetime) and modified <= since.timestamp():
        failed = "If-Modified-Since"
    if failed is None:
        return
    if prefix:
        raise Conflict(reason="precondition-failed", Condition=failed)
    # a 304 is not an error, but it replaces the whole response as one does
    raise Conflict(reason="not-modified")


def md5_hex(data: bytes) -> str:
    """The MD5 of ``data`` in hex: an object's or part's ETag (quoted), what Content-MD5 is
    checked against."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def check_content_md5(given: str | None, md5_hex: str) -> None:
    """PutObject's ``ContentMD5`` (base64 of the 16-byte digest) against the body's MD5:
    InvalidDigest if it is not one, BadDigest if it differs."""
    if given is None:
        return
    try:
        raw = base64.b64decode(given, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(reason="invalid-digest") from None
    if len(raw) != 16:
        raise Invalid(reason="invalid-digest")
    calculated = base64.b64encode(bytes.fromhex(md5_hex)).decode()
    if raw.hex() != md5_hex:
        raise Invalid(reason="bad-digest", ExpectedDigest=given, CalculatedDigest=calculated)
