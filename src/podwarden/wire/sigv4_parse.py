"""Reading a SigV4 claim: the ``Authorization`` header or the presigned query, before any check.

:func:`read_claim` turns a request's query string and grouped headers into a :class:`Claim` (key,
scope, signed headers, signature, timestamp, presigned expiry) or raises
:class:`~podwarden.wire.sigv4_errors.AuthFailure` for a malformed or missing one; the checks that
need the clock, the scope the caller expects and the secret live in :mod:`podwarden.wire.sigv4`.

Rule worth knowing (checked against botocore in ``tests/wire/test_sigv4.py``):

* An ``Authorization`` header that is not ``AWS4-…`` counts as no authentication, as in Coral.
  SigV2 is not read here: S3's ``AWS <key>:<signature>`` headers and ``AWSAccessKeyId``/
  ``Signature``/``Expires`` URLs (what boto3 presigns for S3 unless told ``s3v4``) are
  :mod:`podwarden.wire.sigv2`'s, which the API uses for S3 requests only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from podwarden.wire import sigv4_canonical as canon
from podwarden.wire.sigv4_errors import (
    ERROR_TABLE,
    NO_AUTH_TEXT,
    AuthFailure,
    ErrorSpec,
    FailureKind,
    ProtocolFamily,
)

MAX_PRESIGN_EXPIRES = 604800

_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
_INTEGER = re.compile(r"-?\d+")
_QUERY_AUTH = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
_QUERY_REQUIRED = (*_QUERY_AUTH, "X-Amz-SignedHeaders", "X-Amz-Date")
_S3_QUERY_REQUIRED = (
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential,"
    " X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
)


def _s3_query_error(message: str) -> ErrorSpec:
    return ErrorSpec("AuthorizationQueryParametersError", 400, message)


@dataclass(frozen=True)
class Claim:
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


def read_claim(query_string: str, headers: Mapping[str, Sequence[str]]) -> Claim:
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
        raise AuthFailure(FailureKind.MISSING_AUTH, NO_AUTH_TEXT)
    first: dict[str, str] = {}
    for key, value in params:
        first.setdefault(key, value)
    return _claim_from_query(first)


def _claim_from_header(authorization: str, headers: Mapping[str, Sequence[str]]) -> Claim:
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
    return Claim(*scope, signed, parts["Signature"], timestamp, signed_at, presigned=False)


def _claim_from_query(params: Mapping[str, str]) -> Claim:
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
    return Claim(
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
