"""S3 bucket operations: CreateBucket, HeadBucket, ListBuckets, GetBucketLocation, DeleteBucket.

Access is the owner's only (``access``); every region here serves every bucket.
"""

from __future__ import annotations

import functools
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.s3 import listing, names, records
from podwarden.control.s3.access import owned_bucket
from podwarden.model.aws import kinds
from podwarden.model.aws.scope import GLOBAL
from podwarden.model.errors import Conflict, InUse
from podwarden.store.resources import Duplicate, Record
from podwarden.wire.models import service_model

MAX_BUCKETS = 10000  # ListBuckets' page when MaxBuckets is omitted (the model's maximum)


@functools.cache
def known_constraints() -> frozenset[str]:
    """The model's BucketLocationConstraint values (region names and the legacy ``EU``)."""
    enum = service_model("s3").shape_for("BucketLocationConstraint").enum
    return frozenset(str(v) for v in enum)


def create_bucket(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Checks in S3's order: the name (InvalidBucketName), the location constraint against the
    endpoint's region (``names.bucket_region``), then the name's owner. A name taken by
    another account is BucketAlreadyExists; one the caller owns is BucketAlreadyOwnedByYou,
    except where both the request and the bucket are in us-east-1: there S3 answers 200 OK "for
    legacy compatibility" (S3 API reference, BucketAlreadyOwnedByYou) and resets the bucket's
    ACLs, which podwarden does not keep, so nothing changes. ACL, ObjectOwnership and Object
    Lock settings are accepted and ignored.
    """
    name = params["Bucket"]
    names.check_bucket_name(name)
    constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
    region = names.bucket_region(ctx.region, constraint, known_constraints())
    rec = Record(
        kind=kinds.S3_BUCKET,
        scope=GLOBAL,
        key=name,
        doc={"Owner": ctx.account, "Region": region, "LocationConstraint": constraint or None},
        created=ctx.now(),
    )
    existing = _insert(ctx, rec)
    if existing is not None:
        if existing.doc["Owner"] != ctx.account:
            raise InUse(reason="bucket-exists", BucketName=name)
        us_east_1 = names.US_EAST_1
        if not (ctx.region == us_east_1 and existing.doc["Region"] == us_east_1):
            raise InUse(reason="bucket-owned-by-you", BucketName=name)
        region = existing.doc["Region"]
    return {"Location": names.location(name, region)}


def _insert(ctx: Context, rec: Record) -> Record | None:
    """Insert the bucket; the bucket that holds the name instead, if one does. The insert is
    the atomic test: of two concurrent creates of a name, exactly one wins."""
    for _ in range(3):
        try:
            ctx.store.resources.create(rec)
        except Duplicate:
            existing = records.get_bucket(ctx.store.resources, rec.key)
            if existing is not None:
                return existing
            continue  # deleted between the insert and the read: try again
        return None
    # created and deleted under us, repeatedly
    raise InUse(reason="bucket-exists", BucketName=rec.key)


def head_bucket(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = owned_bucket(ctx, params["Bucket"], params)
    return {"BucketRegion": rec.doc["Region"]}


def get_bucket_location(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """The constraint the bucket was created with, ``EU`` for buckets created with the legacy
    name. A us-east-1 bucket has none: S3 answers an empty ``<LocationConstraint/>`` element
    (which botocore reads as None), never an empty body, which botocore cannot parse; the
    empty string is what makes the protocol layer write the empty element."""
    rec = owned_bucket(ctx, params["Bucket"], params)
    return {"LocationConstraint": rec.doc.get("LocationConstraint") or ""}


def list_buckets(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """The caller's buckets in name order, filtered by ``Prefix`` and ``BucketRegion``, paged by
    ``MaxBuckets`` with an opaque ``ContinuationToken`` (a marker: the last name returned)."""
    prefix = params.get("Prefix") or ""
    region = params.get("BucketRegion")
    token = params.get("ContinuationToken")
    after = listing.decode_token(token, params) if token else None
    size = int(params.get("MaxBuckets") or MAX_BUCKETS)
    mine = [
        b
        for b in records.list_buckets(ctx.store.resources)
        if b.doc["Owner"] == ctx.account
        and b.key.startswith(prefix)
        and (region is None or b.doc["Region"] == region)
        and (after is None or b.key > after)
    ]
    page = mine[:size]
    out: dict[str, Any] = {
        "Buckets": [
            {
                "Name": b.key,
                "CreationDate": records.timestamp(b.created),
                "BucketRegion": b.doc["Region"],
            }
            for b in page
        ],
        "Owner": {"ID": records.owner_id(ctx.account)},
    }
    if len(mine) > size:
        out["ContinuationToken"] = listing.encode_token(page[-1].key, params)
    if "Prefix" in params:
        out["Prefix"] = prefix
    return out


def delete_bucket(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """BucketNotEmpty 409 while it holds objects. The check and the delete are two
    transactions: a PutObject racing the delete can leave objects whose bucket is gone (they
    are unreachable, and a bucket created again under the name shows them).

    Multipart uploads in progress do not keep a general purpose bucket from being deleted: the
    API reference restricts that rule to directory buckets ("If multipart uploads in a directory
    bucket are in progress, you can't delete the bucket until all the in-progress multipart
    uploads are aborted or completed", AbortMultipartUpload; likewise the user guide's
    "Emptying a directory bucket"), and S3-compatible stores changed to match AWS deleting such
    a bucket (Ceph's rgw review of ceph/ceph#15630, tried against S3; Scality's
    scality/cloudserver#1591). The bucket's uploads and their parts go with it, so a bucket
    created again under the name starts without them."""
    name = params["Bucket"]
    owned_bucket(ctx, name, params)
    if records.has_objects(ctx.store.resources, name):
        raise Conflict(reason="bucket-not-empty", BucketName=name)
    ctx.store.resources.delete(kinds.S3_BUCKET, GLOBAL, name)
    records.delete_uploads(ctx.store.resources, name)
    return {}


OPERATIONS: Operations = {
    "CreateBucket": create_bucket,
    "HeadBucket": head_bucket,
    "ListBuckets": list_buckets,
    "GetBucketLocation": get_bucket_location,
    "DeleteBucket": delete_bucket,
}
