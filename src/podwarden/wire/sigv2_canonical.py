"""The StringToSign of S3's Signature Version 2, built the way botocore's ``HmacV1Auth`` and
``HmacV1QueryAuth`` build it (the oracle in ``tests/wire/test_sigv2.py``), and the signature
over it: ``base64(HMAC-SHA1(secret, StringToSign))``. Pure functions over strings; ``sigv2``
uses them to recompute a client's signature (its docstring states the rules).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import unquote_to_bytes

from podwarden.wire.sigv4 import IncomingRequest

# The query parameters a SigV2 CanonicalizedResource includes: AWS's documented list (acl,
# lifecycle, location, logging, notification, partNumber, policy, requestPayment, uploadId,
# uploads, versionId, versioning, versions, website, delete and the response-* overrides) and the
# ones botocore's HmacV1Auth adds: exactly botocore's list, so that boto3 verifies (a test holds
# the two equal).
SUBRESOURCES: frozenset[str] = frozenset(
    {
        "accelerate",
        "acl",
        "analytics",
        "cors",
        "defaultObjectAcl",
        "delete",
        "inventory",
        "lifecycle",
        "location",
        "logging",
        "metrics",
        "notification",
        "object-lock",
        "partNumber",
        "policy",
        "replication",
        "requestPayment",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        "restore",
        "select",
        "select-type",
        "storageClass",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
    }
)


def _decoded(component: str) -> str:
    return unquote_to_bytes(component).decode("utf-8", "surrogateescape")


def _subresources(query_string: str) -> str:
    """``?name&name=value…`` of the signed sub-resources (values decoded, ``+`` kept), or ""."""
    found: list[tuple[str, str]] = []
    for item in query_string.split("&") if query_string else []:
        raw_key, equals, value = item.partition("=")
        key = _decoded(raw_key)
        if key in SUBRESOURCES:
            found.append((key, f"{key}={_decoded(value)}" if equals else key))
    found.sort(key=lambda pair: pair[0])  # stable: repeated names keep their order
    return "?" + "&".join(entry for _, entry in found) if found else ""


def _resources(raw_path: str, query_string: str, bucket_host: str | None) -> list[str]:
    """The CanonicalizedResource(s) to try, best first."""
    path = raw_path or "/"
    tail = _subresources(query_string)
    if bucket_host:
        return [f"/{bucket_host}{path}{tail}"]
    found = [path + tail]
    if path.count("/") == 1 and len(path) > 1:  # a bare path-style bucket, signed as "/bkt/"
        found.insert(0, f"{path}/{tail}")
    return found


def _amz_headers(
    headers: Mapping[str, Sequence[str]], params: Sequence[tuple[str, str]], *, presigned: bool
) -> str:
    values: dict[str, list[str]] = {
        name: list(found) for name, found in headers.items() if name.startswith("x-amz-")
    }
    if presigned:
        for key, value in params:
            name = key.lower()
            if name.startswith("x-amz-"):
                values.setdefault(name, []).append(value)
    return "".join(
        f"{name}:{','.join(v.strip() for v in values[name])}\n" for name in sorted(values)
    )


def _content_line(
    name: str,
    headers: Mapping[str, Sequence[str]],
    params: Sequence[tuple[str, str]],
    *,
    presigned: bool,
) -> str:
    if name in headers:
        return ",".join(v.strip() for v in headers[name])
    if presigned:
        return next((v.strip() for k, v in params if k.lower() == name), "")
    return ""


def string_to_sign(
    method: str,
    resource: str,
    *,
    content_md5: str = "",
    content_type: str = "",
    date_line: str = "",
    amz: str = "",
) -> str:
    """SigV2's StringToSign; ``amz`` is the CanonicalizedAmzHeaders block (``name:value\\n``…)."""
    return f"{method.upper()}\n{content_md5}\n{content_type}\n{date_line}\n{amz}{resource}"


def signature(secret: str, to_sign: str) -> str:
    """``base64(HMAC-SHA1(secret, to_sign))``."""
    digest = hmac.new(
        secret.encode("utf-8"), to_sign.encode("utf-8", "surrogateescape"), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def strings_to_sign(
    request: IncomingRequest,
    headers: Mapping[str, Sequence[str]],
    params: Sequence[tuple[str, str]],
    *,
    presigned: bool,
    date_line: str,
    bucket_host: str | None,
) -> list[str]:
    """The request's StringToSign for each CanonicalizedResource to try, best first."""
    lines = {
        "content_md5": _content_line("content-md5", headers, params, presigned=presigned),
        "content_type": _content_line("content-type", headers, params, presigned=presigned),
        "date_line": date_line,
        "amz": _amz_headers(headers, params, presigned=presigned),
    }
    return [
        string_to_sign(request.method, resource, **lines)
        for resource in _resources(request.raw_path, request.query_string, bucket_host)
    ]
