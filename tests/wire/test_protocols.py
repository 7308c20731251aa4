"""Every operation of EKS, EC2, IAM, STS and S3, both ways, against botocore itself:

- requests: a sample input of every operation, serialized by botocore's own serializer and sent
  through podwarden's decoder, comes back as the same parameters;
- responses: a sample output of every operation, encoded by podwarden, parsed by botocore's own
  response parser (what boto3 does), comes back as the same output, with no parsing error.

Samples fill every member (to a depth of 5) with a value of its type, so this covers each
protocol's rules for names, lists, maps, flattening, headers, labels and payloads.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import botocore.session  # type: ignore[import-untyped]
import pytest
from botocore.awsrequest import prepare_request_dict  # type: ignore[import-untyped]
from botocore.parsers import create_parser  # type: ignore[import-untyped]
from botocore.response import StreamingBody  # type: ignore[import-untyped]
from botocore.serialize import create_serializer  # type: ignore[import-untyped]

from podwarden.wire import query_protocol, rest_protocol, rest_routes
from podwarden.wire.http import HttpRequest
from podwarden.wire.models import service_model
from podwarden.wire.protocols import PROTOCOLS, Call

SERVICES = ("eks", "ec2", "iam", "sts", "s3")
MOMENT = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
SKIP_TRAITS = ("hostLabel", "jsonvalue", "eventstream", "eventheader", "eventpayload")


def sample(shape: Any, depth: int = 0, *, input_side: bool) -> Any:  # noqa: PLR0911
    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type or shape.serialization.get("eventstream"):
            return None
        out: dict[str, Any] = {}
        if depth > 5:
            return out
        for name, member in shape.members.items():
            if any(member.serialization.get(t) for t in SKIP_TRAITS) or member.metadata.get(
                "eventstream"
            ):
                continue
            if (
                input_side
                and member.serialization.get("location") == "header"
                and (member.type_name == "blob")
            ):
                continue
            value = sample(member, depth + 1, input_side=input_side)
            if value is None:
                continue
            out[name] = value
            if shape.is_tagged_union:
                break
        return out
    if kind == "list":
        item = sample(shape.member, depth + 1, input_side=input_side)
        return [] if item is None else [item, item]
    if kind == "map":
        value = sample(shape.value, depth + 1, input_side=input_side)
        return {} if value is None else {"k1": value, "k2": value}
    if getattr(shape, "enum", None):
        return shape.enum[0]
    return {
        "string": "sample-text",
        "integer": 7,
        "long": 1234567890123,
        "boolean": True,
        "float": 1.5,
        "double": 2.25,
        "timestamp": MOMENT,
        "blob": b"\x00blob\xff",
    }.get(kind, "sample-text")


def operations(service: str) -> list[tuple[str, str]]:
    model = service_model(service)
    return [(service, name) for name in model.operation_names]


ALL = [pair for s in SERVICES for pair in operations(s)]
# requests that are the same on the wire as another operation's and differ only by endpoint:
# S3 Express' ListDirectoryBuckets (GET / on a directory-bucket endpoint, vs ListBuckets) and
# S3 Object Lambda's WriteGetObjectResponse (routed by a host prefix)
# and S3's deprecated calls, whose requests are those of their successors (GetBucketLifecycle
# is GetBucketLifecycleConfiguration's GET ?lifecycle): the server reads them as the successor
SAME_WIRE = {
    ("s3", "ListDirectoryBuckets"),
    ("s3", "WriteGetObjectResponse"),
    ("s3", "GetBucketLifecycle"),
    ("s3", "PutBucketLifecycle"),
    ("s3", "GetBucketNotification"),
    ("s3", "PutBucketNotification"),
}
# S3's deprecated GetBucketNotification output names two members ``Event`` (a flattened list
# ``Events`` and a single ``Event``); no XML can give both back
AMBIGUOUS_OUTPUT = {("s3", "GetBucketNotification")}


def strip_empty(value: Any) -> Any:
    """botocore omits empty lists/maps/structures in some protocols; compare without them."""
    if isinstance(value, dict):
        kept = {k: strip_empty(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ({}, [], None)}
    if isinstance(value, list):
        items = [strip_empty(v) for v in value]
        return [] if all(i in ({}, [], None) for i in items) else items
    return value


def subset(expected: Any, actual: Any, path: str = "") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r}"
        for k, v in expected.items():
            assert k in actual, f"{path}.{k} missing from {sorted(actual)}"
            subset(v, actual[k], f"{path}.{k}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{path}: {actual!r}"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            subset(e, a, f"{path}[{i}]")
    elif isinstance(expected, bytes) and not isinstance(actual, bytes):
        assert actual.read() == expected, path
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


@pytest.mark.parametrize(("service", "name"), ALL, ids=[f"{s}.{n}" for s, n in ALL])
def test_request_round_trip(service: str, name: str) -> None:
    model = service_model(service)
    op = model.operation_model(name)
    if op.input_shape is None or op.has_event_stream_input or (service, name) in SAME_WIRE:
        return
    params = sample(op.input_shape, input_side=True)
    protocol = model.metadata["protocol"]
    serialized = create_serializer(protocol, include_validation=False).serialize_to_request(
        params, op
    )
    prepare_request_dict(serialized, endpoint_url="http://127.0.0.1:8600")
    url = urlsplit(serialized["url"])
    body = serialized["body"]
    if isinstance(body, dict):
        from urllib.parse import urlencode  # noqa: PLC0415

        body = urlencode(body, doseq=True)
    raw = body.encode() if isinstance(body, str) else (body or b"")
    request = HttpRequest(
        method=serialized["method"],
        path=url.path,
        query_string=url.query,
        headers={k.lower(): str(v) for k, v in serialized["headers"].items()},
        body=raw,
    )
    if protocol in ("query", "ec2"):
        from podwarden.wire.protocols import form_params  # noqa: PLC0415

        flat = form_params(request)
        assert flat.pop("Action") == name
        decoded = query_protocol.decode_params(op, flat, protocol == "ec2")
    else:
        found = rest_routes.match(service, request)
        assert found is not None, f"no route for {request.method} {request.path}?{url.query}"
        assert found.operation == name
        decoded = rest_protocol.decode_request(op, request, found.labels, protocol == "rest-xml")
    subset(strip_empty(params), decoded)


@pytest.mark.parametrize(("service", "name"), ALL, ids=[f"{s}.{n}" for s, n in ALL])
def test_response_parses_in_botocore(service: str, name: str) -> None:
    model = service_model(service)
    op = model.operation_model(name)
    if op.output_shape is None or op.has_event_stream_output:
        return
    if (service, name) in AMBIGUOUS_OUTPUT:
        return
    if (service, name) == ("s3", "GetBucketLocation"):
        # botocore reads this one with a handler of its own (handlers.parse_get_bucket_location):
        # the document's root element *is* the LocationConstraint, its text the value
        body = PROTOCOLS["rest-xml"].encode(
            Call(service, op, {}), {"LocationConstraint": "eu-west-1"}, "r"
        )
        root = ElementTree.fromstring(body.body)
        assert root.tag.endswith("LocationConstraint") and root.text == "eu-west-1"
        return
    output = sample(op.output_shape, input_side=False)
    codec = PROTOCOLS[model.metadata["protocol"]]
    response = codec.encode(Call(service, op, {}), output, "req-1")
    parsed = create_parser(model.metadata["protocol"]).parse(
        {
            "status_code": response.status,
            "headers": botocore.awsrequest.HeadersDict(response.headers),
            "body": StreamingBody(io.BytesIO(response.body), len(response.body))
            if op.has_streaming_output
            else response.body,
        },
        op.output_shape,
    )
    parsed.pop("ResponseMetadata", None)
    subset(strip_empty(output), parsed)
