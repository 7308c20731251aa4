"""Who is calling: the caller of an AWS request, and the dashboard's sign-in.

A request is signed with SigV4 (``wire.sigv4``) or, for S3, SigV2 (``wire.sigv2``) by the
configured credentials or a live STS session (its token required, unexpired); an operation AWS
serves unsigned (``wire.unsigned``: STS's AssumeRoleWithWebIdentity) runs with no caller but the
account; with auth turned off every request is the first credential's. ``api.app`` routes the
request here once its service is known; the EKS token webhook and the dashboard look keys up
through the same credentials.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from podwarden.control.sts import session_credential
from podwarden.store.sql import Store
from podwarden.wire.dispatch import Destination, virtual_host_bucket
from podwarden.wire.errors import WireError
from podwarden.wire.http import HttpRequest
from podwarden.wire.models import known_regions, service_model
from podwarden.wire.protocols import Codec
from podwarden.wire.sigv2 import verify_v2
from podwarden.wire.sigv4 import (
    AuthFailure,
    Credential,
    FailureKind,
    IncomingRequest,
    Verified,
    verify,
)
from podwarden.wire.sigv4_errors import BAD_KEY_TEXT, EXPIRED_TEXT, S3_INVALID_TOKEN
from podwarden.wire.sigv4_parse import Claim
from podwarden.wire.unsigned import allows_unsigned, claims_no_signature

DEFAULT_ACCOUNT = "000000000000"


@dataclass(frozen=True)
class Caller:
    account: str
    region: str
    access_key_id: str
    principal_arn: str


@dataclass(frozen=True)
class Signed:
    """What authenticating a routed request reads: the request, its service and protocol, its
    SigV4 claim (read once for routing and verification) and whether S3's SigV2 signed it."""

    request: HttpRequest
    incoming: IncomingRequest  # the same request as received (raw headers), for verification
    dest: Destination
    protocol: Codec
    claim: Claim | None
    sigv2: bool


class Callers:
    """The configured ``credentials`` and STS's sessions in ``store``, as of ``now``."""

    def __init__(
        self,
        credentials: tuple[Credential, ...],
        store: Store,
        now: Callable[[], float],
        *,
        auth: bool,
        default_region: str,
    ) -> None:
        self._credentials = credentials
        self._by_key = {c.access_key_id: c for c in credentials}
        self._store = store
        self._now = now
        self._auth = auth
        self._default_region = default_region

    def sign_in(
        self, access_key_id: str, secret: str, session_token: str = ""
    ) -> tuple[Credential, float] | None:
        """The credential a person signs in to the dashboard with and when it expires, or None:
        the API's own credentials (a long-term key without a session token, or a live STS
        session with its token), the secret compared in constant time."""
        found = self._by_key.get(access_key_id)
        expires = math.inf
        if found is None:
            session = session_credential(self._store, access_key_id, self._now(), expired=False)
            if session is None or not hmac.compare_digest(
                session.session_token.encode(), session_token.encode()
            ):
                return None
            found, expires = self.credential(access_key_id, expired=False), session.expiration
        elif session_token:  # as the API, a long-term key takes no session token
            return None
        if found is None or not hmac.compare_digest(
            found.secret_access_key.encode(), secret.encode()
        ):
            return None
        return found, expires

    def lookup(self, access_key_id: str) -> Credential | None:
        """The credential of a long-term key or a live STS session (the EKS token webhook's)."""
        return self.credential(access_key_id, expired=False)

    def credential(self, access_key_id: str, *, expired: bool) -> Credential | None:
        found = self._by_key.get(access_key_id)
        if found is not None:
            return found
        now = self._now()
        session = session_credential(self._store, access_key_id, now, expired=expired)
        if session is None:
            return None
        return Credential(
            access_key_id=access_key_id,
            secret_access_key=session.secret_access_key,
            account_id=session.account,
            principal_arn=session.principal_arn,
        )

    def authenticate(self, signed: Signed) -> Caller:
        request, dest = signed.request, signed.dest
        if not self._auth:
            first = self._credentials[0] if self._credentials else None
            return Caller(
                account=first.account_id if first else DEFAULT_ACCOUNT,
                region=self._default_region,
                access_key_id=first.access_key_id if first else "",
                principal_arn=first.principal_arn if first else "",
            )
        if _unsigned_operation(signed):  # the token it carries is its authentication
            first = self._credentials[0] if self._credentials else None
            account = first.account_id if first else DEFAULT_ACCOUNT
            return Caller(account, self._default_region, "", "")
        incoming = signed.incoming
        if dest.service == "s3" and signed.sigv2:
            verified = verify_v2(
                incoming,
                lambda key: self.credential(key, expired=True),
                datetime.now(UTC),
                bucket_host=virtual_host_bucket(request.host),
                region=self._default_region,
            )
        else:
            verified = self._verify_v4(incoming, request, signed.claim, dest)
        self._check_session(verified, request)
        return Caller(
            account=verified.credential.account_id,
            region=verified.region,
            access_key_id=verified.credential.access_key_id,
            principal_arn=verified.credential.principal_arn,
        )

    def _verify_v4(
        self,
        incoming: IncomingRequest,
        request: HttpRequest,
        claim: Claim | None,
        dest: Destination,
    ) -> Verified:
        """SigV4, bound to the request: the signature must be for this service, in a real
        region, and cover the header that routed it (a SigV2 signature fails here: no claim)."""
        routed_by_target = "x-amz-target" in request.headers
        return verify(
            incoming,
            lambda key: self.credential(key, expired=True),
            datetime.now(UTC),
            service=service_model(dest.service).signing_name,
            regions=known_regions(),
            signed=("x-amz-target",) if routed_by_target else (),
            claim=claim,
        )

    def _check_session(self, verified: Verified, request: HttpRequest) -> None:
        """Long-term keys take no session token; session keys need theirs, unexpired."""
        key = verified.credential.access_key_id
        token = verified.session_token or request.headers.get("x-amz-security-token")
        if key in self._by_key:
            if token:  # AWS refuses a token it did not issue for these keys
                raise AuthFailure(
                    FailureKind.UNKNOWN_ACCESS_KEY, BAD_KEY_TEXT + ".", s3=S3_INVALID_TOKEN
                )
            return
        session = session_credential(self._store, key, self._now(), expired=True)
        if session is None or verified.session_token != session.session_token:
            raise AuthFailure(
                FailureKind.UNKNOWN_ACCESS_KEY, BAD_KEY_TEXT + ".", s3=S3_INVALID_TOKEN
            )
        if session.expiration <= self._now():
            raise AuthFailure(FailureKind.EXPIRED_TOKEN, EXPIRED_TEXT)


def _unsigned_operation(signed: Signed) -> bool:
    """A request with no signature at all for an operation AWS serves unsigned
    (``wire.unsigned``: STS's AssumeRoleWithWebIdentity); anything else is verified."""
    request, dest = signed.request, signed.dest
    if signed.sigv2 or not claims_no_signature(request.query_string, request.headers):
        return False
    try:
        resolved = signed.protocol.resolve(dest.service, request, dest.target)
    except WireError:
        return False  # then verification answers, as for any unsigned request
    return allows_unsigned(dest.service, resolved.operation.name)
