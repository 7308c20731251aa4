"""Reading an S3 SigV2 claim: the ``Authorization: AWS <key>:<signature>`` header or the
presigned query (``AWSAccessKeyId``, ``Signature``, ``Expires``), before any check.

:func:`read_claim` turns a request's query parameters and grouped headers into a :class:`Claim`
(key, signature, the date line it signed, when it was signed or expires, session token) or
raises :class:`~podwarden.wire.sigv4_errors.AuthFailure` for a malformed or missing one, or for
two mechanisms at once; the checks that need the clock and the secret live in
:mod:`podwarden.wire.sigv2` (its docstring says where the wording comes from).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from podwarden.wire import sigv4_canonical as canon
from podwarden.wire.sigv4_errors import AuthFailure, ErrorSpec, FailureKind

HEADER_PREFIX = "AWS "
QUERY_MARKERS = frozenset({"AWSAccessKeyId", "Signature"})
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
class Claim:
    """What a SigV2 request says about itself, before anything is checked."""

    access_key: str
    signature: str
    presigned: bool
    date_line: str  # the StringToSign's fourth line
    sent_time: str  # the Date / x-amz-date / Expires value as sent
    moment: datetime  # when it was signed (header form) or when it expires (presigned)
    session_token: str | None


def authorization_header(headers: Mapping[str, Sequence[str]]) -> str:
    """The first ``Authorization`` header, trimmed ("" without one)."""
    return (headers.get("authorization") or [""])[0].strip()


def _failure(kind: FailureKind, code: str, status: int, message: str, **fields: str) -> AuthFailure:
    return AuthFailure(kind, message, fields=fields, s3=ErrorSpec(code, status, message))


def read_claim(params: Sequence[tuple[str, str]], headers: Mapping[str, Sequence[str]]) -> Claim:
    """The request's SigV2 claim, from its header or its presigned query (not both)."""
    authorization = authorization_header(headers)
    keys = {key for key, _ in params}
    in_query = bool(keys & QUERY_MARKERS)
    if (authorization and in_query) or keys & _SIGV4_QUERY:
        raise _failure(FailureKind.INVALID_SIGNATURE, "InvalidArgument", 400, _BOTH)
    if in_query:
        return _query_claim(params, headers)
    return _header_claim(authorization, headers)


def _header_claim(authorization: str, headers: Mapping[str, Sequence[str]]) -> Claim:
    if not authorization.startswith(HEADER_PREFIX):  # no SigV2 claim at all
        raise AuthFailure(FailureKind.MISSING_AUTH, "Access Denied")
    credentials = authorization.removeprefix(HEADER_PREFIX).strip()
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
    return Claim(
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


def _query_claim(params: Sequence[tuple[str, str]], headers: Mapping[str, Sequence[str]]) -> Claim:
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
    return Claim(
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
