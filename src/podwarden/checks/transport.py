"""How the preflight's collectors reach AWS: one :data:`Call` signature, two transports.

``call(service, operation, params) -> dict`` takes the operation's input as botocore's client
takes it and returns its output as the client returns it. :func:`botocore_transport` is the
real thing (an AWS account through the usual credential chain, or podwarden's endpoint with
``endpoint_url``); :func:`in_process` calls podwarden's own handlers with the request's
context, inside the server. Both turn a modeled error into :class:`CallFailed` (the collector
records it as an unknown or missing fact); a transport that cannot work at all (no
credentials, no endpoint) raises :class:`TransportError`.

botocore rather than boto3: boto3 is a thin layer over botocore's clients (same credential
chain, same client methods) and only botocore is a runtime dependency of podwarden.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

import botocore.session  # type: ignore[import-untyped]
from botocore import xform_name
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from podwarden.control.context import Context, Handler
from podwarden.model.errors import PodwardenError
from podwarden.wire.errors import FAMILIES, wire_error

Call = Callable[[str, str, dict[str, Any]], dict[str, Any]]
READ_ONLY = re.compile(r"(Describe|List|Get)[A-Z][A-Za-z]*")
# codes that say the named resource does not exist (EC2's are "<Resource>.NotFound")
MISSING_CODES = frozenset(
    {"ResourceNotFoundException", "NoSuchEntity", "ResourceNotFound", "NotFoundException"}
)


class CallFailed(Exception):
    def __init__(self, service: str, operation: str, code: str, message: str) -> None:
        super().__init__(f"{service} {operation}: {code}: {message}")
        self.service = service
        self.operation = operation
        self.code = code
        self.message = message

    @property
    def missing(self) -> bool:
        return self.code in MISSING_CODES or self.code.endswith(".NotFound")

    @property
    def reason(self) -> str:
        return f"{self.service} {self.operation}: {self.code}: {self.message}"


class TransportError(Exception):
    """The transport cannot reach AWS at all: no credentials, no Region, no endpoint."""


def is_read_only(operation: str) -> bool:
    return READ_ONLY.fullmatch(operation) is not None


def botocore_transport(
    *, region: str | None, endpoint_url: str | None = None, profile: str | None = None
) -> Call:
    """Clients of one botocore session (the usual credential chain; ``profile`` picks a named
    profile), created per service on first use. Only read-only operations are let through."""
    try:
        session = botocore.session.Session(profile=profile)
    except BotoCoreError as exc:
        raise TransportError(str(exc)) from exc
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, user_agent_extra="podwarden")
    clients: dict[str, Any] = {}

    def call(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if not is_read_only(operation):
            raise ValueError(f"the preflight never calls {service} {operation}")
        try:
            found = clients.get(service)
            if found is None:
                found = clients[service] = session.create_client(
                    service, region_name=region, endpoint_url=endpoint_url, config=config
                )
            out: dict[str, Any] = getattr(found, xform_name(operation))(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise CallFailed(
                service, operation, str(error.get("Code", "")), str(error.get("Message", ""))
            ) from exc
        except BotoCoreError as exc:
            raise TransportError(str(exc)) from exc
        out.pop("ResponseMetadata", None)
        return out

    return call


def in_process(ctx: Context, handlers: Mapping[str, Mapping[str, Handler]]) -> Call:
    """podwarden's own handlers, called with ``ctx`` (the account and Region of the request
    being checked). An operation the table lacks is a CallFailed, as AWS answers one podwarden
    does not serve."""

    def call(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if not is_read_only(operation):
            raise ValueError(f"the preflight never calls {service} {operation}")
        handler = handlers.get(service, {}).get(operation)
        if handler is None:
            raise CallFailed(
                service, operation, "NotImplemented", "podwarden does not serve this operation"
            )
        try:
            return handler(ctx, copy.deepcopy(params))
        except PodwardenError as exc:
            code, message = type(exc).__name__, exc.message
            if service in FAMILIES:  # as the wire words it: what botocore_transport would see
                wire = wire_error(service, exc)
                code, message = wire.code, wire.message
            raise CallFailed(service, operation, code, message) from exc

    return call
