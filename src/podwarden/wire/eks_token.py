"""EKS bearer tokens: ``k8s-aws-v1.<base64url of a presigned STS GetCallerIdentity URL>``.

What ``aws eks get-token`` and ``aws-iam-authenticator token`` produce (kubernetes-sigs/
aws-iam-authenticator ``pkg/token/token.go``; aws-cli ``customizations/eks/get_token.py``): the
client presigns a ``GET`` of STS ``GetCallerIdentity`` with the header ``x-k8s-aws-id: <cluster
name>`` among the signed headers, and sends ``k8s-aws-v1.`` followed by the URL in unpadded
base64url. The authenticator checks the token's form (:func:`decode_token`, the same checks in
the same order as ``tokenVerifier.Verify``) and then sends the URL to STS with ``x-k8s-aws-id``
set to *its own* cluster's name: STS's signature check is what binds the token to the cluster.

podwarden is the STS that would answer, so :func:`verify_token` checks the signature itself with
:func:`podwarden.wire.sigv4.verify` (the request rebuilt with the cluster's name as
``x-k8s-aws-id``) rather than making the call. Two differences from the authenticator follow,
both because no request leaves podwarden:

* any host is accepted (the authenticator allows only its partition's STS hostnames so that it
  never sends requests elsewhere), and ``http`` as well as ``https``: with
  ``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_STS`` pointing at podwarden the CLI presigns
  ``http://127.0.0.1:8600/?Action=GetCallerIdentity...``. The host is still part of the
  signature;
* the 15 minutes a token lives are STS's rule for presigned requests, which ``sigv4.verify``
  applies (``PRESIGNED_LIFETIME``) on top of the authenticator's own ``X-Amz-Date`` check.

Pure apart from the clock the caller passes; no botocore (tests sign with it as the oracle).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

from podwarden.wire.sigv4 import Credential, IncomingRequest, Verified, verify

TOKEN_PREFIX = "k8s-aws-v1."  # noqa: S105 - the token format's prefix, not a secret
CLUSTER_ID_HEADER = "x-k8s-aws-id"
MAX_TOKEN_BYTES = 4 * 1024
TOKEN_LIFETIME = timedelta(minutes=15)
MAX_EXPIRES = 900
PARAMETER_ALLOWLIST = frozenset(
    {
        "action",
        "version",
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-expires",
        "x-amz-security-token",
        "x-amz-signature",
        "x-amz-signedheaders",
    }
)
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


class TokenError(Exception):
    """The token is not one; the message is the authenticator's (``FormatError``) wording."""

    def __init__(self, message: str) -> None:
        super().__init__(f"input token was not properly formatted: {message}")


@dataclass(frozen=True)
class PresignedCall:
    """The presigned GetCallerIdentity request a token carries."""

    url: str
    host: str  # host[:port] exactly as in the URL (it was signed as the Host header)
    path: str
    query_string: str
    params: dict[str, str]  # lowercased names

    @property
    def access_key_id(self) -> str:
        return self.params.get("x-amz-credential", "").split("/", 1)[0]


def encode_token(url: str) -> str:
    """The token of a presigned URL (what aws-cli's ``TokenGenerator.get_token`` returns)."""
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def _url_of(token: str) -> str:
    if len(token.encode()) > MAX_TOKEN_BYTES:
        raise TokenError("token is too large")
    if not token.startswith(TOKEN_PREFIX):
        raise TokenError(f'token is missing expected "{TOKEN_PREFIX}" prefix')
    body = token.removeprefix(TOKEN_PREFIX)
    if not _BASE64URL.fullmatch(body) or len(body) % 4 == 1:
        raise TokenError("illegal base64 data")  # Go's RawURLEncoding: no padding, no others
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise TokenError(f"illegal base64 data ({exc})") from None


def _params(query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise TokenError("malformed query parameter") from None
    for name, value in pairs:
        lower = name.lower()
        if lower not in PARAMETER_ALLOWLIST:
            raise TokenError(f'non-whitelisted query parameter "{name}"')
        if lower in params:
            raise TokenError("query parameter with multiple values not supported")
        params[lower] = value
    return params


def _check_params(params: dict[str, str], now: datetime) -> None:
    if params.get("action") != "GetCallerIdentity":
        raise TokenError("unexpected action parameter in pre-signed URL")
    signed = [h.lower() for h in params.get("x-amz-signedheaders", "").split(";")]
    if CLUSTER_ID_HEADER not in signed:
        raise TokenError(
            f"client did not sign the {CLUSTER_ID_HEADER} header in the pre-signed URL"
        )
    expires = params.get("x-amz-expires", "")
    if not expires.lstrip("-").isdigit() or not 0 <= int(expires) <= MAX_EXPIRES:
        raise TokenError(f"invalid X-Amz-Expires parameter in pre-signed URL: {expires}")
    date = params.get("x-amz-date", "")
    if not date:
        raise TokenError("X-Amz-Date parameter must be present in pre-signed URL")
    try:
        signed_at = datetime.strptime(date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise TokenError(f"error parsing X-Amz-Date parameter {date}") from None
    if now > signed_at + TOKEN_LIFETIME:
        raise TokenError(f"X-Amz-Date parameter is expired (15 minute expiration) {signed_at}")


def decode_token(token: str, now: datetime) -> PresignedCall:
    """The presigned call in ``token``, or TokenError for anything the authenticator refuses."""
    url = _url_of(token)
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise TokenError(f'unexpected scheme "{parts.scheme}" in pre-signed URL')
    if not parts.netloc:
        raise TokenError('unexpected hostname "" in pre-signed URL')
    if parts.path != "/":
        raise TokenError("unexpected path in pre-signed URL")
    params = _params(parts.query)
    _check_params(params, now)
    return PresignedCall(
        url=url, host=parts.netloc, path=parts.path, query_string=parts.query, params=params
    )


def verify_token(
    token: str,
    cluster: str,
    lookup: Callable[[str], Credential | None],
    now: datetime,
) -> Verified:
    """Check ``token`` is a GetCallerIdentity presigned for ``cluster`` by a known key: raises
    TokenError for a malformed token, ``sigv4.AuthFailure`` for a bad signature, unknown key or
    expiry (the signature covers ``x-k8s-aws-id``, so a token for another cluster fails here)."""
    call = decode_token(token, now)
    request = IncomingRequest(
        method="GET",
        raw_path=call.path,
        query_string=call.query_string,
        headers=[("host", call.host), (CLUSTER_ID_HEADER, cluster)],
        body=b"",
    )
    return verify(request, lookup, now, service="sts")
