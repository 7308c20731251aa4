"""Amazon S3 of the local AWS account: buckets, objects and multipart uploads.

``HANDLERS`` maps each operation to its handler (the contract is ``podwarden.control.aws``'s).
The protocol layer speaks rest-xml (signing name ``s3``, path-style and virtual-hosted-style
addressing on loopback) and maps members to the wire: ``Body`` is the payload, ``Metadata`` the
``x-amz-meta-*`` headers, ``ETag``/``ContentType``/``ContentRange``... their headers. A GetObject
or HeadObject result with ``ContentRange`` is a 206 Partial Content; a raised ``NotModified`` is
a 304 without a body; HeadBucket and HeadObject errors have no body on the wire.

The parts:

* ``s3_names``: bucket naming rules, and the region a CreateBucket's LocationConstraint gives;
* ``s3_store``: buckets and objects as records (bodies as blobs) in the data directory's
  database;
* ``s3_buckets``: CreateBucket, HeadBucket, ListBuckets, GetBucketLocation, DeleteBucket;
* ``s3_objects``: PutObject, GetObject, HeadObject, DeleteObject(s), CopyObject;
* ``s3_multipart``: CreateMultipartUpload, UploadPart, UploadPartCopy, ListParts,
  ListMultipartUploads, AbortMultipartUpload;
* ``s3_completion``: CompleteMultipartUpload, and its answer to a retry after success;
* ``s3_listing``: the listing walk (prefix, delimiter, markers, tokens) used here by
  ListObjectsV2 and ListObjects;
* ``s3_http``: byte ranges, part numbers, conditional requests, Content-MD5;
* ``s3_errors``: S3's error codes and messages;
* ``s3_scripts``: HyperPod's lookup of an instance group's lifecycle scripts.

Not emulated: versioning, bucket policies/ACLs/CORS/lifecycle rules,
presigned URLs (a protocol-layer matter), storage class transitions, object locking.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from podwarden.control.aws import (
    s3_buckets,
    s3_completion,
    s3_listing,
    s3_multipart,
    s3_objects,
    s3_store,
)
from podwarden.control.aws.s3_buckets import owned_bucket, timestamp
from podwarden.control.context import Context


def _listing(
    ctx: Context, params: dict[str, Any], after: str | None
) -> tuple[s3_listing.Page, dict[str, s3_store.StoredObject], int]:
    """The page a ListObjects(V2) asks for, the objects by key, and the page size used."""
    bucket = params["Bucket"]
    owned_bucket(ctx, bucket, params)
    size = s3_listing.page_size(params.get("MaxKeys"))
    objects = {o.key: o for o in s3_store.list_objects(ctx.store.resources, bucket)}
    page = s3_listing.walk(
        objects,  # insertion order is list_objects' UTF-8 order
        prefix=params.get("Prefix") or "",
        delimiter=params.get("Delimiter") or "",
        after=after,
        max_keys=size,
    )
    return page, objects, size


def _contents(
    page: s3_listing.Page,
    objects: dict[str, s3_store.StoredObject],
    encoding: str | None,
    owner: dict[str, str] | None,
) -> dict[str, Any]:
    """``Contents`` and ``CommonPrefixes``, each omitted when empty, as S3's XML has no element
    for them then (botocore's result then lacks the key)."""
    out: dict[str, Any] = {}
    contents = []
    for key in page.keys:
        obj = objects[key]
        item: dict[str, Any] = {
            "Key": s3_listing.encode(key, encoding),
            "LastModified": timestamp(obj.modified),
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
        out["CommonPrefixes"] = [{"Prefix": s3_listing.encode(p, encoding)} for p in page.prefixes]
    return out


def _common(params: dict[str, Any], page: s3_listing.Page, size: int) -> dict[str, Any]:
    encoding = params.get("EncodingType")
    out: dict[str, Any] = {
        "Name": params["Bucket"],
        "Prefix": s3_listing.encode(params.get("Prefix") or "", encoding),
        "MaxKeys": size,
        "IsTruncated": page.truncated,
    }
    if params.get("Delimiter"):
        out["Delimiter"] = s3_listing.encode(params["Delimiter"], encoding)
    if encoding:
        out["EncodingType"] = encoding
    return out


def list_objects_v2(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """A ContinuationToken, when given, overrides StartAfter (S3 ignores StartAfter then);
    ``FetchOwner`` adds each object's Owner. MaxKeys is reported as applied (at most 1000)."""
    token = params.get("ContinuationToken")
    after = s3_listing.decode_token(token, params) if token else params.get("StartAfter")
    page, objects, size = _listing(ctx, params, after)
    encoding = params.get("EncodingType")
    owner = {"ID": s3_store.owner_id(ctx.account)} if params.get("FetchOwner") else None
    out = _common(params, page, size)
    out.update(_contents(page, objects, encoding, owner))
    out["KeyCount"] = page.count
    if token:
        out["ContinuationToken"] = token
    if params.get("StartAfter"):
        out["StartAfter"] = s3_listing.encode(params["StartAfter"], encoding)
    if page.truncated and page.last is not None:
        out["NextContinuationToken"] = s3_listing.encode_token(page.last, params)
    return out


def list_objects(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListObjects (v1): resumes after ``Marker``; ``NextMarker`` is returned, as S3 does, only
    when the request has a Delimiter (otherwise the last Key is the next marker)."""
    marker = params.get("Marker") or ""
    page, objects, size = _listing(ctx, params, marker or None)
    encoding = params.get("EncodingType")
    out = _common(params, page, size)
    out["Marker"] = s3_listing.encode(marker, encoding)
    out.update(_contents(page, objects, encoding, {"ID": s3_store.owner_id(ctx.account)}))
    if page.truncated and params.get("Delimiter") and page.last is not None:
        out["NextMarker"] = s3_listing.encode(page.last, encoding)
    return out


Handler = Callable[[Context, dict[str, Any]], dict[str, Any]]

HANDLERS: dict[str, Handler] = {
    "CreateBucket": s3_buckets.create_bucket,
    "HeadBucket": s3_buckets.head_bucket,
    "ListBuckets": s3_buckets.list_buckets,
    "GetBucketLocation": s3_buckets.get_bucket_location,
    "DeleteBucket": s3_buckets.delete_bucket,
    "PutObject": s3_objects.put_object,
    "GetObject": s3_objects.get_object,
    "HeadObject": s3_objects.head_object,
    "ListObjectsV2": list_objects_v2,
    "ListObjects": list_objects,
    "DeleteObject": s3_objects.delete_object,
    "DeleteObjects": s3_objects.delete_objects,
    "CopyObject": s3_objects.copy_object,
    "CreateMultipartUpload": s3_multipart.create_multipart_upload,
    "UploadPart": s3_multipart.upload_part,
    "UploadPartCopy": s3_multipart.upload_part_copy,
    "ListParts": s3_multipart.list_parts,
    "ListMultipartUploads": s3_multipart.list_multipart_uploads,
    "CompleteMultipartUpload": s3_completion.complete_multipart_upload,
    "AbortMultipartUpload": s3_multipart.abort_multipart_upload,
}
