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
``tests/wire/test_sigv2.py``); ``sigv2_parse`` reads the claim, ``sigv2_canonical`` builds the
StringToSign and the signature, this module checks the clock and the signature:

* **Date line**: the ``Date`` header; empty when ``x-amz-date`` is sent (which then dates the
  request); the ``Expires`` parameter (absolute epoch seconds) for a presigned URL.
* **Content lines**: the ``Content-MD5``/``Content-Type`` headers; for a presigned URL, when the
  header is absent, the ``content-md5``/``content-type`` parameter botocore moved into the URL.
* **Amz headers**: every ``x-amz-*`` header (and, presigned, every ``x-amz-*`` parameter, which
  is where botocore puts ``x-amz-security-token`` and friends), names lower-cased and sorted, values
  trimmed and repeated values joined with ``,``. Nothing is excluded: an ``x-amz-copy-source`` added
  to a presigned PUT breaks its signature.
* **Resource**: ``/<bucket>`` (from the Host, when virtual-hosted) + the path exactly as sent, then
  ``?`` and the ``sigv2_canonical.SUBRESOURCES`` present in the query, sorted by name, values
  percent-decoded. A path-style bare bucket (``/bkt``) is also tried as ``/bkt/``: botocore
  signs bucket operations with the trailing slash (its ``authPath``) whatever the URL. Other
  query parameters (``prefix``, ``list-type``, ``x-id``…) are not signed, in SigV2 as on AWS.
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

import hmac
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from podwarden.wire import sigv4_canonical as canon
from podwarden.wire.sigv2_canonical import signature, strings_to_sign
from podwarden.wire.sigv2_parse import (
    HEADER_PREFIX,
    QUERY_MARKERS,
    Claim,
    authorization_header,
    read_claim,
)
from podwarden.wire.sigv4 import Credential, IncomingRequest, Verified
from podwarden.wire.sigv4_errors import AuthFailure, FailureKind

__all__ = ["MAX_SKEW", "is_sigv2", "verify_v2"]

MAX_SKEW = timedelta(minutes=15)


def is_sigv2(
    query_string: str,
    headers: Sequence[tuple[str, str]],
    grouped: Mapping[str, Sequence[str]] | None = None,
) -> bool:
    """Whether the request claims an S3 SigV2 signature (``Authorization: AWS key:sig``, or an
    ``AWSAccessKeyId``/``Signature`` query parameter), alone or mixed with a SigV4 one.
    ``grouped``: the headers already grouped by name (``IncomingRequest.grouped``), if read."""
    by_name = canon.group_headers(headers) if grouped is None else grouped
    if authorization_header(by_name).startswith(HEADER_PREFIX):
        return True
    return bool(query_string) and any(
        key in QUERY_MARKERS for key, _ in canon.query_params(query_string)
    )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_time(claim: Claim, now: datetime) -> None:
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
    headers = request.grouped
    params = canon.query_params(request.query_string)
    claim = read_claim(params, headers)
    _check_time(claim, now)
    credential = lookup(claim.access_key)
    if credential is None:
        raise AuthFailure(
            FailureKind.UNKNOWN_ACCESS_KEY,
            "The AWS Access Key Id you provided does not exist in our records.",
            fields={"AWSAccessKeyId": claim.access_key},
        )
    candidates = strings_to_sign(
        request,
        headers,
        params,
        presigned=claim.presigned,
        date_line=claim.date_line,
        bucket_host=bucket_host,
    )
    provided = claim.signature.encode("utf-8", "replace")
    if not any(
        hmac.compare_digest(signature(credential.secret_access_key, c).encode(), provided)
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
