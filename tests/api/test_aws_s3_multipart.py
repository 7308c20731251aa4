"""S3 multipart uploads through boto3 over real HTTP: s3transfer's upload in parts (what
``upload_file`` and ``aws s3 cp`` do from their threshold on), the low-level calls, listing,
abort, and the errors as botocore reports them."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.api.aws_server import AwsServer

MIB = 1024 * 1024
PARTS = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4)


def code(err: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    resp = err.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"]


def bucket(s3: Any, name: str) -> str:
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return name


def multipart_etag(data: bytes, size: int) -> str:
    digests = b"".join(hashlib.md5(data[i : i + size]).digest() for i in range(0, len(data), size))
    count = -(-len(data) // size)
    return f'"{hashlib.md5(digests).hexdigest()}-{count}"'


def test_upload_file_in_parts(aws: AwsServer, tmp_path: Path) -> None:
    """12 MiB in 5 MiB parts: three parts, the object's ETag is S3's ``<md5 of md5s>-3``."""
    s3 = aws.client("s3", s3={"addressing_style": "path"})
    name = bucket(s3, "mpu-transfer")
    data = os.urandom(12 * MIB)
    path = tmp_path / "checkpoint.bin"
    path.write_bytes(data)
    s3.upload_file(
        str(path), name, "ckpt/step-1.bin", Config=PARTS, ExtraArgs={"ContentType": "x/ckpt"}
    )
    got = s3.get_object(Bucket=name, Key="ckpt/step-1.bin")
    assert got["Body"].read() == data
    assert got["ETag"] == multipart_etag(data, 5 * MIB)
    assert got["ETag"].endswith('-3"')
    assert got["ContentType"] == "x/ckpt"
    assert got["ContentLength"] == len(data)
    listed = s3.list_objects_v2(Bucket=name)["Contents"]
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listed] == [
        ("ckpt/step-1.bin", len(data), got["ETag"])
    ]
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=name)
    back = io.BytesIO()
    s3.download_fileobj(name, "ckpt/step-1.bin", back, Config=PARTS)  # ranged GETs
    assert back.getvalue() == data


def test_upload_fileobj_with_metadata(aws: AwsServer) -> None:
    s3 = aws.client("s3")  # virtual-host style
    name = bucket(s3, "mpu-fileobj")
    data = os.urandom(11 * MIB + 7)
    s3.upload_fileobj(
        io.BytesIO(data), name, "blob", Config=PARTS, ExtraArgs={"Metadata": {"A": "b"}}
    )
    head = s3.head_object(Bucket=name, Key="blob")
    assert head["ContentLength"] == len(data)
    assert head["Metadata"] == {"a": "b"}
    assert head["ETag"] == multipart_etag(data, 5 * MIB)


def test_low_level_calls_and_listing(aws: AwsServer) -> None:
    s3 = aws.client("s3", s3={"addressing_style": "path"})
    name = bucket(s3, "mpu-low-level")
    created = s3.create_multipart_upload(Bucket=name, Key="a/b.bin")
    upload_id = created["UploadId"]
    assert (created["Bucket"], created["Key"]) == (name, "a/b.bin")
    first, second = os.urandom(5 * MIB), b"tail"
    up1 = s3.upload_part(Bucket=name, Key="a/b.bin", UploadId=upload_id, PartNumber=1, Body=first)
    assert up1["ETag"] == f'"{hashlib.md5(first).hexdigest()}"'
    up2 = s3.upload_part(Bucket=name, Key="a/b.bin", UploadId=upload_id, PartNumber=2, Body=second)
    other = s3.create_multipart_upload(Bucket=name, Key="c")["UploadId"]
    uploads = s3.list_multipart_uploads(Bucket=name)
    assert [(u["Key"], u["UploadId"]) for u in uploads["Uploads"]] == [
        ("a/b.bin", upload_id),
        ("c", other),
    ]
    rolled = s3.list_multipart_uploads(Bucket=name, Delimiter="/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["a/"]
    assert [u["Key"] for u in rolled["Uploads"]] == ["c"]
    pages = s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=name, PaginationConfig={"PageSize": 1}
    )
    assert [u["UploadId"] for p in pages for u in p.get("Uploads", [])] == [upload_id, other]
    parts = s3.list_parts(Bucket=name, Key="a/b.bin", UploadId=upload_id)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in parts["Parts"]] == [
        (1, len(first), up1["ETag"]),
        (2, len(second), up2["ETag"]),
    ]
    paged = s3.get_paginator("list_parts").paginate(
        Bucket=name, Key="a/b.bin", UploadId=upload_id, PaginationConfig={"PageSize": 1}
    )
    assert [p["PartNumber"] for page in paged for p in page.get("Parts", [])] == [1, 2]
    done = s3.complete_multipart_upload(
        Bucket=name,
        Key="a/b.bin",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": up1["ETag"]},
                {"PartNumber": 2, "ETag": up2["ETag"].strip('"')},  # quotes are optional
            ]
        },
    )
    digests = hashlib.md5(first).digest() + hashlib.md5(second).digest()
    assert done["ETag"] == f'"{hashlib.md5(digests).hexdigest()}-2"'
    assert (done["Bucket"], done["Key"]) == (name, "a/b.bin")
    assert done["Location"].endswith("/a/b.bin")
    assert s3.get_object(Bucket=name, Key="a/b.bin")["Body"].read() == first + second
    with pytest.raises(ClientError) as err:
        s3.list_parts(Bucket=name, Key="a/b.bin", UploadId=upload_id)
    assert code(err) == (404, "NoSuchUpload")
    s3.abort_multipart_upload(Bucket=name, Key="c", UploadId=other)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=name)


def test_upload_part_copy(aws: AwsServer) -> None:
    s3 = aws.client("s3", s3={"addressing_style": "path"})
    name = bucket(s3, "mpu-part-copy")
    source = os.urandom(6 * MIB)
    s3.put_object(Bucket=name, Key="source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=name, Key="joined")["UploadId"]
    copied = s3.upload_part_copy(
        Bucket=name, Key="joined", UploadId=upload_id, PartNumber=1, CopySource=f"{name}/source"
    )
    ranged = s3.upload_part_copy(
        Bucket=name,
        Key="joined",
        UploadId=upload_id,
        PartNumber=2,
        CopySource={"Bucket": name, "Key": "source"},
        CopySourceRange="bytes=0-99",
    )
    s3.complete_multipart_upload(
        Bucket=name,
        Key="joined",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": copied["CopyPartResult"]["ETag"]},
                {"PartNumber": 2, "ETag": ranged["CopyPartResult"]["ETag"]},
            ]
        },
    )
    assert s3.get_object(Bucket=name, Key="joined")["Body"].read() == source + source[:100]


def test_abort_and_errors(aws: AwsServer) -> None:
    s3 = aws.client("s3", s3={"addressing_style": "path"})
    name = bucket(s3, "mpu-errors")
    upload_id = s3.create_multipart_upload(Bucket=name, Key="k")["UploadId"]
    small = s3.upload_part(Bucket=name, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")
    last = s3.upload_part(Bucket=name, Key="k", UploadId=upload_id, PartNumber=2, Body=b"y")

    def complete(*parts: tuple[int, str]) -> None:
        s3.complete_multipart_upload(
            Bucket=name,
            Key="k",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]},
        )

    with pytest.raises(ClientError) as err:
        complete((2, last["ETag"]), (1, small["ETag"]))
    assert code(err) == (400, "InvalidPartOrder")
    with pytest.raises(ClientError) as err:
        complete((1, last["ETag"]))
    assert code(err) == (400, "InvalidPart")
    with pytest.raises(ClientError) as err:
        complete((1, small["ETag"]), (3, last["ETag"]))
    assert code(err) == (400, "InvalidPart")
    with pytest.raises(ClientError) as err:
        complete((1, small["ETag"]), (2, last["ETag"]))
    assert code(err) == (400, "EntityTooSmall")
    assert err.value.response["Error"]["Message"] == (
        "Your proposed upload is smaller than the minimum allowed size"
    )
    with pytest.raises(ClientError) as err:
        s3.upload_part(Bucket=name, Key="k", UploadId=upload_id, PartNumber=10001, Body=b"z")
    assert code(err) == (400, "InvalidArgument")
    with pytest.raises(ClientError) as err:
        s3.upload_part(Bucket=name, Key="other", UploadId=upload_id, PartNumber=1, Body=b"z")
    assert code(err) == (404, "NoSuchUpload")
    s3.abort_multipart_upload(Bucket=name, Key="k", UploadId=upload_id)
    with pytest.raises(ClientError) as err:
        s3.abort_multipart_upload(Bucket=name, Key="k", UploadId=upload_id)
    assert code(err) == (404, "NoSuchUpload")
    assert err.value.response["Error"]["Message"] == (
        "The specified upload does not exist. The upload ID may be invalid, or the upload may "
        "have been aborted or completed."
    )
    with pytest.raises(ClientError) as err:
        complete((1, small["ETag"]))
    assert code(err) == (404, "NoSuchUpload")
    with pytest.raises(ClientError) as err:
        s3.create_multipart_upload(Bucket="no-such-bucket-mpu", Key="k")
    assert code(err) == (404, "NoSuchBucket")


def test_delete_bucket_with_upload_in_progress(aws: AwsServer) -> None:
    """S3 deletes a general purpose bucket whose uploads are in progress; they go with it."""
    s3 = aws.client("s3", s3={"addressing_style": "path"})
    name = bucket(s3, "mpu-delete-bucket")
    upload_id = s3.create_multipart_upload(Bucket=name, Key="k")["UploadId"]
    s3.upload_part(Bucket=name, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")
    s3.delete_bucket(Bucket=name)
    bucket(s3, name)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=name)
    with pytest.raises(ClientError) as err:
        s3.list_parts(Bucket=name, Key="k", UploadId=upload_id)
    assert code(err) == (404, "NoSuchUpload")


def test_get_and_head_object_by_part_number(aws: AwsServer) -> None:
    """``PartNumber`` reads one part of an object uploaded in parts: 206 with its
    Content-Range and the parts count (``x-amz-mp-parts-count``); past the last part 416
    InvalidPartNumber; with a Range, 400 InvalidRequest."""
    s3 = aws.client("s3", s3={"addressing_style": "path"})
    name = bucket(s3, "mpu-part-number")
    first, last = os.urandom(5 * MIB), b"the last part"
    upload_id = s3.create_multipart_upload(Bucket=name, Key="k")["UploadId"]
    listed = [
        {
            "PartNumber": n,
            "ETag": s3.upload_part(
                Bucket=name, Key="k", UploadId=upload_id, PartNumber=n, Body=body
            )["ETag"],
        }
        for n, body in ((1, first), (2, last))
    ]
    done = s3.complete_multipart_upload(
        Bucket=name, Key="k", UploadId=upload_id, MultipartUpload={"Parts": listed}
    )
    got = s3.get_object(Bucket=name, Key="k", PartNumber=2)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == last
    total = len(first) + len(last)
    assert got["ContentRange"] == f"bytes {len(first)}-{total - 1}/{total}"
    assert (got["PartsCount"], got["ContentLength"], got["ETag"]) == (2, len(last), done["ETag"])
    head = s3.head_object(Bucket=name, Key="k", PartNumber=1)
    assert (head["PartsCount"], head["ContentLength"]) == (2, len(first))
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 206  # a part is partial content
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=name, Key="k", PartNumber=3)
    assert code(err) == (416, "InvalidPartNumber")
    assert err.value.response["Error"]["Message"] == "The requested partnumber is not satisfiable"
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket=name, Key="k", PartNumber=1, Range="bytes=0-1")
    assert code(err) == (400, "InvalidRequest")


def test_complete_retried_after_success(aws: AwsServer) -> None:
    """A client that lost CompleteMultipartUpload's response and sends it again gets the same
    answer (200, same ETag, Location, Bucket, Key), not NoSuchUpload."""
    s3 = aws.client("s3", s3={"addressing_style": "path"})
    name = bucket(s3, "mpu-complete-retry")
    upload_id = s3.create_multipart_upload(Bucket=name, Key="k")["UploadId"]
    etag = s3.upload_part(Bucket=name, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")["ETag"]
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    fields = ("ETag", "Location", "Bucket", "Key")
    first = s3.complete_multipart_upload(
        Bucket=name, Key="k", UploadId=upload_id, MultipartUpload=parts
    )
    again = s3.complete_multipart_upload(
        Bucket=name, Key="k", UploadId=upload_id, MultipartUpload=parts
    )
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [again[f] for f in fields] == [first[f] for f in fields]
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"x"
    with pytest.raises(ClientError) as err:
        s3.abort_multipart_upload(Bucket=name, Key="k", UploadId=upload_id)
    assert code(err) == (404, "NoSuchUpload")
