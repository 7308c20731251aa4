"""Which operation a REST request (rest-json, rest-xml) is: botocore's ``requestUri`` templates
compiled into a route table per service.

A template is a path with labels (``/clusters/{name}/addons/{addonName}``; a greedy ``{Key+}``
spans ``/``) and optionally literal query requirements (``/{Bucket}?list-type=2``,
``/{Bucket}/{Key+}?acl``). A request matches a route when the method is the same, the path
matches and every required query key is present with the required value. Of several matches the
most specific wins: most query and header requirements (a required member bound to the query
string or a header is a requirement too), then most literal path characters, then fewest greedy
labels, then not deprecated; botocore's ``x-id`` query parameter, when sent, names the
operation. Every operation of the model is routed, implemented or not, so a request for an
unimplemented operation is recognised as that operation rather than mistaken for a similar one.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from podwarden.wire.http import HttpRequest
from podwarden.wire.models import OperationModel, service_model

_LABEL = re.compile(r"\{([^}]+?)(\+?)\}")


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    pattern: re.Pattern[str]
    labels: tuple[str, ...]
    query: tuple[tuple[str, str | None], ...]
    headers: tuple[str, ...]
    rank: tuple[int, int, int, int, int]


@dataclass(frozen=True)
class Match:
    operation: str
    labels: dict[str, str]


def _compile(op: OperationModel) -> Route:
    uri = op.http.get("requestUri", "/")
    path, _, literal_query = uri.partition("?")
    regex, labels, literal, greedy = [], [], 0, 0
    pos = 0
    for found in _LABEL.finditer(path):
        text = path[pos : found.start()]
        regex.append(re.escape(text))
        literal += len(text)
        labels.append(found.group(1))
        greedy += bool(found.group(2))
        regex.append("(.+)" if found.group(2) else "([^/]+)")
        pos = found.end()
    headers: list[str] = []
    tail = path[pos:]
    regex.append(re.escape(tail.rstrip("/")) + "/?")  # tolerate a trailing slash
    literal += len(tail)
    query: tuple[tuple[str, str | None], ...] = tuple(
        (k, v if v or "=" in part else None)
        for part in literal_query.split("&")
        if part
        for k, v in [part.partition("=")[::2]]
    )
    # required members bound to the query string or headers tell apart operations that share a
    # template: S3's AbortMultipartUpload (?uploadId=) vs DeleteObject, CopyObject
    # (x-amz-copy-source) vs PutObject
    shape = op.input_shape
    required = set(shape.required_members) if shape is not None else set()
    for name in sorted(required):
        member = shape.members[name]
        location = member.serialization.get("location")
        key = member.serialization.get("name", name)
        if location == "querystring" and member.type_name != "map":
            query = (*query, (key, None))
        elif location == "header":
            headers.append(key.lower())
    return Route(
        operation=op.name,
        method=op.http.get("method", "POST"),
        pattern=re.compile("".join(regex) + r"\Z"),
        labels=tuple(labels),
        query=query,
        headers=tuple(headers),
        rank=(
            len(query) + len(headers),
            len(literal_query),
            literal,
            -greedy,
            0 if op.deprecated else 1,  # S3's GetBucketLifecycle loses to ...Configuration
        ),
    )


@functools.cache
def routes(service: str) -> tuple[Route, ...]:
    model = service_model(service)
    table = [_compile(model.operation_model(name)) for name in model.operation_names]
    return tuple(sorted(table, key=lambda r: r.rank, reverse=True))


def match(service: str, request: HttpRequest, path: str | None = None) -> Match | None:
    """The operation ``request`` addresses (``path`` overrides the request's, e.g. S3's
    virtual-host style rewritten to path style), with its URI labels percent-decoded."""
    raw_path = request.path if path is None else path
    query = dict(parse_qsl(request.query_string, keep_blank_values=True))
    for route in routes(service):
        if route.method != request.method:
            continue
        found = route.pattern.match(raw_path)
        if found is None:
            continue
        if any(k not in query or (v is not None and query[k] != v) for k, v in route.query):
            continue
        if any(h not in request.headers for h in route.headers):
            continue
        if "x-id" in query and query["x-id"] != route.operation:  # botocore names S3 calls
            continue
        return Match(
            route.operation,
            {n: unquote(v) for n, v in zip(route.labels, found.groups(), strict=True)},
        )
    return None
