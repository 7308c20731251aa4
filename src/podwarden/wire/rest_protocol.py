"""The REST protocols: ``rest-json`` (EKS) and ``rest-xml`` (S3). HTTP bindings in, HTTP
bindings out; the body is JSON or XML.

Input members come from where the model binds them (``location``): ``uri`` labels, the
``querystring`` (a list repeats the key; a map binds all remaining pairs), ``header`` (a list is
comma-separated), ``headers`` (every header with the member's prefix, e.g. S3's
``x-amz-meta-``), a ``payload`` member (a blob or string: the raw body; a structure: the body
document) or, without a payload, the body members. Output goes the same way: header members as
headers, a blob payload as the raw body (S3's ``GetObject``), otherwise a JSON object or an XML
document. The status is the operation's ``responseCode`` (EKS' create calls: 200, S3's
``DeleteObject``: 204), 206 for a ranged ``GetObject``.

Errors: rest-json sends ``{"message": ..., <modeled fields>}`` with ``x-amzn-ErrorType: <code>``
(what botocore reads); rest-xml sends S3's ``<Error><Code/><Message/>…<RequestId/></Error>``,
and no body for ``HEAD`` (botocore then derives the code from the status, as with AWS).
"""

from __future__ import annotations

from typing import Any, Final

from podwarden.wire import json_protocol
from podwarden.wire.errors import WireError
from podwarden.wire.http import HttpRequest, HttpResponse
from podwarden.wire.models import OperationModel, Shape
from podwarden.wire.text_scalars import parse, render
from podwarden.wire.xml_codec import (
    decode_members,
    encode,
    encode_members,
    escape_text,
    parse_document,
)

JSON_CONTENT_TYPE: Final = "application/json"
XML_CONTENT_TYPE: Final = "application/xml"

# rest-xml response root elements AWS uses where the model does not name one (S3's API
# reference: "Response Syntax"); botocore does not check the root's name.
_XML_ROOTS: Final = {
    "ListObjectsV2": "ListBucketResult",
    "ListObjects": "ListBucketResult",
    "ListBuckets": "ListAllMyBucketsResult",
    "DeleteObjects": "DeleteResult",
    "CopyObject": "CopyObjectResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "ListParts": "ListPartsResult",
    "ListMultipartUploads": "ListMultipartUploadsResult",
    "CompleteMultipartUpload": "CompleteMultipartUploadResult",
}
# outputs whose one member is the document's root element with the value as its text (S3's
# <LocationConstraint>us-west-2</LocationConstraint>; botocore reads the root's text)
_TEXT_ROOTS: Final = {"GetBucketLocation": "LocationConstraint"}
# a response with this member present is partial content (RFC 9110 §15.3.7)
_PARTIAL: Final = {"GetObject": "ContentRange", "HeadObject": "ContentRange"}


def decode_request(
    op: OperationModel, request: HttpRequest, labels: dict[str, str], xml: bool
) -> dict[str, Any]:
    """The (not yet validated) input of ``op``; ``Malformed``/``WireError`` on bad values."""
    shape = op.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    payload = shape.serialization.get("payload")
    if payload is not None:
        member = shape.members[payload]
        if member.type_name in ("blob", "string"):
            if request.body or member.type_name == "blob":
                params[payload] = (
                    request.body if member.type_name == "blob" else request.body.decode()
                )
        elif request.body.strip():
            params[payload] = _document(member, request.body, xml)
    elif request.body.strip() and xml:
        params.update(decode_members(shape, parse_document(request.body)))
    elif request.body.strip():
        data = json_protocol.parse_json(request.body)
        if not isinstance(data, dict):
            raise WireError("SerializationException", "The request body must be a JSON object")
        params.update(json_protocol.decode_members(op, data))
    _bound(shape, request, labels, params)
    return params


def _document(shape: Shape, body: bytes, xml: bool) -> Any:
    if xml:
        return decode_members(shape, parse_document(body))
    return json_protocol.decode_value(shape, json_protocol.parse_json(body))


def _bound(
    shape: Shape, request: HttpRequest, labels: dict[str, str], params: dict[str, Any]
) -> None:
    query = request.query
    query_keys = {k for k, _ in query}
    bound_query: set[str] = set()
    rest_map: tuple[str, Shape] | None = None
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        key = member.serialization.get("name", name)
        if location == "uri" and key in labels:
            params[name] = parse(member, labels[key])
        elif location == "querystring":
            if member.type_name == "map":
                rest_map = (name, member)
            elif key in query_keys:
                bound_query.add(key)
                values = [v for k, v in query if k == key]
                params[name] = (
                    [parse(member.member, v) for v in values]
                    if member.type_name == "list"
                    else parse(member, values[0])
                )
        elif location == "header":
            value = request.headers.get(key.lower())
            if value is not None:
                params[name] = (
                    [parse(member.member, v.strip()) for v in value.split(",")]
                    if member.type_name == "list"
                    else parse(member, value)
                )
        elif location == "headers":
            prefix = key.lower()
            found = {
                h[len(prefix) :]: v for h, v in request.headers.items() if h.startswith(prefix)
            }
            if found:
                params[name] = found
    if rest_map is not None:
        name, member = rest_map
        extra = {k: v for k, v in query if k not in bound_query}
        if extra:
            params[name] = extra


# ---- responses ------------------------------------------------------------------------------


def encode_response(op: OperationModel, output: dict[str, Any], xml: bool) -> HttpResponse:
    status = int(op.http.get("responseCode", 200))
    shape = op.output_shape
    if shape is None:
        return HttpResponse(status)
    headers: list[tuple[str, str]] = []
    body_members: dict[str, Any] = {}
    for name, member in shape.members.items():
        value = output.get(name)
        if value is None:
            continue
        location = member.serialization.get("location")
        key = member.serialization.get("name", name)
        if location == "header":
            headers.append((key, _header_text(member, value)))
        elif location == "headers":
            headers.extend((f"{key}{k}", str(v)) for k, v in value.items())
        elif location == "statusCode":
            status = int(value)
        elif location is None:
            body_members[name] = value
    partial = _PARTIAL.get(op.name)
    if partial and output.get(partial):
        status = 206
    body = _body(op, shape, body_members, xml, headers)
    return HttpResponse(status, headers, body)


def _header_text(member: Shape, value: Any) -> str:
    if member.type_name == "list":
        return ",".join(render(member.member, v, "rfc822") for v in value)
    return render(member, value, "rfc822")


def _body(
    op: OperationModel,
    shape: Shape,
    members: dict[str, Any],
    xml: bool,
    headers: list[tuple[str, str]],
) -> bytes:
    payload = shape.serialization.get("payload")
    if payload is not None:
        return _payload(
            shape.members[payload], payload, members.get(payload), xml=xml, headers=headers
        )
    if xml:
        if not members:
            return b""
        text_root = _TEXT_ROOTS.get(op.name)
        if text_root is not None:
            value = escape_text(str(members.get(text_root) or ""))
            headers.append(("Content-Type", XML_CONTENT_TYPE))
            return _xml_document([f"<{text_root}{_xmlns(op)}>{value}</{text_root}>"])
        root = shape.serialization.get("name") or _XML_ROOTS.get(op.name) or shape.name
        out = [f"<{root}{_xmlns(op)}>"]
        encode_members(shape, members, out)
        out.append(f"</{root}>")
        headers.append(("Content-Type", XML_CONTENT_TYPE))
        return _xml_document(out)
    headers.append(("Content-Type", JSON_CONTENT_TYPE))
    return json_protocol.encode_value(shape, members)


def _payload(
    member: Shape,
    name: str,
    value: Any,
    *,
    xml: bool,
    headers: list[tuple[str, str]],
) -> bytes:
    if value is None:
        return b""
    if member.type_name in ("blob", "string"):
        return value if isinstance(value, bytes) else str(value).encode()
    if xml:
        out: list[str] = []
        encode(member, value, member.serialization.get("name", name), out)
        headers.append(("Content-Type", XML_CONTENT_TYPE))
        return _xml_document(out)
    headers.append(("Content-Type", JSON_CONTENT_TYPE))
    return json_protocol.encode_value(member, value)


def _xmlns(op: OperationModel) -> str:
    ns = op.metadata.get("xmlNamespace") or (
        "http://s3.amazonaws.com/doc/2006-03-01/" if op.metadata.get("signingName") == "s3" else ""
    )
    if isinstance(ns, dict):
        ns = ns.get("uri", "")
    return f' xmlns="{ns}"' if ns else ""


def _xml_document(parts: list[str]) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + "".join(parts)).encode()


def encode_error(
    error: WireError, request_id: str, *, xml: bool, head: bool = False
) -> HttpResponse:
    code, message, status, fields = error.code, error.message, error.status, error.fields
    if xml:
        headers = [("x-amz-request-id", request_id)]
        if head or status == 304:  # no body for HEAD, nor for 304 Not Modified (RFC 9110)
            return HttpResponse(status, headers)
        extra = "".join(
            f"<{k}>{escape_text(str(v))}</{k}>" for k, v in fields.items() if v is not None
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape_text(code)}</Code><Message>{escape_text(message)}</Message>{extra}"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        return HttpResponse(status, [*headers, ("Content-Type", XML_CONTENT_TYPE)], body)
    doc = {"message": message, **{k: v for k, v in fields.items() if v is not None}}
    return HttpResponse(
        status,
        [("x-amzn-ErrorType", code), ("Content-Type", JSON_CONTENT_TYPE)],
        json_protocol.encode_error_body(doc),
    )
