"""S3 of the local AWS account: buckets, objects, listings, ranges, errors, persistence, and
HyperPod's lifecycle-script lookup."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from podwarden.control.context import Context
from podwarden.control.lifecycle_scripts import (
    LIFECYCLE_SCRIPTS_FAILED,
    LifecycleScriptsFailed,
    lifecycle_script,
    parse_s3_uri,
    script_key,
)
from podwarden.control.s3 import OPERATIONS as HANDLERS
from podwarden.control.s3 import listing as s3_listing
from podwarden.control.s3 import names as s3_names
from podwarden.control.s3.objects import parse_copy_source
from podwarden.model.errors import Invalid, PodwardenError, TerminalError
from podwarden.store.sql import Store, sqlite_url
from podwarden.wire.errors import WireError, wire_error
from tests.aws_helpers import assert_shape, make_context

BUCKET = "sagemaker-lifecycle"


def call(ctx: Context, op: str, **params: Any) -> dict[str, Any]:
    out = HANDLERS[op](ctx, params)
    assert_shape("s3", op, out)
    return out


def error(ctx: Context, op: str, **params: Any) -> WireError:
    with pytest.raises(PodwardenError) as info:
        HANDLERS[op](ctx, params)
    return wire_error("s3", info.value)


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    c = make_context(tmp_path)
    call(
        c, "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": c.region}
    )
    return c


def put(ctx: Context, key: str, body: bytes = b"x", **params: Any) -> dict[str, Any]:
    return call(ctx, "PutObject", Bucket=BUCKET, Key=key, Body=body, **params)


# --- buckets ---------------------------------------------------------------------------------


def test_create_head_list_location_delete_bucket(ctx: Context) -> None:
    out = call(
        ctx,
        "CreateBucket",
        Bucket="other-bucket",
        CreateBucketConfiguration={"LocationConstraint": "us-west-2"},
    )
    assert out == {"Location": "http://other-bucket.s3.amazonaws.com/"}
    assert call(ctx, "HeadBucket", Bucket="other-bucket") == {"BucketRegion": "us-west-2"}
    assert call(ctx, "GetBucketLocation", Bucket="other-bucket") == {
        "LocationConstraint": "us-west-2"
    }
    listed = call(ctx, "ListBuckets")
    assert [b["Name"] for b in listed["Buckets"]] == ["other-bucket", BUCKET]
    assert listed["Buckets"][0]["BucketRegion"] == "us-west-2"
    assert isinstance(listed["Buckets"][0]["CreationDate"], datetime)
    assert len(listed["Owner"]["ID"]) == 64
    assert call(ctx, "DeleteBucket", Bucket="other-bucket") == {}
    assert error(ctx, "HeadBucket", Bucket="other-bucket").status == 404
    assert [b["Name"] for b in call(ctx, "ListBuckets")["Buckets"]] == [BUCKET]


def test_list_buckets_pages_and_filters(ctx: Context) -> None:
    for name in ("aaa-1", "aaa-2", "bbb-1"):
        call(
            ctx,
            "CreateBucket",
            Bucket=name,
            CreateBucketConfiguration={"LocationConstraint": ctx.region},
        )
    first = call(ctx, "ListBuckets", MaxBuckets=2)
    assert [b["Name"] for b in first["Buckets"]] == ["aaa-1", "aaa-2"]
    rest = call(ctx, "ListBuckets", MaxBuckets=2, ContinuationToken=first["ContinuationToken"])
    assert [b["Name"] for b in rest["Buckets"]] == ["bbb-1", BUCKET]
    assert "ContinuationToken" not in rest
    only = call(ctx, "ListBuckets", Prefix="aaa")
    assert [b["Name"] for b in only["Buckets"]] == ["aaa-1", "aaa-2"] and only["Prefix"] == "aaa"
    assert call(ctx, "ListBuckets", BucketRegion="eu-west-1")["Buckets"] == []


def test_us_east_1_buckets(tmp_path: Path) -> None:
    ctx = make_context(tmp_path, region="us-east-1")
    assert call(ctx, "CreateBucket", Bucket="east-bucket") == {"Location": "/east-bucket"}
    # an empty LocationConstraint element, not an empty body (which botocore cannot parse)
    assert call(ctx, "GetBucketLocation", Bucket="east-bucket") == {"LocationConstraint": ""}
    # S3's legacy behaviour in North Virginia: re-creating your own bucket is 200 OK
    assert call(ctx, "CreateBucket", Bucket="east-bucket") == {"Location": "/east-bucket"}
    # us-east-1 is not a valid constraint, even on its own endpoint
    e = error(
        ctx,
        "CreateBucket",
        Bucket="b-2",
        CreateBucketConfiguration={"LocationConstraint": "us-east-1"},
    )
    assert (e.code, e.status) == ("InvalidLocationConstraint", 400)
    assert e.message == "The specified location-constraint is not valid"
    # the global endpoint creates buckets in other regions; EU is eu-west-1
    call(
        ctx,
        "CreateBucket",
        Bucket="eu-bucket",
        CreateBucketConfiguration={"LocationConstraint": "EU"},
    )
    assert call(ctx, "HeadBucket", Bucket="eu-bucket") == {"BucketRegion": "eu-west-1"}
    assert call(ctx, "GetBucketLocation", Bucket="eu-bucket") == {"LocationConstraint": "EU"}
    # ... but re-creating one of those is BucketAlreadyOwnedByYou
    e = error(
        ctx,
        "CreateBucket",
        Bucket="eu-bucket",
        CreateBucketConfiguration={"LocationConstraint": "EU"},
    )
    assert e.code == "BucketAlreadyOwnedByYou"


def test_create_bucket_errors(ctx: Context, tmp_path: Path) -> None:
    e = error(
        ctx,
        "CreateBucket",
        Bucket=BUCKET,
        CreateBucketConfiguration={"LocationConstraint": ctx.region},
    )
    assert (e.code, e.status, e.fields) == ("BucketAlreadyOwnedByYou", 409, {"BucketName": BUCKET})
    assert (
        e.message
        == "Your previous request to create the named bucket succeeded and you already own it."
    )
    other = make_context(tmp_path, account="111122223333", store=ctx.store)
    e = error(
        other,
        "CreateBucket",
        Bucket=BUCKET,
        CreateBucketConfiguration={"LocationConstraint": ctx.region},
    )
    assert (e.code, e.status) == ("BucketAlreadyExists", 409)
    assert e.message.startswith("The requested bucket name is not available.")
    e = error(ctx, "CreateBucket", Bucket="Bad_Name")
    assert (e.code, e.status, e.message) == (
        "InvalidBucketName",
        400,
        "The specified bucket is not valid.",
    )
    e = error(ctx, "CreateBucket", Bucket="new-bucket")
    assert (e.code, e.status) == ("IllegalLocationConstraintException", 400)
    assert e.message == (
        "The unspecified location constraint is incompatible for the region specific endpoint "
        "this request was sent to."
    )
    e = error(
        ctx,
        "CreateBucket",
        Bucket="new-bucket",
        CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
    )
    assert e.code == "IllegalLocationConstraintException"
    assert e.message.startswith("The eu-west-1 location constraint is incompatible")
    e = error(
        ctx,
        "CreateBucket",
        Bucket="new-bucket",
        CreateBucketConfiguration={"LocationConstraint": "mars-1"},
    )
    assert e.code == "InvalidLocationConstraint"


def test_us_east_1_constraint_off_us_east_1_is_illegal(ctx: Context) -> None:
    """us-east-1 as a constraint: InvalidLocationConstraint only on us-east-1's own endpoint
    (``test_us_east_1_buckets``); elsewhere it is another region's constraint."""
    e = error(
        ctx,
        "CreateBucket",
        Bucket="new-bucket",
        CreateBucketConfiguration={"LocationConstraint": "us-east-1"},
    )
    assert (e.code, e.status) == ("IllegalLocationConstraintException", 400)
    assert e.message == (
        "The us-east-1 location constraint is incompatible for the region specific endpoint "
        "this request was sent to."
    )
    assert error(ctx, "HeadBucket", Bucket="new-bucket").status == 404


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("abc", True),
        ("my.bucket-1", True),
        ("sagemaker-x", True),
        ("ab", False),
        ("a" * 64, False),
        ("Abc", False),
        ("-abc", False),
        ("abc-", False),
        ("a..b", False),
        ("a_b", False),
        ("192.168.5.4", False),
        ("xn--abc", False),
        ("sthree-abc", False),
        ("amzn-s3-demo-abc", False),
        ("abc-s3alias", False),
        ("abc--ol-s3", False),
        ("abc.mrap", False),
        ("abc--x-s3", False),
        ("abc--table-s3", False),
    ],
)
def test_bucket_names(name: str, ok: bool) -> None:
    assert (s3_names.bucket_name_problem(name) is None) is ok


def test_delete_bucket_errors(ctx: Context, tmp_path: Path) -> None:
    put(ctx, "k")
    e = error(ctx, "DeleteBucket", Bucket=BUCKET)
    assert (e.code, e.status, e.message) == (
        "BucketNotEmpty",
        409,
        "The bucket you tried to delete is not empty",
    )
    e = error(ctx, "DeleteBucket", Bucket="missing-bucket")
    assert (e.code, e.status, e.fields) == ("NoSuchBucket", 404, {"BucketName": "missing-bucket"})
    assert e.message == "The specified bucket does not exist"
    other = make_context(tmp_path, account="111122223333", store=ctx.store)
    assert error(other, "DeleteBucket", Bucket=BUCKET).status == 403
    assert error(other, "GetObject", Bucket=BUCKET, Key="k").code == "AccessDenied"
    assert error(ctx, "HeadBucket", Bucket=BUCKET, ExpectedBucketOwner="111122223333").status == 403
    assert call(other, "ListBuckets")["Buckets"] == []


# --- objects ---------------------------------------------------------------------------------


def test_put_get_head_object(ctx: Context) -> None:
    body = b"#!/bin/bash\necho hello\n"
    out = put(ctx, "scripts/on_create.sh", body, ContentType="text/x-sh", Metadata={"Owner": "me"})
    etag = f'"{hashlib.md5(body).hexdigest()}"'
    assert out == {"ETag": etag, "ServerSideEncryption": "AES256"}
    got = call(ctx, "GetObject", Bucket=BUCKET, Key="scripts/on_create.sh")
    assert got["Body"] == body and got["ETag"] == etag and got["ContentLength"] == len(body)
    assert got["ContentType"] == "text/x-sh" and got["Metadata"] == {"owner": "me"}
    assert got["LastModified"].tzinfo is not None and "ContentRange" not in got
    head = call(ctx, "HeadObject", Bucket=BUCKET, Key="scripts/on_create.sh")
    assert "Body" not in head and head["ContentLength"] == len(body) and head["ETag"] == etag
    put(ctx, "plain")
    assert (
        call(ctx, "HeadObject", Bucket=BUCKET, Key="plain")["ContentType"] == "binary/octet-stream"
    )
    put(ctx, "plain", b"v2")  # last writer wins
    assert call(ctx, "GetObject", Bucket=BUCKET, Key="plain")["Body"] == b"v2"
    put(ctx, "empty", b"")
    assert call(ctx, "GetObject", Bucket=BUCKET, Key="empty")["Body"] == b""


def test_object_errors(ctx: Context) -> None:
    e = error(ctx, "GetObject", Bucket=BUCKET, Key="nope")
    assert (e.code, e.status, e.fields) == ("NoSuchKey", 404, {"Key": "nope"})
    assert e.message == "The specified key does not exist."
    assert error(ctx, "HeadObject", Bucket=BUCKET, Key="nope").status == 404
    assert error(ctx, "GetObject", Bucket="no-bucket", Key="k").code == "NoSuchBucket"
    assert error(ctx, "PutObject", Bucket="no-bucket", Key="k", Body=b"").code == "NoSuchBucket"
    e = error(ctx, "PutObject", Bucket=BUCKET, Key="k" * 1025, Body=b"")
    assert (e.code, e.status) == ("KeyTooLongError", 400)


def test_content_md5(ctx: Context) -> None:
    good = base64.b64encode(hashlib.md5(b"abc").digest()).decode()
    put(ctx, "k", b"abc", ContentMD5=good)
    bad = base64.b64encode(hashlib.md5(b"abd").digest()).decode()
    assert (
        error(ctx, "PutObject", Bucket=BUCKET, Key="k", Body=b"abc", ContentMD5=bad).code
        == "BadDigest"
    )
    assert (
        error(ctx, "PutObject", Bucket=BUCKET, Key="k", Body=b"abc", ContentMD5="!!").code
        == "InvalidDigest"
    )


def test_ranges(ctx: Context) -> None:
    put(ctx, "r", b"0123456789")

    def get(spec: str) -> dict[str, Any]:
        return call(ctx, "GetObject", Bucket=BUCKET, Key="r", Range=spec)

    assert (get("bytes=2-4")["Body"], get("bytes=2-4")["ContentRange"]) == (b"234", "bytes 2-4/10")
    assert get("bytes=2-4")["ContentLength"] == 3
    assert get("bytes=7-")["Body"] == b"789"
    assert get("bytes=-3")["Body"] == b"789"
    assert get("bytes=-30")["Body"] == b"0123456789"
    assert get("bytes=8-100")["ContentRange"] == "bytes 8-9/10"
    for ignored in ("bytes=4-2", "bytes=0-1,3-4", "items=0-1", "garbage"):
        whole = get(ignored)
        assert whole["Body"] == b"0123456789" and "ContentRange" not in whole
    e = error(ctx, "GetObject", Bucket=BUCKET, Key="r", Range="bytes=10-")
    assert (e.code, e.status, e.message) == (
        "InvalidRange",
        416,
        "The requested range is not satisfiable",
    )
    assert e.fields == {"RangeRequested": "bytes=10-", "ActualObjectSize": 10}
    assert error(ctx, "GetObject", Bucket=BUCKET, Key="r", Range="bytes=-0").code == "InvalidRange"
    head = call(ctx, "HeadObject", Bucket=BUCKET, Key="r", Range="bytes=0-0")
    assert (head["ContentLength"], head["ContentRange"]) == (1, "bytes 0-0/10")
    put(ctx, "empty", b"")
    assert error(ctx, "GetObject", Bucket=BUCKET, Key="empty", Range="bytes=0-").status == 416


def test_part_number_of_a_single_part_object(ctx: Context) -> None:
    """An object not uploaded in parts is its own part 1: the whole object as a 206 (with a
    Content-Range, without a parts count); part 2 is 416 InvalidPartNumber."""
    put(ctx, "whole", b"0123456789")
    got = call(ctx, "GetObject", Bucket=BUCKET, Key="whole", PartNumber=1)
    assert (got["Body"], got["ContentRange"], got["ContentLength"]) == (
        b"0123456789",
        "bytes 0-9/10",
        10,
    )
    assert "PartsCount" not in got
    e = error(ctx, "GetObject", Bucket=BUCKET, Key="whole", PartNumber=2)
    assert (e.code, e.status, e.fields) == (
        "InvalidPartNumber",
        416,
        {"PartNumberRequested": 2, "ActualPartCount": 1},
    )
    put(ctx, "empty", b"")
    empty = call(ctx, "GetObject", Bucket=BUCKET, Key="empty", PartNumber=1)
    assert (empty["Body"], empty["ContentLength"]) == (b"", 0)
    assert "ContentRange" not in empty


def test_conditional_reads(ctx: Context) -> None:
    etag = put(ctx, "c", b"data")["ETag"]
    modified = call(ctx, "HeadObject", Bucket=BUCKET, Key="c")["LastModified"]
    assert call(ctx, "GetObject", Bucket=BUCKET, Key="c", IfMatch=etag)["Body"] == b"data"
    e = error(ctx, "GetObject", Bucket=BUCKET, Key="c", IfMatch='"other"')
    assert (e.code, e.status, e.fields) == ("PreconditionFailed", 412, {"Condition": "If-Match"})
    assert error(ctx, "GetObject", Bucket=BUCKET, Key="c", IfNoneMatch=etag).status == 304
    assert error(ctx, "HeadObject", Bucket=BUCKET, Key="c", IfModifiedSince=modified).status == 304
    later = modified + timedelta(seconds=1)
    assert call(
        ctx, "GetObject", Bucket=BUCKET, Key="c", IfModifiedSince=modified - timedelta(seconds=1)
    )
    e = error(
        ctx, "GetObject", Bucket=BUCKET, Key="c", IfUnmodifiedSince=modified - timedelta(seconds=1)
    )
    assert e.status == 412
    assert call(ctx, "GetObject", Bucket=BUCKET, Key="c", IfUnmodifiedSince=later)
    # If-Match holding wins over a failing If-Unmodified-Since, as S3 documents
    early = modified - timedelta(days=1)
    assert call(ctx, "GetObject", Bucket=BUCKET, Key="c", IfMatch=etag, IfUnmodifiedSince=early)


def test_conditional_writes(ctx: Context) -> None:
    etag = put(ctx, "w", b"1", IfNoneMatch="*")["ETag"]
    e = error(ctx, "PutObject", Bucket=BUCKET, Key="w", Body=b"2", IfNoneMatch="*")
    assert (e.code, e.status) == ("PreconditionFailed", 412)
    put(ctx, "w", b"2", IfMatch=etag)
    assert error(ctx, "PutObject", Bucket=BUCKET, Key="w", Body=b"3", IfMatch=etag).status == 412
    assert (
        error(ctx, "PutObject", Bucket=BUCKET, Key="new", Body=b"3", IfMatch=etag).code
        == "NoSuchKey"
    )


def test_response_overrides_and_headers(ctx: Context) -> None:
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    put(
        ctx,
        "h",
        CacheControl="no-cache",
        ContentEncoding="gzip",
        Expires=expires,
        StorageClass="STANDARD_IA",
    )
    head = call(ctx, "HeadObject", Bucket=BUCKET, Key="h")
    assert (head["CacheControl"], head["ContentEncoding"], head["Expires"]) == (
        "no-cache",
        "gzip",
        expires,
    )
    assert head["StorageClass"] == "STANDARD_IA"
    got = call(
        ctx,
        "GetObject",
        Bucket=BUCKET,
        Key="h",
        ResponseContentType="text/plain",
        ResponseCacheControl="max-age=1",
    )
    assert (got["ContentType"], got["CacheControl"]) == ("text/plain", "max-age=1")
    put(ctx, "std")
    assert "StorageClass" not in call(ctx, "HeadObject", Bucket=BUCKET, Key="std")


def test_delete_object_and_objects(ctx: Context) -> None:
    put(ctx, "a")
    assert call(ctx, "DeleteObject", Bucket=BUCKET, Key="a") == {}
    assert call(ctx, "DeleteObject", Bucket=BUCKET, Key="a") == {}  # idempotent
    assert error(ctx, "DeleteObject", Bucket="no-bucket", Key="a").code == "NoSuchBucket"
    put(ctx, "b")
    put(ctx, "c")
    out = call(
        ctx, "DeleteObjects", Bucket=BUCKET, Delete={"Objects": [{"Key": "b"}, {"Key": "missing"}]}
    )
    assert out == {"Deleted": [{"Key": "b"}, {"Key": "missing"}]}
    assert (
        call(ctx, "DeleteObjects", Bucket=BUCKET, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
        == {}
    )
    assert "Contents" not in call(ctx, "ListObjectsV2", Bucket=BUCKET)
    many = {"Objects": [{"Key": f"k{i}"} for i in range(1001)]}
    assert error(ctx, "DeleteObjects", Bucket=BUCKET, Delete=many).code == "MalformedXML"


def test_copy_object(ctx: Context) -> None:
    etag = put(ctx, "src", b"payload", ContentType="text/plain", Metadata={"a": "1"})["ETag"]
    out = call(ctx, "CopyObject", Bucket=BUCKET, Key="dst", CopySource=f"{BUCKET}/src")
    assert out["CopyObjectResult"]["ETag"] == etag
    got = call(ctx, "GetObject", Bucket=BUCKET, Key="dst")
    assert (got["Body"], got["ContentType"], got["Metadata"]) == (
        b"payload",
        "text/plain",
        {"a": "1"},
    )
    call(
        ctx,
        "CopyObject",
        Bucket=BUCKET,
        Key="dst2",
        CopySource=f"/{BUCKET}/src",
        MetadataDirective="REPLACE",
        Metadata={"b": "2"},
    )
    head = call(ctx, "HeadObject", Bucket=BUCKET, Key="dst2")
    assert (head["Metadata"], head["ContentType"]) == ({"b": "2"}, "binary/octet-stream")
    e = error(ctx, "CopyObject", Bucket=BUCKET, Key="src", CopySource=f"{BUCKET}/src")
    assert (e.code, e.status) == ("InvalidRequest", 400)
    call(
        ctx,
        "CopyObject",
        Bucket=BUCKET,
        Key="src",
        CopySource=f"{BUCKET}/src",
        MetadataDirective="REPLACE",
    )
    assert (
        error(ctx, "CopyObject", Bucket=BUCKET, Key="x", CopySource=f"{BUCKET}/missing").code
        == "NoSuchKey"
    )
    assert (
        error(ctx, "CopyObject", Bucket=BUCKET, Key="x", CopySource="nobucket/src").code
        == "NoSuchBucket"
    )
    e = error(
        ctx,
        "CopyObject",
        Bucket=BUCKET,
        Key="x",
        CopySource=f"{BUCKET}/src",
        CopySourceIfNoneMatch=etag,
    )
    assert e.status == 412


def test_parse_copy_source() -> None:
    assert parse_copy_source("b/a%20key/x") == ("b", "a key/x")
    assert parse_copy_source("/b/k?versionId=null") == ("b", "k")
    assert parse_copy_source({"Bucket": "b", "Key": "k"}) == ("b", "k")
    with pytest.raises(Invalid):
        parse_copy_source("b")
    with pytest.raises(Invalid):
        parse_copy_source("b/k?versionId=3")


# --- listing ---------------------------------------------------------------------------------


def test_list_objects_v2_prefix_and_delimiter(ctx: Context) -> None:
    for key in ("a/1", "a/2", "a/b/3", "b/1", "c", "d/"):
        put(ctx, key)
    out = call(ctx, "ListObjectsV2", Bucket=BUCKET, Delimiter="/")
    assert [c["Key"] for c in out["Contents"]] == ["c"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/", "b/", "d/"]
    assert (out["KeyCount"], out["IsTruncated"], out["MaxKeys"]) == (4, False, 1000)
    out = call(ctx, "ListObjectsV2", Bucket=BUCKET, Prefix="a/", Delimiter="/")
    assert [c["Key"] for c in out["Contents"]] == ["a/1", "a/2"]
    assert out["CommonPrefixes"] == [{"Prefix": "a/b/"}] and out["Prefix"] == "a/"
    item = out["Contents"][0]
    assert set(item) == {"Key", "LastModified", "ETag", "Size", "StorageClass"}
    assert (item["Size"], item["StorageClass"]) == (1, "STANDARD")
    out = call(ctx, "ListObjectsV2", Bucket=BUCKET, Prefix="a/")
    assert [c["Key"] for c in out["Contents"]] == [
        "a/1",
        "a/2",
        "a/b/3",
    ] and "CommonPrefixes" not in out
    assert call(ctx, "ListObjectsV2", Bucket=BUCKET, Prefix="zzz")["KeyCount"] == 0
    owner = call(ctx, "ListObjectsV2", Bucket=BUCKET, FetchOwner=True)["Contents"][0]["Owner"]
    assert len(owner["ID"]) == 64


def test_list_objects_v2_pagination(ctx: Context) -> None:
    keys = [f"k{i:02d}" for i in range(7)]
    for key in reversed(keys):
        put(ctx, key)
    seen: list[str] = []
    token = None
    while True:
        params: dict[str, Any] = {"Bucket": BUCKET, "MaxKeys": 3}
        if token:
            params["ContinuationToken"] = token
        out = call(ctx, "ListObjectsV2", **params)
        seen += [c["Key"] for c in out.get("Contents", [])]
        if not out["IsTruncated"]:
            break
        token = out["NextContinuationToken"]
        assert out["KeyCount"] == 3
    assert seen == keys
    after = call(ctx, "ListObjectsV2", Bucket=BUCKET, StartAfter="k04")
    assert [c["Key"] for c in after["Contents"]] == ["k05", "k06"] and after["StartAfter"] == "k04"
    zero = call(ctx, "ListObjectsV2", Bucket=BUCKET, MaxKeys=0)
    assert (zero["KeyCount"], zero["IsTruncated"]) == (0, False)
    assert call(ctx, "ListObjectsV2", Bucket=BUCKET, MaxKeys=5000)["MaxKeys"] == 1000
    e = error(ctx, "ListObjectsV2", Bucket=BUCKET, ContinuationToken="not-a-token")
    assert (e.code, e.status) == ("InvalidArgument", 400)
    assert error(ctx, "ListObjectsV2", Bucket=BUCKET, MaxKeys=-1).code == "InvalidArgument"
    assert error(ctx, "ListObjectsV2", Bucket="no-bucket").code == "NoSuchBucket"


def test_pagination_over_common_prefixes(ctx: Context) -> None:
    for key in ("a/1", "a/2", "b/1", "b/2", "c/1", "d"):
        put(ctx, key)
    entries: list[str] = []
    token = None
    while True:
        params: dict[str, Any] = {"Bucket": BUCKET, "MaxKeys": 1, "Delimiter": "/"}
        if token:
            params["ContinuationToken"] = token
        out = call(ctx, "ListObjectsV2", **params)
        entries += [p["Prefix"] for p in out.get("CommonPrefixes", [])]
        entries += [c["Key"] for c in out.get("Contents", [])]
        if not out["IsTruncated"]:
            break
        token = out["NextContinuationToken"]
    assert entries == ["a/", "b/", "c/", "d"]


def test_utf8_order_and_url_encoding(ctx: Context) -> None:
    keys = ["\U0001f600", "\ue000", "z", "a b+c"]
    for key in keys:
        put(ctx, key)
    out = call(ctx, "ListObjectsV2", Bucket=BUCKET)
    # UTF-8 byte order puts U+E000 (EE 80 80) before U+1F600 (F0 9F 98 80), unlike UTF-16
    assert [c["Key"] for c in out["Contents"]] == ["a b+c", "z", "\ue000", "\U0001f600"]
    enc = call(ctx, "ListObjectsV2", Bucket=BUCKET, EncodingType="url", Prefix="a ")
    assert enc["Contents"][0]["Key"] == "a%20b%2Bc" and enc["Prefix"] == "a%20"
    assert enc["EncodingType"] == "url"


def test_list_objects_v1(ctx: Context) -> None:
    for key in ("a/1", "a/2", "b", "c", "d"):
        put(ctx, key)
    out = call(ctx, "ListObjects", Bucket=BUCKET, MaxKeys=2)
    assert [c["Key"] for c in out["Contents"]] == ["a/1", "a/2"]
    assert out["IsTruncated"] and "NextMarker" not in out and out["Marker"] == ""
    assert "Owner" in out["Contents"][0]
    out = call(ctx, "ListObjects", Bucket=BUCKET, Marker="a/2", MaxKeys=2)
    assert [c["Key"] for c in out["Contents"]] == ["b", "c"]
    out = call(ctx, "ListObjects", Bucket=BUCKET, Delimiter="/", MaxKeys=2)
    assert out["CommonPrefixes"] == [{"Prefix": "a/"}] and out["NextMarker"] == "b"
    out = call(ctx, "ListObjects", Bucket=BUCKET, Delimiter="/", Marker=out["NextMarker"])
    assert [c["Key"] for c in out["Contents"]] == ["c", "d"] and not out["IsTruncated"]


def test_walk_and_tokens() -> None:
    keys = s3_listing.utf8_sorted(["a/x/1", "a/x/2", "a/y", "b"])
    page = s3_listing.walk(keys, prefix="a/", delimiter="/", after=None, max_keys=10)
    assert (page.keys, page.prefixes, page.truncated) == (["a/y"], ["a/x/"], False)
    page = s3_listing.walk(keys, prefix="", delimiter="", after="a/x/2", max_keys=1)
    assert (page.keys, page.truncated, page.last) == (["a/y"], True, "a/y")
    assert s3_listing.decode_token(s3_listing.encode_token("k\u00e9")) == "k\u00e9"


# --- persistence -----------------------------------------------------------------------------


def test_objects_persist_across_stores(tmp_path: Path) -> None:
    first = make_context(tmp_path)
    call(
        first,
        "CreateBucket",
        Bucket=BUCKET,
        CreateBucketConfiguration={"LocationConstraint": first.region},
    )
    call(
        first,
        "PutObject",
        Bucket=BUCKET,
        Key="dir/file",
        Body=b"\x00\x01binary",
        Metadata={"k": "v"},
    )
    first.store.close()
    again = make_context(tmp_path, store=Store(sqlite_url(tmp_path)))
    got = call(again, "GetObject", Bucket=BUCKET, Key="dir/file")
    assert (got["Body"], got["Metadata"]) == (b"\x00\x01binary", {"k": "v"})
    assert [b["Name"] for b in call(again, "ListBuckets")["Buckets"]] == [BUCKET]
    assert (tmp_path / "podwarden.db").exists()


# --- lifecycle scripts -----------------------------------------------------------------------


def test_parse_s3_uri() -> None:
    assert parse_s3_uri("s3://sagemaker-b/p/q/") == ("sagemaker-b", "p/q/")
    assert parse_s3_uri("s3://sagemaker-b") == ("sagemaker-b", "")
    assert parse_s3_uri("s3://sagemaker-b/") == ("sagemaker-b", "")
    assert parse_s3_uri("https://sagemaker-b.s3.amazonaws.com/p") == ("sagemaker-b", "p")
    assert parse_s3_uri("https://my.b.s3.us-west-2.amazonaws.com/p%20q/") == ("my.b", "p q/")
    assert parse_s3_uri("https://s3.us-west-2.amazonaws.com/sagemaker-b/p") == ("sagemaker-b", "p")
    assert parse_s3_uri("https://s3.amazonaws.com/sagemaker-b") == ("sagemaker-b", "")
    for bad in ("ftp://b/p", "https://example.com/p", "https://s3.amazonaws.com/", "b/p"):
        with pytest.raises(Invalid):
            parse_s3_uri(bad)


def test_script_key() -> None:
    assert script_key("config", "on_create.sh") == "config/on_create.sh"
    assert script_key("config/", "./on_create.sh") == "config/on_create.sh"
    assert script_key("", "on_create.sh") == "on_create.sh"
    assert script_key("a/b", "sub/run.sh") == "a/b/sub/run.sh"


def test_lifecycle_script_found(ctx: Context) -> None:
    etag = put(ctx, "config/on_create.sh", b"#!/bin/bash\ntrue\n")["ETag"]
    for uri in (
        f"s3://{BUCKET}/config/",
        f"s3://{BUCKET}/config",
        f"https://{BUCKET}.s3.amazonaws.com/config/",
    ):
        script = lifecycle_script(ctx.store, uri, "on_create.sh")
        assert (script.bucket, script.key, script.etag) == (BUCKET, "config/on_create.sh", etag)
        assert script.content == b"#!/bin/bash\ntrue\n" and script.text.startswith("#!")
        assert script.uri == f"s3://{BUCKET}/config/on_create.sh"


def test_lifecycle_script_missing(ctx: Context) -> None:
    with pytest.raises(LifecycleScriptsFailed) as info:
        lifecycle_script(ctx.store, f"s3://{BUCKET}/config/", "on_create.sh")
    exc = info.value
    assert exc.message == LIFECYCLE_SCRIPTS_FAILED
    assert exc.message.startswith("Lifecycle scripts did not run successfully.")
    assert "NoSuchKey" in exc.detail and exc.uri == f"s3://{BUCKET}/config/on_create.sh"
    assert isinstance(exc, TerminalError) and isinstance(exc, Invalid)
    assert exc.failure_message("i-0123") == (
        'Instance i-0123 failed to provision with the following error: "Lifecycle scripts did not '
        "run successfully. Ensure the scripts exist in provided S3 path, are accessible, and run "
        'without errors. Please see CloudWatch logs for lifecycle script execution details." Note '
        "that multiple instances may be impacted."
    )
    with pytest.raises(LifecycleScriptsFailed) as info:
        lifecycle_script(ctx.store, "s3://sagemaker-missing/config/", "on_create.sh")
    assert "NoSuchBucket" in info.value.detail and info.value.message == LIFECYCLE_SCRIPTS_FAILED
