"""Inputs the fuzz test (tests/fuzz) found that once crashed or stalled a decoder: each one is
answered as a client error, in time and memory linear in its size."""

from __future__ import annotations

import pytest

from podwarden.wire.query_protocol import MAX_PATH, _Params
from podwarden.wire.text_scalars import Malformed
from podwarden.wire.xml_codec import parse_document


@pytest.mark.parametrize("parts", [10, 16_000, 100_000])
def test_a_deeply_dotted_form_key_indexes_only_reachable_prefixes(parts: int) -> None:
    """``.member.1`` repeated 100,000 times once cost 16 GiB (every dotted prefix was kept)."""
    key = ".member.1" * parts
    params = _Params({key: "x", "Tags.member.1.Key": "k"})
    assert "Tags.member.1" in params.prefixes and "Tags.member.1.Key" in params.prefixes
    assert all(len(p) <= MAX_PATH for p in params.prefixes)
    assert sum(len(p) for p in params.prefixes) <= 2 * MAX_PATH * MAX_PATH


@pytest.mark.parametrize("encoding", ["klingon", "utf-32-nonsense", ""])
def test_an_xml_body_in_an_unknown_encoding_is_malformed(encoding: str) -> None:
    body = f'<?xml version="1.0" encoding="{encoding}"?><a/>'.encode()
    with pytest.raises(Malformed):
        parse_document(body)
