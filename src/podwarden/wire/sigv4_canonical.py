"""The canonical request of AWS Signature Version 4, built the way botocore builds it.

Pure functions over strings (stdlib ``hashlib``/``hmac``/``urllib.parse`` only); ``sigv4`` uses
them to recompute a client's signature. Every rule mirrors ``botocore.auth.SigV4Auth`` (the oracle
in ``tests/wire/test_sigv4.py``):

* **URI**: S3 signs the path exactly as sent (``S3SigV4Auth._normalize_url_path``); every other
  service signs ``quote(remove_dot_segments(path), safe="/~")`` of the path *as sent*, i.e. the
  already percent-encoded path is encoded once more ("double encoding") after dropping ``.``,
  ``..`` and empty segments.
* **Query**: botocore has two signing paths and they disagree on the wire form. A URL query string
  (what every serializer produces) is signed as the raw ``key=value`` pairs sorted as they stand;
  ``AWSRequest.params`` is signed as ``quote(key)=quote(value)`` (``safe="-_.~"``) but sent through
  ``urlencode`` (space as ``+``). The RFC 3986 canonical form — decode each pair (``+`` as space),
  re-encode with ``safe="-_.~"``, sort by key then value — equals both whenever the wire form is
  itself canonical, which is what SDKs send; :func:`canonical_queries` returns that form first and
  the raw-sorted form second when it differs. Either one is a signature over the exact request.
* **Headers**: lower-cased names in ``SignedHeaders`` order, each value trimmed and with inner
  whitespace runs (``str.split()``: also folded lines, tabs) collapsed to one space, repeated
  headers joined with ``,``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from urllib.parse import quote, unquote_to_bytes

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_UNSIGNED_PAYLOAD_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

_UNRESERVED = "-_.~"
_PLAIN = re.compile(r"[A-Za-z0-9\-_.~]*")  # needs no decoding and no encoding


def remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4 plus collapsing ``//``, exactly as ``botocore.utils.remove_dot_segments``."""
    if not path:
        return ""
    output: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if output:
                output.pop()
        else:
            output.append(segment)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and output else ""
    return first + "/".join(output) + last


def canonical_uri(raw_path: str, *, s3: bool) -> str:
    """The canonical URI of a path as sent on the wire (percent-encoded, without the query)."""
    if s3:
        return raw_path or "/"
    return _encoded_path(raw_path)


@lru_cache(maxsize=1024)
def _encoded_path(raw_path: str) -> str:
    """A non-S3 path's canonical URI; cached, as clients send the same few paths over and over
    (every awsJson and query request signs ``/``)."""
    normalized = remove_dot_segments(raw_path) if raw_path else "/"
    return quote(normalized.encode("utf-8", "surrogateescape"), safe="/~")


def _split_pairs(raw_query: str) -> list[tuple[str, str]]:
    if not raw_query:
        return []
    pairs: list[tuple[str, str]] = []
    for item in raw_query.split("&"):
        key, _, value = item.partition("=")
        pairs.append((key, value))
    return pairs


def _decode_bytes(component: str) -> bytes:
    if "%" not in component and "+" not in component:
        return component.encode("utf-8", "surrogateescape")
    return unquote_to_bytes(component.replace("+", " "))


def _canonical_component(component: str) -> str:
    if _PLAIN.fullmatch(component):
        return component
    return quote(_decode_bytes(component), safe=_UNRESERVED)


def decode_component(component: str) -> str:
    """A query key or value as the application reads it (``+`` as space, UTF-8, lenient)."""
    return _decode_bytes(component).decode("utf-8", "replace")


def query_params(raw_query: str) -> list[tuple[str, str]]:
    """The decoded ``(key, value)`` pairs of a raw query string, in order, repeats kept."""
    return [(decode_component(k), decode_component(v)) for k, v in _split_pairs(raw_query)]


def canonical_queries(raw_query: str, *, exclude: str | None = None) -> list[str]:
    """The canonical query string(s) to try, best first (see the module docstring).

    ``exclude`` drops every pair whose decoded key equals it (``X-Amz-Signature`` for presigned
    URLs, which the signature cannot cover).
    """
    if not raw_query:
        return [""]
    raw_pairs = _split_pairs(raw_query)
    if exclude is not None:
        raw_pairs = [(k, v) for k, v in raw_pairs if decode_component(k) != exclude]
    encoded = sorted((_canonical_component(k), _canonical_component(v)) for k, v in raw_pairs)
    canonical = "&".join(f"{k}={v}" for k, v in encoded)
    raw = "&".join(f"{k}={v}" for k, v in sorted(raw_pairs))
    return [canonical] if raw == canonical else [canonical, raw]


def trim_value(value: str) -> str:
    """SigV4 ``Trimall``: strip, and collapse each whitespace run to one space."""
    return " ".join(value.split())


def group_headers(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Header values by lower-cased name, in the order received."""
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name.strip().lower(), []).append(value)
    return grouped


def canonical_headers(
    headers: Mapping[str, Sequence[str]], signed: Sequence[str]
) -> tuple[str, list[str]]:
    """The canonical header block for ``signed`` names, and the signed names that are absent."""
    lines: list[str] = []
    missing: list[str] = []
    for name in signed:
        values = headers.get(name)
        if values is None:
            missing.append(name)
            lines.append(f"{name}:")
        elif len(values) == 1:  # the usual case, without a generator per header
            lines.append(f"{name}:{' '.join(values[0].split())}")
        else:
            lines.append(f"{name}:{','.join(trim_value(v) for v in values)}")
    return "\n".join(lines), missing


def canonical_request(
    method: str,
    uri: str,
    query: str,
    *,
    header_block: str,
    signed: Sequence[str],
    payload_hash: str,
) -> str:
    return "\n".join(
        (method.upper(), uri, query, header_block + "\n", ";".join(signed), payload_hash)
    )


def string_to_sign(timestamp: str, scope: str, request: str) -> str:
    digest = hashlib.sha256(request.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"


@lru_cache(maxsize=4096)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """``kSigning``: HMAC chain over date, region, service and the terminator; cached."""
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def signature(key: bytes, to_sign: str) -> str:
    # hmac.digest: OpenSSL's one-shot HMAC, no HMAC object (about 1 µs less a request)
    return hmac.digest(key, to_sign.encode("utf-8", "surrogateescape"), "sha256").hex()


def signatures_match(expected: str, provided: str) -> bool:
    """Constant-time comparison of two hex signatures."""
    return hmac.compare_digest(expected.encode(), provided.encode("utf-8", "replace"))
