"""Server-side verification of S3's Signature Version 2 (``Authorization: AWS`` and presigned URLs).

SigV2 is S3's own scheme (S3's "Signing and authenticating REST requests" guide): the signature is
``base64(HMAC-SHA1(secret, StringToSign))`` over ::

    VERB \\n Content-MD5 \\n Content-Type \\n Date-or-Expires \\n CanonicalizedAmzHeaders
    CanonicalizedResource

It names no service and no region, so a SigV2 signature authorizes an S3 request and nothing else:
:func:`verify_v2` always answers ``Verified.service == "s3"`` (with the caller's region, which SigV2
cannot carry) and ``payload_hash == UNSIGNED-PAYLOAD`` (SigV2 never signs the body; only a
``Content-MD5`` header, when sent, is signed). The caller asks :func:`is_sigv2` first, and calls
:func:`verify_v2` only for a request it routes to S3. Pure: the caller passes the clock, the key
lookup, and the bucket its Host names (virtual-hosted style) when it does.

Rules (botocore's ``HmacV1Auth``/``HmacV1QueryAuth`` are the oracle in
``tests/wire/test_sigv2.py``):

* **Date line**: the ``Date`` header; empty when ``x-amz-date`` is sent (which then dates the
  request); the ``Expires`` parameter (absolute epoch seconds) for a presigned URL.
* **Content lines**: the ``Content-MD5``/``Content-Type`` headers; for a presigned URL, when the
  header is absent, the ``content-md5``/``content-type`` parameter botocore moved into the URL.
* **Amz headers**: every ``x-amz-*`` header (and, presigned, every ``x-amz-*`` parameter, which
  is where botocore puts ``x-amz-security-token`` and friends), names lower-cased and sorted, values
  trimmed and repeated values joined with ``,``. Nothing is excluded: an ``x-amz-copy-source`` added
  to a presigned PUT breaks its signature.
* **Resource**: ``/<bucket>`` (from the Host, when virtual-hosted) + the path exactly as sent, then
  ``?`` and the :data:`SUBRESOURCES` present in the query, sorted by name, values percent-decoded.
  A path-style bare bucket (``/bkt``) is also tried as ``/bkt/``: botocore signs bucket operations
  with the trailing slash (its ``authPath``) whatever the URL. Other query parameters (``prefix``,
  ``list-type``, ``x-id``…) are not signed, in SigV2 as on AWS.
* **Clock**: header form within 15 minutes of ``now`` (``RequestTimeTooSkewed``); presigned until
  ``Expires`` (``AccessDenied`` "Request has expired"), with no one-week cap (SigV2 has none).
* Signatures are compared in constant time; a ``+`` decoded as a space in a presigned
  ``Signature`` (a client that did not percent-encode it) is read back as ``+``.

Wording. The codes, and the ``SignatureDoesNotMatch`` fields (``StringToSign``,
``SignatureProvided``, ``StringToSignBytes``), are S3's (the SigV4 table's S3 rows). The messages
"AWS authentication requires a valid Date or x-amz-date header", "Query-string authentication
requires the Signature, Expires and AWSAccessKeyId parameters", "Invalid date (should be seconds
since epoch): …" and "Request has expired" with ``Expires``/``ServerTime`` are worded as the S3
emulators that copy AWS's answers word them (LocalStack, MinIO, OpenStack Swift's s3api tests), not
checked against AWS itself; the status of the missing-date answer (403 here, 400 in MinIO) is a
guess. Best effort: the ``InvalidArgument`` text for a malformed ``Authorization: AWS`` header, and
the refusal of two mechanisms at once (the same ``InvalidArgument`` as SigV4's).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import unquote_to_bytes

from podwarden.wire import sigv4_canonical as canon
from podwarden.wire.sigv4 import Credential, IncomingRequest, Verified
from podwarden.wire.sigv4_errors import AuthFailure, ErrorSpec, FailureKind

__all__ = ["MAX_SKEW", "SUBRESOURCES", "is_sigv2", "string_to_sign", "verify_v2"]

MAX_SKEW = timedelta(minutes=15)

# The query parameters a SigV2 CanonicalizedResource includes: AWS's documented list (acl,
# lifecycle, location, logging, notification, partNumber, policy, requestPayment, uploadId,
# uploads, versionId, versioning, versions, website, delete and the response-* overrides) and the
# ones botocore's HmacV1Auth adds: exactly botocore's list, so that boto3 verifies (a test holds
# the two equal).
SUBRESOURCES: frozenset[str] = frozenset(
    {
        "accelerate",
        "acl",
        "analytics",
        "cors",
        "defaultObjectAcl",
        "delete",
        "inventory",
        "lifecycle",
        "location",
        "logging",
        "metrics",
        "notification",
        "object-lock",
        "partNumber",
        "policy",
        "replication",
        "requestPayment",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        "restore",
        "select",
        "select-type",
        "storageClass",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
    }
)

_HEADER_PREFIX = "AWS "
_QUERY_MARKERS = frozenset({"AWSAccessKeyId", "Signature"})
_SIGV4_QUERY = frozenset({"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature"})
_EPOCH = re.compile(r"-?\d{1,18}")
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")

_NO_DATE = "AWS authentication requires a valid Date or x-amz-date header"
_QUERY_REQUIRED = (
    "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"
)
_BOTH = (
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query"
    " string parameter or the Authorization header should be specified"
)


@dataclass(frozen=True)
class _Claim:
    """What a SigV2 request says about itself, before anything is checked."""

    access_key: str
    signature: str
    presigned: bool
    date_line: str  # the StringToSign's fourth line
    sent_time: str  # the Date / x-amz-date / Expires value as sent
    moment: datetime  # when it was signed (header form) or when it expires (presigned)
    session_token: str | None


def _authorization(headers: Mapping[str, Sequence[str]]) -> str:
    return (headers.get("authorization") or [""])[0].strip()


def is_sigv2(query_string: str, headers: Sequence[tuple[str, str]]) -> bool:
    """Whether the request claims an S3 SigV2 signature (``Authorization: AWS key:sig``, or an
    ``AWSAccessKeyId``/``Signature`` query parameter), alone or mixed with a SigV4 one."""
    if _authorization(canon.group_headers(headers)).startswith(_HEADER_PREFIX):
        return True
    return any(key in _QUERY_MARKERS for key, _ in canon.query_params(query_string))


def _failure(kind: FailureKind, code: str, status: int, message: str, **fields: str) -> AuthFailure:
    return AuthFailure(kind, message, fields=fields, s3=ErrorSpec(code, status, message))


def _read_claim(params: Sequence[tuple[str, str]], headers: Mapping[str, Sequence[str]]) -> _Claim:
    authorization = _authorization(headers)
    keys = {key for key, _ in params}
    in_query = bool(keys & _QUERY_MARKERS)
    if (authorization and in_query) or keys & _SIGV4_QUERY:
        raise _failure(FailureKind.INVALID_SIGNATURE, "InvalidArgument", 400, _BOTH)
    if in_query:
        return _query_claim(params, headers)
    return _header_claim(authorization, headers)


def _header_claim(authorization: str, headers: Mapping[str, Sequence[str]]) -> _Claim:
    if not authorization.startswith(_HEADER_PREFIX):  # no SigV2 claim at all
        raise AuthFailure(FailureKind.MISSING_AUTH, "Access Denied")
    credentials = authorization.removeprefix(_HEADER_PREFIX).strip()
    access_key, colon, signature = credentials.partition(":")
    if not colon or not access_key or not signature or " " in credentials:
        raise _failure(
            FailureKind.INCOMPLETE_SIGNATURE,
            "InvalidArgument",
            400,
            "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
            ArgumentName="Authorization",
            ArgumentValue=authorization,
        )
    amz_date = headers.get("x-amz-date")
    sent = (amz_date or headers.get("date") or [""])[0].strip()
    moment = _http_date(sent)
    if moment is None:
        raise _failure(FailureKind.INCOMPLETE_SIGNATURE, "AccessDenied", 403, _NO_DATE)
    token = headers.get("x-amz-security-token")
    return _Claim(
        access_key=access_key,
        signature=signature,
        presigned=False,
        date_line="" if amz_date else sent,
        sent_time=sent,
        moment=moment,
        session_token=token[0].strip() if token else None,
    )


def _http_date(value: str) -> datetime | None:
    if _AMZ_DATE.fullmatch(value):
        try:
            return datetime.strptime(value, canon.TIMESTAMP_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _query_claim(params: Sequence[tuple[str, str]], headers: Mapping[str, Sequence[str]]) -> _Claim:
    first: dict[str, str] = {}
    for key, value in params:
        first.setdefault(key, value)
    access_key, signature, expires = (
        first.get(name, "") for name in ("AWSAccessKeyId", "Signature", "Expires")
    )
    if not (access_key and signature and expires):
        raise _failure(FailureKind.INCOMPLETE_SIGNATURE, "AccessDenied", 403, _QUERY_REQUIRED)
    if not _EPOCH.fullmatch(expires):
        raise _failure(
            FailureKind.INCOMPLETE_SIGNATURE,
            "AccessDenied",
            403,
            f"Invalid date (should be seconds since epoch): {expires}",
        )
    token = first.get("x-amz-security-token") or (headers.get("x-amz-security-token") or [""])[0]
    return _Claim(
        access_key=access_key,
        signature=signature.replace(" ", "+"),
        presigned=True,
        date_line=expires,
        sent_time=expires,
        moment=_from_epoch(int(expires)),
        session_token=token.strip() or None,
    )


def _from_epoch(seconds: int) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return datetime.max.replace(tzinfo=UTC) if seconds > 0 else datetime.min.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_time(claim: _Claim, now: datetime) -> None:
    if claim.presigned:
        if now > claim.moment:
            raise AuthFailure(
                FailureKind.PRESIGN_EXPIRED,
                "Request has expired",
                fields={"Expires": _iso(claim.moment), "ServerTime": _iso(now)},
            )
        return
    if abs(claim.moment - now) > MAX_SKEW:
        raise AuthFailure(
            FailureKind.SKEWED,
            "The difference between the request time and the current time is too large.",
            fields={
                "RequestTime": claim.sent_time,
                "ServerTime": _iso(now),
                "MaxAllowedSkewMilliseconds": str(int(MAX_SKEW.total_seconds() * 1000)),
            },
        )


def _decoded(component: str) -> str:
    return unquote_to_bytes(component).decode("utf-8", "surrogateescape")


def _subresources(query_string: str) -> str:
    """``?name&name=value…`` of the signed sub-resources (values decoded, ``+`` kept), or ""."""
    found: list[tuple[str, str]] = []
    for item in query_string.split("&") if query_string else []:
        raw_key, equals, value = item.partition("=")
        key = _decoded(raw_key)
        if key in SUBRESOURCES:
            found.append((key, f"{key}={_decoded(value)}" if equals else key))
    found.sort(key=lambda pair: pair[0])  # stable: repeated names keep their order
    return "?" + "&".join(entry for _, entry in found) if found else ""


def _resources(raw_path: str, query_string: str, bucket_host: str | None) -> list[str]:
    """The CanonicalizedResource(s) to try, best first."""
    path = raw_path or "/"
    tail = _subresources(query_string)
    if bucket_host:
        return [f"/{bucket_host}{path}{tail}"]
    found = [path + tail]
    if path.count("/") == 1 and len(path) > 1:  # a bare path-style bucket, signed as "/bkt/"
        found.insert(0, f"{path}/{tail}")
    return found


def _amz_headers(
    headers: Mapping[str, Sequence[str]], params: Sequence[tuple[str, str]], *, presigned: bool
) -> str:
    values: dict[str, list[str]] = {
        name: list(found) for name, found in headers.items() if name.startswith("x-amz-")
    }
    if presigned:
        for key, value in params:
            name = key.lower()
            if name.startswith("x-amz-"):
                values.setdefault(name, []).append(value)
    return "".join(
        f"{name}:{','.join(v.strip() for v in values[name])}\n" for name in sorted(values)
    )


def _content_line(
    name: str,
    headers: Mapping[str, Sequence[str]],
    params: Sequence[tuple[str, str]],
    claim: _Claim,
) -> str:
    if name in headers:
        return ",".join(v.strip() for v in headers[name])
    if claim.presigned:
        return next((v.strip() for k, v in params if k.lower() == name), "")
    return ""


def string_to_sign(
    method: str,
    resource: str,
    *,
    content_md5: str = "",
    content_type: str = "",
    date_line: str = "",
    amz: str = "",
) -> str:
    """SigV2's StringToSign; ``amz`` is the CanonicalizedAmzHeaders block (``name:value\\n``…)."""
    return f"{method.upper()}\n{content_md5}\n{content_type}\n{date_line}\n{amz}{resource}"


def _signature(secret: str, to_sign: str) -> str:
    digest = hmac.new(
        secret.encode("utf-8"), to_sign.encode("utf-8", "surrogateescape"), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_v2(
    request: IncomingRequest,
    lookup: Callable[[str], Credential | None],
    now: datetime,
    *,
    bucket_host: str | None,
    region: str,
) -> Verified:
    """Check the request's S3 SigV2 signature; raise :class:`AuthFailure` if it does not hold.

    ``bucket_host`` is the bucket the Host header names (virtual-hosted style), None for
    path-style; ``region`` is what :class:`Verified` reports (SigV2 names none). A presigned
    URL's ``signed_at`` is ``now`` (SigV2 URLs carry only their expiry).
    """
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    headers = canon.group_headers(request.headers)
    params = canon.query_params(request.query_string)
    claim = _read_claim(params, headers)
    _check_time(claim, now)
    credential = lookup(claim.access_key)
    if credential is None:
        raise AuthFailure(
            FailureKind.UNKNOWN_ACCESS_KEY,
            "The AWS Access Key Id you provided does not exist in our records.",
            fields={"AWSAccessKeyId": claim.access_key},
        )
    lines = {
        "content_md5": _content_line("content-md5", headers, params, claim),
        "content_type": _content_line("content-type", headers, params, claim),
        "date_line": claim.date_line,
        "amz": _amz_headers(headers, params, presigned=claim.presigned),
    }
    candidates = [
        string_to_sign(request.method, resource, **lines)
        for resource in _resources(request.raw_path, request.query_string, bucket_host)
    ]
    provided = claim.signature.encode("utf-8", "replace")
    if not any(
        hmac.compare_digest(_signature(credential.secret_access_key, c).encode(), provided)
        for c in candidates
    ):
        raise AuthFailure(
            FailureKind.SIGNATURE_MISMATCH,
            "The request signature we calculated does not match the signature you provided."
            " Check your key and signing method.",
            fields={
                "AWSAccessKeyId": claim.access_key,
                "StringToSign": candidates[0],
                "SignatureProvided": claim.signature,
                "StringToSignBytes": candidates[0].encode("utf-8", "surrogateescape").hex(" "),
            },
        )
    return Verified(
        credential=credential,
        service="s3",
        region=region,
        signed_at=now if claim.presigned else claim.moment,
        session_token=claim.session_token,
        presigned=claim.presigned,
        payload_hash=canon.UNSIGNED_PAYLOAD,
    )
