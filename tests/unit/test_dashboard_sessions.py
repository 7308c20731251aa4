"""The dashboard's sessions (``dashboard.sessions``): a value the server did not issue, or one
changed anywhere, opens nothing; sessions end at their time, when closed, with the server's key,
and beyond the most the server keeps; the cookie's attributes."""

from __future__ import annotations

from podwarden.dashboard import sessions
from podwarden.dashboard.sessions import Principal, Sessions, cookie_value, set_cookie

WHO = Principal("AKIAEXAMPLE", "000000000000", "arn:aws:iam::000000000000:user/x", 1e12)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_issued_value_reads_back_and_any_change_breaks_it() -> None:
    s = Sessions()
    value = s.open(WHO)
    assert s.read(value) is not None
    for n in range(len(value)):
        changed = value[:n] + ("A" if value[n] != "A" else "B") + value[n + 1 :]
        assert s.read(changed) is None, n
    assert s.read(value + "x") is None
    assert s.read(None) is None
    assert s.read("") is None


def test_another_servers_key_opens_nothing() -> None:
    value = Sessions(key=b"k" * 32).open(WHO)
    assert Sessions(key=b"other" * 8).read(value) is None
    assert Sessions(key=b"k" * 32).read(value) is None  # same key, but it never opened it


def test_sessions_end_at_their_lifetime_or_the_credentials_expiry() -> None:
    clock = Clock()
    s = Sessions(lifetime=100, now=clock)
    long_term = s.open(WHO)
    temporary = s.open(Principal("ASIA", "1", "arn", clock.now + 10))
    found = s.read(long_term)
    assert found is not None and found.expires == 1100.0
    clock.now += 10
    assert s.read(temporary) is None
    assert s.read(long_term) is not None
    clock.now += 90
    assert s.read(long_term) is None


def test_close_forgets_the_session() -> None:
    s = Sessions()
    value = s.open(WHO)
    s.close(value)
    assert s.read(value) is None
    s.close("garbage")  # nothing to close: no error


def test_the_oldest_sessions_go_beyond_the_limit() -> None:
    s = Sessions()
    first = s.open(WHO)
    for _ in range(sessions.MAX_SESSIONS):
        s.open(WHO)
    assert s.read(first) is None


def test_cookie_attributes_and_parsing() -> None:
    header = set_cookie("abc.def", "/_podwarden/dashboard", 99.7)
    assert header == (
        "podwarden_dashboard=abc.def; Path=/_podwarden/dashboard; Max-Age=99; HttpOnly; "
        "SameSite=Strict"
    )
    assert cookie_value("a=1; podwarden_dashboard=abc.def; b=2") == "abc.def"
    assert cookie_value("a=1") is None
