"""Server-side verification of AWS Signature Version 4 (header and presigned-query forms).

Pure and framework-independent: the API layer turns its HTTP request into an
:class:`IncomingRequest` (method, the path and query *as sent on the wire*, raw headers, body) and
calls :func:`verify` with a credential lookup and the current time; it gets a :class:`Verified`
(who signed, for which signing name and region, when) or an :class:`AuthFailure`. The canonical
request is rebuilt with :mod:`podwarden.wire.sigv4_canonical` (``hashlib``/``hmac`` only; botocore
is the oracle in the tests, never used here). Signing keys are cached per (secret, date, region,
service) and signatures are compared in constant time.

Rules worth knowing (all checked against botocore in ``tests/wire/test_sigv4.py``):

* ``X-Amz-Date`` wins over ``Date``; ``host`` must be a signed header; scope date, terminator and,
  when the caller passes them, service and region must match (Coral reports all scope problems in
  one message).
* Payload hash line: the ``x-amz-content-sha256`` header's value whenever it is present (botocore
  does this for every service), else the SHA-256 of the body; S3 header auth requires the header,
  S3 presigned URLs use ``UNSIGNED-PAYLOAD``. ``UNSIGNED-PAYLOAD`` is accepted (and S3's
  ``STREAMING-UNSIGNED-PAYLOAD-TRAILER``, whose aws-chunked body the S3 layer decodes); a hex value
  must equal the body's hash, checked after the signature as S3 does. Signed chunk streaming
  (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``) is refused as not implemented. ``UNSIGNED-PAYLOAD`` is
  S3's alone: for any other service the body is always part of what was signed, so a signature
  can never authorize a body it did not see.
* Binding: the caller names the signing name and region(s) the request is *for* (its operation's
  service, not what the claim says), and the headers that route it (``X-Amz-Target``); a
  signature for another service or region, or that leaves the routing header out, is refused
  before the secret is looked up.
* Clock window: ``max_skew`` or the service default (15 min for s3, sts, iam, ec2; 5 min else).
  Presigned S3 URLs live ``X-Amz-Expires`` seconds (at most 604800); other presigned requests (STS
  ``GetCallerIdentity`` for EKS tokens) live 15 minutes from ``X-Amz-Date`` whatever their
  ``X-Amz-Expires``, which is what STS does.
* A session token (``X-Amz-Security-Token``) is reported in :class:`Verified` when the signature
  covers it; checking it against the key is the caller's business for now.

Reading the claim (the ``Authorization`` header or the presigned query) is
:mod:`podwarden.wire.sigv4_parse`; the error taxonomy, and which AWS wording is confirmed, is
:mod:`podwarden.wire.sigv4_errors`. The names this module always exported stay importable from it
(``__all__``).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from podwarden.wire import sigv4_canonical as canon
from podwarden.wire.sigv4_errors import (
    BAD_KEY_TEXT,
    ERROR_TABLE,
    S3_MALFORMED,
    SIGNATURE_MISMATCH,
    AuthFailure,
    ErrorSpec,
    FailureKind,
    ProtocolFamily,
    WireError,
)
from podwarden.wire.sigv4_parse import MAX_PRESIGN_EXPIRES, Claim, read_claim

__all__ = [
    "DEFAULT_MAX_SKEW",
    "ERROR_TABLE",
    "MAX_PRESIGN_EXPIRES",
    "MAX_SKEW_BY_SERVICE",
    "PRESIGNED_LIFETIME",
    "SIGNATURE_MISMATCH",
    "AuthFailure",
    "Credential",
    "ErrorSpec",
    "FailureKind",
    "IncomingRequest",
    "ProtocolFamily",
    "Verified",
    "WireError",
    "verify",
]


@dataclass(frozen=True)
class Credential:
    """An access key pair and the identity it stands for (what GetCallerIdentity reports)."""

    access_key_id: str
    secret_access_key: str
    account_id: str
    principal_arn: str


@dataclass(frozen=True)
class IncomingRequest:
    """An HTTP request as received: path and query undecoded, headers raw and possibly repeated.

    ``raw_path`` excludes the query; a server that gets the path as bytes decodes it as UTF-8 with
    ``surrogateescape``. ``headers`` must include ``Host`` (HTTP/2 servers: from ``:authority``).
    """

    method: str
    raw_path: str
    query_string: str
    headers: Sequence[tuple[str, str]]
    body: bytes

    @functools.cached_property
    def grouped(self) -> dict[str, list[str]]:
        """Header values by lower-cased name, in the order received (``group_headers``): read
        once per request, by routing and by verification (read-only)."""
        return canon.group_headers(self.headers)


@dataclass(frozen=True)
class Verified:
    """A request whose signature checked out."""

    credential: Credential
    service: str
    region: str
    signed_at: datetime
    session_token: str | None = None
    presigned: bool = False
    payload_hash: str = canon.EMPTY_SHA256


DEFAULT_MAX_SKEW = timedelta(minutes=5)
MAX_SKEW_BY_SERVICE: Mapping[str, timedelta] = {
    "s3": timedelta(minutes=15),
    "sts": timedelta(minutes=15),
    "iam": timedelta(minutes=15),
    "ec2": timedelta(minutes=15),
}
PRESIGNED_LIFETIME = timedelta(minutes=15)  # non-S3 presigned requests, whatever X-Amz-Expires says

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_SIGNED_STREAMING = frozenset(
    {
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
    }
)


def verify(
    request: IncomingRequest,
    lookup: Callable[[str], Credential | None],
    now: datetime,
    *,
    max_skew: timedelta | None = None,
    service: str | None = None,
    region: str | None = None,
    regions: Collection[str] | None = None,
    signed: Sequence[str] = (),
    claim: Claim | None = None,
) -> Verified:
    """Check the request's SigV4 signature; raise :class:`AuthFailure` if it does not hold.

    ``max_skew`` defaults per signing name (:data:`MAX_SKEW_BY_SERVICE`); ``service``/``region``,
    when given, are the signing name and region the credential scope must name (``regions``: a
    set the scope's region must belong to); ``signed`` names headers the signature must cover
    (``x-amz-target`` where the protocol routes by it). ``claim`` is what
    :func:`~podwarden.wire.sigv4_parse.read_claim` read from this request's query string and
    grouped headers, when the caller has it already (it is read here otherwise).
    """
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    headers = request.grouped
    if claim is None:
        claim = read_claim(request.query_string, headers)
    if max_skew is None:
        max_skew = MAX_SKEW_BY_SERVICE.get(claim.service, DEFAULT_MAX_SKEW)
    _check_time(claim, now, max_skew)
    _check_scope(claim, service, region, regions)
    _check_signed(claim, signed)
    credential = lookup(claim.access_key)
    if credential is None:
        raise AuthFailure(
            FailureKind.UNKNOWN_ACCESS_KEY,
            BAD_KEY_TEXT + ".",
            fields={"AWSAccessKeyId": claim.access_key},
        )
    declared = _declared_payload_hash(claim, headers)
    payload_hash = declared or hashlib.sha256(request.body).hexdigest()
    _check_signature(request, headers, claim, credential, payload_hash)
    if declared is not None and _HEX64.fullmatch(declared):
        _check_body_hash(declared, request.body)
    token = claim.session_token
    if not claim.presigned and "x-amz-security-token" in claim.signed_headers:
        token = headers["x-amz-security-token"][0].strip()
    return Verified(
        credential=credential,
        service=claim.service,
        region=claim.region,
        signed_at=claim.signed_at,
        session_token=token,
        presigned=claim.presigned,
        payload_hash=payload_hash,
    )


def _check_body_hash(declared: str, body: bytes) -> None:
    computed = hashlib.sha256(body).hexdigest()
    if declared.lower() != computed:
        raise AuthFailure(
            FailureKind.CONTENT_SHA256_MISMATCH,
            SIGNATURE_MISMATCH,
            fields={"ClientComputedContentSHA256": declared, "S3ComputedContentSHA256": computed},
        )


def _basic(moment: datetime) -> str:
    return moment.strftime(canon.TIMESTAMP_FORMAT)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:g} min."


def _expired(claim: Claim, now: datetime, span: timedelta) -> str:
    return (
        f"Signature expired: {claim.timestamp} is now earlier than {_basic(now - span)}"
        f" ({_basic(now)} - {_minutes(span)})"
    )


def _not_yet(claim: Claim, now: datetime, span: timedelta) -> str:
    return (
        f"Signature not yet current: {claim.timestamp} is still later than {_basic(now + span)}"
        f" ({_basic(now)} + {_minutes(span)})"
    )


def _check_time(claim: Claim, now: datetime, window: timedelta) -> None:
    if not claim.presigned:
        if now - window <= claim.signed_at <= now + window:
            return
        late = claim.signed_at < now - window
        raise AuthFailure(
            FailureKind.SKEWED,
            _expired(claim, now, window) if late else _not_yet(claim, now, window),
            fields={
                "RequestTime": claim.timestamp,
                "ServerTime": _iso(now),
                "MaxAllowedSkewMilliseconds": str(int(window.total_seconds() * 1000)),
            },
        )
    lifetime = PRESIGNED_LIFETIME
    if claim.service == "s3" and claim.expires is not None:
        lifetime = timedelta(seconds=claim.expires)
    expires_at = claim.signed_at + lifetime
    if claim.signed_at > now + window:
        raise AuthFailure(
            FailureKind.PRESIGN_NOT_YET_VALID,
            _not_yet(claim, now, window),
            fields={
                "X-Amz-Date": claim.timestamp,
                "Expires": _iso(expires_at),
                "ServerTime": _iso(now),
            },
        )
    if now > expires_at:
        raise AuthFailure(
            FailureKind.PRESIGN_EXPIRED,
            _expired(claim, now, lifetime),
            fields={
                "X-Amz-Expires": str(claim.expires),
                "Expires": _iso(expires_at),
                "ServerTime": _iso(now),
            },
        )


def _check_signed(claim: Claim, required: Sequence[str]) -> None:
    """Headers that route the request must be signed: an unsigned ``X-Amz-Target`` would let any
    signature (a presigned URL, a bearer token) carry another operation."""
    for name in required:
        if name not in claim.signed_headers:
            raise AuthFailure(
                FailureKind.INVALID_SIGNATURE,
                f"'{_title(name)}' must be a 'SignedHeader' in the AWS Authorization.",
            )


def _title(header: str) -> str:
    return "-".join(part[:1].upper() + part[1:] for part in header.split("-"))


def _check_scope(
    claim: Claim, service: str | None, region: str | None, regions: Collection[str] | None
) -> None:
    problems = []
    s3 = None
    wrong_region = (region is not None and claim.region != region) or (
        regions is not None and claim.region not in regions
    )
    if wrong_region:
        problems.append(f"Credential should be scoped to a valid region, not '{claim.region}'. ")
        s3 = ErrorSpec(
            "AuthorizationHeaderMalformed",
            400,
            f"{S3_MALFORMED}the region '{claim.region}' is wrong; expecting"
            f" '{region or 'a valid region'}'",
        )
    if service is not None and claim.service != service:
        problems.append(f"Credential should be scoped to correct service: '{service}'. ")
    if claim.terminator != canon.TERMINATOR:
        problems.append(
            "Credential should be scoped with a valid terminator: 'aws4_request', not"
            f" '{claim.terminator}'. "
        )
    if claim.date != claim.timestamp[:8]:
        problems.append(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from"
            f" HTTP: '{claim.date}' != '{claim.timestamp[:8]}', from '{claim.timestamp}'."
        )
    if problems:
        raise AuthFailure(FailureKind.INVALID_SIGNATURE, "".join(problems), s3=s3)


def _declared_payload_hash(claim: Claim, headers: Mapping[str, Sequence[str]]) -> str | None:
    """The payload-hash line the client declared, or None to hash the body (non-S3, no header)."""
    values = headers.get("x-amz-content-sha256")
    s3 = claim.service == "s3"
    if not values:
        if s3 and not claim.presigned:
            raise AuthFailure(FailureKind.CONTENT_SHA256_MISSING, SIGNATURE_MISMATCH)
        return canon.UNSIGNED_PAYLOAD if s3 else None
    declared = values[0].strip()
    if _HEX64.fullmatch(declared) or (s3 and declared == canon.UNSIGNED_PAYLOAD):
        return declared
    if s3 and declared == canon.STREAMING_UNSIGNED_PAYLOAD_TRAILER:
        return declared
    if s3 and declared in _SIGNED_STREAMING:
        raise AuthFailure(FailureKind.UNSUPPORTED_PAYLOAD, SIGNATURE_MISMATCH)
    raise AuthFailure(FailureKind.CONTENT_SHA256_INVALID, SIGNATURE_MISMATCH)


def _check_signature(
    request: IncomingRequest,
    headers: Mapping[str, Sequence[str]],
    claim: Claim,
    credential: Credential,
    payload_hash: str,
) -> None:
    uri = canon.canonical_uri(request.raw_path, s3=claim.service == "s3")
    queries = canon.canonical_queries(
        request.query_string, exclude="X-Amz-Signature" if claim.presigned else None
    )
    header_block, missing = canon.canonical_headers(headers, claim.signed_headers)
    scope = f"{claim.date}/{claim.region}/{claim.service}/{claim.terminator}"
    key = canon.signing_key(credential.secret_access_key, claim.date, claim.region, claim.service)
    attempts = []
    for query in queries:
        canonical = canon.canonical_request(
            request.method,
            uri,
            query,
            header_block=header_block,
            signed=claim.signed_headers,
            payload_hash=payload_hash,
        )
        to_sign = canon.string_to_sign(claim.timestamp, scope, canonical)
        matched = canon.signatures_match(canon.signature(key, to_sign), claim.signature)
        if matched and not missing:
            return
        attempts.append((canonical, to_sign))
    canonical, to_sign = attempts[0]
    raise AuthFailure(
        FailureKind.SIGNATURE_MISMATCH,
        SIGNATURE_MISMATCH,
        fields={
            "AWSAccessKeyId": claim.access_key,
            "StringToSign": to_sign,
            "SignatureProvided": claim.signature,
            "StringToSignBytes": to_sign.encode().hex(" "),
            "CanonicalRequest": canonical,
            "CanonicalRequestBytes": canonical.encode("utf-8", "surrogateescape").hex(" "),
        },
    )
