"""S3 SigV2 verification, with botocore's ``HmacV1Auth``/``HmacV1QueryAuth`` and a real boto3
client (``signature_version="s3"``) as the oracle, and the worked example of S3's SigV2 guide.

Requests are signed at a frozen instant and handed to :func:`verify_v2` the way an ASGI server sees
them: the path and query exactly as they would go on the wire, raw header pairs, the body bytes.
Real clients' requests are caught at botocore's ``before-send`` (nothing goes on the network).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, urlsplit

import boto3  # type: ignore[import-untyped]
import botocore.auth  # type: ignore[import-untyped]
import pytest
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from podwarden.wire import sigv4_canonical as canon
from podwarden.wire.dispatch import virtual_host_bucket
from podwarden.wire.sigv2 import MAX_SKEW, is_sigv2, verify_v2
from podwarden.wire.sigv2_canonical import SUBRESOURCES, string_to_sign
from podwarden.wire.sigv4 import (
    AuthFailure,
    Credential,
    FailureKind,
    IncomingRequest,
    ProtocolFamily,
    Verified,
)
from tests.wire.verifying_server import VerifyingServer, running

ACCESS_KEY = "AKIAPODWARDENTEST01"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
ALICE = Credential(ACCESS_KEY, SECRET, "123456789012", "arn:aws:iam::123456789012:user/alice")
SIGNED_AT = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)
EXPIRES = SIGNED_AT + timedelta(seconds=3600)  # HmacV1QueryAuth's default lifetime
ODD_KEY = "dir/a b+c=d~e ü✓/it's (1)*!.txt"
ENDPOINT = "http://localhost:4566"
REGION = "us-west-2"


def lookup(access_key_id: str) -> Credential | None:
    return ALICE if access_key_id == ACCESS_KEY else None


@pytest.fixture(autouse=True)
def frozen_botocore_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """HmacV1Auth dates with ``formatdate``, HmacV1QueryAuth expires from ``time.time()``."""
    monkeypatch.setattr(
        botocore.auth, "formatdate", lambda *_a, **_k: format_datetime(SIGNED_AT, usegmt=True)
    )
    monkeypatch.setattr(botocore.auth, "time", SimpleNamespace(time=SIGNED_AT.timestamp))


def received(method: str, url: str, headers: Any, body: bytes = b"") -> IncomingRequest:
    """The request as a server receives it (``Host`` from the URL, as an HTTP client sends it)."""
    parts = urlsplit(url)
    pairs = [
        (str(k), v.decode("latin-1") if isinstance(v, bytes) else str(v))
        for k, v in headers.items()
    ]
    if not any(name.lower() == "host" for name, _ in pairs):
        pairs.append(("Host", parts.netloc))
    if not any(name.lower() == "content-length" for name, _ in pairs):
        pairs.append(("Content-Length", str(len(body))))
    return IncomingRequest(method, parts.path, parts.query, pairs, body)


def sign(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    auth_path: str | None = None,
    presign: bool = False,
    token: str | None = None,
) -> IncomingRequest:
    """Sign with botocore's HmacV1Auth (header) or HmacV1QueryAuth (presigned URL)."""
    request = AWSRequest(
        method=method, url=url, headers=dict(headers or {}), data=body, auth_path=auth_path
    )
    credentials = Credentials(ACCESS_KEY, SECRET, token)
    signer = botocore.auth.HmacV1QueryAuth if presign else botocore.auth.HmacV1Auth
    signer(credentials).add_auth(request)
    prepared = request.prepare()
    if presign:  # the URL is all a presigned request carries (botocore leaves Date & co. behind)
        return received(method, prepared.url, {}, body)
    return received(method, prepared.url, prepared.headers, body)


def host_bucket(request: IncomingRequest) -> str | None:
    host = next(value for name, value in request.headers if name.lower() == "host")
    return virtual_host_bucket(host)


def check(request: IncomingRequest, now: datetime = SIGNED_AT) -> Verified:
    return verify_v2(request, lookup, now, bucket_host=host_bucket(request), region=REGION)


def failure(request: IncomingRequest, now: datetime = SIGNED_AT) -> AuthFailure:
    with pytest.raises(AuthFailure) as caught:
        check(request, now)
    return caught.value


def s3_code(error: AuthFailure) -> tuple[str, int, str]:
    wire = error.wire(ProtocolFamily.S3)
    return wire.code, wire.status, wire.message


def with_header(request: IncomingRequest, name: str, value: str | None) -> IncomingRequest:
    kept = [(k, v) for k, v in request.headers if k.lower() != name.lower()]
    return replace(request, headers=kept if value is None else [*kept, (name, value)])


ODD_PATH = "/bkt/" + quote(ODD_KEY, safe="/~")


# -- AWS's own worked example -------------------------------------------------------------------


def test_the_s3_guides_worked_example() -> None:
    """GET /photos/puppy.jpg on awsexamplebucket1, from S3's SigV2 guide, with its signature."""
    doc_key = Credential(
        "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "1", "a"
    )
    request = IncomingRequest(
        "GET",
        "/photos/puppy.jpg",
        "",
        [
            ("Host", "awsexamplebucket1.us-west-1.s3.amazonaws.com"),
            ("Date", "Tue, 27 Mar 2007 19:36:42 +0000"),
            ("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:qgk2+6Sv9/oM7G3qLEjTH1a1l1g="),
        ],
        b"",
    )
    now = datetime(2007, 3, 27, 19, 40, tzinfo=UTC)
    verified = verify_v2(
        request, lambda _k: doc_key, now, bucket_host="awsexamplebucket1", region="us-west-1"
    )
    assert (verified.credential, verified.region) == (doc_key, "us-west-1")


# -- accepted: botocore's signers ---------------------------------------------------------------


def test_header_get_odd_key_path_style() -> None:
    verified = check(sign("GET", ENDPOINT + ODD_PATH))
    assert verified == Verified(
        credential=ALICE,
        service="s3",
        region=REGION,
        signed_at=SIGNED_AT,
        payload_hash=canon.UNSIGNED_PAYLOAD,
    )


def test_header_put_with_content_headers_and_amz_headers() -> None:
    body = b"hello, world"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    request = sign(
        "PUT",
        ENDPOINT + ODD_PATH,
        headers={
            "Content-Type": "text/plain; charset=utf-8",
            "Content-MD5": md5,
            "x-amz-meta-Note": "  two  spaces  ",
            "X-Amz-ACL": "private",
        },
        body=body,
    )
    assert check(request).service == "s3"
    assert failure(with_header(request, "Content-MD5", None)).kind is FailureKind.SIGNATURE_MISMATCH


def test_header_virtual_host_style_signs_the_bucket_in_the_resource() -> None:
    request = sign("GET", "http://bkt.localhost:4566/k%20ey", auth_path="/bkt/k%20ey")
    assert host_bucket(request) == "bkt"
    assert check(request).service == "s3"
    moved = with_header(request, "Host", "other.localhost:4566")
    assert failure(moved).kind is FailureKind.SIGNATURE_MISMATCH


@pytest.mark.parametrize(
    ("method", "query"),
    [
        ("PUT", "partNumber=2&uploadId=abc%2Fdef"),
        ("POST", "uploads"),
        ("POST", "delete"),
        ("GET", "acl"),
        ("GET", "versionId=3%2B4&response-content-type=text%2Fplain"),
        ("GET", "list-type=2&prefix=a%20b&max-keys=5"),  # nothing signed in the resource
    ],
)
def test_header_sub_resources(method: str, query: str) -> None:
    assert check(sign(method, f"{ENDPOINT}/bkt/key?{query}")).service == "s3"


def test_x_amz_date_wins_and_empties_the_date_line() -> None:
    """S3's rule (the guide's "Time stamp requirement"): with x-amz-date, the Date line is empty;
    botocore's HmacV1Auth never sends x-amz-date, so its ``sign_string`` signs the expected text."""
    amz_date = format_datetime(SIGNED_AT, usegmt=True)
    to_sign = string_to_sign("DELETE", "/bkt/key", amz=f"x-amz-date:{amz_date}\n")
    signature = botocore.auth.HmacV1Auth(Credentials(ACCESS_KEY, SECRET)).sign_string(to_sign)
    request = IncomingRequest(
        "DELETE",
        "/bkt/key",
        "",
        [
            ("Host", "localhost:4566"),
            ("Date", "Thu, 01 Jan 2015 00:00:00 GMT"),  # ignored: neither signed nor checked
            ("x-amz-date", amz_date),
            ("Authorization", f"AWS {ACCESS_KEY}:{signature}"),
        ],
        b"",
    )
    assert check(request).signed_at == SIGNED_AT


def test_header_session_token_is_reported() -> None:
    verified = check(sign("GET", ENDPOINT + "/bkt/k", token="session-token/1"))
    assert verified.session_token == "session-token/1"


def test_presigned_get_within_its_expiry() -> None:
    request = sign("GET", ENDPOINT + ODD_PATH, presign=True)
    assert "AWSAccessKeyId=" in request.query_string and "Expires=" in request.query_string
    verified = check(request, EXPIRES)  # the last second it is valid
    assert (verified.presigned, verified.signed_at, verified.service) == (True, EXPIRES, "s3")


def test_presigned_with_token_reports_it() -> None:
    request = sign("GET", ENDPOINT + "/bkt/k", presign=True, token="tok+en/=")
    assert "x-amz-security-token=" in request.query_string
    assert check(request).session_token == "tok+en/="


# -- accepted: a real boto3 client ---------------------------------------------------------------


def _boto3(style: str, token: str | None = None) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET,
        aws_session_token=token,
        config=Config(
            signature_version="s3", s3={"addressing_style": style}, retries={"max_attempts": 1}
        ),
    )


def _presigned(url: str, method: str = "GET", **headers: str) -> IncomingRequest:
    return received(method, url, headers)


@pytest.mark.parametrize("style", ["path", "virtual"])
def test_boto3_presigned_get_with_overrides(style: str) -> None:
    params = {
        "Bucket": "bkt",
        "Key": ODD_KEY,
        "VersionId": "v1+2",
        "ResponseContentDisposition": 'attachment; filename="ü y+z.txt"',
        "ResponseContentType": "text/plain",
    }
    url = _boto3(style).generate_presigned_url("get_object", Params=params)
    assert "Signature=" in url and "X-Amz-Signature" not in url
    request = _presigned(url)
    assert is_sigv2(request.query_string, request.headers)
    assert check(request).presigned
    tampered = request.query_string.replace("filename%3D%22", "filename%3D%22evil")
    assert failure(replace(request, query_string=tampered)).kind is FailureKind.SIGNATURE_MISMATCH


@pytest.mark.parametrize("style", ["path", "virtual"])
def test_boto3_presigned_bucket_listing(style: str) -> None:
    """botocore signs a bucket as ``/bkt/`` whatever the URL (path style sends ``/bkt``)."""
    url = _boto3(style).generate_presigned_url("list_objects", Params={"Bucket": "bkt"})
    request = _presigned(url)
    assert request.raw_path == ("/bkt" if style == "path" else "/")
    assert check(request).service == "s3"


@pytest.mark.parametrize("style", ["path", "virtual"])
def test_boto3_presigned_put_with_content_type_and_acl(style: str) -> None:
    params = {"Bucket": "bkt", "Key": "a+b c", "ContentType": "text/csv", "ACL": "private"}
    url = _boto3(style, token="tok").generate_presigned_url("put_object", Params=params)
    request = _presigned(url, "PUT", **{"Content-Type": "text/csv"})
    verified = check(request)
    assert (verified.session_token, verified.payload_hash) == ("tok", canon.UNSIGNED_PAYLOAD)
    assert check(with_header(request, "Content-Type", None)).presigned  # the URL's content-type
    wrong_type = with_header(request, "Content-Type", "text/html")
    assert failure(wrong_type).kind is FailureKind.SIGNATURE_MISMATCH
    copy = with_header(request, "x-amz-copy-source", "/secrets/key")
    assert failure(copy).kind is FailureKind.SIGNATURE_MISMATCH


class _Caught(Exception):
    """Raised at ``before-send``: the request was signed and caught, nothing was sent."""


def _client_with_capture(style: str, caught: list[IncomingRequest], token: str | None) -> Any:
    client = _boto3(style, token)

    def capture(request: Any, **_kwargs: Any) -> None:
        body = request.body.read() if hasattr(request.body, "read") else request.body
        body = body.encode() if isinstance(body, str) else body
        caught.append(received(request.method, request.url, request.headers, body or b""))
        raise _Caught

    client.meta.events.register("before-send.s3", capture)
    return client


@pytest.mark.parametrize("style", ["path", "virtual"])
def test_boto3_header_signed_calls(style: str) -> None:
    caught: list[IncomingRequest] = []
    s3 = _client_with_capture(style, caught, token="session/tok")
    calls: list[tuple[str, dict[str, Any]]] = [
        ("put_object", {"Key": ODD_KEY, "Body": b"hi", "ContentType": "text/plain"}),
        ("head_bucket", {}),
        ("list_objects_v2", {"Prefix": "a b/", "MaxKeys": 3}),
        ("create_multipart_upload", {"Key": ODD_KEY}),
        ("upload_part", {"Key": "k", "UploadId": "u/1", "PartNumber": 1, "Body": b"x"}),
        ("delete_objects", {"Delete": {"Objects": [{"Key": "a"}]}}),
        ("copy_object", {"Key": "b", "CopySource": {"Bucket": "src", "Key": "a b"}}),
    ]
    for operation, params in calls:
        with pytest.raises(_Caught):
            getattr(s3, operation)(Bucket="bkt", **params)
    assert len(caught) == len(calls)
    for request in caught:
        authorization = {k.lower(): v for k, v in request.headers}["authorization"]
        assert authorization.startswith(f"AWS {ACCESS_KEY}:")
        verified = check(request)
        assert (verified.service, verified.session_token) == ("s3", "session/tok")
        assert failure(replace(request, method="PATCH")).kind is FailureKind.SIGNATURE_MISMATCH


# -- refused ------------------------------------------------------------------------------------


def test_tampered_path() -> None:
    request = sign("GET", ENDPOINT + "/bkt/key")
    error = failure(replace(request, raw_path="/bkt/other"))
    assert s3_code(error)[:2] == ("SignatureDoesNotMatch", 403)
    assert error.fields["StringToSign"].endswith("\n/bkt/other")
    assert error.fields["StringToSignBytes"] == error.fields["StringToSign"].encode().hex(" ")
    signature = dict(request.headers)["Authorization"].partition(":")[2]
    assert error.fields["SignatureProvided"] == signature
    assert error.fields["AWSAccessKeyId"] == ACCESS_KEY


def test_tampered_sub_resource_query() -> None:
    request = sign("PUT", ENDPOINT + "/bkt/key?partNumber=1&uploadId=u")
    for query in ("partNumber=2&uploadId=u", "partNumber=1&uploadId=u&acl", "uploadId=u"):
        error = failure(replace(request, query_string=query))
        assert error.kind is FailureKind.SIGNATURE_MISMATCH
    # a percent-encoded sub-resource name is still a sub-resource
    error = failure(replace(request, query_string=request.query_string + "&%61cl"))
    assert error.kind is FailureKind.SIGNATURE_MISMATCH


def test_tampered_method() -> None:
    request = sign("GET", ENDPOINT + "/bkt/key", presign=True)
    assert failure(replace(request, method="DELETE")).kind is FailureKind.SIGNATURE_MISMATCH


def test_tampered_header() -> None:
    request = sign("PUT", ENDPOINT + "/bkt/key", headers={"x-amz-meta-a": "1"}, body=b"x")
    for name, value in (("x-amz-meta-a", "2"), ("x-amz-meta-b", "1"), ("Content-Type", "a/b")):
        assert failure(with_header(request, name, value)).kind is FailureKind.SIGNATURE_MISMATCH


def test_tampered_presigned_expiry() -> None:
    request = sign("GET", ENDPOINT + "/bkt/key", presign=True)
    later = str(int(EXPIRES.timestamp()) + 86400)
    query = request.query_string.replace(f"Expires={int(EXPIRES.timestamp())}", f"Expires={later}")
    assert query != request.query_string
    assert failure(replace(request, query_string=query)).kind is FailureKind.SIGNATURE_MISMATCH


def test_unknown_access_key() -> None:
    request = sign("GET", ENDPOINT + "/bkt/key")
    error = verify_v2_with(request, lambda _key: None)
    assert s3_code(error) == (
        "InvalidAccessKeyId",
        403,
        "The AWS Access Key Id you provided does not exist in our records.",
    )
    assert error.fields == {"AWSAccessKeyId": ACCESS_KEY}


def verify_v2_with(request: IncomingRequest, lookup_fn: Any) -> AuthFailure:
    with pytest.raises(AuthFailure) as caught:
        verify_v2(request, lookup_fn, SIGNED_AT, bucket_host=None, region=REGION)
    return caught.value


def test_wrong_secret() -> None:
    request = sign("GET", ENDPOINT + "/bkt/key?acl")
    other = Credential(ACCESS_KEY, "not-the-secret", "123456789012", "arn:aws:iam::1:user/x")
    error = verify_v2_with(request, lambda _key: other)
    code, status, message = s3_code(error)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert message.startswith("The request signature we calculated does not match")
    date = format_datetime(SIGNED_AT, usegmt=True)
    assert error.fields["StringToSign"] == f"GET\n\n\n{date}\n/bkt/key?acl"


def test_presigned_expired() -> None:
    request = sign("GET", ENDPOINT + "/bkt/key", presign=True)
    error = failure(request, EXPIRES + timedelta(seconds=1))
    assert s3_code(error) == ("AccessDenied", 403, "Request has expired")
    assert error.fields == {"Expires": "2026-03-14T16:09:26Z", "ServerTime": "2026-03-14T16:09:27Z"}


@pytest.mark.parametrize(
    "shift", [MAX_SKEW + timedelta(seconds=1), -MAX_SKEW - timedelta(seconds=1)]
)
def test_header_clock_skew(shift: timedelta) -> None:
    request = sign("GET", ENDPOINT + "/bkt/key")
    assert check(request, SIGNED_AT + MAX_SKEW).service == "s3"
    assert check(request, SIGNED_AT - MAX_SKEW).service == "s3"
    error = failure(request, SIGNED_AT + shift)
    assert s3_code(error)[:2] == ("RequestTimeTooSkewed", 403)
    assert error.fields["RequestTime"] == format_datetime(SIGNED_AT, usegmt=True)
    assert error.fields["MaxAllowedSkewMilliseconds"] == "900000"


def test_missing_or_bad_date() -> None:
    request = sign("GET", ENDPOINT + "/bkt/key")
    for value in (None, "yesterday"):
        error = failure(with_header(request, "Date", value))
        assert s3_code(error) == (
            "AccessDenied",
            403,
            "AWS authentication requires a valid Date or x-amz-date header",
        )


@pytest.mark.parametrize("value", ["AWS nocolon", "AWS :sig", "AWS key:", "AWS a b:c"])
def test_malformed_authorization_header(value: str) -> None:
    request = with_header(sign("GET", ENDPOINT + "/bkt/key"), "Authorization", value)
    code, status, _ = s3_code(failure(request))
    assert (code, status) == ("InvalidArgument", 400)


def test_no_sigv2_claim_is_missing_auth() -> None:
    header = sign("GET", ENDPOINT + "/bkt/key")
    for value in (None, "AWS", "AWS4-HMAC-SHA256 Credential=a/b/c/s3/aws4_request"):
        request = with_header(header, "Authorization", value)
        assert not is_sigv2(request.query_string, request.headers)
        assert s3_code(failure(request)) == ("AccessDenied", 403, "Access Denied")


def test_sub_resources_are_botocores() -> None:
    assert frozenset(botocore.auth.HmacV1Auth.QSAOfInterest) == SUBRESOURCES


def test_presigned_parameters() -> None:
    request = sign("GET", ENDPOINT + "/bkt/key", presign=True)
    pairs = request.query_string.split("&")
    for name in ("AWSAccessKeyId", "Signature", "Expires"):
        query = "&".join(p for p in pairs if not p.startswith(name + "="))
        error = failure(replace(request, query_string=query))
        assert s3_code(error) == (
            "AccessDenied",
            403,
            "Query-string authentication requires the Signature, Expires and AWSAccessKeyId"
            " parameters",
        )
    for bad in ("soon", "1e9", "9" * 30):
        query = "&".join(p if not p.startswith("Expires=") else f"Expires={bad}" for p in pairs)
        code, status, message = s3_code(failure(replace(request, query_string=query)))
        assert (code, status, message) == (
            "AccessDenied",
            403,
            f"Invalid date (should be seconds since epoch): {bad}",
        )


def test_far_expiries_do_not_crash() -> None:
    request = sign("GET", ENDPOINT + "/bkt/key", presign=True)
    stamp = f"Expires={int(EXPIRES.timestamp())}"
    for value, kind in (
        ("999999999999999999", FailureKind.SIGNATURE_MISMATCH),
        ("-999999999999999999", FailureKind.PRESIGN_EXPIRED),
    ):
        query = request.query_string.replace(stamp, f"Expires={value}")
        assert failure(replace(request, query_string=query)).kind is kind


def test_two_mechanisms_at_once() -> None:
    presigned = sign("GET", ENDPOINT + "/bkt/key", presign=True)
    header = sign("GET", ENDPOINT + "/bkt/key")
    both = with_header(presigned, "Authorization", dict(header.headers)["Authorization"])
    sigv4_too = replace(header, query_string="X-Amz-Algorithm=AWS4-HMAC-SHA256")
    for request in (both, sigv4_too):
        assert is_sigv2(request.query_string, request.headers)
        code, status, message = s3_code(failure(request))
        assert (code, status) == ("InvalidArgument", 400)
        assert message.startswith("Only one auth mechanism allowed")


def test_signature_with_plus_sent_unencoded_still_verifies() -> None:
    request = sign("GET", ENDPOINT + "/bkt/key", presign=True)
    unencoded = request.query_string.replace("%2B", "+").replace("%2F", "/").replace("%3D", "=")
    assert check(replace(request, query_string=unencoded)).presigned


def test_is_sigv2() -> None:
    header = sign("GET", ENDPOINT + "/bkt/key")
    presigned = sign("GET", ENDPOINT + "/bkt/key", presign=True)
    assert is_sigv2(header.query_string, header.headers)
    assert is_sigv2(presigned.query_string, presigned.headers)
    assert not is_sigv2(
        "", [("Authorization", "AWS4-HMAC-SHA256 Credential=a/b/c/s3/aws4_request")]
    )
    assert not is_sigv2("X-Amz-Signature=abc&X-Amz-Credential=x", [])
    assert not is_sigv2("prefix=a", [("Authorization", "Bearer x")])
    assert not is_sigv2("", [])


def test_the_result_always_names_s3() -> None:
    """A SigV2 signature names no service: the caller must only use it for S3 (issue #17)."""
    request = sign(
        "POST",
        ENDPOINT + "/",
        headers={"X-Amz-Target": "SageMaker.DeleteCluster", "Content-Type": "application/json"},
        body=b'{"ClusterName": "c"}',
    )
    verified = check(request)
    assert (verified.service, verified.payload_hash) == ("s3", canon.UNSIGNED_PAYLOAD)


def test_signature_is_hmac_sha1_base64() -> None:
    to_sign = string_to_sign("GET", "/", date_line="0")
    expected = base64.b64encode(hmac.new(SECRET.encode(), to_sign.encode(), "sha1").digest())
    assert botocore.auth.HmacV1Auth(Credentials(ACCESS_KEY, SECRET)).sign_string(to_sign) == (
        expected.decode()
    )


# -- end to end: a real boto3 client and urllib against a stdlib HTTP server ---------------------


@pytest.fixture
def server() -> Iterator[VerifyingServer]:
    with running(check) as verifying:
        yield verifying


def _live_client(server: VerifyingServer, secret: str = SECRET) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=secret,
        config=Config(
            signature_version="s3", s3={"addressing_style": "path"}, retries={"max_attempts": 1}
        ),
    )


def test_boto3_and_urllib_end_to_end(server: VerifyingServer) -> None:
    s3 = _live_client(server)
    s3.put_object(Bucket="bkt", Key=ODD_KEY, Body=b"hello", ContentType="text/plain")
    s3.head_bucket(Bucket="bkt")
    s3.delete_object(Bucket="bkt", Key=ODD_KEY)
    assert [(v.service, v.presigned) for v in server.seen] == [("s3", False)] * 3
    params = {"Bucket": "bkt", "Key": ODD_KEY, "ResponseContentDisposition": "inline; x=ü"}
    url = s3.generate_presigned_url("get_object", Params=params)
    with urllib.request.urlopen(url, timeout=10) as reply:
        assert reply.status == 200
    assert server.seen[-1].presigned
    expired = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=-1)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(expired, timeout=10)
    assert refused.value.code == 403
    assert b"<Message>Request has expired</Message>" in refused.value.read()
    wrong = _live_client(server, secret="not-the-secret")
    with pytest.raises(ClientError) as caught:
        wrong.put_object(Bucket="bkt", Key=ODD_KEY, Body=b"x")
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
