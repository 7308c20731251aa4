"""S3 multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy, ListParts,
ListMultipartUploads, CompleteMultipartUpload and AbortMultipartUpload.

What ``aws s3 cp`` and boto3's ``upload_file`` do from their multipart threshold on (8 MiB by
default): create an upload, send the parts (concurrently), complete it with the list of part
numbers and ETags. The rules are S3's (API reference of each operation; user guide, "Uploading
and copying objects using multipart upload" and "Amazon S3 multipart upload limits"):

* the upload ID is opaque; a request naming an unknown ID, or the ID with another key than the
  upload's, is 404 NoSuchUpload (and so is one naming a completed or aborted upload, but for
  a retried completion);
* part numbers run from 1 to 10,000 (InvalidArgument otherwise); a part's ETag is the quoted
  MD5 of its bytes; uploading a part number again replaces the part;
* CompleteMultipartUpload takes the parts listed, in strictly ascending part number order
  (InvalidPartOrder), each one uploaded with that ETag (InvalidPart; quotes optional), every one
  but the last at least 5 MiB (EntityTooSmall); parts uploaded but not listed are discarded. The
  object's ETag is the MD5 of the concatenated binary MD5s of the listed parts, then ``-`` and
  their count, as S3 computes it (not documented as a formula, but relied on by every tool that
  verifies multipart ETags). The object's content headers, metadata and storage class are
  CreateMultipartUpload's: it is the only request of an upload that carries them. The
  completion, and its answer to a retry after it succeeded, are ``s3_completion``'s;
* AbortMultipartUpload removes the upload and its parts; an unknown ID is 404 NoSuchUpload.

Limits of this emulation: a part is one request body, and the API server takes at most 16 MiB
(``podwarden.api.app.MAX_BODY``; S3's parts go to 5 GiB), which fits the CLI's and boto3's 8 MiB
default part size; the object is assembled in memory and stored as one blob, and SQLite takes a
blob of at most 10^9 bytes, so a larger upload is refused at completion with S3's
EntityTooLarge (S3's own limit is 5 TiB). The additional checksums (``ChecksumAlgorithm``,
``ChecksumCRC32``...) are accepted, neither verified nor returned, as for PutObject
(``s3_objects``), so a client asking S3 for composite checksums finds none; ``Content-MD5`` of
a part is verified. ``MpuObjectSize`` is not checked. Upload expiry by lifecycle rules
(``AbortDate``) does not exist here: an upload stays until completed or aborted, or until its
bucket is deleted (``s3_buckets.delete_bucket``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime
from typing import Any

from podwarden.control.aws import s3_errors, s3_http, s3_listing, s3_objects, s3_store
from podwarden.control.aws.s3_buckets import owned_bucket, timestamp
from podwarden.control.context import Context
from podwarden.store.resources import Record

MAX_LISTED = 1000  # ListParts' MaxParts and ListMultipartUploads' MaxUploads cap and default
_COPY_RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")


def new_upload_id(now: float) -> str:
    """An opaque upload ID that sorts by initiation time: 14 hex digits of microseconds, then 32
    random ones. ListMultipartUploads lists a key's uploads by initiation time, while its
    ``upload-id-marker`` resumes after an ID lexicographically (API reference); IDs that sort
    as they were initiated make the two orders one (uploads in the same microsecond aside)."""
    return f"{round(now * 1_000_000):014x}{secrets.token_hex(16)}"


def _initiator(ctx: Context) -> dict[str, str]:
    """Who initiated an upload, as ListParts and ListMultipartUploads report it: the account's
    canonical user ID for the root user, the principal's ARN for an IAM identity (API
    reference, ``Initiator``)."""
    arn = ctx.principal_arn
    if not arn or arn.endswith(":root"):
        return {"ID": s3_store.owner_id(ctx.account)}
    return {"ID": arn}


def _upload(ctx: Context, params: dict[str, Any]) -> Record:
    """The upload ``params`` name, in a bucket the caller owns (``owned_bucket``'s errors)."""
    owned_bucket(ctx, params["Bucket"], params)
    return _find_upload(ctx, params)


def _find_upload(ctx: Context, params: dict[str, Any]) -> Record:
    """The upload ``params`` name: NoSuchUpload if there is none, or if it is another key's
    (S3 answers so rather than revealing the upload)."""
    bucket, upload_id = params["Bucket"], params["UploadId"]
    upload = s3_store.get_upload(ctx.store.resources, bucket, upload_id)
    if upload is None or upload.doc["Key"] != params["Key"]:
        raise s3_errors.no_such_upload(upload_id)
    return upload


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def create_multipart_upload(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Keep the object's future doc (content headers, metadata, storage class) with the upload.
    ACLs, tagging, SSE and Object Lock parameters are accepted and ignored, as for PutObject."""
    bucket, key = params["Bucket"], params["Key"]
    s3_objects.check_key(key)
    owned_bucket(ctx, bucket, params)
    now = ctx.now()
    upload_id = new_upload_id(now)
    target = s3_objects.new_doc(key, b"", now, params)
    for computed in ("ETag", "Size", "LastModified"):
        del target[computed]
    doc = {
        "Key": key,
        "UploadId": upload_id,
        "Initiated": now,
        "Initiator": _initiator(ctx),
        "Object": target,
    }
    s3_store.create_upload(ctx.store.resources, bucket, upload_id, doc)
    return {
        "Bucket": bucket,
        "Key": key,
        "UploadId": upload_id,
        "ServerSideEncryption": s3_objects.SSE,
    }


def _store_part(ctx: Context, params: dict[str, Any], number: int, data: bytes) -> str:
    """Write part ``number`` of the (already checked) upload; its quoted ETag. The upload is
    looked up again after the write: if an Abort or Complete removed it meanwhile, the part
    would outlive it, so it is removed and the request fails with NoSuchUpload, as S3 may
    answer a part upload racing an abort."""
    bucket, upload_id = params["Bucket"], params["UploadId"]
    etag = f'"{_md5(data)}"'
    doc = {"PartNumber": number, "ETag": etag, "Size": len(data), "LastModified": int(ctx.now())}
    resources = ctx.store.resources
    s3_store.put_part(resources, bucket, upload_id, doc, data)
    if s3_store.get_upload(resources, bucket, upload_id) is None:
        s3_store.delete_part(resources, bucket, upload_id, number)
        raise s3_errors.no_such_upload(upload_id)
    return etag


def upload_part(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    number = s3_http.part_number(params["PartNumber"])
    _upload(ctx, params)
    data = s3_objects.as_bytes(params.get("Body"))
    s3_http.check_content_md5(params.get("ContentMD5"), _md5(data))
    etag = _store_part(ctx, params, number, data)
    return {"ETag": etag, "ServerSideEncryption": s3_objects.SSE}


def _copy_range(spec: str | None, size: int) -> tuple[int, int] | None:
    """UploadPartCopy's ``CopySourceRange``: ``bytes=first-last``, inclusive, within the source
    (S3 accepts no other form here, unlike GetObject's Range); None copies the whole object."""
    if spec is None:
        return None
    m = _COPY_RANGE.match(spec.strip())
    if m is None:
        raise s3_errors.invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first "
            "and last are the zero-based offsets of the first and last bytes to copy",
            "x-amz-copy-source-range",
            spec,
        )
    first, last = int(m.group(1)), int(m.group(2))
    if first > last or last >= size:
        raise s3_errors.invalid_argument(
            f"Range specified is not valid for source object of size: {size}",
            "x-amz-copy-source-range",
            spec,
        )
    return first, last


def upload_part_copy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """A part copied from an object (or a byte range of it), with CopyObject's source
    conditions (``CopySourceIfMatch``...)."""
    number = s3_http.part_number(params["PartNumber"])
    _upload(ctx, params)
    src_bucket, src_key = s3_objects.parse_copy_source(params["CopySource"])
    owned_bucket(ctx, src_bucket, {"ExpectedBucketOwner": params.get("ExpectedSourceBucketOwner")})
    src = s3_store.get_object(ctx.store.resources, src_bucket, src_key)
    if src is None:
        raise s3_errors.no_such_key(src_key)
    s3_http.check_read(params, src.etag, src.modified, prefix="CopySource")
    span = _copy_range(params.get("CopySourceRange"), src.size)
    data = s3_store.body(ctx.store.resources, src)
    if span is not None:
        data = data[span[0] : span[1] + 1]
    etag = _store_part(ctx, params, number, data)
    return {
        "CopyPartResult": {"ETag": etag, "LastModified": timestamp(ctx.now())},
        "ServerSideEncryption": s3_objects.SSE,
    }


def _max(params: dict[str, Any], member: str, argument: str) -> int:
    """MaxParts/MaxUploads as S3 applies them: 1000 when omitted, at most 1000. A page of 0 is
    empty and not truncated, as ListObjects' (``s3_listing.walk``): a truncated page with
    nothing to resume after would loop paginators."""
    value = params.get(member)
    if value is None:
        return MAX_LISTED
    if value < 0:
        raise s3_errors.invalid_argument(
            f"Argument {argument} must be an integer between 0 and 2147483647",
            argument,
            str(value),
        )
    return min(int(value), MAX_LISTED)


def list_parts(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """The upload's parts after ``PartNumberMarker`` in ascending order, ``MaxParts`` at a time;
    ``NextPartNumberMarker`` is the last part number of the page, where the next one starts."""
    upload = _upload(ctx, params)
    marker = int(params.get("PartNumberMarker") or 0)
    if marker < 0:
        raise s3_errors.invalid_argument(
            "Argument part-number-marker must be an integer between 0 and 2147483647",
            "part-number-marker",
            str(marker),
        )
    size = _max(params, "MaxParts", "max-parts")
    parts = [
        p
        for p in s3_store.list_parts(ctx.store.resources, params["Bucket"], params["UploadId"])
        if int(p.doc["PartNumber"]) > marker
    ]
    page = parts[:size]
    out: dict[str, Any] = {
        "Bucket": params["Bucket"],
        "Key": params["Key"],
        "UploadId": params["UploadId"],
        "PartNumberMarker": marker,
        "MaxParts": size,
        "IsTruncated": 0 < size < len(parts),
        "Initiator": upload.doc["Initiator"],
        "Owner": {"ID": s3_store.owner_id(ctx.account)},
        "StorageClass": upload.doc["Object"].get("StorageClass") or "STANDARD",
    }
    if page:
        out["NextPartNumberMarker"] = int(page[-1].doc["PartNumber"])
        out["Parts"] = [
            {
                "PartNumber": int(p.doc["PartNumber"]),
                "LastModified": timestamp(p.doc["LastModified"]),
                "ETag": p.doc["ETag"],
                "Size": int(p.doc["Size"]),
            }
            for p in page
        ]
    return out


def _after(upload: Record, key_marker: str | None, id_marker: str | None) -> bool:
    """Whether an upload sorts after ListMultipartUploads' markers: its key after
    ``key-marker``, or, when ``upload-id-marker`` is given too, the same key and a greater ID
    (API reference: without a key marker the ID marker is ignored)."""
    if key_marker is None:
        return True
    key = str(upload.doc["Key"]).encode("utf-8", "surrogatepass")
    marker = key_marker.encode("utf-8", "surrogatepass")
    if key > marker:
        return True
    return key == marker and id_marker is not None and str(upload.doc["UploadId"]) > id_marker


def list_multipart_uploads(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """The bucket's uploads in progress by key, then initiation, from the markers on;
    ``Prefix`` filters and ``Delimiter`` rolls keys up into CommonPrefixes as ListObjects does
    (a CommonPrefix counts as one entry towards ``MaxUploads``; one equal to the key marker is
    where the previous page ended, and is not repeated). ``EncodingType=url`` percent-encodes
    the keys, prefixes, delimiter and key markers in the response."""
    bucket = params["Bucket"]
    owned_bucket(ctx, bucket, params)
    size = _max(params, "MaxUploads", "max-uploads")
    prefix, delimiter = params.get("Prefix") or "", params.get("Delimiter") or ""
    key_marker = params.get("KeyMarker") or None
    id_marker = params.get("UploadIdMarker") or None
    encoding = params.get("EncodingType")
    uploads: list[Record] = []
    prefixes: list[str] = []
    truncated = False
    last: tuple[str, str | None] | None = None  # (key or prefix, upload ID) of the last entry
    for upload in s3_store.list_uploads(ctx.store.resources, bucket):
        key = str(upload.doc["Key"])
        if not key.startswith(prefix) or not _after(upload, key_marker, id_marker):
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        rolled = key[: cut + len(delimiter)] if cut >= 0 else None
        if rolled is not None and (rolled == key_marker or (last and rolled == last[0])):
            continue
        if len(uploads) + len(prefixes) == size:
            truncated = size > 0
            break
        if rolled is not None:
            prefixes.append(rolled)
            last = (rolled, None)
        else:
            uploads.append(upload)
            last = (key, str(upload.doc["UploadId"]))
    out: dict[str, Any] = {
        "Bucket": bucket,
        "KeyMarker": s3_listing.encode(key_marker or "", encoding),
        "UploadIdMarker": id_marker or "",
        "Prefix": s3_listing.encode(prefix, encoding),
        "MaxUploads": size,
        "IsTruncated": truncated,
    }
    if delimiter:
        out["Delimiter"] = s3_listing.encode(delimiter, encoding)
    if encoding:
        out["EncodingType"] = encoding
    if last is not None:
        out["NextKeyMarker"] = s3_listing.encode(last[0], encoding)
        out["NextUploadIdMarker"] = last[1] or ""
    if uploads:
        out["Uploads"] = [
            {
                "UploadId": u.doc["UploadId"],
                "Key": s3_listing.encode(str(u.doc["Key"]), encoding),
                "Initiated": timestamp(u.doc["Initiated"]),
                "StorageClass": u.doc["Object"].get("StorageClass") or "STANDARD",
                "Owner": {"ID": s3_store.owner_id(ctx.account)},
                "Initiator": u.doc["Initiator"],
            }
            for u in uploads
        ]
    if prefixes:
        out["CommonPrefixes"] = [{"Prefix": s3_listing.encode(p, encoding)} for p in prefixes]
    return out


def abort_multipart_upload(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Remove the upload and its parts. ``IfMatchInitiatedTime`` aborts only the upload
    initiated at that time (whole seconds here), 412 PreconditionFailed otherwise (API
    reference)."""
    upload = _upload(ctx, params)
    initiated = params.get("IfMatchInitiatedTime")
    if isinstance(initiated, datetime) and int(initiated.timestamp()) != int(
        upload.doc["Initiated"]
    ):
        raise s3_errors.precondition_failed("x-amz-if-match-initiated-time")
    s3_store.delete_upload(ctx.store.resources, params["Bucket"], params["UploadId"])
    return {}
