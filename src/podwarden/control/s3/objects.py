"""S3 object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects and
CopyObject.

An object is what S3 keeps of a single-part upload: the body, its MD5 as the ETag (quoted, as
S3 sends it), the size, LastModified, the content headers (ContentType, by default
``binary/octet-stream`` as S3 stores it, CacheControl, ContentDisposition, ContentEncoding,
ContentLanguage, Expires, WebsiteRedirectLocation), the user metadata (keys lower-cased, as S3
returns the ``x-amz-meta-*`` headers) and the storage class, which changes nothing here.

Not kept: the additional checksums (``ChecksumCRC32``, ``ChecksumSHA256``...; botocore sends
one with every PutObject): they are neither verified nor returned, so a client asking for
``ChecksumMode=ENABLED`` finds none to validate. ``ContentMD5`` is verified. Tagging, ACLs, SSE
parameters and Object Lock are accepted and ignored; every object reports SSE-S3 (``AES256``),
S3's default encryption since January 2023. Buckets are unversioned: VersionId is never
returned.

GetObject and HeadObject read a byte ``Range`` or, with ``PartNumber``, one part of an object
completed from parts (``http.part_range``), reporting its ``PartsCount``.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.s3 import http, names, records
from podwarden.control.s3.access import owned_bucket
from podwarden.control.s3.records import StoredObject, timestamp
from podwarden.model.errors import Conflict, Invalid, NotFound
from podwarden.store.resources import Duplicate
from podwarden.wire.errors import wire_error

DEFAULT_CONTENT_TYPE = "binary/octet-stream"
SSE = "AES256"
MAX_DELETE = 1000  # DeleteObjects' limit per request
# Content headers an object keeps as given, by member name.
_HEADERS = (
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "WebsiteRedirectLocation",
)
# GetObject's response-* overrides and the member each replaces.
_OVERRIDES = {
    "ResponseCacheControl": "CacheControl",
    "ResponseContentDisposition": "ContentDisposition",
    "ResponseContentEncoding": "ContentEncoding",
    "ResponseContentLanguage": "ContentLanguage",
    "ResponseContentType": "ContentType",
    "ResponseExpires": "Expires",
}


def as_bytes(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"Body must be bytes, not {type(value).__name__}")


def new_doc(key: str, data: bytes, now: float, params: dict[str, Any]) -> dict[str, Any]:
    """The doc of an object written with ``params`` (PutObject's, or CopyObject's REPLACE)."""
    doc: dict[str, Any] = {
        "Key": key,
        "ETag": f'"{http.md5_hex(data)}"',
        "Size": len(data),
        "LastModified": int(now),
        "ContentType": params.get("ContentType") or DEFAULT_CONTENT_TYPE,
        "Metadata": {str(k).lower(): str(v) for k, v in (params.get("Metadata") or {}).items()},
    }
    doc.update({h: params[h] for h in _HEADERS if params.get(h)})
    if params.get("Expires") is not None:
        doc["Expires"] = params["Expires"].timestamp()
    if params.get("StorageClass") not in (None, "STANDARD"):
        doc["StorageClass"] = params["StorageClass"]
    return doc


def put_object(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    bucket, key = params["Bucket"], params["Key"]
    names.check_key(key)
    owned_bucket(ctx, bucket, params)
    data = as_bytes(params.get("Body"))
    doc = new_doc(key, data, ctx.now(), params)
    http.check_content_md5(params.get("ContentMD5"), doc["ETag"].strip('"'))
    write(ctx, bucket, doc, data, params)
    return {"ETag": doc["ETag"], "ServerSideEncryption": SSE}


def write(
    ctx: Context, bucket: str, doc: dict[str, Any], data: bytes, params: dict[str, Any]
) -> None:
    """Write the object ``doc["Key"]`` under the request's conditions (PutObject's, and
    CompleteMultipartUpload's, which S3 gives the same ones): ``IfNoneMatch: *`` creates only if
    the key is free (atomic, 412 PreconditionFailed otherwise); ``IfMatch`` overwrites only the
    version with that ETag (404 NoSuchKey if there is none, 412 if it differs). The IfMatch
    comparison and the write are two transactions, so two racing IfMatch writers can both
    succeed."""
    key = str(doc["Key"])
    resources = ctx.store.resources
    if_none, if_match = params.get("IfNoneMatch"), params.get("IfMatch")
    if if_none == "*":
        try:
            records.create_object(resources, bucket, doc, data, now=ctx.now())
        except Duplicate:
            raise Conflict(reason="precondition-failed", Condition="If-None-Match") from None
        return
    if if_match is not None or if_none is not None:
        current = records.get_object(resources, bucket, key)
        if if_match is not None:
            if current is None:
                raise NotFound(reason="no-such-key", Key=key)
            if not http.etag_matches(if_match, current.etag):
                raise Conflict(reason="precondition-failed", Condition="If-Match")
        if if_none is not None and current and http.etag_matches(if_none, current.etag):
            raise Conflict(reason="precondition-failed", Condition="If-None-Match")
    records.put_object(resources, bucket, doc, data, now=ctx.now())


def _existing(ctx: Context, params: dict[str, Any], *, with_body: bool = False) -> StoredObject:
    bucket, key = params["Bucket"], params["Key"]
    owned_bucket(ctx, bucket, params)
    obj = records.get_object(ctx.store.resources, bucket, key, with_body=with_body)
    if obj is None:
        raise NotFound(reason="no-such-key", Key=key)
    return obj


def describe(obj: StoredObject) -> dict[str, Any]:
    """What GetObject and HeadObject report of an object, apart from the body."""
    doc = obj.doc
    out: dict[str, Any] = {
        "AcceptRanges": "bytes",
        "LastModified": timestamp(obj.modified),
        "ContentLength": obj.size,
        "ETag": obj.etag,
        "ContentType": doc.get("ContentType") or DEFAULT_CONTENT_TYPE,
        "Metadata": dict(doc.get("Metadata") or {}),
        "ServerSideEncryption": SSE,
    }
    out.update({h: doc[h] for h in _HEADERS if doc.get(h)})
    if doc.get("Expires") is not None:
        out["Expires"] = timestamp(doc["Expires"])
    if obj.storage_class != "STANDARD":  # S3 omits x-amz-storage-class for STANDARD
        out["StorageClass"] = obj.storage_class
    return out


Span = tuple[int, int] | None


def _read(
    ctx: Context, params: dict[str, Any], *, with_body: bool = False
) -> tuple[StoredObject, dict[str, Any], Span]:
    """GetObject's and HeadObject's common part: conditions, then range or part, then
    overrides. The presence of ``ContentRange`` in the result is what tells the protocol layer
    to answer 206 Partial Content instead of 200. ``with_body``: the object's body is read with
    its record."""
    obj = _existing(ctx, params, with_body=with_body)
    http.check_read(params, obj.etag, obj.modified)
    out = describe(obj)
    span = _span(params, obj, out)
    if span is not None:
        out["ContentLength"] = span[1] - span[0] + 1
        if span[1] >= span[0]:  # an empty part has no byte range to report
            out["ContentRange"] = http.content_range(span[0], span[1], obj.size)
    for param, member in _OVERRIDES.items():
        if params.get(param) is not None:
            out[member] = params[param]
    return obj, out, span


def _span(params: dict[str, Any], obj: StoredObject, out: dict[str, Any]) -> Span:
    """The bytes a ``Range`` or a ``PartNumber`` asks for (None: all of them). A part number
    reports the object's ``PartsCount`` when it was uploaded in parts, as S3 does."""
    if params.get("PartNumber") is None:
        return http.byte_range(params.get("Range"), obj.size)
    number = http.part_number(params["PartNumber"])
    sizes = obj.part_sizes
    span = http.part_range(number, sizes, obj.size, ranged=params.get("Range") is not None)
    if sizes is not None:
        out["PartsCount"] = len(sizes)
    return span


def get_object(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    obj, out, span = _read(ctx, params, with_body=True)
    data = records.body(ctx.store.resources, obj)
    out["Body"] = data if span is None else data[span[0] : span[1] + 1]
    return out


def head_object(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return _read(ctx, params)[1]


def delete_object(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """204 whether or not the key exists (S3 deletes idempotently); NoSuchBucket if the bucket
    does not."""
    bucket, key = params["Bucket"], params["Key"]
    owned_bucket(ctx, bucket, params)
    records.delete_object(ctx.store.resources, bucket, key)
    return {}


def delete_objects(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Each key is deleted on its own (S3's multi-object delete is not atomic either) and
    reported Deleted whether it existed or not; ``Quiet`` reports only errors. More than 1000
    keys is MalformedXML, as S3 answers."""
    bucket = params["Bucket"]
    delete = params.get("Delete") or {}
    objects = delete.get("Objects") or []
    if len(objects) > MAX_DELETE:
        raise Invalid(reason="malformed-xml")
    owned_bucket(ctx, bucket, params)
    deleted: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for ident in objects:
        key = ident["Key"]
        problem = names.key_too_long(key)
        if problem is not None:  # reported in the result, as S3 reports a key's failure
            wire = wire_error("s3", problem)
            errors.append({"Key": key, "Code": wire.code, "Message": wire.message})
            continue
        records.delete_object(ctx.store.resources, bucket, key)
        deleted.append({"Key": key})
    out: dict[str, Any] = {}
    if deleted and not delete.get("Quiet"):
        out["Deleted"] = deleted
    if errors:
        out["Errors"] = errors
    return out


def parse_copy_source(source: object) -> tuple[str, str]:
    """``(bucket, key)`` of CopyObject's ``CopySource``: ``bucket/key`` or ``/bucket/key``,
    URL-encoded, optionally with ``?versionId=`` (only ``null``, the version of every object in
    an unversioned bucket, is valid here); botocore's dict form is accepted too."""
    if isinstance(source, dict):
        bucket, key, version = source.get("Bucket"), source.get("Key"), source.get("VersionId")
    else:
        path, _, query = str(source).partition("?")
        version = urllib.parse.parse_qs(query).get("versionId", [None])[0]
        bucket, _, key = urllib.parse.unquote(path).removeprefix("/").partition("/")
    if not bucket or not key:
        raise Invalid(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            reason="invalid-argument",
            ArgumentName="x-amz-copy-source",
            ArgumentValue=str(source),
        )
    if version not in (None, "null"):
        raise Invalid(
            "Invalid version id specified",
            reason="invalid-argument",
            ArgumentName="x-amz-copy-source",
            ArgumentValue=str(version),
        )
    return str(bucket), str(key)


def copy_source(ctx: Context, params: dict[str, Any], bucket: str, key: str) -> StoredObject:
    """The object a copy reads (CopyObject's, UploadPartCopy's), in a bucket of the caller's
    (``ExpectedSourceBucketOwner``), under the request's ``CopySourceIf...`` conditions."""
    owned_bucket(ctx, bucket, {"ExpectedBucketOwner": params.get("ExpectedSourceBucketOwner")})
    src = records.get_object(ctx.store.resources, bucket, key)
    if src is None:
        raise NotFound(reason="no-such-key", Key=key)
    http.check_read(params, src.etag, src.modified, prefix="CopySource")
    return src


def copy_object(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Copy within or across the caller's buckets. ``MetadataDirective`` COPY (the default)
    keeps the source's content headers and metadata, REPLACE takes the request's; the storage
    class is the request's (STANDARD when omitted), as S3's. Copying an object onto itself
    while changing nothing is S3's InvalidRequest."""
    bucket, key = params["Bucket"], params["Key"]
    names.check_key(key)
    src_bucket, src_key = parse_copy_source(params["CopySource"])
    owned_bucket(ctx, bucket, params)
    src = copy_source(ctx, params, src_bucket, src_key)
    replace = params.get("MetadataDirective") == "REPLACE"
    if (src_bucket, src_key) == (bucket, key) and not replace and not _changes(params):
        raise Invalid(
            "This copy request is illegal because it is trying to copy an object to itself "
            "without changing the object's metadata, storage class, website redirect location "
            "or encryption attributes.",
            reason="invalid-request",
        )
    data = records.body(ctx.store.resources, src)
    now = ctx.now()
    if replace:
        doc = new_doc(key, data, now, params)
    else:
        kept = {k: v for k, v in src.doc.items() if k != "Expires"}
        doc = new_doc(key, data, now, {**kept, "StorageClass": params.get("StorageClass")})
        if src.doc.get("Expires") is not None:
            doc["Expires"] = src.doc["Expires"]
    records.put_object(ctx.store.resources, bucket, doc, data, now=now)
    result = {"ETag": doc["ETag"], "LastModified": timestamp(doc["LastModified"])}
    return {"CopyObjectResult": result, "ServerSideEncryption": SSE}


def _changes(params: dict[str, Any]) -> bool:
    return any(
        params.get(p)
        for p in ("StorageClass", "WebsiteRedirectLocation", "ServerSideEncryption", "SSEKMSKeyId")
    )


OPERATIONS: Operations = {
    "PutObject": put_object,
    "GetObject": get_object,
    "HeadObject": head_object,
    "DeleteObject": delete_object,
    "DeleteObjects": delete_objects,
    "CopyObject": copy_object,
}
