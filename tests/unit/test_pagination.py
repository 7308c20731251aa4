"""Pagination tokens (``control/pagination.py``): every crafted token is the one invalid-token
error and nothing else; tokens round-trip; a token is bound to the query that issued it."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from podwarden.control import pagination
from podwarden.model.errors import Invalid, InvalidToken

QUERY: dict[str, Any] = {"SortBy": "NAME", "NameContains": "a"}
FP = pagination.fingerprint(QUERY)


def b64(text: str | bytes) -> str:
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return base64.urlsafe_b64encode(raw).decode("ascii")


def crafted(body: str) -> str:
    """``body`` (``$FP`` standing for QUERY's fingerprint), base64url-encoded."""
    return b64(body.replace("$FP", FP))


def offset_token(offset: object, q: object = FP) -> str:
    return b64(json.dumps({"o": offset, "q": q}))


def marker(value: str) -> str:
    return b64(value.encode("utf-8", "surrogatepass"))


# (what, token) for an offset token expected for QUERY
CRAFTED_OFFSETS: list[tuple[str, str]] = [
    ("exponent overflow", crafted('{"o":1e400,"q":"$FP"}')),
    ("float", crafted('{"o":1.5,"q":"$FP"}')),
    ("integral float", crafted('{"o":1.0,"q":"$FP"}')),
    ("NaN", crafted('{"o":NaN,"q":"$FP"}')),
    ("Infinity", crafted('{"o":Infinity,"q":"$FP"}')),
    ("-Infinity", crafted('{"o":-Infinity,"q":"$FP"}')),
    ("huge int", crafted('{"o":' + "9" * 5000 + ',"q":"$FP"}')),
    ("int past the bound", offset_token(2**31)),
    ("11 digits", offset_token(10**10)),
    ("negative", offset_token(-1)),
    ("boolean", offset_token(True)),
    ("string offset", offset_token("3")),
    ("null offset", offset_token(None)),
    ("list offset", offset_token([1])),
    ("object offset", offset_token({"o": 1})),
    ("missing offset", b64(json.dumps({"q": FP}))),
    ("missing fingerprint", b64(json.dumps({"o": 1}))),
    ("extra field", b64(json.dumps({"o": 1, "q": FP, "x": 1}))),
    ("repeated field", crafted('{"o":1,"o":2,"q":"$FP"}')),
    ("marker kind", b64(json.dumps({"a": marker("k"), "q": FP}))),
    ("wrong fingerprint", offset_token(1, "0" * 16)),
    ("fingerprint not a string", offset_token(1, 7)),
    ("the old format", b64(json.dumps({"offset": 1}))),
    ("JSON list", b64("[1, 2]")),
    ("JSON string", b64('"o"')),
    ("JSON number", b64("5")),
    ("JSON null", b64("null")),
    ("deep nesting", b64("[" * 3000 + "]" * 3000)),
    ("deep object nesting", b64('{"o":' * 1000 + "1" + "}" * 1000)),
    ("trailing data", crafted('{"o":1,"q":"$FP"} x')),
    ("not JSON", b64("garbage")),
    ("blank JSON", b64("  ")),
    ("latin-1 body", b64(b'{"o":1,"q":"\xff"}')),
    ("not UTF-8 body", b64(b"\xff\xfe\x00")),
    ("not base64", "not a token!"),
    ("standard alphabet", base64.b64encode(b'{"o":1,"q":"\xfb\xff"}').decode()),
    ("bad padding", offset_token(1)[:-1] + "=="),
    ("missing padding", next(t for t in map(offset_token, (1, 10, 100)) if "=" in t).rstrip("=")),
    ("embedded newline", offset_token(1)[:4] + "\n" + offset_token(1)[4:]),
    ("non-ASCII", "é" + offset_token(1)),
    ("NUL", "\x00"),
    ("lone surrogate", "\ud800"),
    ("overlong", "A" * (pagination.MAX_TOKEN_CHARS + 4)),
]


@pytest.mark.parametrize(("what", "token"), CRAFTED_OFFSETS, ids=[c[0] for c in CRAFTED_OFFSETS])
def test_a_crafted_offset_token_is_the_invalid_token_error(what: str, token: str) -> None:
    with pytest.raises(InvalidToken):
        pagination.decode_offset(token, QUERY)
    with pytest.raises(InvalidToken):
        pagination.page(list(range(10)), {**QUERY, "NextToken": token})


CRAFTED_MARKERS: list[tuple[str, str]] = [
    ("marker not base64", b64(json.dumps({"a": "k!", "q": FP}))),
    ("marker not a string", b64(json.dumps({"a": 5, "q": FP}))),
    ("marker null", b64(json.dumps({"a": None, "q": FP}))),
    ("marker not UTF-8", b64(json.dumps({"a": b64(b"\xff"), "q": FP}))),
    ("marker longer than a key", b64(json.dumps({"a": marker("k" * 1025), "q": FP}))),
    ("offset kind", offset_token(1)),
    ("wrong fingerprint", b64(json.dumps({"a": marker("k"), "q": "x"}))),
    ("exponent overflow", crafted('{"a":1e400,"q":"$FP"}')),
]


@pytest.mark.parametrize(("what", "token"), CRAFTED_MARKERS, ids=[c[0] for c in CRAFTED_MARKERS])
def test_a_crafted_marker_token_is_the_invalid_token_error(what: str, token: str) -> None:
    with pytest.raises(InvalidToken):
        pagination.decode_marker(token, QUERY)


def test_invalid_token_is_sagemakers_validation_error() -> None:
    assert issubclass(InvalidToken, Invalid)


@pytest.mark.parametrize("offset", [0, 1, 99, pagination.MAX_OFFSET])
def test_offsets_round_trip(offset: int) -> None:
    token = pagination.encode_offset(offset, QUERY)
    assert pagination.decode_offset(token, QUERY) == offset
    assert len(token) <= 320  # IAM's Marker is at most 320 characters


@pytest.mark.parametrize(
    "value",
    ["", "a/b/", "k\u00e9", "\U0001f600", "\ud800", "\x01\x7f", "k" * 1024, "\u00e9" * 512],
)
def test_markers_round_trip(value: str) -> None:
    token = pagination.encode_marker(value, QUERY)
    assert len(token) <= pagination.MAX_TOKEN_CHARS
    assert token.isascii() and token.isprintable()
    assert pagination.decode_marker(token, QUERY) == value


def test_pages_walk_the_listing_and_end() -> None:
    items = list(range(7))
    request: dict[str, Any] = {**QUERY, "MaxResults": 3}
    seen: list[int] = []
    token: str | None = None
    for _ in range(len(items)):
        chunk, token = pagination.page(
            items, {**request, **({"NextToken": token} if token else {})}
        )
        seen += chunk
        if token is None:
            break
    assert seen == items and token is None


def test_an_offset_past_the_end_is_an_empty_last_page() -> None:
    token = pagination.encode_offset(50, QUERY)
    assert pagination.page(list(range(7)), {**QUERY, "NextToken": token}) == ([], None)


def test_an_empty_token_is_the_first_page() -> None:
    assert pagination.page([1, 2], {**QUERY, "NextToken": ""}) == ([1, 2], None)


@pytest.mark.parametrize(
    "other",
    [
        {"SortBy": "CREATION_TIME", "NameContains": "a"},
        {"SortBy": "NAME", "NameContains": "b"},
        {"SortBy": "NAME"},
        {**QUERY, "SortOrder": "Descending"},
    ],
)
def test_a_token_is_bound_to_the_filters_and_sort_that_issued_it(other: dict[str, Any]) -> None:
    _, token = pagination.page(list(range(7)), {**QUERY, "MaxResults": 2})
    assert token is not None
    with pytest.raises(InvalidToken, match="does not belong"):
        pagination.page(list(range(7)), {**other, "MaxResults": 2, "NextToken": token})
    marker_token = pagination.encode_marker("k", QUERY)
    with pytest.raises(InvalidToken):
        pagination.decode_marker(marker_token, other)


def test_the_page_size_is_not_part_of_the_binding() -> None:
    _, token = pagination.page(list(range(7)), {**QUERY, "MaxResults": 2})
    chunk, _ = pagination.page(list(range(7)), {**QUERY, "MaxResults": 4, "NextToken": token})
    assert chunk == [2, 3, 4, 5]


def test_the_fingerprint_ignores_member_order_and_reads_any_value() -> None:
    import datetime as dt  # noqa: PLC0415

    when = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    a = pagination.fingerprint({"x": 1, "t": when, "f": [{"Name": "n", "Values": ["v"]}]})
    b = pagination.fingerprint({"f": [{"Name": "n", "Values": ["v"]}], "t": when, "x": 1})
    assert a == b and len(a) == 16


# --- key tokens (ListClusterNodes: the last instance's launch time and id) ----------------------


def test_a_key_round_trips_exactly() -> None:
    key = (1796554412.7481234, "i-0123456789abcdef0")
    assert pagination.decode_key(pagination.encode_key(key, QUERY), QUERY) == key


@pytest.mark.parametrize(
    ("what", "value"),
    [
        ("overflow", '"1e400 i-0"'),
        ("NaN", '"nan i-0"'),
        ("infinity", '"-inf i-0"'),
        ("no id", '"5"'),
        ("empty id", '"5 "'),
        ("two spaces", '"5 i-0 x"'),
        ("not a number", '"five i-0"'),
        ("a number, not a string", "5"),
        ("a control character in the id", '"5 i-\\u0001"'),
        ("not ASCII", '"5 i-\\u00e9"'),
        ("too long", '"5 ' + "i" * 200 + '"'),
    ],
)
def test_a_crafted_key_for_this_very_query_is_refused(what: str, value: str) -> None:
    token = crafted('{"k":' + value + ',"q":"$FP"}')  # the right fingerprint: only the key is wrong
    with pytest.raises(InvalidToken):
        pagination.decode_key(token, QUERY)


def test_a_key_token_is_bound_to_its_query_and_kind() -> None:
    token = pagination.encode_key((5.0, "i-0"), QUERY)
    with pytest.raises(InvalidToken, match="does not belong"):
        pagination.decode_key(token, {**QUERY, "SortBy": "CREATION_TIME"})
    with pytest.raises(InvalidToken):
        pagination.decode_offset(token, QUERY)
    with pytest.raises(InvalidToken):
        pagination.decode_key(pagination.encode_offset(3, QUERY), QUERY)
