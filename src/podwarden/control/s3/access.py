"""Who may use a bucket: its owner only.

podwarden has no bucket policies or ACLs, and S3 refuses another account's requests to a bucket
without them with 403 AccessDenied, which is what a foreign account gets here (and for a wrong
``ExpectedBucketOwner``). Requests are not refused for being sent to another region's endpoint
than the bucket's (S3 answers those with a redirect or an AuthorizationHeaderMalformed naming
the right region); every region here serves every bucket, and HeadBucket reports the bucket's
region.
"""

from __future__ import annotations

from typing import Any

from podwarden.control.context import Context
from podwarden.control.s3 import records
from podwarden.model.errors import Denied, NotFound
from podwarden.store.resources import Record


def owned_bucket(ctx: Context, name: str, params: dict[str, Any]) -> Record:
    """The bucket ``name`` if the caller owns it: NoSuchBucket 404 if there is none,
    AccessDenied 403 if another account owns it or ``ExpectedBucketOwner`` names another."""
    rec = records.get_bucket(ctx.store.resources, name)
    if rec is None:
        raise NotFound(reason="no-such-bucket", BucketName=name)
    expected = params.get("ExpectedBucketOwner")
    if rec.doc["Owner"] != ctx.account or (expected and expected != rec.doc["Owner"]):
        raise Denied(reason="access-denied")
    return rec
