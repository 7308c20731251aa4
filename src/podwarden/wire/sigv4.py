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
  (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``) is refused as not implemented.
* Clock window: ``max_skew`` or the service default (15 min for s3, sts, iam, ec2; 5 min else).
  Presigned S3 URLs live ``X-Amz-Expires`` seconds (at most 604800); other presigned requests (STS
  ``GetCallerIdentity`` for EKS tokens) live 15 minutes from ``X-Amz-Date`` whatever their
  ``X-Amz-Expires``, which is what STS does.
* A session token (``X-Amz-Security-Token``) is reported in :class:`Verified` when the signature
  covers it; checking it against the key is the caller's business for now.
* An ``Authorization`` header that is not ``AWS4-…`` counts as no authentication, as in Coral.
  SigV2 is not supported: that includes the ``AWSAccessKeyId``/``Signature``/``Expires`` URLs that
  boto3 still presigns for S3 in regions that accept SigV2 unless the client is configured with
  ``signature_version="s3v4"``.

Errors. :class:`AuthFailure` carries a :class:`FailureKind`; :data:`ERROR_TABLE` maps each kind to
the code/status/message per :class:`ProtocolFamily` (``json`` is the default and what
``AuthFailure.code``/``status``/``message`` report), and ``AuthFailure.wire(family)`` resolves it.
``fields`` carries S3's extra XML elements (``RequestTime``, ``ServerTime``, ``CanonicalRequest``,
``StringToSign``…). Confirmed wording (quoted by clients in public GitHub issues, or in AWS docs):

* ``IncompleteSignatureException`` 400 "Authorization header requires 'Credential' parameter. …
  Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.
  Authorization=<header>" and "'<token>' not a valid key=value pair (missing equal-sign) in
  Authorization header: '<header>'." (aws/chalice#828, aws-sdk-ruby#317, cloud9-sync#10;
  STS/SES answer ``IncompleteSignature`` 400, boto3#2280, amazonka#316).
* ``UnrecognizedClientException`` "The security token included in the request is invalid." 400
  for awsJson (Cognito, DynamoDB); 403 and no final period from EKS (quickstart-helm#19, pacu#410);
  STS ``InvalidClientTokenId`` 403 without the period (aws-azure-login#251).
* ``InvalidSignatureException`` 400 "The request signature we calculated does not match …
  Consult the service documentation for details." (prometheus-ecs-discovery#7); STS, EC2
  ``SignatureDoesNotMatch`` 403 (boto3#756, aws-cli#134); "Credential should be scoped to correct
  service: 'sagemaker'. " 400 from SageMaker itself (smithy4s#1568).
* Skew: "Signature expired: <t> is now earlier than <now-5m> (<now> - 5 min.)" and "Signature not
  yet current: <t> is still later than <now+5m> (<now> + 5 min.)" (serverless/enterprise#11,
  logspout-kinesis#21); STS uses 15 min and ``SignatureDoesNotMatch`` 403 (aws-cli#6676).
* ``MissingAuthenticationToken`` 403 "Request is missing Authentication Token" (STS);
  ``MissingAuthenticationTokenException`` 403 "Missing Authentication Token" (Lambda, SageMaker
  runtime, API Gateway); EC2 ``AuthFailure`` 401 "AWS was not able to validate the provided access
  credentials"; common-errors docs: ``IncompleteSignature`` 400, ``RequestExpired`` 400.
* S3: ``SignatureDoesNotMatch``, ``InvalidAccessKeyId``, ``RequestTimeTooSkewed`` (with
  ``MaxAllowedSkewMilliseconds`` 900000), ``AccessDenied`` "Request has expired" / "Request is not
  yet valid", ``AuthorizationHeaderMalformed`` (three components; Credential mal-formed),
  ``AuthorizationQueryParametersError`` "X-Amz-Expires must be less than a week …",
  ``XAmzContentSHA256Mismatch``, ``InvalidRequest`` "Missing required header for this request:
  x-amz-content-sha256" — all quoted verbatim in client issues (versitygw#1514, aws-sdk-php#1333,
  dmjio/s3-signer#16, bryanjos/aws_auth#31, grosskur/lua-resty-aws#2, avi-wish/aws4-signature-php#1,
  ngx_aws_auth#30, ex_aws#537).
* "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term,
  got '…'" (mhart/aws4#97); "Credential should be scoped to a valid region, not '…'. "
  (aws-sdk-ruby#508).

Best effort (the text or status is a recollection or a consistent guess): SageMaker's own answer to
an unsigned request — we send ``MissingAuthenticationTokenException`` "Missing Authentication Token"
with 400 (awsJson services answer 400; DynamoDB words it "Request is missing Authentication
Token"); the order of checks and the messages for unsupported algorithm, bad date format,
terminator, scope date, host-not-signed, both mechanisms and missing query parameters come from
dynalite's copy of DynamoDB's answers (architect/dynalite ``index.js``); EKS statuses other than 403
for unknown keys; EC2's codes other than ``AuthFailure`` and statuses other than 401; S3's "Request
is not yet valid" tolerance, "X-Amz-Expires must be non-negative", the wrong-region
wording, the ``InvalidArgument`` texts (bad ``x-amz-content-sha256``, both
mechanisms) and ``NotImplemented`` for signed chunk streaming.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum

from podwarden.wire import sigv4_canonical as canon


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


class ProtocolFamily(StrEnum):
    """How a protocol words authentication errors: awsJson (default), rest-json, query, ec2, S3."""

    JSON = "json"
    REST_JSON = "rest-json"
    QUERY = "query"
    EC2 = "ec2"
    S3 = "s3"

    @classmethod
    def of(cls, protocol: str, signing_name: str = "") -> ProtocolFamily:
        """The family for a botocore ``metadata.protocol`` (S3 is keyed by its signing name)."""
        if signing_name == "s3":
            return cls.S3
        return {"rest-json": cls.REST_JSON, "query": cls.QUERY, "ec2": cls.EC2}.get(
            protocol, cls.JSON
        )


class FailureKind(StrEnum):
    MISSING_AUTH = "missing_auth"
    INCOMPLETE_SIGNATURE = "incomplete_signature"
    INVALID_SIGNATURE = "invalid_signature"
    UNKNOWN_ACCESS_KEY = "unknown_access_key"
    SIGNATURE_MISMATCH = "signature_mismatch"
    SKEWED = "skewed"
    PRESIGN_EXPIRED = "presign_expired"
    PRESIGN_NOT_YET_VALID = "presign_not_yet_valid"
    CONTENT_SHA256_MISSING = "content_sha256_missing"
    CONTENT_SHA256_INVALID = "content_sha256_invalid"
    CONTENT_SHA256_MISMATCH = "content_sha256_mismatch"
    UNSUPPORTED_PAYLOAD = "unsupported_payload"


@dataclass(frozen=True)
class ErrorSpec:
    """One row of the table: ``message`` None means the failure's own (detailed) message."""

    code: str
    status: int
    message: str | None = None


@dataclass(frozen=True)
class WireError:
    code: str
    message: str
    status: int
    fields: Mapping[str, str]


SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS"
    " Secret Access Key and signing method. Consult the service documentation for details."
)
_BAD_KEY_TEXT = "The security token included in the request is invalid"
_NO_AUTH_TEXT = "Missing Authentication Token"
_S3_MALFORMED = "The authorization header is malformed; "


def _rows(
    *,
    missing: ErrorSpec,
    incomplete: ErrorSpec,
    invalid: ErrorSpec,
    unknown: ErrorSpec,
    mismatch: ErrorSpec,
    time: ErrorSpec,
) -> Mapping[FailureKind, ErrorSpec]:
    """A Coral-style family: time and content-hash failures read as signature failures."""
    k = FailureKind
    return {
        k.MISSING_AUTH: missing,
        k.INCOMPLETE_SIGNATURE: incomplete,
        k.INVALID_SIGNATURE: invalid,
        k.UNKNOWN_ACCESS_KEY: unknown,
        k.SIGNATURE_MISMATCH: mismatch,
        k.SKEWED: time,
        k.PRESIGN_EXPIRED: time,
        k.PRESIGN_NOT_YET_VALID: time,
        k.CONTENT_SHA256_MISSING: incomplete,
        k.CONTENT_SHA256_INVALID: mismatch,
        k.CONTENT_SHA256_MISMATCH: mismatch,
        k.UNSUPPORTED_PAYLOAD: mismatch,
    }


ERROR_TABLE: Mapping[ProtocolFamily, Mapping[FailureKind, ErrorSpec]] = {
    ProtocolFamily.JSON: _rows(
        missing=ErrorSpec("MissingAuthenticationTokenException", 400, _NO_AUTH_TEXT),
        incomplete=ErrorSpec("IncompleteSignatureException", 400),
        invalid=ErrorSpec("InvalidSignatureException", 400),
        unknown=ErrorSpec("UnrecognizedClientException", 400, _BAD_KEY_TEXT + "."),
        mismatch=ErrorSpec("InvalidSignatureException", 400, SIGNATURE_MISMATCH),
        time=ErrorSpec("InvalidSignatureException", 400),
    ),
    ProtocolFamily.REST_JSON: _rows(
        missing=ErrorSpec("MissingAuthenticationTokenException", 403, _NO_AUTH_TEXT),
        incomplete=ErrorSpec("IncompleteSignatureException", 403),
        invalid=ErrorSpec("InvalidSignatureException", 403),
        unknown=ErrorSpec("UnrecognizedClientException", 403, _BAD_KEY_TEXT),
        mismatch=ErrorSpec("InvalidSignatureException", 403, SIGNATURE_MISMATCH),
        time=ErrorSpec("InvalidSignatureException", 403),
    ),
    ProtocolFamily.QUERY: _rows(
        missing=ErrorSpec(
            "MissingAuthenticationToken", 403, "Request is missing Authentication Token"
        ),
        incomplete=ErrorSpec("IncompleteSignature", 400),
        invalid=ErrorSpec("SignatureDoesNotMatch", 403),
        unknown=ErrorSpec("InvalidClientTokenId", 403, _BAD_KEY_TEXT),
        mismatch=ErrorSpec("SignatureDoesNotMatch", 403, SIGNATURE_MISMATCH),
        time=ErrorSpec("SignatureDoesNotMatch", 403),
    ),
    ProtocolFamily.EC2: _rows(
        missing=ErrorSpec(
            "MissingAuthenticationToken",
            403,
            "The request must contain either a valid (registered) AWS access key ID or X.509"
            " certificate.",
        ),
        incomplete=ErrorSpec("IncompleteSignature", 400),
        invalid=ErrorSpec("SignatureDoesNotMatch", 403),
        unknown=ErrorSpec(
            "AuthFailure", 401, "AWS was not able to validate the provided access credentials"
        ),
        mismatch=ErrorSpec("SignatureDoesNotMatch", 403, SIGNATURE_MISMATCH),
        time=ErrorSpec("RequestExpired", 400),
    ),
    ProtocolFamily.S3: {
        FailureKind.MISSING_AUTH: ErrorSpec("AccessDenied", 403, "Access Denied"),
        FailureKind.INCOMPLETE_SIGNATURE: ErrorSpec(
            "AuthorizationHeaderMalformed",
            400,
            _S3_MALFORMED + "the authorization header requires three components: Credential,"
            " SignedHeaders, and Signature.",
        ),
        FailureKind.INVALID_SIGNATURE: ErrorSpec(
            "AuthorizationHeaderMalformed",
            400,
            _S3_MALFORMED + 'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/'
            'SERVICE/aws4_request".',
        ),
        FailureKind.UNKNOWN_ACCESS_KEY: ErrorSpec(
            "InvalidAccessKeyId",
            403,
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        FailureKind.SIGNATURE_MISMATCH: ErrorSpec(
            "SignatureDoesNotMatch",
            403,
            "The request signature we calculated does not match the signature you provided."
            " Check your key and signing method.",
        ),
        FailureKind.SKEWED: ErrorSpec(
            "RequestTimeTooSkewed",
            403,
            "The difference between the request time and the current time is too large.",
        ),
        FailureKind.PRESIGN_EXPIRED: ErrorSpec("AccessDenied", 403, "Request has expired"),
        FailureKind.PRESIGN_NOT_YET_VALID: ErrorSpec(
            "AccessDenied", 403, "Request is not yet valid"
        ),
        FailureKind.CONTENT_SHA256_MISSING: ErrorSpec(
            "InvalidRequest", 400, "Missing required header for this request: x-amz-content-sha256"
        ),
        FailureKind.CONTENT_SHA256_INVALID: ErrorSpec(
            "InvalidArgument",
            400,
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or"
            " a valid sha256 value.",
        ),
        FailureKind.CONTENT_SHA256_MISMATCH: ErrorSpec(
            "XAmzContentSHA256Mismatch",
            400,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        ),
        FailureKind.UNSUPPORTED_PAYLOAD: ErrorSpec(
            "NotImplemented",
            501,
            "A header you provided implies functionality that is not implemented.",
        ),
    },
}


class AuthFailure(Exception):
    """A request that did not authenticate; ``code``/``status``/``message`` are the awsJson ones.

    ``s3`` overrides the S3 row for this one failure (S3 words presigned-URL problems as
    ``AuthorizationQueryParametersError`` and so on); ``fields`` are S3's extra XML elements and the
    canonical request and string to sign that Coral services append to a signature mismatch.
    """

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        fields: Mapping[str, str] | None = None,
        s3: ErrorSpec | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.fields: Mapping[str, str] = dict(fields or {})
        self.s3 = s3

    def wire(self, family: ProtocolFamily = ProtocolFamily.JSON) -> WireError:
        spec = (
            self.s3 if family is ProtocolFamily.S3 and self.s3 else ERROR_TABLE[family][self.kind]
        )
        message = spec.message if spec.message is not None else self.message
        if (
            self.kind is FailureKind.SIGNATURE_MISMATCH
            and family is not ProtocolFamily.S3
            and "CanonicalRequest" in self.fields
        ):
            message += (
                f"\n\nThe Canonical String for this request should have been\n"
                f"'{self.fields['CanonicalRequest']}'\n\nThe String-to-Sign should have been\n"
                f"'{self.fields['StringToSign']}'\n"
            )
        return WireError(spec.code, message, spec.status, self.fields)

    @property
    def code(self) -> str:
        return ERROR_TABLE[ProtocolFamily.JSON][self.kind].code

    @property
    def status(self) -> int:
        return ERROR_TABLE[ProtocolFamily.JSON][self.kind].status


DEFAULT_MAX_SKEW = timedelta(minutes=5)
MAX_SKEW_BY_SERVICE: Mapping[str, timedelta] = {
    "s3": timedelta(minutes=15),
    "sts": timedelta(minutes=15),
    "iam": timedelta(minutes=15),
    "ec2": timedelta(minutes=15),
}
PRESIGNED_LIFETIME = timedelta(minutes=15)  # non-S3 presigned requests, whatever X-Amz-Expires says
MAX_PRESIGN_EXPIRES = 604800

_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_INTEGER = re.compile(r"-?\d+")
_SIGNED_STREAMING = frozenset(
    {
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
    }
)
_QUERY_AUTH = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
_QUERY_REQUIRED = (*_QUERY_AUTH, "X-Amz-SignedHeaders", "X-Amz-Date")
_S3_QUERY_REQUIRED = (
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential,"
    " X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
)


def _s3_query_error(message: str) -> ErrorSpec:
    return ErrorSpec("AuthorizationQueryParametersError", 400, message)


@dataclass(frozen=True)
class _Claim:
    """What the request says about its own signature, before anything is checked."""

    access_key: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str
    signed_at: datetime
    presigned: bool
    expires: int | None = None
    session_token: str | None = None


def verify(
    request: IncomingRequest,
    lookup: Callable[[str], Credential | None],
    now: datetime,
    *,
    max_skew: timedelta | None = None,
    service: str | None = None,
    region: str | None = None,
) -> Verified:
    """Check the request's SigV4 signature; raise :class:`AuthFailure` if it does not hold.

    ``max_skew`` defaults per signing name (:data:`MAX_SKEW_BY_SERVICE`); ``service``/``region``,
    when given, are the signing name and region the credential scope must name.
    """
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    headers = canon.group_headers(request.headers)
    claim = _claim(request.query_string, headers)
    if max_skew is None:
        max_skew = MAX_SKEW_BY_SERVICE.get(claim.service, DEFAULT_MAX_SKEW)
    _check_time(claim, now, max_skew)
    _check_scope(claim, service, region)
    credential = lookup(claim.access_key)
    if credential is None:
        raise AuthFailure(
            FailureKind.UNKNOWN_ACCESS_KEY,
            _BAD_KEY_TEXT + ".",
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


def _claim(query_string: str, headers: Mapping[str, Sequence[str]]) -> _Claim:
    """Read the signature claim from the Authorization header or the presigned query."""
    params = canon.query_params(query_string)
    authorization = (headers.get("authorization") or [""])[0].strip()
    in_query = any(key in _QUERY_AUTH for key, _ in params)
    if authorization and in_query:
        raise AuthFailure(
            FailureKind.INVALID_SIGNATURE,
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP"
            " header.",
            s3=ErrorSpec(
                "InvalidArgument",
                400,
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter,"
                " Signature query string parameter or the Authorization header should be specified",
            ),
        )
    if authorization.startswith("AWS4-"):
        return _claim_from_header(authorization, headers)
    if not in_query:  # Coral answers a non-SigV4 Authorization header the same way
        raise AuthFailure(FailureKind.MISSING_AUTH, _NO_AUTH_TEXT)
    first: dict[str, str] = {}
    for key, value in params:
        first.setdefault(key, value)
    return _claim_from_query(first)


def _check_body_hash(declared: str, body: bytes) -> None:
    computed = hashlib.sha256(body).hexdigest()
    if declared.lower() != computed:
        raise AuthFailure(
            FailureKind.CONTENT_SHA256_MISMATCH,
            SIGNATURE_MISMATCH,
            fields={"ClientComputedContentSHA256": declared, "S3ComputedContentSHA256": computed},
        )


def _claim_from_header(authorization: str, headers: Mapping[str, Sequence[str]]) -> _Claim:
    algorithm, _, rest = authorization.replace("\t", " ").partition(" ")
    parts: dict[str, str] = {}
    for token in rest.replace(",", " ").split():
        key, equals, value = token.partition("=")
        if not equals:
            raise AuthFailure(
                FailureKind.INCOMPLETE_SIGNATURE,
                f"'{token}' not a valid key=value pair (missing equal-sign) in Authorization"
                f" header: '{authorization}'.",
            )
        parts[key] = value
    problems = [
        f"Authorization header requires '{name}' parameter. "
        for name in ("Credential", "Signature", "SignedHeaders")
        if name not in parts
    ]
    if "x-amz-date" not in headers and "date" not in headers:
        problems.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        )
    if problems:
        raise AuthFailure(
            FailureKind.INCOMPLETE_SIGNATURE, "".join(problems) + f"Authorization={authorization}"
        )
    timestamp, signed_at = _header_time(headers)
    signed = _signed_names(parts["SignedHeaders"])
    _check_host_signed(signed)
    _check_algorithm(algorithm, presigned=False)
    scope = _split_credential(parts["Credential"], presigned=False)
    return _Claim(*scope, signed, parts["Signature"], timestamp, signed_at, presigned=False)


def _claim_from_query(params: Mapping[str, str]) -> _Claim:
    missing = [name for name in _QUERY_REQUIRED if not params.get(name)]
    if missing:
        raise AuthFailure(
            FailureKind.INCOMPLETE_SIGNATURE,
            "".join(f"AWS query-string parameters must include '{name}'. " for name in missing)
            + "Re-examine the query-string parameters.",
            s3=_s3_query_error(_S3_QUERY_REQUIRED),
        )
    timestamp = params["X-Amz-Date"]
    if not _AMZ_DATE.fullmatch(timestamp):
        raise AuthFailure(
            FailureKind.INCOMPLETE_SIGNATURE,
            _bad_date(timestamp),
            s3=_s3_query_error(
                "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\""
            ),
        )
    signed = _signed_names(params["X-Amz-SignedHeaders"])
    _check_host_signed(signed)
    _check_algorithm(params["X-Amz-Algorithm"], presigned=True)
    scope = _split_credential(params["X-Amz-Credential"], presigned=True)
    expires = _expires(params.get("X-Amz-Expires"), required=scope[3] == "s3")
    signed_at = _parse_stamp(timestamp)
    return _Claim(
        *scope,
        signed,
        params["X-Amz-Signature"],
        timestamp,
        signed_at,
        presigned=True,
        expires=expires,
        session_token=params.get("X-Amz-Security-Token"),
    )


def _signed_names(value: str) -> tuple[str, ...]:
    return tuple(name.strip().lower() for name in value.split(";") if name.strip())


def _check_host_signed(signed: tuple[str, ...]) -> None:
    if "host" not in signed:
        raise AuthFailure(
            FailureKind.INVALID_SIGNATURE,
            "'Host' must be a 'SignedHeader' in the AWS Authorization.",
            s3=ERROR_TABLE[ProtocolFamily.S3][FailureKind.SIGNATURE_MISMATCH],
        )


def _parse_stamp(value: str) -> datetime:
    """An ``X-Amz-Date`` (already matched by ``_AMZ_DATE``) as an aware UTC datetime."""
    try:
        return datetime(
            int(value[0:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[9:11]),
            int(value[11:13]),
            int(value[13:15]),
            tzinfo=UTC,
        )
    except ValueError:
        raise AuthFailure(FailureKind.INCOMPLETE_SIGNATURE, _bad_date(value)) from None


def _bad_date(value: str) -> str:
    return (
        f"Date must be in ISO-8601 'basic format'. Got '{value}'. See"
        " http://en.wikipedia.org/wiki/ISO_8601"
    )


def _header_time(headers: Mapping[str, Sequence[str]]) -> tuple[str, datetime]:
    if "x-amz-date" in headers:
        value = headers["x-amz-date"][0].strip()
        if not _AMZ_DATE.fullmatch(value):
            raise AuthFailure(FailureKind.INCOMPLETE_SIGNATURE, _bad_date(value))
        return value, _parse_stamp(value)
    value = headers["date"][0].strip()
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise AuthFailure(FailureKind.INCOMPLETE_SIGNATURE, _bad_date(value)) from None
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return parsed.strftime(canon.TIMESTAMP_FORMAT), parsed


def _check_algorithm(algorithm: str, *, presigned: bool) -> None:
    if algorithm != canon.ALGORITHM:
        raise AuthFailure(
            FailureKind.INCOMPLETE_SIGNATURE,
            f"Unsupported AWS 'algorithm': '{algorithm}' (only AWS4-HMAC-SHA256 for now). ",
            s3=_s3_query_error('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"')
            if presigned
            else None,
        )


def _split_credential(credential: str, *, presigned: bool) -> tuple[str, str, str, str, str]:
    pieces = credential.rstrip("/").split("/")
    if len(pieces) != 5:
        raise AuthFailure(
            FailureKind.INCOMPLETE_SIGNATURE,
            "Credential must have exactly 5 slash-delimited elements, e.g."
            f" keyid/date/region/service/term, got '{credential}'",
            s3=_s3_query_error(
                "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed;"
                ' expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
            )
            if presigned
            else ERROR_TABLE[ProtocolFamily.S3][FailureKind.INVALID_SIGNATURE],
        )
    key, date, region, service, terminator = pieces
    return key, date, region, service, terminator


def _expires(value: str | None, *, required: bool) -> int | None:
    if value is None:
        if required:
            raise AuthFailure(
                FailureKind.INCOMPLETE_SIGNATURE,
                "AWS query-string parameters must include 'X-Amz-Expires'. Re-examine the"
                " query-string parameters.",
                s3=_s3_query_error(_S3_QUERY_REQUIRED),
            )
        return None
    problem = None
    if not _INTEGER.fullmatch(value):
        problem = "X-Amz-Expires should be a number"
    elif int(value) < 0:
        problem = "X-Amz-Expires must be non-negative"
    elif int(value) > MAX_PRESIGN_EXPIRES:
        problem = (
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires"
            f" must be less than {MAX_PRESIGN_EXPIRES} seconds"
        )
    if problem:
        raise AuthFailure(FailureKind.INCOMPLETE_SIGNATURE, problem, s3=_s3_query_error(problem))
    return int(value)


def _basic(moment: datetime) -> str:
    return moment.strftime(canon.TIMESTAMP_FORMAT)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _minutes(span: timedelta) -> str:
    return f"{span.total_seconds() / 60:g} min."


def _expired(claim: _Claim, now: datetime, span: timedelta) -> str:
    return (
        f"Signature expired: {claim.timestamp} is now earlier than {_basic(now - span)}"
        f" ({_basic(now)} - {_minutes(span)})"
    )


def _not_yet(claim: _Claim, now: datetime, span: timedelta) -> str:
    return (
        f"Signature not yet current: {claim.timestamp} is still later than {_basic(now + span)}"
        f" ({_basic(now)} + {_minutes(span)})"
    )


def _check_time(claim: _Claim, now: datetime, window: timedelta) -> None:
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


def _check_scope(claim: _Claim, service: str | None, region: str | None) -> None:
    problems = []
    s3 = None
    if region is not None and claim.region != region:
        problems.append(f"Credential should be scoped to a valid region, not '{claim.region}'. ")
        s3 = ErrorSpec(
            "AuthorizationHeaderMalformed",
            400,
            f"{_S3_MALFORMED}the region '{claim.region}' is wrong; expecting '{region}'",
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


def _declared_payload_hash(claim: _Claim, headers: Mapping[str, Sequence[str]]) -> str | None:
    """The payload-hash line the client declared, or None to hash the body (non-S3, no header)."""
    values = headers.get("x-amz-content-sha256")
    s3 = claim.service == "s3"
    if not values:
        if s3 and not claim.presigned:
            raise AuthFailure(FailureKind.CONTENT_SHA256_MISSING, SIGNATURE_MISMATCH)
        return canon.UNSIGNED_PAYLOAD if s3 else None
    declared = values[0].strip()
    if _HEX64.fullmatch(declared) or declared == canon.UNSIGNED_PAYLOAD:
        return declared
    if s3 and declared == canon.STREAMING_UNSIGNED_PAYLOAD_TRAILER:
        return declared
    if s3 and declared in _SIGNED_STREAMING:
        raise AuthFailure(FailureKind.UNSUPPORTED_PAYLOAD, SIGNATURE_MISMATCH)
    raise AuthFailure(FailureKind.CONTENT_SHA256_INVALID, SIGNATURE_MISMATCH)


def _check_signature(
    request: IncomingRequest,
    headers: Mapping[str, Sequence[str]],
    claim: _Claim,
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
