"""Errors as they go on the wire, and the table from domain errors to ``(__type, HTTP status)``.

``WireError`` is what a codec raises for a request it cannot accept (``SerializationException``,
``ValidationException``, ``UnknownOperationException``) and what ``wire_error`` turns a domain
error into. The API layer renders it with the protocol's ``encode_error``.

The mapping is data: ``ERRORS[service]`` is consulted first, then ``COMMON``, walking the domain
error's class hierarchy (most specific class first); anything else is ``InternalFailure`` (500).
``COMMON`` holds the codes AWS documents for every service ("Common Errors" in each API reference):
``ValidationException`` (400), ``ServiceUnavailable`` (503, "a temporary failure of the server")
and ``InternalFailure`` (500). SageMaker's four modeled exceptions are HTTP 400 (the model gives
them no ``httpStatusCode``); ``ValidationException`` is not modeled in SageMaker's
``service-2.json``, which is expected: it is one of the common errors.
"""

from __future__ import annotations

from collections.abc import Mapping

from podwarden.model.errors import (
    Conflict,
    InUse,
    Invalid,
    LimitExceeded,
    NotFound,
    PodwardenError,
    ServiceError,
    TemporaryError,
)


class WireError(Exception):
    """An error response: ``code`` becomes ``__type``, ``message`` the body's message."""

    def __init__(
        self, code: str, message: str, status: int = 400, fields: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields: Mapping[str, object] = fields or {}


class UnknownOperation(WireError):
    """The service has no such operation (or there is no such service)."""

    def __init__(self, message: str) -> None:
        super().__init__("UnknownOperationException", message, 400)


ErrorTable = Mapping[type[PodwardenError], tuple[str, int]]

INTERNAL_FAILURE = ("InternalFailure", 500)

COMMON: ErrorTable = {
    Invalid: ("ValidationException", 400),
    TemporaryError: ("ServiceUnavailable", 503),
}

ERRORS: Mapping[str, ErrorTable] = {
    "sagemaker": {
        NotFound: ("ResourceNotFound", 400),
        InUse: ("ResourceInUse", 400),
        Conflict: ("ConflictException", 400),
        LimitExceeded: ("ResourceLimitExceeded", 400),
        Invalid: ("ValidationException", 400),
    },
}


def wire_error(service: str, error: PodwardenError) -> WireError:
    """The wire form of a domain error raised while serving ``service`` (e.g. "sagemaker")."""
    if isinstance(error, ServiceError):  # the handler named the service's own code
        return WireError(error.code, error.message, error.status, error.fields)
    table = ERRORS.get(service, {})
    for cls in type(error).__mro__:
        found = table.get(cls) or COMMON.get(cls)
        if found is not None:
            code, status = found
            return WireError(code, error.message, status)
    code, status = INTERNAL_FAILURE
    return WireError(code, error.message, status)
