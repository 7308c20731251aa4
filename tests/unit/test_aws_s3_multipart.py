"""S3 multipart uploads of the local AWS account: the handlers of ``s3_multipart`` on a
throwaway store (records, blobs, S3's errors and their extra elements, listings and their
markers, the multipart ETag)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from podwarden.control.context import Context
from podwarden.control.s3 import OPERATIONS as HANDLERS
from podwarden.control.s3 import completion as s3_completion
from podwarden.control.s3 import multipart as s3_multipart
from podwarden.control.s3 import records as s3_store
from podwarden.model.aws import kinds
from podwarden.model.aws.scope import GLOBAL
from podwarden.model.errors import PodwardenError
from podwarden.store.sql import Store, sqlite_url
from podwarden.wire.errors import WireError, wire_error
from tests.aws_helpers import assert_shape, make_context

BUCKET = "sagemaker-checkpoints"
MIB = 1024 * 1024


def call(ctx: Context, op: str, **params: Any) -> dict[str, Any]:
    out = HANDLERS[op](ctx, params)
    assert_shape("s3", op, out)
    return out


def error(ctx: Context, op: str, **params: Any) -> WireError:
    with pytest.raises(PodwardenError) as info:
        HANDLERS[op](ctx, params)
    return wire_error("s3", info.value)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float = 1.0) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ctx(tmp_path: Path, clock: Clock) -> Iterator[Context]:
    c = dataclasses.replace(make_context(tmp_path), now=clock)
    call(
        c, "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": c.region}
    )
    yield c
    c.store.close()


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> int:
    """A 4-byte minimum part size, so size rules are tested without 5 MiB bodies."""
    monkeypatch.setattr(s3_completion, "MIN_PART_SIZE", 4)
    return 4


def create(ctx: Context, key: str = "k", **params: Any) -> str:
    return str(call(ctx, "CreateMultipartUpload", Bucket=BUCKET, Key=key, **params)["UploadId"])


def part(ctx: Context, upload_id: str, number: int, body: bytes, key: str = "k") -> str:
    out = call(
        ctx, "UploadPart", Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=number, Body=body
    )
    return str(out["ETag"])


def complete(
    ctx: Context, upload_id: str, parts: list[tuple[int, str]], key: str = "k", **params: Any
) -> dict[str, Any]:
    listed = {"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]}
    return call(
        ctx,
        "CompleteMultipartUpload",
        Bucket=BUCKET,
        Key=key,
        UploadId=upload_id,
        MultipartUpload=listed,
        **params,
    )


def complete_error(
    ctx: Context, upload_id: str, parts: list[tuple[int, str]], key: str = "k", **params: Any
) -> WireError:
    listed = {"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]}
    return error(
        ctx,
        "CompleteMultipartUpload",
        Bucket=BUCKET,
        Key=key,
        UploadId=upload_id,
        MultipartUpload=listed,
        **params,
    )


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def stored_parts(ctx: Context) -> list[Any]:
    return ctx.store.resources.list(kinds.S3_PART, GLOBAL)


# --- create, upload, complete ----------------------------------------------------------------


def test_upload_in_parts(ctx: Context) -> None:
    """Two parts, the first at S3's 5 MiB minimum: the object is their concatenation, its ETag
    S3's ``"<md5 of the binary part MD5s>-2"``, its headers and metadata CreateMultipartUpload's;
    the upload and its parts (records and blobs) are gone afterwards."""
    created = call(
        ctx,
        "CreateMultipartUpload",
        Bucket=BUCKET,
        Key="ckpt/step-1.pt",
        ContentType="application/x-torch",
        Metadata={"Step": "1"},
        CacheControl="no-cache",
    )
    upload_id = created["UploadId"]
    assert (created["Bucket"], created["Key"]) == (BUCKET, "ckpt/step-1.pt")
    first, second = bytes(range(256)) * (5 * MIB // 256), b"the last part"
    e1 = part(ctx, upload_id, 1, first, key="ckpt/step-1.pt")
    e2 = part(ctx, upload_id, 2, second, key="ckpt/step-1.pt")
    assert (e1, e2) == (f'"{md5(first)}"', f'"{md5(second)}"')
    assert len(stored_parts(ctx)) == 2
    done = complete(ctx, upload_id, [(1, e1), (2, e2)], key="ckpt/step-1.pt")
    expected = hashlib.md5(bytes.fromhex(md5(first)) + bytes.fromhex(md5(second))).hexdigest()
    assert done["ETag"] == f'"{expected}-2"'
    assert done["Location"] == f"https://{BUCKET}.s3.us-west-2.amazonaws.com/ckpt/step-1.pt"
    got = call(ctx, "GetObject", Bucket=BUCKET, Key="ckpt/step-1.pt")
    assert got["Body"] == first + second
    assert (got["ETag"], got["ContentLength"]) == (done["ETag"], len(first) + len(second))
    assert (got["ContentType"], got["Metadata"], got["CacheControl"]) == (
        "application/x-torch",
        {"step": "1"},
        "no-cache",
    )
    assert ctx.store.resources.list(kinds.S3_UPLOAD, GLOBAL) == []
    assert stored_parts(ctx) == []
    e = error(ctx, "ListParts", Bucket=BUCKET, Key="ckpt/step-1.pt", UploadId=upload_id)
    assert (e.code, e.status, e.fields) == ("NoSuchUpload", 404, {"UploadId": upload_id})


def test_multipart_etag_formula() -> None:
    parts = [b"a" * 10, b"b" * 3]
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    etags = [f'"{md5(p)}"' for p in parts]
    assert s3_completion.multipart_etag(etags) == f'"{hashlib.md5(digests).hexdigest()}-2"'
    assert s3_completion.multipart_etag([f'"{md5(b"x")}"']).endswith('-1"')


def test_one_small_part_and_unlisted_parts(ctx: Context, small_parts: int) -> None:
    """A single part may be of any size (it is the last); parts uploaded but not listed are
    discarded; quotes around a listed ETag are optional."""
    upload_id = create(ctx)
    part(ctx, upload_id, 1, b"discarded")
    e2 = part(ctx, upload_id, 2, b"x")
    complete(ctx, upload_id, [(2, e2.strip('"'))])
    assert call(ctx, "GetObject", Bucket=BUCKET, Key="k")["Body"] == b"x"
    assert stored_parts(ctx) == []


def test_part_replaced(ctx: Context, small_parts: int) -> None:
    upload_id = create(ctx)
    old = part(ctx, upload_id, 1, b"first try")
    new = part(ctx, upload_id, 1, b"second try")
    listed = call(ctx, "ListParts", Bucket=BUCKET, Key="k", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed] == [(1, new, 10)]
    assert complete_error(ctx, upload_id, [(1, old)]).code == "InvalidPart"
    complete(ctx, upload_id, [(1, new)])
    assert call(ctx, "GetObject", Bucket=BUCKET, Key="k")["Body"] == b"second try"


def test_complete_errors(ctx: Context, small_parts: int) -> None:
    upload_id = create(ctx)
    e1, e2, e3 = (part(ctx, upload_id, n, b) for n, b in ((1, b"1111"), (2, b"2"), (3, b"3333")))
    e = complete_error(ctx, upload_id, [(2, e2), (1, e1)])
    assert (e.code, e.status, e.fields) == ("InvalidPartOrder", 400, {"UploadId": upload_id})
    assert e.message == (
        "The list of parts was not in ascending order. Parts must be ordered by part number."
    )
    assert complete_error(ctx, upload_id, [(1, e1), (1, e1)]).code == "InvalidPartOrder"
    e = complete_error(ctx, upload_id, [(1, e1), (4, e3)])
    assert (e.code, e.status) == ("InvalidPart", 400)
    assert e.fields == {"UploadId": upload_id, "PartNumber": 4, "ETag": e3.strip('"')}
    assert e.message.startswith("One or more of the specified parts could not be found.")
    assert complete_error(ctx, upload_id, [(1, e2)]).code == "InvalidPart"
    e = complete_error(ctx, upload_id, [(1, e1), (2, e2), (3, e3)])
    assert (e.code, e.status) == ("EntityTooSmall", 400)
    assert e.fields == {"ProposedSize": 1, "MinSizeAllowed": 4, "PartNumber": 2, "ETag": md5(b"2")}
    assert e.message == "Your proposed upload is smaller than the minimum allowed size"
    e = error(
        ctx,
        "CompleteMultipartUpload",
        Bucket=BUCKET,
        Key="k",
        UploadId=upload_id,
        MultipartUpload={},
    )
    assert (e.code, e.status) == ("MalformedXML", 400)
    assert complete_error(ctx, "nope", [(1, e1)]).code == "NoSuchUpload"
    assert complete_error(ctx, upload_id, [(1, e1)], key="other").code == "NoSuchUpload"
    # every failure left the upload as it was
    complete(ctx, upload_id, [(1, e1), (3, e3)])
    assert call(ctx, "GetObject", Bucket=BUCKET, Key="k")["Body"] == b"11113333"


def test_complete_retried_after_success(ctx: Context, clock: Clock, small_parts: int) -> None:
    """A completion resent after it succeeded (its response lost) is answered as the first was,
    and writes nothing; one listing other parts, or after the key was overwritten, is
    NoSuchUpload."""
    upload_id = create(ctx)
    e1, e2 = part(ctx, upload_id, 1, b"1111"), part(ctx, upload_id, 2, b"22")
    first = complete(ctx, upload_id, [(1, e1), (2, e2)])
    written = call(ctx, "HeadObject", Bucket=BUCKET, Key="k")["LastModified"]
    clock.tick(10)
    assert complete(ctx, upload_id, [(1, e1), (2, e2)]) == first
    assert complete(ctx, upload_id, [(1, e1.strip('"')), (2, e2)]) == first
    assert call(ctx, "HeadObject", Bucket=BUCKET, Key="k")["LastModified"] == written
    for parts in ([(1, e1)], [(2, e2)], [(1, e1), (2, "not-an-etag")], [(1, e2), (2, e1)]):
        e = complete_error(ctx, upload_id, parts)
        assert (e.code, e.status, e.fields) == ("NoSuchUpload", 404, {"UploadId": upload_id})
    assert complete_error(ctx, upload_id, [(1, e1), (2, e2)], key="other").code == "NoSuchUpload"
    call(ctx, "PutObject", Bucket=BUCKET, Key="k", Body=b"overwritten")
    assert complete_error(ctx, upload_id, [(1, e1), (2, e2)]).code == "NoSuchUpload"


def test_get_and_head_a_part(ctx: Context, small_parts: int) -> None:
    """``PartNumber`` reads one part of an object completed from parts: numbered by position
    in the completed object (parts 1 and 3 of the upload are its parts 1 and 2), with a
    Content-Range, the whole object's ETag and the parts count; past the last part is 416
    InvalidPartNumber; with a Range, InvalidRequest."""
    upload_id = create(ctx)
    e1, _, e3 = (part(ctx, upload_id, n, b) for n, b in ((1, b"1111"), (2, b"22"), (3, b"33333")))
    done = complete(ctx, upload_id, [(1, e1), (3, e3)])
    got = call(ctx, "GetObject", Bucket=BUCKET, Key="k", PartNumber=2)
    assert got["Body"] == b"33333"
    assert (got["ContentRange"], got["ContentLength"], got["PartsCount"]) == ("bytes 4-8/9", 5, 2)
    assert got["ETag"] == done["ETag"]
    head = call(ctx, "HeadObject", Bucket=BUCKET, Key="k", PartNumber=1)
    assert (head["ContentRange"], head["ContentLength"], head["PartsCount"]) == (
        "bytes 0-3/9",
        4,
        2,
    )
    assert "PartsCount" not in call(ctx, "HeadObject", Bucket=BUCKET, Key="k")
    for op in ("GetObject", "HeadObject"):
        e = error(ctx, op, Bucket=BUCKET, Key="k", PartNumber=3)
        assert (e.code, e.status, e.message) == (
            "InvalidPartNumber",
            416,
            "The requested partnumber is not satisfiable",
        )
        assert e.fields == {"PartNumberRequested": 3, "ActualPartCount": 2}
        e = error(ctx, op, Bucket=BUCKET, Key="k", PartNumber=1, Range="bytes=0-1")
        assert (e.code, e.status, e.message) == (
            "InvalidRequest",
            400,
            "Cannot specify both Range header and partNumber query parameter",
        )
        e = error(ctx, op, Bucket=BUCKET, Key="k", PartNumber=0)
        assert (e.code, e.fields["ArgumentName"]) == ("InvalidArgument", "partNumber")


def test_complete_default_minimum(ctx: Context) -> None:
    """Without the fixture, the minimum is S3's 5 MiB."""
    upload_id = create(ctx)
    e1, e2 = part(ctx, upload_id, 1, b"small"), part(ctx, upload_id, 2, b"last")
    e = complete_error(ctx, upload_id, [(1, e1), (2, e2)])
    assert (e.code, e.fields["MinSizeAllowed"]) == ("EntityTooSmall", 5 * MIB)


def test_complete_too_large(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3_completion, "MAX_OBJECT_SIZE", 3)
    upload_id = create(ctx)
    e1 = part(ctx, upload_id, 1, b"four")
    e = complete_error(ctx, upload_id, [(1, e1)])
    assert (e.code, e.status, e.fields) == (
        "EntityTooLarge",
        400,
        {"ProposedSize": 4, "MaxSizeAllowed": 3},
    )


def test_complete_checks_the_bytes_read(ctx: Context) -> None:
    """A part whose bytes no longer match its ETag (replaced between the check of the list and
    the read) fails the completion instead of assembling other bytes."""
    upload_id = create(ctx)
    e1 = part(ctx, upload_id, 1, b"original")
    doc = {"PartNumber": 1, "ETag": e1, "Size": 8, "LastModified": 0}
    s3_store.put_part(ctx.store.resources, BUCKET, upload_id, doc, b"replaced")
    assert complete_error(ctx, upload_id, [(1, e1)]).code == "InvalidPart"


def test_complete_conditions(ctx: Context) -> None:
    """CompleteMultipartUpload's If-None-Match/If-Match are PutObject's; a failed one leaves
    the upload in progress."""
    call(ctx, "PutObject", Bucket=BUCKET, Key="k", Body=b"existing")
    upload_id = create(ctx)
    e1 = part(ctx, upload_id, 1, b"new")
    e = complete_error(ctx, upload_id, [(1, e1)], IfNoneMatch="*")
    assert (e.code, e.status) == ("PreconditionFailed", 412)
    e = complete_error(ctx, upload_id, [(1, e1)], IfMatch='"0123"')
    assert (e.code, e.status) == ("PreconditionFailed", 412)
    complete(ctx, upload_id, [(1, e1)], IfMatch=f'"{md5(b"existing")}"')
    assert call(ctx, "GetObject", Bucket=BUCKET, Key="k")["Body"] == b"new"
    other = create(ctx, key="fresh")
    e2 = part(ctx, other, 1, b"x", key="fresh")
    assert complete_error(ctx, other, [(1, e2)], key="fresh", IfMatch="*").code == "NoSuchKey"
    complete(ctx, other, [(1, e2)], key="fresh", IfNoneMatch="*")


# --- parts -----------------------------------------------------------------------------------


def test_upload_part_errors(ctx: Context) -> None:
    upload_id = create(ctx)
    for number in (0, 10001):
        e = error(ctx, "UploadPart", Bucket=BUCKET, Key="k", UploadId=upload_id, PartNumber=number)
        assert (e.code, e.status) == ("InvalidArgument", 400)
        assert e.message == "Part number must be an integer between 1 and 10000, inclusive"
        assert e.fields == {"ArgumentName": "partNumber", "ArgumentValue": str(number)}
    part(ctx, upload_id, 10000, b"")
    e = error(ctx, "UploadPart", Bucket=BUCKET, Key="k", UploadId="unknown", PartNumber=1)
    assert (e.code, e.status) == ("NoSuchUpload", 404)
    assert e.message == (
        "The specified upload does not exist. The upload ID may be invalid, or the upload may "
        "have been aborted or completed."
    )
    e = error(ctx, "UploadPart", Bucket=BUCKET, Key="other", UploadId=upload_id, PartNumber=1)
    assert e.code == "NoSuchUpload"
    e = error(ctx, "UploadPart", Bucket="missing-bucket", Key="k", UploadId=upload_id, PartNumber=1)
    assert e.code == "NoSuchBucket"
    e = error(
        ctx,
        "UploadPart",
        Bucket=BUCKET,
        Key="k",
        UploadId=upload_id,
        PartNumber=1,
        Body=b"abc",
        ContentMD5=base64.b64encode(hashlib.md5(b"abcd").digest()).decode(),
    )
    assert e.code == "BadDigest"


def test_upload_part_racing_abort(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """An upload aborted while its part is written: the part does not outlive it."""
    upload_id = create(ctx)
    put_part = s3_store.put_part

    def aborted_meanwhile(*args: Any) -> Any:
        written = put_part(*args)
        s3_store.delete_upload(ctx.store.resources, BUCKET, upload_id)
        return written

    monkeypatch.setattr(s3_store, "put_part", aborted_meanwhile)
    e = error(
        ctx, "UploadPart", Bucket=BUCKET, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x"
    )
    assert e.code == "NoSuchUpload"
    assert stored_parts(ctx) == []


def test_list_parts_pages(ctx: Context) -> None:
    upload_id = create(ctx, StorageClass="STANDARD_IA")
    etags = {n: part(ctx, upload_id, n, bytes([n]) * n) for n in (3, 1, 2, 7)}
    out = call(ctx, "ListParts", Bucket=BUCKET, Key="k", UploadId=upload_id)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in out["Parts"]] == [
        (n, etags[n], n) for n in (1, 2, 3, 7)
    ]
    assert (out["PartNumberMarker"], out["MaxParts"], out["IsTruncated"]) == (0, 1000, False)
    assert out["NextPartNumberMarker"] == 7
    assert out["StorageClass"] == "STANDARD_IA"
    assert out["Initiator"] == out["Owner"] == {"ID": s3_store.owner_id(ctx.account)}
    page = call(ctx, "ListParts", Bucket=BUCKET, Key="k", UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in page["Parts"]] == [1, 2]
    assert (page["IsTruncated"], page["NextPartNumberMarker"]) == (True, 2)
    page = call(
        ctx, "ListParts", Bucket=BUCKET, Key="k", UploadId=upload_id, MaxParts=2, PartNumberMarker=2
    )
    assert [p["PartNumber"] for p in page["Parts"]] == [3, 7]
    assert (page["IsTruncated"], page["PartNumberMarker"]) == (False, 2)
    empty = call(ctx, "ListParts", Bucket=BUCKET, Key="k", UploadId=upload_id, MaxParts=0)
    assert "Parts" not in empty and empty["IsTruncated"] is False
    e = error(ctx, "ListParts", Bucket=BUCKET, Key="k", UploadId=upload_id, MaxParts=-1)
    assert (e.code, e.fields["ArgumentName"]) == ("InvalidArgument", "max-parts")


def test_upload_part_copy(ctx: Context) -> None:
    call(ctx, "PutObject", Bucket=BUCKET, Key="src", Body=b"0123456789")
    upload_id = create(ctx)

    def copy(**params: Any) -> dict[str, Any]:
        return call(
            ctx,
            "UploadPartCopy",
            Bucket=BUCKET,
            Key="k",
            UploadId=upload_id,
            PartNumber=1,
            CopySource=f"{BUCKET}/src",
            **params,
        )

    def copy_error(**params: Any) -> WireError:
        given = {"CopySource": f"{BUCKET}/src", **params}
        return error(
            ctx, "UploadPartCopy", Bucket=BUCKET, Key="k", UploadId=upload_id, PartNumber=1, **given
        )

    whole = copy()["CopyPartResult"]
    assert whole["ETag"] == f'"{md5(b"0123456789")}"'
    ranged = copy(CopySourceRange="bytes=2-5")["CopyPartResult"]
    assert ranged["ETag"] == f'"{md5(b"2345")}"'
    e = copy_error(CopySourceRange="bytes=5-10")
    assert (e.code, e.message) == (
        "InvalidArgument",
        "Range specified is not valid for source object of size: 10",
    )
    assert e.fields == {"ArgumentName": "x-amz-copy-source-range", "ArgumentValue": "bytes=5-10"}
    for spec in ("bytes=-3", "bytes=4-", "bytes=5-2", "items=0-1"):
        assert copy_error(CopySourceRange=spec).code == "InvalidArgument", spec
    assert copy_error(CopySourceIfMatch='"nope"').code == "PreconditionFailed"
    assert copy_error(CopySource=f"{BUCKET}/missing").code == "NoSuchKey"
    complete(ctx, upload_id, [(1, ranged["ETag"])])
    assert call(ctx, "GetObject", Bucket=BUCKET, Key="k")["Body"] == b"2345"


# --- listing uploads -------------------------------------------------------------------------


def test_list_multipart_uploads(ctx: Context, clock: Clock) -> None:
    """By key (UTF-8), then initiation; markers, prefix, delimiter, pages."""
    ids: dict[str, list[str]] = {}
    for key in ("b", "a/2", "a/1", "b", "c"):
        ids.setdefault(key, []).append(create(ctx, key=key))
        clock.tick()
    out = call(ctx, "ListMultipartUploads", Bucket=BUCKET)
    listed = [(u["Key"], u["UploadId"]) for u in out["Uploads"]]
    assert listed == [
        ("a/1", ids["a/1"][0]),
        ("a/2", ids["a/2"][0]),
        ("b", ids["b"][0]),
        ("b", ids["b"][1]),
        ("c", ids["c"][0]),
    ]
    assert out["Uploads"][0]["Initiated"] == datetime.fromtimestamp(1_700_000_002, tz=UTC)
    assert (out["IsTruncated"], out["MaxUploads"], out["KeyMarker"]) == (False, 1000, "")
    after_key = call(ctx, "ListMultipartUploads", Bucket=BUCKET, KeyMarker="b")
    assert [u["Key"] for u in after_key["Uploads"]] == ["c"]
    after_id = call(
        ctx, "ListMultipartUploads", Bucket=BUCKET, KeyMarker="b", UploadIdMarker=ids["b"][0]
    )
    assert [u["UploadId"] for u in after_id["Uploads"]] == [ids["b"][1], ids["c"][0]]
    ignored = call(ctx, "ListMultipartUploads", Bucket=BUCKET, UploadIdMarker=ids["b"][0])
    assert len(ignored["Uploads"]) == 5
    rolled = call(ctx, "ListMultipartUploads", Bucket=BUCKET, Delimiter="/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["a/"]
    assert [u["Key"] for u in rolled["Uploads"]] == ["b", "b", "c"]
    under = call(ctx, "ListMultipartUploads", Bucket=BUCKET, Prefix="a/")
    assert [u["Key"] for u in under["Uploads"]] == ["a/1", "a/2"]
    # pages of two, over a CommonPrefix: every upload once, the prefix once
    seen: list[str] = []
    params: dict[str, Any] = {"Delimiter": "/", "MaxUploads": 2}
    while True:
        page = call(ctx, "ListMultipartUploads", Bucket=BUCKET, **params)
        seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        seen += [u["UploadId"] for u in page.get("Uploads", [])]
        if not page["IsTruncated"]:
            break
        params["KeyMarker"] = page["NextKeyMarker"]
        params["UploadIdMarker"] = page["NextUploadIdMarker"]
    assert seen == ["a/", ids["b"][0], ids["b"][1], ids["c"][0]]
    none = call(ctx, "ListMultipartUploads", Bucket=BUCKET, MaxUploads=0)
    assert "Uploads" not in none and none["IsTruncated"] is False
    e = error(ctx, "ListMultipartUploads", Bucket=BUCKET, MaxUploads=-1)
    assert (e.code, e.fields["ArgumentName"]) == ("InvalidArgument", "max-uploads")
    assert error(ctx, "ListMultipartUploads", Bucket="missing-bucket").code == "NoSuchBucket"


def test_list_multipart_uploads_url_encoding(ctx: Context) -> None:
    create(ctx, key="dir/a b")
    out = call(ctx, "ListMultipartUploads", Bucket=BUCKET, Prefix="dir/", EncodingType="url")
    assert [u["Key"] for u in out["Uploads"]] == ["dir/a%20b"]
    assert (out["Prefix"], out["EncodingType"], out["NextKeyMarker"]) == (
        "dir/",
        "url",
        "dir/a%20b",
    )


def test_upload_ids_sort_by_initiation() -> None:
    ids = [s3_multipart.new_upload_id(t) for t in (1.0, 1.000001, 2.0, 1_700_000_000.5)]
    assert ids == sorted(ids)
    assert len({s3_multipart.new_upload_id(1.0) for _ in range(10)}) == 10


# --- abort, buckets, accounts ----------------------------------------------------------------


def test_abort(ctx: Context) -> None:
    upload_id = create(ctx)
    part(ctx, upload_id, 1, b"a")
    part(ctx, upload_id, 2, b"b")
    blobs_before = [ctx.store.resources.blob(p) for p in stored_parts(ctx)]
    assert blobs_before == [b"a", b"b"]
    kept = stored_parts(ctx)
    assert call(ctx, "AbortMultipartUpload", Bucket=BUCKET, Key="k", UploadId=upload_id) == {}
    assert stored_parts(ctx) == []
    assert [ctx.store.resources.blob(p) for p in kept] == [None, None]
    e = error(ctx, "AbortMultipartUpload", Bucket=BUCKET, Key="k", UploadId=upload_id)
    assert (e.code, e.status) == ("NoSuchUpload", 404)
    assert "Uploads" not in call(ctx, "ListMultipartUploads", Bucket=BUCKET)


def test_abort_if_match_initiated_time(ctx: Context, clock: Clock) -> None:
    upload_id = create(ctx)
    initiated = datetime.fromtimestamp(int(clock.now), tz=UTC)
    e = error(
        ctx,
        "AbortMultipartUpload",
        Bucket=BUCKET,
        Key="k",
        UploadId=upload_id,
        IfMatchInitiatedTime=datetime.fromtimestamp(int(clock.now) - 60, tz=UTC),
    )
    assert (e.code, e.status) == ("PreconditionFailed", 412)
    call(
        ctx,
        "AbortMultipartUpload",
        Bucket=BUCKET,
        Key="k",
        UploadId=upload_id,
        IfMatchInitiatedTime=initiated,
    )


def test_delete_bucket_takes_uploads_with_it(ctx: Context) -> None:
    upload_id = create(ctx)
    part(ctx, upload_id, 1, b"a")
    call(ctx, "DeleteBucket", Bucket=BUCKET)
    assert ctx.store.resources.list(kinds.S3_UPLOAD, GLOBAL) == []
    assert stored_parts(ctx) == []
    call(
        ctx,
        "CreateBucket",
        Bucket=BUCKET,
        CreateBucketConfiguration={"LocationConstraint": ctx.region},
    )
    assert "Uploads" not in call(ctx, "ListMultipartUploads", Bucket=BUCKET)


def test_create_errors_and_other_accounts(ctx: Context, tmp_path: Path) -> None:
    e = error(ctx, "CreateMultipartUpload", Bucket=BUCKET, Key="k" * 1025)
    assert e.code == "KeyTooLongError"
    assert error(ctx, "CreateMultipartUpload", Bucket="missing-bucket", Key="k").status == 404
    upload_id = create(ctx)
    other = make_context(tmp_path, account="111122223333", store=ctx.store)
    assert error(other, "CreateMultipartUpload", Bucket=BUCKET, Key="k").code == "AccessDenied"
    e = error(other, "UploadPart", Bucket=BUCKET, Key="k", UploadId=upload_id, PartNumber=1)
    assert e.code == "AccessDenied"
    assert error(other, "ListMultipartUploads", Bucket=BUCKET).code == "AccessDenied"
    e = error(other, "AbortMultipartUpload", Bucket=BUCKET, Key="k", UploadId=upload_id)
    assert e.code == "AccessDenied"


def test_initiator_of_an_iam_identity(tmp_path: Path) -> None:
    arn = "arn:aws:iam::000000000000:user/trainer"
    ctx = dataclasses.replace(make_context(tmp_path), principal_arn=arn)
    call(
        ctx,
        "CreateBucket",
        Bucket=BUCKET,
        CreateBucketConfiguration={"LocationConstraint": ctx.region},
    )
    upload_id = create(ctx)
    out = call(ctx, "ListParts", Bucket=BUCKET, Key="k", UploadId=upload_id)
    assert out["Initiator"] == {"ID": arn}
    assert out["Owner"] == {"ID": s3_store.owner_id(ctx.account)}


def test_uploads_persist_across_stores(tmp_path: Path) -> None:
    first = make_context(tmp_path)
    call(
        first,
        "CreateBucket",
        Bucket=BUCKET,
        CreateBucketConfiguration={"LocationConstraint": first.region},
    )
    upload_id = create(first)
    etag = part(first, upload_id, 1, b"persisted")
    first.store.close()
    again = make_context(tmp_path, store=Store(sqlite_url(tmp_path)))
    complete(again, upload_id, [(1, etag)])
    assert call(again, "GetObject", Bucket=BUCKET, Key="k")["Body"] == b"persisted"
    again.store.close()
