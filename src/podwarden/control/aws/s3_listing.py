"""Listing a bucket: prefix, delimiter roll-up, markers and continuation tokens.

S3 lists keys in ascending order of their UTF-8 bytes (not of Python's code points: the two
differ for characters above U+FFFF against U+E000-U+FFFF). With a delimiter, every key whose
remainder after the prefix contains it rolls up into one CommonPrefix (the prefix up to and
including the first delimiter); a CommonPrefix counts as one entry towards MaxKeys, like a key.

Pages resume *after a marker*, as S3's do: the last key or CommonPrefix returned. A marker, unlike
an offset, stays right when keys are added or removed between pages. ListObjectsV2's
ContinuationToken is that marker, wrapped so it is opaque and bound to the bucket, prefix and
delimiter (``control/pagination.py`` encodes and checks it); ListObjects (v1) exposes the marker
itself as NextMarker.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podwarden.control import pagination
from podwarden.control.aws import s3_errors
from podwarden.model.errors import InvalidToken

MAX_KEYS = 1000  # S3 returns at most 1000 entries per page, whatever MaxKeys asks


def utf8_sorted(keys: Iterable[str]) -> list[str]:
    return sorted(keys, key=lambda k: k.encode("utf-8", "surrogatepass"))


def _after(key: str, marker: str) -> bool:
    return key.encode("utf-8", "surrogatepass") > marker.encode("utf-8", "surrogatepass")


@dataclass
class Page:
    keys: list[str] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str | None = None  # the entry to resume after when truncated

    @property
    def count(self) -> int:
        return len(self.keys) + len(self.prefixes)


def walk(
    keys: Iterable[str], *, prefix: str, delimiter: str, after: str | None, max_keys: int
) -> Page:
    """One page of the listing of ``keys`` (already in UTF-8 order).

    An entry is returned when it sorts after ``after``. A CommonPrefix equal to ``after`` is the
    one the previous page ended on: its keys sort after it but were rolled up there already, so
    they are skipped rather than returned a second time. ``max_keys`` 0 returns an empty,
    untruncated page (a truncated page with nothing to resume after would loop paginators).
    """
    page = Page()
    if max_keys <= 0:
        return page
    for key in keys:
        if not key.startswith(prefix) or (after is not None and not _after(key, after)):
            continue
        entry, rolled = key, False
        if delimiter:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                entry, rolled = key[: cut + len(delimiter)], True
        if rolled and entry in (page.last, after):
            continue
        if page.count == max_keys:
            page.truncated = True
            return page
        (page.prefixes if rolled else page.keys).append(entry)
        page.last = entry
    return page


def page_size(max_keys: int | None) -> int:
    """MaxKeys as S3 applies it: 1000 when omitted, at most 1000, never negative."""
    if max_keys is None:
        return MAX_KEYS
    if max_keys < 0:
        raise s3_errors.invalid_argument(
            "Argument maxKeys must be an integer between 0 and 2147483647",
            "maxKeys",
            str(max_keys),
        )
    return min(max_keys, MAX_KEYS)


# what defines a listing (ListObjects(V2) and ListBuckets): a token is good only for the same
_BOUND = ("Bucket", "Prefix", "Delimiter", "BucketRegion")


def _query(params: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: params[k] for k in _BOUND if params and params.get(k)}


def encode_token(marker: str, params: Mapping[str, Any] | None = None) -> str:
    """The ContinuationToken of a page that ended on ``marker``, bound to the bucket, prefix,
    delimiter (and ListBuckets' region) of the request ``params``."""
    return pagination.encode_marker(marker, _query(params))


def decode_token(token: str, params: Mapping[str, Any] | None = None) -> str:
    """The marker inside a ContinuationToken issued for a request like ``params``;
    InvalidArgument "The continuation token provided is incorrect", as S3 answers, otherwise."""
    try:
        return pagination.decode_marker(token, _query(params))
    except InvalidToken:
        raise s3_errors.invalid_argument(
            "The continuation token provided is incorrect",
            "continuation-token",
            token if token.isascii() and token.isprintable() else "",
        ) from None


def encode(value: str, encoding_type: str | None) -> str:
    """``value`` as the response carries it: percent-encoded (UTF-8, ``/`` kept) when the
    request asked for ``EncodingType=url``. botocore asks for it on every ListObjects(V2) it
    sends and unquotes Key, Prefix, Delimiter, StartAfter, Marker and NextMarker in the
    response (``decode_list_object*``), so keys with characters XML 1.0 cannot carry survive.
    """
    if encoding_type != "url":
        return value
    return urllib.parse.quote(value, safe="/")
