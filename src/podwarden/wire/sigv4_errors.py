"""The error taxonomy of SigV4 verification: what failed, and how each protocol family says so.

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
* Expired STS session credentials: ``ExpiredToken`` 403 "The security token included in the request
  is expired" from STS and IAM (jenkinsci/ec2-plugin#1008, aws-iot-twinmaker-samples#147),
  ``ExpiredTokenException`` 403 from EKS (terraform-provider-aws#32809) and 400 from awsJson
  services (aws-sdk-php#1307), S3 ``ExpiredToken`` 400 "The provided token has expired."
  (romange/helio#15); EC2's ``RequestExpired`` "Request has expired." is best effort
  (aws-sdk-go#253 lists it among the expired-credential codes).
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

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


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
    EXPIRED_TOKEN = "expired_token"  # noqa: S105 (a failure kind, not a secret)


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
BAD_KEY_TEXT = "The security token included in the request is invalid"
NO_AUTH_TEXT = "Missing Authentication Token"
EXPIRED_TEXT = "The security token included in the request is expired"
# S3's answer to a session token it cannot use (also: a token sent with long-term keys)
S3_INVALID_TOKEN = ErrorSpec(
    "InvalidToken", 400, "The provided token is malformed or otherwise invalid."
)
S3_MALFORMED = "The authorization header is malformed; "


def _rows(
    *,
    missing: ErrorSpec,
    incomplete: ErrorSpec,
    invalid: ErrorSpec,
    unknown: ErrorSpec,
    mismatch: ErrorSpec,
    time: ErrorSpec,
    expired: ErrorSpec,
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
        k.EXPIRED_TOKEN: expired,
    }


ERROR_TABLE: Mapping[ProtocolFamily, Mapping[FailureKind, ErrorSpec]] = {
    ProtocolFamily.JSON: _rows(
        missing=ErrorSpec("MissingAuthenticationTokenException", 400, NO_AUTH_TEXT),
        incomplete=ErrorSpec("IncompleteSignatureException", 400),
        invalid=ErrorSpec("InvalidSignatureException", 400),
        unknown=ErrorSpec("UnrecognizedClientException", 400, BAD_KEY_TEXT + "."),
        mismatch=ErrorSpec("InvalidSignatureException", 400, SIGNATURE_MISMATCH),
        time=ErrorSpec("InvalidSignatureException", 400),
        expired=ErrorSpec("ExpiredTokenException", 400, EXPIRED_TEXT),
    ),
    ProtocolFamily.REST_JSON: _rows(
        missing=ErrorSpec("MissingAuthenticationTokenException", 403, NO_AUTH_TEXT),
        incomplete=ErrorSpec("IncompleteSignatureException", 403),
        invalid=ErrorSpec("InvalidSignatureException", 403),
        unknown=ErrorSpec("UnrecognizedClientException", 403, BAD_KEY_TEXT),
        mismatch=ErrorSpec("InvalidSignatureException", 403, SIGNATURE_MISMATCH),
        time=ErrorSpec("InvalidSignatureException", 403),
        expired=ErrorSpec("ExpiredTokenException", 403, EXPIRED_TEXT),
    ),
    ProtocolFamily.QUERY: _rows(
        missing=ErrorSpec(
            "MissingAuthenticationToken", 403, "Request is missing Authentication Token"
        ),
        incomplete=ErrorSpec("IncompleteSignature", 400),
        invalid=ErrorSpec("SignatureDoesNotMatch", 403),
        unknown=ErrorSpec("InvalidClientTokenId", 403, BAD_KEY_TEXT),
        mismatch=ErrorSpec("SignatureDoesNotMatch", 403, SIGNATURE_MISMATCH),
        time=ErrorSpec("SignatureDoesNotMatch", 403),
        expired=ErrorSpec("ExpiredToken", 403, EXPIRED_TEXT),
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
        expired=ErrorSpec("RequestExpired", 400, "Request has expired."),
    ),
    ProtocolFamily.S3: {
        FailureKind.MISSING_AUTH: ErrorSpec("AccessDenied", 403, "Access Denied"),
        FailureKind.INCOMPLETE_SIGNATURE: ErrorSpec(
            "AuthorizationHeaderMalformed",
            400,
            S3_MALFORMED + "the authorization header requires three components: Credential,"
            " SignedHeaders, and Signature.",
        ),
        FailureKind.INVALID_SIGNATURE: ErrorSpec(
            "AuthorizationHeaderMalformed",
            400,
            S3_MALFORMED + 'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/'
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
        FailureKind.EXPIRED_TOKEN: ErrorSpec(
            "ExpiredToken", 400, "The provided token has expired."
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
