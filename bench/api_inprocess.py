"""bench/api.py's ``inprocess`` suite: what podwarden's own code costs a request, with no socket
and no event loop around it (the over-HTTP suites measure the whole stack, whose noise on a
small virtual machine hides differences of a few microseconds).

The account server's app (``serve_account``'s: no Kubernetes) is built in this process; boto3
clients reach it through a ``before-send`` hook that drives the app's coroutine directly. The
local account is seeded as in the ``account`` suite; then, per operation, one boto3-signed request
is recorded and replayed ``calls`` times straight into the app, with its read cache (a hit, for
the operations ``policy/tables/read_cache.yaml`` lists) and with a cache that keeps nothing (the
handler runs), interleaved call by call. A replayed request is a valid SigV4 request for as long
as its signature's time is within the allowed skew: the whole run takes seconds.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import AWSResponse  # type: ignore[import-untyped]

from podwarden.api.app import ApiSettings, PodwardenApp, Services, build_app
from podwarden.api.read_cache import ReadCache
from podwarden.cli.server import CatalogInstanceTypes, local_credentials
from podwarden.policy.catalog import load_catalog
from podwarden.policy.read_cache import ReadCacheTable
from podwarden.store.sql import Store, sqlite_url

Recorded = tuple[dict[str, Any], bytes]  # an ASGI scope and the request's body


class _Stream:
    """The raw body botocore reads a response from: whole (``stream``) or in parts (``read``, a
    streaming output such as S3 GetObject's)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, amt: int | None = None) -> bytes:
        size = len(self._body) if amt is None else amt
        data, self._body = self._body[:size], self._body[size:]
        return data


def _scope(request: Any) -> Recorded:
    url = urlsplit(request.url)
    headers = [
        (k.lower().encode(), (v if isinstance(v, str) else v.decode()).encode())
        for k, v in request.headers.items()
    ]
    if not any(k == b"host" for k, _ in headers):  # what the HTTP client adds, signed
        headers.insert(0, (b"host", url.netloc.encode()))
    body = request.body or b""
    body = body.read() if hasattr(body, "read") else body
    body = body.encode() if isinstance(body, str) else body
    scope = {
        "type": "http",
        "method": request.method,
        "path": url.path,
        "raw_path": url.path.encode(),
        "query_string": url.query.encode(),
        "headers": headers,
    }
    return scope, body


def account_app(store: Store) -> PodwardenApp:
    """podwarden's app without Kubernetes (no reconciler, no control plane) on ``store``, with
    the local account's credentials: what the account suites measure."""
    services = Services(
        store=store,
        instance_types=CatalogInstanceTypes(load_catalog()),
        notify=lambda _change: None,
        now=time.time,
    )
    return build_app(ApiSettings(credentials=local_credentials()), services)


def call_app(app: PodwardenApp, scope: dict[str, Any], body: bytes) -> dict[str, Any]:
    """Run one request through the app's coroutine, which completes without waiting on
    anything for a small request (its body arrives whole; the handler runs inline)."""
    out: dict[str, Any] = {}

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"], out["headers"] = message["status"], message["headers"]
        else:
            out["body"] = message.get("body", b"")

    coroutine = app(scope, receive, send)
    try:
        coroutine.send(None)
    except StopIteration:
        return out
    coroutine.close()
    raise RuntimeError("the app waited on something: not a request this suite can drive")


def in_process(
    clients: Callable[[str], dict[str, Any]],
    operations: Callable[[dict[str, Any]], dict[str, Callable[[], Any]]],
    calls: int,
) -> dict[str, Any]:
    """``{operation: {cached_us, uncached_us, n}}``: p50 microseconds a request, in the app.
    ``clients(endpoint)`` are the account suite's boto3 clients, ``operations(clients)`` seeds
    the account through them and gives its calls (bench/api.py's)."""
    with tempfile.TemporaryDirectory(prefix="pw-bench-inprocess-") as tmp:
        store = Store(sqlite_url(Path(tmp)))
        try:
            app = account_app(store)
            last: list[Recorded] = []

            def before_send(request: Any, **_: Any) -> AWSResponse:
                scope, body = _scope(request)
                last[:] = [(scope, body)]
                out = call_app(app, scope, body)
                headers = {k.decode(): v.decode() for k, v in out["headers"]}
                return AWSResponse(request.url, out["status"], headers, _Stream(out["body"]))

            c = clients("http://127.0.0.1:9")  # never connected to: the hook answers
            for client in c.values():
                client.meta.events.register("before-send", before_send)
            ops = operations(c)
            recorded: dict[str, Recorded] = {}
            for op, call in ops.items():
                call()
                recorded[op] = last[0]
            cached = app._reads
            keeps_nothing = ReadCache(store.generation, ReadCacheTable({}))
            return _timed(app, recorded, calls, {"cached": cached, "uncached": keeps_nothing})
        finally:
            store.close()


def _timed(
    app: PodwardenApp, recorded: dict[str, Recorded], calls: int, caches: dict[str, ReadCache]
) -> dict[str, Any]:
    samples: dict[str, dict[str, list[float]]] = {
        op: {name: [] for name in caches} for op in recorded
    }
    order = list(caches.items())
    for i in range(calls):
        for op, (scope, body) in recorded.items():
            for name, cache in order if i % 2 else order[::-1]:  # neither always goes first
                app._reads = cache
                t0 = time.perf_counter()
                out = call_app(app, scope, body)
                samples[op][name].append(time.perf_counter() - t0)
                assert out["status"] == 200, (op, out["status"], out.get("body", b"")[:300])
    return {
        op: {f"{name}_us": round(statistics.median(v) * 1e6, 1) for name, v in by.items()}
        | {"n": calls}
        for op, by in samples.items()
    }
