"""The dashboard's sign-in sessions: a browser cannot sign requests with SigV4, so a person signs
in once with the same access key id and secret the API accepts (``api.app.PodwardenApp.sign_in``)
and the browser then carries a session cookie.

The cookie's value is ``<session id>.<HMAC-SHA256 of it>``: a random 256-bit id, signed with a
key drawn when the server starts, so a value the server did not issue (or one changed by a single
character) is refused before any lookup. The session itself (whose key, which account, until
when) stays in the server's memory: signing out forgets it at once, and a restarted server knows
no session (sign in again). A session lasts 12 hours, or until the temporary credential it was
opened with expires, whichever comes first.

The cookie is ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no other site's page
sends it) and scoped to the dashboard's path."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

COOKIE = "podwarden_dashboard"
LIFETIME = 12 * 3600.0
MAX_SESSIONS = 1000  # the oldest is forgotten beyond this


@dataclass(frozen=True)
class Principal:
    """Who a session belongs to: the key it was opened with and that key's account."""

    access_key_id: str
    account: str
    principal_arn: str
    expires: float  # when the session ends (seconds since the epoch)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Sessions:
    def __init__(
        self,
        key: bytes | None = None,
        lifetime: float = LIFETIME,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._key = key or secrets.token_bytes(32)
        self.lifetime = lifetime
        self.now = now
        self._open: OrderedDict[str, Principal] = OrderedDict()

    def _sign(self, sid: str) -> str:
        return _b64(hmac.new(self._key, sid.encode(), hashlib.sha256).digest())

    def open(self, principal: Principal) -> str:
        """A new session for ``principal`` (its ``expires`` capped at the lifetime); the
        cookie's value."""
        expires = min(principal.expires, self.now() + self.lifetime)
        sid = _b64(secrets.token_bytes(32))
        self._open[sid] = Principal(
            principal.access_key_id, principal.account, principal.principal_arn, expires
        )
        while len(self._open) > MAX_SESSIONS:
            self._open.popitem(last=False)
        return f"{sid}.{self._sign(sid)}"

    def _sid(self, value: str) -> str | None:
        sid, dot, mac = value.partition(".")
        if not dot or not hmac.compare_digest(mac.encode(), self._sign(sid).encode()):
            return None
        return sid

    def read(self, value: str | None) -> Principal | None:
        """The principal of a live session, None for no value, a forged or altered one, a
        session that ended or one this server never opened."""
        sid = self._sid(value) if value else None
        found = self._open.get(sid) if sid else None
        if found is None or sid is None:
            return None
        if found.expires <= self.now():
            del self._open[sid]
            return None
        return found

    def close(self, value: str | None) -> None:
        sid = self._sid(value) if value else None
        if sid:
            self._open.pop(sid, None)


def set_cookie(value: str, path: str, max_age: float) -> str:
    return (
        f"{COOKIE}={value}; Path={path}; Max-Age={max(0, int(max_age))}; HttpOnly; SameSite=Strict"
    )


def clear_cookie(path: str) -> str:
    return f"{COOKIE}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Strict"


def cookie_value(header: str) -> str | None:
    """The session cookie's value in a ``Cookie`` header, None when it has none."""
    for part in header.split(";"):
        name, eq, value = part.strip().partition("=")
        if eq and name == COOKIE:
            return value
    return None
