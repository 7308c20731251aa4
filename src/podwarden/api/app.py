"""The ASGI application: ``build_app(settings, services)``.

One loopback endpoint serves every AWS service podwarden speaks, as AWS's endpoints differ only
by host: awsJson requests are routed by ``X-Amz-Target``. Each request is authenticated with
SigV4 against the configured credentials unless auth was explicitly turned off. Every failure
becomes an AWS-style error body; nothing a client sends produces an HTTP 500.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from podwarden.api.operations import JSON_TARGETS, OPERATIONS
from podwarden.control.context import Context, InstanceTypes
from podwarden.model.errors import PodwardenError
from podwarden.store.sql import Store
from podwarden.wire import json_protocol
from podwarden.wire.errors import UnknownOperation, WireError, wire_error
from podwarden.wire.models import operation_model
from podwarden.wire.sigv4 import AuthFailure, Credential, IncomingRequest, verify

log = logging.getLogger("podwarden.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY = 16 * 1024 * 1024
JSON_CONTENT_TYPE = b"application/x-amz-json-1.1"
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


class PodwardenApp:
    def __init__(self, settings: ApiSettings, services: Services) -> None:
        self.settings = settings
        self.services = services
        self._by_key = {c.access_key_id: c for c in settings.credentials}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
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
        try:
            body = await _read_body(receive)
            status, payload = self._handle(scope, body)
        except WireError as err:
            status, payload = err.status, json_protocol.encode_error(err.code, err.message)
        except AuthFailure as err:
            status, payload = err.status, json_protocol.encode_error(err.code, err.message)
        except Exception:  # a bug: still an AWS-shaped answer, and logged with the request id
            log.exception("request %s failed", request_id)
            status = 500
            payload = json_protocol.encode_error(
                "InternalFailure", f"Internal error; request id {request_id}"
            )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", JSON_CONTENT_TYPE),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-amzn-requestid", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def _handle(self, scope: Scope, body: bytes) -> tuple[int, bytes]:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        account, region = self._authenticate(scope, headers, body)
        target = next((v for k, v in headers if k.lower() == "x-amz-target"), "")
        prefix, _, op_name = target.partition(".")
        service = JSON_TARGETS.get(prefix)
        handler = OPERATIONS.get(service or "", {}).get(op_name)
        if service is None or handler is None:
            raise UnknownOperation(f"Operation {target or '(no X-Amz-Target)'} is not supported.")
        op = operation_model(service, op_name)
        request = json_protocol.decode_request(op, body)
        ctx = Context(
            account=account,
            region=region,
            store=self.services.store,
            instance_types=self.services.instance_types,
            wake=self.services.wake,
            now=self.services.now,
        )
        try:
            output = handler(ctx, request)
        except PodwardenError as err:
            raise wire_error(service, err) from err
        return 200, json_protocol.encode_response(op, output)

    def _authenticate(
        self, scope: Scope, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[str, str]:
        if not self.settings.auth:
            first = self.settings.credentials[0] if self.settings.credentials else None
            account = first.account_id if first else DEFAULT_ACCOUNT
            return account, self.settings.default_region
        raw_path = scope.get("raw_path") or scope["path"].encode()
        verified = verify(
            IncomingRequest(
                method=scope["method"],
                raw_path=raw_path.decode("latin-1"),
                query_string=scope.get("query_string", b"").decode("latin-1"),
                headers=headers,
                body=body,
            ),
            self._by_key.get,
            datetime.now(UTC),
        )
        return verified.credential.account_id, verified.region


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
