"""The ASGI application: ``build_app(settings, services)``.

One loopback endpoint serves every AWS service podwarden speaks (SageMaker, EKS, EC2, IAM, STS,
S3, CloudWatch), as AWS's endpoints differ only by host: ``wire.dispatch`` finds the service
(``X-Amz-Target``, else the SigV4 scope's signing name), the service's protocol codec
(``wire.protocols``; for CloudWatch, the one of its protocols the request speaks) finds the
operation and decodes and validates its input, the handler from the operation table runs, and
the codec encodes the output. Each request is authenticated (``api.callers``) with SigV4 against
the configured credentials (and the session credentials STS issued) unless auth was explicitly
turned off; an unsigned one runs only for an operation AWS serves unsigned (``wire.unsigned``:
STS's AssumeRoleWithWebIdentity), with no caller.
Before that, podwarden's own routes (under ``/_podwarden/``: the EKS token webhook, the capacity
admin, metrics, and the mounted apps such as the dashboard) are answered by their own apps.
Every failure becomes an error in the service's own format; nothing a client sends produces an
HTTP 500.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from podwarden.api import eks_authn, refusals
from podwarden.api.body import MAX_BODY, Body, declared_length_problem, read_body
from podwarden.api.bulk import BulkPool
from podwarden.api.callers import Callers, Signed
from podwarden.api.capacity_admin import PATH as CAPACITY_PATH
from podwarden.api.capacity_admin import CapacityAdmin
from podwarden.api.operations import JSON_TARGETS, OPERATIONS
from podwarden.api.read_cache import ClockReadings, ReadCache
from podwarden.control.context import Context, InstanceTypes, Preflight
from podwarden.metrics import Metrics
from podwarden.metrics.route import PATH as METRICS_PATH
from podwarden.metrics.route import MetricsRoute
from podwarden.model.changes import Change
from podwarden.model.errors import PodwardenError
from podwarden.policy.capacity import SimulatedCapacity
from podwarden.store.sql import Store
from podwarden.wire import aws_chunked
from podwarden.wire.dispatch import destination, signing_name
from podwarden.wire.errors import UnknownOperation, WireError, wire_error
from podwarden.wire.http import HttpRequest, HttpResponse
from podwarden.wire.models import service_model
from podwarden.wire.protocols import PROTOCOLS, Codec, codec
from podwarden.wire.sigv2 import is_sigv2
from podwarden.wire.sigv4 import AuthFailure, Credential, IncomingRequest, ProtocolFamily
from podwarden.wire.sigv4_parse import Claim, read_claim

log = logging.getLogger("podwarden.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

# a request with a body at least this large runs on a worker thread, so that hashing, decoding and
# storing it never holds the event loop (the other requests and the reconcilers share it)
OFFLOAD_BYTES = 256 * 1024
DEFAULT_REGION = "us-west-2"


@dataclass(frozen=True)
class ApiSettings:
    credentials: tuple[Credential, ...]
    auth: bool = True  # turning SigV4 off is explicit (``--no-auth``), never the default
    default_region: str = DEFAULT_REGION


@dataclass
class Services:
    store: Store
    instance_types: InstanceTypes
    notify: Callable[[Change], None]  # a handler's wake-up, routed to the owning reconciler
    now: Callable[[], float]
    on_startup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # the HyperPod preflight Create/UpdateCluster run (podwarden.checks.enforce); None: off
    preflight: Preflight | None = None
    # the simulated EC2 capacity the cluster reconciler launches within (``/_podwarden/capacity``
    # reads and changes it); None: unlimited
    capacity: SimulatedCapacity | None = None
    # this server's Prometheus metrics (each request is recorded; ``/_podwarden/metrics``)
    metrics: Metrics = field(default_factory=Metrics)
    # podwarden's own ASGI apps by path prefix (under ``/_podwarden/``, which no S3 path-style
    # request can address): the web dashboard (``podwarden.dashboard``)
    mounts: dict[str, Asgi] = field(default_factory=dict)
    # how podwarden's own routes that read the background work's state (the capacity admin,
    # the metrics, the mounts) run: ``cli.work_loop.WorkLoop.asgi`` runs them on the loop that
    # owns that state; by default, on the API's own loop
    own_routes: Callable[[Asgi], Asgi] = lambda app: app


@dataclass
class _Seen:
    operation: str = ""  # the operation, once resolved (after authentication)


@dataclass(frozen=True)
class _Routed(Signed):
    """A request whose body arrived whole and whose service is known, ready to be handled."""

    request_id: str
    seen: _Seen  # what handling it found out, for the request's metrics


class PodwardenApp:
    def __init__(self, settings: ApiSettings, services: Services) -> None:
        self.settings = settings
        self.services = services
        self.callers = Callers(
            settings.credentials,
            services.store,
            services.now,
            auth=settings.auth,
            default_region=settings.default_region,
        )
        self._bulk = BulkPool()  # large requests: off the loop, at a lower CPU priority
        # answers of pure reads while the store is unchanged (``api.read_cache``)
        self._reads = ReadCache(services.store.generation)
        # the token webhook of the EKS clusters' apiservers (not an AWS API: before dispatch)
        self.eks_authn = eks_authn.EksAuthn(services.store, self.callers.lookup, services.now)
        self.capacity_admin = CapacityAdmin(
            services.capacity, services.store, services.instance_types
        )
        self.metrics_route = MetricsRoute(services.metrics)
        self._capacity_route = services.own_routes(self.capacity_admin)
        self._metrics_route = services.own_routes(self.metrics_route)
        # each of ``services.mounts`` under ``own_routes``, by prefix: (the app, what runs it)
        self._mounts: dict[str, tuple[Asgi, Asgi]] = {}
        # whether the server is shutting down (``cli.serving.uvicorn_server`` sets it): long-lived
        # responses (the dashboard's event streams) end then, so shutdown need not wait for them
        self.stopping: Callable[[], bool] = lambda: False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http" and scope["path"].startswith(eks_authn.PREFIX):
            await self.eks_authn(scope, receive, send)
        elif scope["type"] == "http" and scope["path"] == CAPACITY_PATH:
            await self._capacity_route(scope, receive, send)
        elif scope["type"] == "http" and scope["path"] == METRICS_PATH:
            await self._metrics_route(scope, receive, send)
        elif scope["type"] == "http" and (mounted := self._mounted(scope["path"])) is not None:
            await mounted(scope, receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for hook in self.services.on_startup:
                    await hook()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for hook in self.services.on_shutdown:
                    await hook()
                self._bulk.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = new_request_id()
        raw_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        protocol: Codec = PROTOCOLS["json"]
        request: HttpRequest | None = None
        service = ""  # botocore's name of the service, once known (its signing name too)
        seen = _Seen()
        try:
            body = await read_body(receive)
            if not body.complete:  # the client went away mid-body: nothing runs, nothing answers
                log.info(
                    "request %s: body incomplete (%d bytes), not run", request_id, body.received
                )
                return
            request = _request(scope, raw_headers, body.data)
            incoming = IncomingRequest(
                request.method, request.path, request.query_string, raw_headers, request.body
            )
            # S3's SigV2 names no service: the request's own shape says which (an IAM form
            # with SigV2 is IAM's, and IAM refuses it in its own format)
            v2 = is_sigv2(request.query_string, raw_headers, incoming.grouped)
            claim = None if v2 else _claim(incoming)
            signed_for = None if v2 else claim.service if claim else signing_name(request)
            dest = destination(request, JSON_TARGETS, signed_for, OPERATIONS.keys())
            if dest is None:
                target = request.headers.get("x-amz-target") or "(no X-Amz-Target)"
                raise UnknownOperation(f"Operation {target} is not supported.")
            if dest.service not in OPERATIONS:
                protocol, refusal = refusals.unknown_service(dest.service)
                raise refusal
            service = dest.service
            protocol = codec(service_model(service), request)
            _check_body(service, request, body)
            routed = _Routed(
                request=request,
                incoming=incoming,
                dest=dest,
                protocol=protocol,
                claim=claim,
                sigv2=v2,
                request_id=request_id,
                seen=seen,
            )
            response = await self._run(routed)
        except WireError as err:
            response = protocol.error(err, request_id, request)
        except AuthFailure as err:
            family = ProtocolFamily.of(protocol.family, service)
            spec = err.wire(family)
            wire = WireError(spec.code, spec.message, spec.status, spec.fields)
            response = protocol.error(wire, request_id, request)
        except Exception:  # a bug: still an AWS-shaped answer, and logged with the request id
            log.exception("request %s failed", request_id)
            failure = WireError("InternalFailure", f"Internal error; request id {request_id}", 500)
            response = protocol.error(failure, request_id, request)
        await _send(send, response, request_id, head=scope["method"] == "HEAD")
        elapsed = time.perf_counter() - started
        self.services.metrics.api_request(service, seen.operation, response.status, elapsed)

    async def _run(self, call: _Routed) -> HttpResponse:
        """Handle the request: inline when small (a thread hop would cost more than the work),
        on the bulk pool's thread when its body is large, with ``notify`` made thread-safe there."""
        if len(call.request.body) < OFFLOAD_BYTES:
            return self._handle(call, self.services.notify)
        loop = asyncio.get_running_loop()

        def notify(change: Change) -> None:
            loop.call_soon_threadsafe(self.services.notify, change)

        return await self._bulk.run(self._handle, call, notify)

    def _handle(self, routed: _Routed, notify: Callable[[Change], None]) -> HttpResponse:
        caller = self.callers.authenticate(routed)
        dest, protocol, request = routed.dest, routed.protocol, routed.request
        if dest.service == "s3":
            request = aws_chunked.decoded(request)
        resolved = protocol.resolve(dest.service, request, dest.target)
        routed.seen.operation = resolved.operation.name
        handler = OPERATIONS[dest.service].get(resolved.operation.name)
        if handler is None:
            raise refusals.not_implemented(dest.service, resolved.operation.name, protocol.family)
        now = self.services.now
        ticket = self._reads.ticket(
            dest.service,
            resolved.operation.name,
            request,
            family=protocol.family,
            caller=caller,
            now=now(),
        )
        clock = None
        if ticket is not None:
            kept = self._reads.answer(ticket, routed.request_id)
            self.services.metrics.read_cached(kept is not None)
            if kept is not None:
                return kept
            now = clock = ClockReadings(now)
        call = protocol.decode(resolved, request)
        ctx = Context(
            account=caller.account,
            region=caller.region,
            store=self.services.store,
            instance_types=self.services.instance_types,
            notify=notify,
            now=now,
            access_key_id=caller.access_key_id,
            principal_arn=caller.principal_arn,
            preflight=self.services.preflight,
        )
        try:
            output = handler(ctx, call.params)
        except PodwardenError as err:
            raise wire_error(dest.service, err) from err
        response = protocol.encode(call, output, routed.request_id)
        if ticket is not None and clock is not None:
            self._reads.keep(ticket, response, routed.request_id, clock)
        return response

    def _mounted(self, path: str) -> Asgi | None:
        for prefix, app in self.services.mounts.items():
            if path == prefix or path.startswith(prefix + "/"):
                kept = self._mounts.get(prefix)
                if kept is None or kept[0] is not app:
                    kept = self._mounts[prefix] = (app, self.services.own_routes(app))
                return kept[1]
        return None

    def sign_in(
        self, access_key_id: str, secret: str, session_token: str = ""
    ) -> tuple[Credential, float] | None:
        """The credential a person signs in to the dashboard with and when it expires, or None:
        the API's own credentials (``Callers.sign_in``)."""
        return self.callers.sign_in(access_key_id, secret, session_token)


_IDS = random.Random()  # noqa: S311 - ids identify, they guard nothing; seeded from the OS


def new_request_id() -> str:
    """A fresh request id in AWS's form, a version-4 UUID. It identifies a request and guards
    nothing, so a seeded generator serves: ``str(uuid.uuid4())`` reads ``os.urandom`` and
    builds a UUID object, 2-5 µs of a cached read's 65 (measured in-process)."""
    h = f"{_IDS.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


def _claim(incoming: IncomingRequest) -> Claim | None:
    """The request's SigV4 claim, read once for both routing (its signing name) and ``verify``;
    None when it does not read (``verify`` reads it again and says why) or when a header name
    repeats (routing then reads the comma-joined headers, as it always did)."""
    grouped = incoming.grouped
    if len(grouped) != len(incoming.headers):
        return None
    try:
        return read_claim(incoming.query_string, grouped)
    except Exception:
        return None


def _check_body(service: str, request: HttpRequest, body: Body) -> None:
    """A body over the limit, or one its ``Content-Length`` does not match, runs nothing."""
    if body.too_large:
        raise refusals.too_large(service, body.received, MAX_BODY)
    problem = declared_length_problem(request.headers, body.received)
    if problem is not None:
        raise refusals.incomplete_body(service, problem)


def _request(scope: Scope, raw_headers: list[tuple[str, str]], body: bytes) -> HttpRequest:
    headers: dict[str, str] = {}
    for name, value in raw_headers:
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    raw_path = scope.get("raw_path") or scope["path"].encode()
    return HttpRequest(
        method=scope["method"],
        path=raw_path.decode("latin-1"),
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=body,
    )


async def _send(send: Send, response: HttpResponse, request_id: str, *, head: bool) -> None:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    names = {k for k, _ in headers}
    if b"content-length" not in names:
        headers.append((b"content-length", str(len(response.body)).encode()))
    if b"x-amzn-requestid" not in names:
        headers.append((b"x-amzn-requestid", request_id.encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else response.body})


def build_app(settings: ApiSettings, services: Services) -> PodwardenApp:
    return PodwardenApp(settings, services)
