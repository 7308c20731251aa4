"""AWS query compatibility (the ``awsQueryCompatible`` trait): a service that moved from the
Query protocol to awsJson or Smithy RPC v2 CBOR (CloudWatch) keeps its Query API's error codes.

Its error answers carry the Query code in ``x-amzn-query-error: <code>;<Sender or Receiver>``,
which botocore's JSON and CBOR parsers read in preference to ``__type``, and ``__type`` is the
modeled exception's shape id (``com.amazonaws.cloudwatch#LimitExceededFault`` for the code
``LimitExceeded``: the Smithy specification asks for the absolute shape id; the namespace
``com.amazonaws.<service>`` is ours, since botocore's models do not keep it and its parsers drop
it). Codes the model has no exception for (``SerializationException``, the authentication
failures) go as they are, without the header. botocore sends ``x-amzn-query-mode: true`` to such
a service; the answer is the same without it.
"""

from __future__ import annotations

import functools
from typing import Final

from podwarden.wire.models import ServiceModel, Shape

QUERY_ERROR_HEADER: Final = "x-amzn-query-error"


def query_compatible(model: ServiceModel) -> bool:
    return "awsQueryCompatible" in model.metadata


@functools.cache
def _modeled(model: ServiceModel) -> dict[str, Shape]:
    """The service's exceptions by wire code (``LimitExceeded`` -> ``LimitExceededFault``); with
    several for one code, the one whose name is the code wins."""
    found: dict[str, Shape] = {}
    for shape in model.error_shapes:
        code = shape.error_code or shape.name
        if code not in found or shape.name == code:
            found[code] = shape
    return found


def error_parts(model: ServiceModel, code: str, status: int) -> tuple[str, list[tuple[str, str]]]:
    """``__type`` for an error ``code`` of ``model``'s service and the headers that go with it:
    the shape id of a modeled exception (and, query-compatible, the Query code), else the code."""
    shape = _modeled(model).get(code)
    if shape is None:
        return code, []
    shape_id = f"com.amazonaws.{model.service_name}#{shape.name}"
    if not query_compatible(model):
        return shape_id, []
    fault = "Sender" if status < 500 else "Receiver"
    return shape_id, [(QUERY_ERROR_HEADER, f"{code};{fault}")]


def validation_code(model: ServiceModel) -> str:
    """What a request that breaks the model's constraints is: the Query API's
    ``ValidationError`` for a query-compatible service, else ``ValidationException``."""
    return "ValidationError" if query_compatible(model) else "ValidationException"
