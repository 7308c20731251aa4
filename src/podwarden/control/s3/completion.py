"""S3 CompleteMultipartUpload: assemble an upload's listed parts into the object, and answer a
completion retried after it succeeded.

The rules of the part list are S3's (``multipart`` describes them): strictly ascending part
numbers (InvalidPartOrder), each uploaded with that ETag (InvalidPart; quotes optional), every
part but the last at least 5 MiB (EntityTooSmall), no parts at all MalformedXML. The object's
ETag is the MD5 of the listed parts' binary MD5s, then ``-`` and their count, as S3 computes it.

The object keeps the sizes of its parts (``PartSizes``, for GetObject's and HeadObject's
``PartNumber``) and the ID of the upload that made it (``UploadId``).

A completion retried after it succeeded (a client that lost the first response resends it) is
answered 200 with the same Location, Bucket, Key and ETag, as S3 answers, while the key still
holds the object that upload made and the retry lists parts that give the same ETag. What S3
does with a retry that lists other parts is not documented; here it is NoSuchUpload (the upload
is over and those parts are gone), which is what Ceph's radosgw answers after comparing the
ETag the list gives with the object's (``check_previously_completed``). A retry after the key
was overwritten or deleted is NoSuchUpload too.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.s3 import http, names, objects, records
from podwarden.control.s3.access import owned_bucket
from podwarden.model.errors import Invalid, LimitExceeded, NotFound
from podwarden.store.resources import Record

MIN_PART_SIZE = 5 * 1024 * 1024  # every part but the last (S3's multipart upload limits)
# SQLite's default SQLITE_MAX_LENGTH: the largest blob the store can hold
MAX_OBJECT_SIZE = 1_000_000_000


def _invalid_part(upload_id: str, number: int, etag: str) -> Invalid:
    """InvalidPart: a listed part that was not uploaded with that ETag (S3 echoes it unquoted)."""
    return Invalid(
        reason="invalid-part", UploadId=upload_id, PartNumber=number, ETag=etag.strip('"')
    )


def _chosen(upload_id: str, listed: list[dict[str, Any]], parts: dict[int, Record]) -> list[Record]:
    """The parts a CompleteMultipartUpload lists, checked in S3's order: ascending part numbers,
    each uploaded with that ETag, then the minimum size of all but the last. No parts at all is
    MalformedXML, as S3 answers an empty ``<CompleteMultipartUpload>``."""
    if not listed:
        raise Invalid(reason="malformed-xml")
    chosen: list[Record] = []
    previous = 0
    for item in listed:
        if item.get("PartNumber") is None:
            raise Invalid(reason="malformed-xml")
        number, etag = int(item["PartNumber"]), str(item.get("ETag") or "")
        if number <= previous:
            raise Invalid(reason="invalid-part-order", UploadId=upload_id)
        previous = number
        part = parts.get(number)
        if part is None or str(part.doc["ETag"]).strip('"') != etag.strip('"'):
            raise _invalid_part(upload_id, number, etag)
        chosen.append(part)
    for part in chosen[:-1]:
        if int(part.doc["Size"]) < MIN_PART_SIZE:
            raise Invalid(
                reason="entity-too-small",
                ProposedSize=int(part.doc["Size"]),
                MinSizeAllowed=MIN_PART_SIZE,
                PartNumber=int(part.doc["PartNumber"]),
                ETag=str(part.doc["ETag"]).strip('"'),
            )
    return chosen


def multipart_etag(part_etags: list[str]) -> str:
    """S3's ETag of a multipart object: the MD5 of the parts' binary MD5s, ``-<count>``."""
    digests = b"".join(bytes.fromhex(e.strip('"')) for e in part_etags)
    return f'"{http.md5_hex(digests)}-{len(part_etags)}"'


def _listed_etag(listed: list[dict[str, Any]]) -> str | None:
    """The ETag the listed parts give (``multipart_etag`` of their ETags), or None when the
    list is empty or an ETag is not an MD5."""
    etags = [str(item.get("ETag") or "") for item in listed]
    if not etags or any(len(e.strip('"')) != 32 for e in etags):
        return None
    try:
        return multipart_etag(etags)
    except ValueError:
        return None


def _result(bucket: str, region: str, key: str, etag: str) -> dict[str, Any]:
    """CompleteMultipartUpload's answer; ``Location`` is the object's virtual-hosted-style URL
    on S3."""
    host = "s3" if region == names.US_EAST_1 else f"s3.{region}"
    location = f"https://{bucket}.{host}.amazonaws.com/{urllib.parse.quote(key, safe='/')}"
    return {
        "Location": location,
        "Bucket": bucket,
        "Key": key,
        "ETag": etag,
        "ServerSideEncryption": objects.SSE,
    }


def _completed_before(ctx: Context, params: dict[str, Any], region: str) -> dict[str, Any]:
    """The answer to a completion of an upload that is no longer in progress: the first
    completion's result if this one repeats it (the key holds the object the upload made, and
    the parts listed give its ETag), else NoSuchUpload."""
    bucket, key, upload_id = params["Bucket"], params["Key"], params["UploadId"]
    obj = records.get_object(ctx.store.resources, bucket, key)
    listed = list((params.get("MultipartUpload") or {}).get("Parts") or [])
    if obj is None or obj.doc.get("UploadId") != upload_id or _listed_etag(listed) != obj.etag:
        raise NotFound(reason="no-such-upload", UploadId=upload_id)
    return _result(bucket, region, key, obj.etag)


def _assemble(upload_id: str, chosen: list[Record], ctx: Context) -> bytes:
    """The chosen parts' bytes, each checked against its ETag as it is read: a part replaced
    between the check of the list and the read (a concurrent UploadPart of the same number)
    fails the request with InvalidPart rather than assemble bytes the ETag does not
    describe."""
    chunks = []
    for part in chosen:
        data = ctx.store.resources.blob(part)
        if data is None or f'"{http.md5_hex(data)}"' != part.doc["ETag"]:
            raise _invalid_part(upload_id, int(part.doc["PartNumber"]), part.doc["ETag"])
        chunks.append(data)
    return b"".join(chunks)


def complete_multipart_upload(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Assemble the listed parts into the object and end the upload.

    The object (doc and body) is written in one transaction, with PutObject's conditions
    (``IfNoneMatch: *``, ``IfMatch``; a failed one leaves the upload in progress, to retry).
    The upload and its parts are removed after the object is written; a crash in between
    leaves the upload in progress next to the object, and completing it again rewrites the same
    object. An upload no longer in progress is answered by ``_completed_before``.
    """
    bucket, key, upload_id = params["Bucket"], params["Key"], params["UploadId"]
    region = str(owned_bucket(ctx, bucket, params).doc["Region"])
    resources = ctx.store.resources
    upload = records.get_upload(resources, bucket, upload_id)
    if upload is None or upload.doc["Key"] != key:
        return _completed_before(ctx, params, region)
    parts = {int(p.doc["PartNumber"]): p for p in records.list_parts(resources, bucket, upload_id)}
    listed = list((params.get("MultipartUpload") or {}).get("Parts") or [])
    chosen = _chosen(upload_id, listed, parts)
    total = sum(int(p.doc["Size"]) for p in chosen)
    if total > MAX_OBJECT_SIZE:
        raise LimitExceeded(
            reason="entity-too-large", ProposedSize=total, MaxSizeAllowed=MAX_OBJECT_SIZE
        )
    body = _assemble(upload_id, chosen, ctx)
    doc = dict(upload.doc["Object"])
    doc.update(
        ETag=multipart_etag([str(p.doc["ETag"]) for p in chosen]),
        Size=len(body),
        LastModified=int(ctx.now()),
        PartSizes=[int(p.doc["Size"]) for p in chosen],
        UploadId=upload_id,
    )
    objects.write(ctx, bucket, doc, body, params)
    records.delete_upload(resources, bucket, upload_id)
    return _result(bucket, region, key, doc["ETag"])


OPERATIONS: Operations = {"CompleteMultipartUpload": complete_multipart_upload}
