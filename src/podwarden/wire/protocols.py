"""One request path for botocore's five protocols: find the operation, decode and validate its
input, encode its output or an error, all from the service model.

``PROTOCOLS[model.metadata["protocol"]]`` gives the codec of a service:

| protocol | services here | operation from | input from | output |
|---|---|---|---|---|
| ``json`` | SageMaker | ``X-Amz-Target`` | JSON body | JSON |
| ``rest-json`` | EKS | method + ``requestUri`` | URI, query, headers, JSON body | JSON + headers |
| ``query`` | IAM, STS | ``Action`` | form parameters | XML |
| ``ec2`` | EC2 | ``Action`` | form parameters | XML |
| ``rest-xml`` | S3 | method + ``requestUri`` + query | URI, query, headers, payload | XML/raw |
| ``smithy-rpc-v2-cbor`` | CloudWatch | ``/service/<S>/operation/<Op>`` | CBOR body | CBOR |

After decoding, the one validator (``wire.validate``) checks every service's input the same
way; a violation becomes the protocol family's validation error (``VALIDATION``). Which codes
those are is partly documented and partly ours:

- awsJson: ``ValidationException`` (AWS's common errors); a wrong JSON type is
  ``SerializationException``.
- rest-json (EKS): ``InvalidParameterException``, the EKS exception for bad parameters (the
  model has no ``ValidationException``); not confirmed against AWS for shape constraints.
- query (IAM, STS): ``ValidationError`` with AWS's ``N validation error(s) detected`` text, as
  IAM answers; an unparsable value (``MaxItems=abc``) is a ``ValidationError`` too (ours).
- ec2: a missing required parameter is ``MissingParameter`` ("The request must contain the
  parameter X"), other violations ``InvalidParameterValue`` (EC2's documented common errors).
- rest-xml (S3): ``InvalidArgument`` (S3's code for a bad argument); malformed XML is
  ``MalformedXML``.
- smithy-rpc-v2-cbor: ``ValidationException``, or the modeled ``ValidationError`` of a service
  that keeps its Query API's codes (CloudWatch, ``awsQueryCompatible``); a body that does not read
  as the input is ``SerializationException`` (``wire.cbor_protocol``). One codec per service
  (:func:`codec`), since its errors depend on the service's model.

An action or route the service does not have is ``InvalidAction`` (query, ec2),
``UnknownOperationException`` (json, rest-json) or S3's ``MethodNotAllowed``/``NotImplemented``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from podwarden.wire import (
    cbor_protocol,
    json_protocol,
    query_compat,
    query_protocol,
    rest_protocol,
    rest_routes,
)
from podwarden.wire.errors import UnknownOperation, WireError
from podwarden.wire.http import HttpRequest, HttpResponse
from podwarden.wire.models import OperationModel, ServiceModel, operation_model, service_model
from podwarden.wire.text_scalars import Malformed
from podwarden.wire.validate import NOT_NULL, TYPE, Violation, format_violations, validate


@dataclass(frozen=True)
class Call:
    """A decoded request: the operation and its validated input."""

    service: str
    operation: OperationModel
    params: dict[str, Any]


@dataclass(frozen=True)
class Resolved:
    """The operation a request addresses (and, for REST, its URI labels), before decoding."""

    service: str
    operation: OperationModel
    labels: dict[str, str]


class Codec(Protocol):
    family: str

    def resolve(self, service: str, request: HttpRequest, target: str) -> Resolved: ...

    def decode(self, resolved: Resolved, request: HttpRequest) -> Call: ...

    def encode(self, call: Call, output: dict[str, Any], request_id: str) -> HttpResponse: ...

    def error(
        self, error: WireError, request_id: str, request: HttpRequest | None
    ) -> HttpResponse: ...


def _check(op: OperationModel, params: dict[str, Any], family: str) -> None:
    shape = op.input_shape
    if shape is None:
        return
    violations = validate(shape, params)
    if not violations:
        return
    wrong = [v for v in violations if v.kind == TYPE]
    if wrong:
        raise WireError(MALFORMED[family], str(wrong[0]))
    raise _validation_error(family, violations)


def _validation_error(family: str, violations: list[Violation]) -> WireError:
    if family == "ec2":
        missing = [v for v in violations if v.phrase == NOT_NULL]
        if missing:
            name = missing[0].path.split(".")[-1]
            return WireError(
                "MissingParameter",
                f"The request must contain the parameter {name[0].upper() + name[1:]}",
            )
        return WireError("InvalidParameterValue", format_violations(violations))
    return WireError(VALIDATION[family], format_violations(violations))


VALIDATION: Final = {
    "json": "ValidationException",
    "rest-json": "InvalidParameterException",
    "query": "ValidationError",
    "ec2": "InvalidParameterValue",
    "rest-xml": "InvalidArgument",
}
MALFORMED: Final = {
    "json": "SerializationException",
    "rest-json": "SerializationException",
    "query": "ValidationError",
    "ec2": "InvalidParameterValue",
    "rest-xml": "InvalidArgument",
}


class JsonCodec:
    family = "json"

    def resolve(self, service: str, request: HttpRequest, target: str) -> Resolved:
        if request.method != "POST":  # awsJson is POST only: a HEAD would run with no answer
            raise UnknownOperation(
                f"{request.method} is not an awsJson method: call {target or 'an operation'}"
                " with POST."
            )
        return Resolved(service, operation_model(service, target), {})

    def decode(self, resolved: Resolved, request: HttpRequest) -> Call:
        op = resolved.operation
        return Call(resolved.service, op, json_protocol.decode_request(op, request.body))

    def encode(self, call: Call, output: dict[str, Any], request_id: str) -> HttpResponse:
        body = json_protocol.encode_response(call.operation, output)
        return HttpResponse(
            200, [("Content-Type", json_protocol.content_type(call.operation))], body
        )

    def error(self, error: WireError, request_id: str, request: HttpRequest | None) -> HttpResponse:
        return HttpResponse(
            error.status,
            [("Content-Type", "application/x-amz-json-1.1")],
            json_protocol.encode_error(error.code, error.message),
        )


def form_params(request: HttpRequest) -> dict[str, str]:
    """Query-protocol parameters (:attr:`HttpRequest.form`), as a dict the caller may change."""
    return dict(request.form)


class QueryCodec:
    def __init__(self, ec2: bool) -> None:
        self.ec2 = ec2
        self.family = "ec2" if ec2 else "query"

    def resolve(self, service: str, request: HttpRequest, target: str) -> Resolved:
        if request.method not in ("GET", "POST"):  # AWS's Query API: GET or POST requests
            raise WireError(
                "InvalidAction",
                f"{request.method} requests are not valid for this web service; use GET or POST.",
            )
        action = request.form.get("Action", "")
        try:
            return Resolved(service, operation_model(service, action), {})
        except WireError:
            raise WireError(
                "InvalidAction",
                f"The action {action or '(none)'} is not valid for this web service.",
            ) from None

    def decode(self, resolved: Resolved, request: HttpRequest) -> Call:
        service, op = resolved.service, resolved.operation
        flat = form_params(request)
        flat.pop("Action", None)
        flat.pop("Version", None)
        try:
            params = query_protocol.decode_params(op, flat, self.ec2)
        except Malformed as exc:
            raise WireError(MALFORMED[self.family], str(exc)) from None
        _check(op, params, self.family)
        return Call(service, op, params)

    def encode(self, call: Call, output: dict[str, Any], request_id: str) -> HttpResponse:
        body = query_protocol.encode_response(call.operation, output, request_id, self.ec2)
        return HttpResponse(200, [("Content-Type", query_protocol.XML_CONTENT_TYPE)], body)

    def error(self, error: WireError, request_id: str, request: HttpRequest | None) -> HttpResponse:
        body = query_protocol.encode_error(
            error.code, error.message, request_id, self.ec2, sender=error.status < 500
        )
        return HttpResponse(error.status, [("Content-Type", query_protocol.XML_CONTENT_TYPE)], body)


class RestCodec:
    def __init__(self, xml: bool) -> None:
        self.xml = xml
        self.family = "rest-xml" if xml else "rest-json"

    def resolve(self, service: str, request: HttpRequest, target: str) -> Resolved:
        """``target`` is the path to route (S3 virtual-host requests come rewritten)."""
        found = rest_routes.match(service, request, target or request.path)
        if found is None:
            raise self._no_route(request)
        return Resolved(service, operation_model(service, found.operation), found.labels)

    def decode(self, resolved: Resolved, request: HttpRequest) -> Call:
        service, op = resolved.service, resolved.operation
        try:
            params = rest_protocol.decode_request(op, request, resolved.labels, self.xml)
        except Malformed as exc:
            code = "MalformedXML" if self.xml and "XML" in str(exc) else MALFORMED[self.family]
            raise WireError(code, str(exc)) from None
        _check(op, params, self.family)
        return Call(service, op, params)

    def _no_route(self, request: HttpRequest) -> WireError:
        if self.xml:
            return WireError(
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
                405,
            )
        return WireError(
            "UnknownOperationException",
            f"No operation matches {request.method} {request.path}",
            404,
        )

    def encode(self, call: Call, output: dict[str, Any], request_id: str) -> HttpResponse:
        response = rest_protocol.encode_response(call.operation, output, self.xml)
        response.headers.append(
            ("x-amz-request-id" if self.xml else "x-amzn-RequestId", request_id)
        )
        return response

    def error(self, error: WireError, request_id: str, request: HttpRequest | None) -> HttpResponse:
        head = request is not None and request.method == "HEAD"
        return rest_protocol.encode_error(error, request_id, xml=self.xml, head=head)


PROTOCOLS: Final[Mapping[str, Codec]] = {
    "json": JsonCodec(),
    "rest-json": RestCodec(xml=False),
    "query": QueryCodec(ec2=False),
    "ec2": QueryCodec(ec2=True),
    "rest-xml": RestCodec(xml=True),
}


class CborCodec:
    """Smithy RPC v2 CBOR for one service (``wire.cbor_protocol``): the path names the
    operation, the body is CBOR, errors carry the service's modeled shape ids (and, for a
    query-compatible service, its Query codes in ``x-amzn-query-error``)."""

    family = "smithy-rpc-v2-cbor"

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.target = str(model.metadata["targetPrefix"])
        self.validation = query_compat.validation_code(model)

    def resolve(self, service: str, request: HttpRequest, target: str) -> Resolved:
        if request.method != "POST":  # the specification: every request is a POST
            raise WireError(
                "UnknownOperationException",
                f"{request.method} is not a Smithy RPC v2 method: use POST.",
                405,
            )
        if request.headers.get(cbor_protocol.PROTOCOL_HEADER) != cbor_protocol.PROTOCOL:
            raise WireError(
                "UnknownOperationException",
                f"A {service} request must carry the header Smithy-Protocol: rpc-v2-cbor.",
                400,
            )
        found = cbor_protocol.route(request.path)
        named = found.service if found else ""
        if found is None or (named != self.target and not named.endswith("." + self.target)):
            raise WireError(
                "UnknownOperationException",
                f"No operation matches {request.method} {request.path}: {service} is "
                f"/service/{self.target}/operation/<Operation>.",
                404,
            )
        if found.operation not in self.model.operation_names:
            raise WireError(
                "UnknownOperationException",
                f"Operation {found.operation!r} is not part of service {service!r}",
                404,
            )
        return Resolved(service, self.model.operation_model(found.operation), {})

    def decode(self, resolved: Resolved, request: HttpRequest) -> Call:
        op = resolved.operation
        params = cbor_protocol.decode_members(op, request.body)
        shape = op.input_shape
        violations = validate(shape, params) if shape is not None else []
        wrong = [v for v in violations if v.kind == TYPE]
        if wrong:
            raise WireError(cbor_protocol.SERIALIZATION, str(wrong[0]))
        if violations:
            raise WireError(self.validation, format_violations(violations))
        return Call(resolved.service, op, params)

    def encode(self, call: Call, output: dict[str, Any], request_id: str) -> HttpResponse:
        headers = [(cbor_protocol.PROTOCOL_HEADER, cbor_protocol.PROTOCOL)]
        if call.operation.output_shape is None:  # no output: no body, no Content-Type
            return HttpResponse(200, headers, b"")
        body = cbor_protocol.encode_response(call.operation, output)
        return HttpResponse(200, [("Content-Type", cbor_protocol.CONTENT_TYPE), *headers], body)

    def error(self, error: WireError, request_id: str, request: HttpRequest | None) -> HttpResponse:
        type_, extra = query_compat.error_parts(self.model, error.code, error.status)
        headers = [
            ("Content-Type", cbor_protocol.CONTENT_TYPE),
            (cbor_protocol.PROTOCOL_HEADER, cbor_protocol.PROTOCOL),
            *extra,
        ]
        body = cbor_protocol.encode_error(type_, error.message, dict(error.fields))
        return HttpResponse(error.status, headers, body)


class QueryCompatibleJsonCodec(JsonCodec):
    """awsJson for a service that keeps its Query API's error codes (``wire.query_compat``):
    CloudWatch, which botocore calls in awsJson 1.0 (its ``json`` comes before
    ``smithy-rpc-v2-cbor`` in botocore's order of preference)."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.validation = query_compat.validation_code(model)

    def decode(self, resolved: Resolved, request: HttpRequest) -> Call:
        try:
            return super().decode(resolved, request)
        except WireError as err:
            if err.code != VALIDATION["json"]:
                raise
            raise WireError(self.validation, err.message, err.status) from None

    def error(self, error: WireError, request_id: str, request: HttpRequest | None) -> HttpResponse:
        type_, extra = query_compat.error_parts(self.model, error.code, error.status)
        response = super().error(
            WireError(type_, error.message, error.status, error.fields), request_id, request
        )
        response.headers.extend(extra)
        return response


@functools.cache
def _own_codec(service: str, protocol: str) -> Codec:
    """A codec that needs its service's model: CBOR always, awsJson when query-compatible."""
    model = service_model(service)
    if protocol == CborCodec.family:
        return CborCodec(model)
    return QueryCompatibleJsonCodec(model)


def spoken(model: ServiceModel, request: HttpRequest | None) -> str:
    """The protocol of ``model``'s service that ``request`` speaks: a service whose model lists
    several (CloudWatch: Smithy RPC v2 CBOR, awsJson, Query) is answered in its client's, which
    the request's shape says (``X-Amz-Target``, ``Smithy-Protocol``, a form ``Action``); else
    the model's ``protocol``."""
    protocol = str(model.metadata["protocol"])
    listed = model.metadata.get("protocols") or [protocol]
    if request is None or len(listed) < 2:
        return protocol
    if "json" in listed and "x-amz-target" in request.headers:
        return "json"
    if CborCodec.family in listed and cbor_protocol.announced(request.headers):
        return CborCodec.family
    ctype = request.headers.get("content-type", "")
    if "json" in listed and "json" in ctype:  # a JSON client that sent no X-Amz-Target
        return "json"
    form = ctype.startswith("application/x-www-form-urlencoded") or request.method == "GET"
    if "query" in listed and form and "Action" in request.form:
        return "query"
    return protocol


def codec(model: ServiceModel, request: HttpRequest | None = None) -> Codec:
    """The codec that answers ``request`` for ``model``'s service (:func:`spoken`)."""
    protocol = spoken(model, request)
    if protocol == CborCodec.family or (
        protocol == "json" and query_compat.query_compatible(model)
    ):
        return _own_codec(model.service_name, protocol)
    return PROTOCOLS[protocol]
