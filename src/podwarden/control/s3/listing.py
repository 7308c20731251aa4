"""Listing a bucket: ListObjectsV2 and ListObjects, and the walk they share (prefix, delimiter
roll-up, markers and continuation tokens).

S3 lists keys in ascending order of their UTF-8 bytes (not of Python's code points: the two
differ for characters above U+FFFF against U+E000-U+FFFF). With a delimiter, every key whose
remainder after the prefix contains it rolls up into one CommonPrefix (the prefix up to and
including the first delimiter); a CommonPrefix counts as one entry towards MaxKeys, like a key.

Pages resume *after a marker*, as S3's do: the last key or CommonPrefix returned. A marker, unlike
an offset, stays right when keys are added or removed between pages. ListObjectsV2's (and
ListBuckets') ContinuationToken is that marker, wrapped so it is opaque and bound to the bucket,
prefix and delimiter (``podwarden.control.pagination`` encodes and checks it); ListObjects (v1)
exposes the marker itself as NextMarker.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podwarden.control import pagination
from podwarden.control.context import Context, Operations
from podwarden.control.s3 import records
from podwarden.control.s3.access import owned_bucket
from podwarden.model.errors import Invalid

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


def non_negative(value: int, argument: str) -> int:
    """A count or marker S3 takes from 0 to 2^31-1 (``maxKeys``, ``max-parts``,
    ``part-number-marker``...): InvalidArgument, with S3's message, when negative."""
    if value < 0:
        raise Invalid(
            f"Argument {argument} must be an integer between 0 and 2147483647",
            reason="invalid-argument",
            ArgumentName=argument,
            ArgumentValue=str(value),
        )
    return value


def page_size(max_keys: int | None, argument: str = "maxKeys", cap: int = MAX_KEYS) -> int:
    """MaxKeys (or ``argument``, MaxParts, MaxUploads) as S3 applies it: ``cap`` (1000) when
    omitted, at most ``cap``, never negative."""
    if max_keys is None:
        return cap
    return min(non_negative(int(max_keys), argument), cap)


# what defines a listing (ListObjects(V2) and ListBuckets): a token is good only for the same
_BOUND = ("Bucket", "Prefix", "Delimiter", "BucketRegion")


def _query(params: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: params[k] for k in _BOUND if params and params.get(k)}


def encode_token(marker: str, params: Mapping[str, Any] | None = None) -> str:
    """The ContinuationToken of a page that ended on ``marker``, bound to the bucket, prefix,
    delimiter (and ListBuckets' region) of the request ``params``."""
    return pagination.encode_marker(marker, _query(params))


def decode_token(token: str, params: Mapping[str, Any] | None = None) -> str:
    """The marker inside a ContinuationToken issued for a request like ``params``; otherwise
    InvalidToken, which S3 answers InvalidArgument "The continuation token provided is
    incorrect" naming the argument and echoing the token (when XML can carry it)."""
    shown = token if token.isascii() and token.isprintable() else ""
    return pagination.decode_marker(
        token, _query(params), ArgumentName="continuation-token", ArgumentValue=shown
    )


def encode(value: str, encoding_type: str | None) -> str:
    """``value`` as the response carries it: percent-encoded (UTF-8, ``/`` kept) when the
    request asked for ``EncodingType=url``. botocore asks for it on every ListObjects(V2) it
    sends and unquotes Key, Prefix, Delimiter, StartAfter, Marker and NextMarker in the
    response (``decode_list_object*``), so keys with characters XML 1.0 cannot carry survive.
    """
    if encoding_type != "url":
        return value
    return urllib.parse.quote(value, safe="/")


# ---- ListObjectsV2 and ListObjects ----------------------------------------------------------

Objects = dict[str, records.StoredObject]


def _listing(ctx: Context, params: dict[str, Any], after: str | None) -> tuple[Page, Objects, int]:
    """The page a ListObjects(V2) asks for, the objects by key, and the page size used."""
    bucket = params["Bucket"]
    owned_bucket(ctx, bucket, params)
    size = page_size(params.get("MaxKeys"))
    objects = {o.key: o for o in records.list_objects(ctx.store.resources, bucket)}
    page = walk(
        objects,  # insertion order is list_objects' UTF-8 order
        prefix=params.get("Prefix") or "",
        delimiter=params.get("Delimiter") or "",
        after=after,
        max_keys=size,
    )
    return page, objects, size


def _contents(
    page: Page, objects: Objects, encoding: str | None, owner: dict[str, str] | None
) -> dict[str, Any]:
    """``Contents`` and ``CommonPrefixes``, each omitted when empty, as S3's XML has no element
    for them then (botocore's result then lacks the key)."""
    out: dict[str, Any] = {}
    contents = []
    for key in page.keys:
        obj = objects[key]
        item: dict[str, Any] = {
            "Key": encode(key, encoding),
            "LastModified": records.timestamp(obj.modified),
            "ETag": obj.etag,
            "Size": obj.size,
            "StorageClass": obj.storage_class,
        }
        if owner is not None:
            item["Owner"] = owner
        contents.append(item)
    if contents:
        out["Contents"] = contents
    if page.prefixes:
        out["CommonPrefixes"] = [{"Prefix": encode(p, encoding)} for p in page.prefixes]
    return out


def _common(params: dict[str, Any], page: Page, size: int) -> dict[str, Any]:
    encoding = params.get("EncodingType")
    out: dict[str, Any] = {
        "Name": params["Bucket"],
        "Prefix": encode(params.get("Prefix") or "", encoding),
        "MaxKeys": size,
        "IsTruncated": page.truncated,
    }
    if params.get("Delimiter"):
        out["Delimiter"] = encode(params["Delimiter"], encoding)
    if encoding:
        out["EncodingType"] = encoding
    return out


def list_objects_v2(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """A ContinuationToken, when given, overrides StartAfter (S3 ignores StartAfter then);
    ``FetchOwner`` adds each object's Owner. MaxKeys is reported as applied (at most 1000)."""
    token = params.get("ContinuationToken")
    after = decode_token(token, params) if token else params.get("StartAfter")
    page, objects, size = _listing(ctx, params, after)
    encoding = params.get("EncodingType")
    owner = {"ID": records.owner_id(ctx.account)} if params.get("FetchOwner") else None
    out = _common(params, page, size)
    out.update(_contents(page, objects, encoding, owner))
    out["KeyCount"] = page.count
    if token:
        out["ContinuationToken"] = token
    if params.get("StartAfter"):
        out["StartAfter"] = encode(params["StartAfter"], encoding)
    if page.truncated and page.last is not None:
        out["NextContinuationToken"] = encode_token(page.last, params)
    return out


def list_objects(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListObjects (v1): resumes after ``Marker``; ``NextMarker`` is returned, as S3 does, only
    when the request has a Delimiter (otherwise the last Key is the next marker)."""
    marker = params.get("Marker") or ""
    page, objects, size = _listing(ctx, params, marker or None)
    encoding = params.get("EncodingType")
    out = _common(params, page, size)
    out["Marker"] = encode(marker, encoding)
    out.update(_contents(page, objects, encoding, {"ID": records.owner_id(ctx.account)}))
    if page.truncated and params.get("Delimiter") and page.last is not None:
        out["NextMarker"] = encode(page.last, encoding)
    return out


OPERATIONS: Operations = {
    "ListObjectsV2": list_objects_v2,
    "ListObjects": list_objects,
}
