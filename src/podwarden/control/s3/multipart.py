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
  completion, and its answer to a retry after it succeeded, are ``completion``'s;
* AbortMultipartUpload removes the upload and its parts; an unknown ID is 404 NoSuchUpload.

Limits of this emulation: a part is one request body, and the API server takes at most 16 MiB
(``podwarden.api.body.MAX_BODY``; S3's parts go to 5 GiB), which fits the CLI's and boto3's 8 MiB
default part size; the object is assembled in memory and stored as one blob, and SQLite takes a
blob of at most 10^9 bytes, so a larger upload is refused at completion with S3's
EntityTooLarge (S3's own limit is 5 TiB). The additional checksums (``ChecksumAlgorithm``,
``ChecksumCRC32``...) are accepted, neither verified nor returned, as for PutObject
(``objects``), so a client asking S3 for composite checksums finds none; ``Content-MD5`` of
a part is verified. ``MpuObjectSize`` is not checked. Upload expiry by lifecycle rules
(``AbortDate``) does not exist here: an upload stays until completed or aborted, or until its
bucket is deleted (``buckets.delete_bucket``).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.s3 import http, listing, names, objects, records
from podwarden.control.s3.access import owned_bucket
from podwarden.control.s3.records import timestamp
from podwarden.model.aws import arns
from podwarden.model.errors import Conflict, Invalid, NotFound
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
    if not arn or arns.is_account_root(arn):
        return {"ID": records.owner_id(ctx.account)}
    return {"ID": arn}


def _upload(ctx: Context, params: dict[str, Any]) -> Record:
    """The upload ``params`` name, in a bucket the caller owns (``owned_bucket``'s errors):
    NoSuchUpload if there is none, or if it is another key's (S3 answers so rather than
    revealing the upload)."""
    bucket, upload_id = params["Bucket"], params["UploadId"]
    owned_bucket(ctx, bucket, params)
    upload = records.get_upload(ctx.store.resources, bucket, upload_id)
    if upload is None or upload.doc["Key"] != params["Key"]:
        raise NotFound(reason="no-such-upload", UploadId=upload_id)
    return upload


def create_multipart_upload(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Keep the object's future doc (content headers, metadata, storage class) with the upload.
    ACLs, tagging, SSE and Object Lock parameters are accepted and ignored, as for PutObject."""
    bucket, key = params["Bucket"], params["Key"]
    names.check_key(key)
    owned_bucket(ctx, bucket, params)
    now = ctx.now()
    upload_id = new_upload_id(now)
    target = objects.new_doc(key, b"", now, params)
    for computed in ("ETag", "Size", "LastModified"):
        del target[computed]
    doc = {
        "Key": key,
        "UploadId": upload_id,
        "Initiated": now,
        "Initiator": _initiator(ctx),
        "Object": target,
    }
    records.create_upload(ctx.store.resources, bucket, upload_id, doc)
    return {
        "Bucket": bucket,
        "Key": key,
        "UploadId": upload_id,
        "ServerSideEncryption": objects.SSE,
    }


def _store_part(ctx: Context, params: dict[str, Any], number: int, data: bytes) -> str:
    """Write part ``number`` of the (already checked) upload; its quoted ETag. The upload is
    looked up again after the write: if an Abort or Complete removed it meanwhile, the part
    would outlive it, so it is removed and the request fails with NoSuchUpload, as S3 may
    answer a part upload racing an abort."""
    bucket, upload_id = params["Bucket"], params["UploadId"]
    etag = f'"{http.md5_hex(data)}"'
    doc = {"PartNumber": number, "ETag": etag, "Size": len(data), "LastModified": int(ctx.now())}
    resources = ctx.store.resources
    records.put_part(resources, bucket, upload_id, doc, data)
    if records.get_upload(resources, bucket, upload_id) is None:
        records.delete_part(resources, bucket, upload_id, number)
        raise NotFound(reason="no-such-upload", UploadId=upload_id)
    return etag


def upload_part(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    number = http.part_number(params["PartNumber"])
    _upload(ctx, params)
    data = objects.as_bytes(params.get("Body"))
    http.check_content_md5(params.get("ContentMD5"), http.md5_hex(data))
    etag = _store_part(ctx, params, number, data)
    return {"ETag": etag, "ServerSideEncryption": objects.SSE}


def _copy_range(spec: str | None, size: int) -> tuple[int, int] | None:
    """UploadPartCopy's ``CopySourceRange``: ``bytes=first-last``, inclusive, within the source
    (S3 accepts no other form here, unlike GetObject's Range); None copies the whole object."""
    if spec is None:
        return None
    m = _COPY_RANGE.match(spec.strip())
    if m is None:
        raise Invalid(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first "
            "and last are the zero-based offsets of the first and last bytes to copy",
            reason="invalid-argument",
            ArgumentName="x-amz-copy-source-range",
            ArgumentValue=spec,
        )
    first, last = int(m.group(1)), int(m.group(2))
    if first > last or last >= size:
        raise Invalid(
            f"Range specified is not valid for source object of size: {size}",
            reason="invalid-argument",
            ArgumentName="x-amz-copy-source-range",
            ArgumentValue=spec,
        )
    return first, last


def upload_part_copy(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """A part copied from an object (or a byte range of it), with CopyObject's source
    conditions (``CopySourceIfMatch``...)."""
    number = http.part_number(params["PartNumber"])
    _upload(ctx, params)
    src = objects.copy_source(ctx, params, *objects.parse_copy_source(params["CopySource"]))
    span = _copy_range(params.get("CopySourceRange"), src.size)
    data = records.body(ctx.store.resources, src)
    if span is not None:
        data = data[span[0] : span[1] + 1]
    etag = _store_part(ctx, params, number, data)
    return {
        "CopyPartResult": {"ETag": etag, "LastModified": timestamp(ctx.now())},
        "ServerSideEncryption": objects.SSE,
    }


def _max(params: dict[str, Any], member: str, argument: str) -> int:
    """MaxParts/MaxUploads as S3 applies them: 1000 when omitted, at most 1000. A page of 0 is
    empty and not truncated, as ListObjects' (``listing.walk``): a truncated page with
    nothing to resume after would loop paginators."""
    return listing.page_size(params.get(member), argument, MAX_LISTED)


def list_parts(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """The upload's parts after ``PartNumberMarker`` in ascending order, ``MaxParts`` at a time;
    ``NextPartNumberMarker`` is the last part number of the page, where the next one starts."""
    upload = _upload(ctx, params)
    marker = listing.non_negative(int(params.get("PartNumberMarker") or 0), "part-number-marker")
    size = _max(params, "MaxParts", "max-parts")
    parts = [
        p
        for p in records.list_parts(ctx.store.resources, params["Bucket"], params["UploadId"])
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
        "Owner": {"ID": records.owner_id(ctx.account)},
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


@dataclass
class _UploadPage:
    uploads: list[Record] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: tuple[str, str | None] | None = None  # (key or prefix, upload ID) of the last entry


def _upload_page(
    uploads: list[Record],
    prefix: str,
    delimiter: str,
    markers: tuple[str | None, str | None],
    size: int,
) -> _UploadPage:
    """One page of ``uploads`` (in ListMultipartUploads' order) after the (key, upload ID)
    ``markers``, rolled up by ``delimiter`` as ``listing.walk`` rolls keys."""
    key_marker, id_marker = markers
    page = _UploadPage()
    for upload in uploads:
        key = str(upload.doc["Key"])
        if not key.startswith(prefix) or not _after(upload, key_marker, id_marker):
            continue
        cut = key.find(delimiter, len(prefix)) if delimiter else -1
        rolled = key[: cut + len(delimiter)] if cut >= 0 else None
        if rolled is not None and (rolled == key_marker or (page.last and rolled == page.last[0])):
            continue
        if len(page.uploads) + len(page.prefixes) == size:
            page.truncated = size > 0
            break
        if rolled is not None:
            page.prefixes.append(rolled)
            page.last = (rolled, None)
        else:
            page.uploads.append(upload)
            page.last = (key, str(upload.doc["UploadId"]))
    return page


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
    all_uploads = records.list_uploads(ctx.store.resources, bucket)
    page = _upload_page(all_uploads, prefix, delimiter, (key_marker, id_marker), size)
    uploads, prefixes, last = page.uploads, page.prefixes, page.last
    out: dict[str, Any] = {
        "Bucket": bucket,
        "KeyMarker": listing.encode(key_marker or "", encoding),
        "UploadIdMarker": id_marker or "",
        "Prefix": listing.encode(prefix, encoding),
        "MaxUploads": size,
        "IsTruncated": page.truncated,
    }
    if delimiter:
        out["Delimiter"] = listing.encode(delimiter, encoding)
    if encoding:
        out["EncodingType"] = encoding
    if last is not None:
        out["NextKeyMarker"] = listing.encode(last[0], encoding)
        out["NextUploadIdMarker"] = last[1] or ""
    if uploads:
        out["Uploads"] = [
            {
                "UploadId": u.doc["UploadId"],
                "Key": listing.encode(str(u.doc["Key"]), encoding),
                "Initiated": timestamp(u.doc["Initiated"]),
                "StorageClass": u.doc["Object"].get("StorageClass") or "STANDARD",
                "Owner": {"ID": records.owner_id(ctx.account)},
                "Initiator": u.doc["Initiator"],
            }
            for u in uploads
        ]
    if prefixes:
        out["CommonPrefixes"] = [{"Prefix": listing.encode(p, encoding)} for p in prefixes]
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
        raise Conflict(reason="precondition-failed", Condition="x-amz-if-match-initiated-time")
    records.delete_upload(ctx.store.resources, params["Bucket"], params["UploadId"])
    return {}


OPERATIONS: Operations = {
    "CreateMultipartUpload": create_multipart_upload,
    "UploadPart": upload_part,
    "UploadPartCopy": upload_part_copy,
    "ListParts": list_parts,
    "ListMultipartUploads": list_multipart_uploads,
    "AbortMultipartUpload": abort_multipart_upload,
}
