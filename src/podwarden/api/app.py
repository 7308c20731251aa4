"""The ASGI application: ``build_app(settings, services)``.

One loopback endpoint serves every AWS service podwarden speaks (SageMaker, EKS, EC2, IAM, STS,
S3), as AWS's endpoints differ only by host: ``wire.dispatch`` finds the service (``X-Amz-Target``,
else the SigV4 scope's signing name), the service's protocol codec (``wire.protocols``) finds the
operation and decodes and validates its input, the handler from the operation table runs, and
the codec encodes the output. Each request is authenticated with SigV4 against the configured
credentials (and the session credentials STS issued) unless auth was explicitly turned off.
Every failure becomes an error in the service's own format; nothing a client sends produces an
HTTP 500.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from podwarden.api import eks_authn
from podwarden.api.operations import JSON_TARGETS, OPERATIONS
from podwarden.control.aws.sts import session_credential
from podwarden.control.context import Context, InstanceTypes, Preflight
from podwarden.model.errors import PodwardenError
from podwarden.store.sql import Store
from podwarden.wire import aws_chunked
from podwarden.wire import sigv4_canonical as canon
from podwarden.wire.dispatch import Destination, destination, signing_name
from podwarden.wire.errors import UnknownOperation, WireError, wire_error
from podwarden.wire.http import HttpRequest, HttpResponse
from podwarden.wire.models import service_model
from podwarden.wire.protocols import PROTOCOLS, Codec, codec
from podwarden.wire.sigv4 import (
    AuthFailure,
    Credential,
    FailureKind,
    IncomingRequest,
    ProtocolFamily,
    verify,
)
from podwarden.wire.sigv4_errors import BAD_KEY_TEXT
from podwarden.wire.sigv4_parse import Claim, read_claim

log = logging.getLogger("podwarden.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY = 16 * 1024 * 1024
_READS = ("Describe", "List", "Get", "Head")
DEFAULT_ACCOUNT = "000000000000"
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
    wake: Callable[[], None]
    now: Callable[[], float]
    on_startup: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    on_shutdown: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # the HyperPod preflight Create/UpdateCluster run (podwarden.checks.enforce); None: off
    preflight: Preflight | None = None


@dataclass(frozen=True)
class _Caller:
    account: str
    region: str
    access_key_id: str
    principal_arn: str


class PodwardenApp:
    def __init__(self, settings: ApiSettings, services: Services) -> None:
        self.settings = settings
        self.services = services
        self._by_key = {c.access_key_id: c for c in settings.credentials}
        # the token webhook of the EKS clusters' apiservers (not an AWS API: before dispatch)
        self.eks_authn = eks_authn.EksAuthn(services.store, self._lookup, services.now)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http" and scope["path"].startswith(eks_authn.PREFIX):
            await self.eks_authn(scope, receive, send)
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
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = str(uuid.uuid4())
        raw_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        protocol: Codec = PROTOCOLS["json"]
        request: HttpRequest | None = None
        service = ""  # botocore's name of the service, once known (its signing name too)
        try:
            body = await _read_body(receive)
            request = _request(scope, raw_headers, body)
            claim = _claim(request, raw_headers)
            signed_for = claim.service if claim is not None else signing_name(request)
            dest = destination(request, JSON_TARGETS, signed_for)
            if dest is None:
                target = request.headers.get("x-amz-target") or "(no X-Amz-Target)"
                raise UnknownOperation(f"Operation {target} is not supported.")
            service = dest.service
            protocol = codec(service_model(service))
            response = self._handle(request, raw_headers, dest, protocol, request_id, claim=claim)
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

    def _handle(
        self,
        request: HttpRequest,
        raw_headers: list[tuple[str, str]],
        dest: Destination,
        protocol: Codec,
        request_id: str,
        *,
        claim: Claim | None,
    ) -> HttpResponse:
        caller = self._authenticate(request, raw_headers, claim)
        if dest.service == "s3":
            request = aws_chunked.decoded(request)
        resolved = protocol.resolve(dest.service, request, dest.target)
        handler = OPERATIONS.get(dest.service, {}).get(resolved.operation.name)
        if handler is None:
            raise _not_implemented(dest.service, resolved.operation.name)
        call = protocol.decode(resolved, request)
        ctx = Context(
            account=caller.account,
            region=caller.region,
            store=self.services.store,
            instance_types=self.services.instance_types,
            wake=self.services.wake,
            now=self.services.now,
            access_key_id=caller.access_key_id,
            principal_arn=caller.principal_arn,
            preflight=self.services.preflight,
        )
        try:
            output = handler(ctx, call.params)
        except PodwardenError as err:
            raise wire_error(dest.service, err) from err
        if dest.service == "eks" and not call.operation.name.startswith(_READS):
            self.services.wake()  # the EKS reconciler acts now rather than at its next resync
        return protocol.encode(call, output, request_id)

    def _lookup(self, access_key_id: str) -> Credential | None:
        found = self._by_key.get(access_key_id)
        if found is not None:
            return found
        session = session_credential(self.services.store, access_key_id, self.services.now())
        if session is None:
            return None
        return Credential(
            access_key_id=access_key_id,
            secret_access_key=session.secret_access_key,
            account_id=session.account,
            principal_arn=session.principal_arn,
        )

    def _authenticate(
        self, request: HttpRequest, raw_headers: list[tuple[str, str]], claim: Claim | None
    ) -> _Caller:
        if not self.settings.auth:
            first = self.settings.credentials[0] if self.settings.credentials else None
            return _Caller(
                account=first.account_id if first else DEFAULT_ACCOUNT,
                region=self.settings.default_region,
                access_key_id=first.access_key_id if first else "",
                principal_arn=first.principal_arn if first else "",
            )
        verified = verify(
            IncomingRequest(
                method=request.method,
                raw_path=request.path,
                query_string=request.query_string,
                headers=raw_headers,
                body=request.body,
            ),
            self._lookup,
            datetime.now(UTC),
            claim=claim,
        )
        key = verified.credential.access_key_id
        if key not in self._by_key:  # STS session credentials need their session token
            session = session_credential(self.services.store, key, self.services.now())
            if session is None or verified.session_token != session.session_token:
                raise AuthFailure(FailureKind.UNKNOWN_ACCESS_KEY, BAD_KEY_TEXT + ".")
        return _Caller(
            account=verified.credential.account_id,
            region=verified.region,
            access_key_id=key,
            principal_arn=verified.credential.principal_arn,
        )


def _claim(request: HttpRequest, raw_headers: list[tuple[str, str]]) -> Claim | None:
    """The request's SigV4 claim, read once for both routing (its signing name) and ``verify``;
    None when it does not read (``verify`` reads it again and says why) or when a header name
    repeats (routing then reads the comma-joined headers, as it always did)."""
    grouped = canon.group_headers(raw_headers)
    if len(grouped) != len(raw_headers):
        return None
    try:
        return read_claim(request.query_string, grouped)
    except Exception:
        return None


def _not_implemented(service: str, operation: str) -> WireError:
    """An operation of the service's model that podwarden does not serve. Never a 5xx that
    botocore would retry: S3 answers 501 NotImplemented (not retried), others a 400."""
    message = f"podwarden does not implement {service} {operation}."
    family = service_model(service).metadata["protocol"]
    if service == "s3":
        return WireError("NotImplemented", message, 501)
    if family in ("query", "ec2"):
        return WireError("InvalidAction", message)
    return UnknownOperation(message)


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


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise WireError(
                "SerializationException",
                f"The request body is larger than {MAX_BODY // (1024 * 1024)} MiB.",
                413,
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def build_app(settings: ApiSettings, services: Services) -> PodwardenApp:
    return PodwardenApp(settings, services)
