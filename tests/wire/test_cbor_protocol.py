"""The Smithy RPC v2 CBOR codec against botocore's own ``RpcV2CBORSerializer`` and
``RpcV2CBORParser``: every shape type round-trips both ways (a synthetic model with one member of
each type), and bodies that are not the protocol's are refused as ``SerializationException``."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import cbor2
import pytest
from botocore.model import ServiceModel  # type: ignore[import-untyped]
from botocore.parsers import create_parser  # type: ignore[import-untyped]
from botocore.serialize import create_serializer  # type: ignore[import-untyped]

from podwarden.wire import cbor_protocol
from podwarden.wire.errors import WireError
from podwarden.wire.http import HttpRequest
from podwarden.wire.models import service_model
from podwarden.wire.protocols import CborCodec, codec
from podwarden.wire.query_compat import error_parts

MODEL = ServiceModel(
    {
        "metadata": {
            "apiVersion": "2024-01-01",
            "protocol": "smithy-rpc-v2-cbor",
            "protocols": ["smithy-rpc-v2-cbor"],
            "serviceId": "Echo",
            "targetPrefix": "EchoService",
            "endpointPrefix": "echo",
            "signatureVersion": "v4",
        },
        "operations": {
            "Echo": {
                "name": "Echo",
                "http": {"method": "POST", "requestUri": "/"},
                "input": {"shape": "Everything"},
                "output": {"shape": "Everything"},
            }
        },
        "shapes": {
            "Everything": {
                "type": "structure",
                "members": {
                    "Text": {"shape": "Text"},
                    "Count": {"shape": "Count"},
                    "Big": {"shape": "Big"},
                    "Ratio": {"shape": "Ratio"},
                    "Single": {"shape": "Single"},
                    "Flag": {"shape": "Flag"},
                    "When": {"shape": "When"},
                    "Data": {"shape": "Data"},
                    "Names": {"shape": "Names"},
                    "Sizes": {"shape": "Sizes"},
                    "Inner": {"shape": "Inner"},
                    "Inners": {"shape": "Inners"},
                },
            },
            "Inner": {
                "type": "structure",
                "required": ["Key"],
                "members": {"Key": {"shape": "Text"}, "At": {"shape": "When"}},
            },
            "Inners": {"type": "list", "member": {"shape": "Inner"}},
            "Text": {"type": "string", "max": 16},
            "Count": {"type": "integer", "min": 0},
            "Big": {"type": "long"},
            "Ratio": {"type": "double"},
            "Single": {"type": "float"},
            "Flag": {"type": "boolean"},
            "When": {"type": "timestamp"},
            "Data": {"type": "blob"},
            "Names": {"type": "list", "member": {"shape": "Text"}},
            "Sizes": {"type": "map", "key": {"shape": "Text"}, "value": {"shape": "Count"}},
        },
    },
    service_name="echo",
)
OP = MODEL.operation_model("Echo")
STAMP = dt.datetime(2026, 3, 4, 5, 6, 7, 250000, tzinfo=dt.UTC)
EVERYTHING: dict[str, Any] = {
    "Text": "héllo",
    "Count": 7,
    "Big": 2**40,
    "Ratio": 70.5,
    "Single": 0.25,
    "Flag": True,
    "When": STAMP,
    "Data": b"\x00\xffbytes",
    "Names": ["a", "b"],
    "Sizes": {"x": 1, "y": 2},
    "Inner": {"Key": "k", "At": STAMP},
    "Inners": [{"Key": "one"}, {"Key": "two", "At": STAMP}],
}


def botocore_body(params: dict[str, Any]) -> bytes:
    request = create_serializer("smithy-rpc-v2-cbor").serialize_to_request(params, OP)
    assert request["url_path"] == "/service/EchoService/operation/Echo"
    assert request["headers"]["smithy-protocol"] == "rpc-v2-cbor"
    body: bytes = request["body"]
    return body


def botocore_reads(body: bytes, status: int = 200, headers: Any = None) -> Any:
    response = {"status_code": status, "headers": headers or {}, "body": body}
    return create_parser("smithy-rpc-v2-cbor").parse(response, OP.output_shape)


@pytest.mark.parametrize("member", sorted(EVERYTHING))
def test_each_shape_type_decodes_from_what_botocore_sends(member: str) -> None:
    params = {member: EVERYTHING[member]}
    assert cbor_protocol.decode_members(OP, botocore_body(params)) == params


@pytest.mark.parametrize("member", sorted(EVERYTHING))
def test_each_shape_type_encodes_to_what_botocore_reads(member: str) -> None:
    parsed = botocore_reads(cbor_protocol.encode_response(OP, {member: EVERYTHING[member]}))
    parsed.pop("ResponseMetadata", None)
    assert parsed == {member: EVERYTHING[member]}


def test_everything_at_once_both_ways() -> None:
    decoded = cbor_protocol.decode_members(OP, botocore_body(EVERYTHING))
    assert decoded == EVERYTHING
    parsed = botocore_reads(cbor_protocol.encode_response(OP, decoded))
    parsed.pop("ResponseMetadata", None)
    assert parsed == EVERYTHING


def test_timestamps_are_tag_1_and_whole_seconds_stay_integers() -> None:
    whole = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    body = cbor_protocol.encode_response(OP, {"When": whole, "Inner": {"Key": "k", "At": STAMP}})
    data = cbor2.loads(body, semantic_decoders={1: lambda v, _imm: ("tag1", v)})
    assert data["When"] == ("tag1", int(whole.timestamp()))
    assert data["Inner"]["At"] == ("tag1", STAMP.timestamp())


def test_doubles_stay_floats_and_none_and_unknown_members_are_dropped() -> None:
    body = cbor_protocol.encode_response(OP, {"Ratio": 70, "Text": None, "Nope": 1})
    assert body == cbor2.dumps({"Ratio": 70.0})
    assert body[-9] == 0xFB  # a double, not the integer 70


def test_half_precision_and_integers_are_read_for_floats() -> None:
    half_nan = bytes.fromhex("a165526174696ff97e00")  # {"Ratio": NaN as a half float}
    assert math.isnan(cbor_protocol.decode_members(OP, half_nan)["Ratio"])
    assert cbor_protocol.decode_members(OP, cbor2.dumps({"Single": 3})) == {"Single": 3.0}


def test_null_undefined_unknown_members_and_type_are_ignored() -> None:
    body = cbor2.dumps({"Text": None, "Count": cbor2.undefined, "Other": 1, "__type": "x"})
    assert cbor_protocol.decode_members(OP, body) == {}
    assert cbor_protocol.decode_members(OP, b"") == {}


def serialization_error(body: bytes) -> str:
    with pytest.raises(WireError) as caught:
        cbor_protocol.decode_members(OP, body)
    assert caught.value.code == "SerializationException"
    return caught.value.message


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"Count": "7"}, "Expected an integer, found a text string"),
        ({"Count": 1.0}, "Expected an integer, found a float"),
        ({"Count": 2**31}, "out of range for an integer"),
        ({"Flag": 1}, "Expected a boolean, found an integer"),
        ({"Text": b"x"}, "Expected a text string, found a byte string"),
        ({"Data": "x"}, "Expected a byte string, found a text string"),
        ({"When": 1700000000}, "Expected a timestamp (tag 1 over epoch seconds)"),
        ({"Names": "a"}, "Expected an array, found a text string"),
        ({"Sizes": [1]}, "Expected a map, found an array"),
        ({"Inner": 3}, "Expected a map for Inner"),
    ],
)
def test_wrong_types_are_serialization_errors(value: dict[str, Any], words: str) -> None:
    assert words in serialization_error(cbor2.dumps(value))


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"\xa1", "not valid CBOR"),
        (cbor2.dumps({}) + b"\x00", "1 bytes after its CBOR data item"),
        (cbor2.dumps([1]), "must be a CBOR map"),
        (bytes.fromhex("a2645465787461616454657874616162"), "not valid CBOR"),  # duplicate key
        (bytes.fromhex("a10101"), "not valid CBOR"),  # an integer map key
        (b"\x81" * 100 + b"\x01", "not valid CBOR"),  # nested deeper than MAX_DEPTH
    ],
)
def test_bodies_that_are_not_one_cbor_map_are_refused(body: bytes, words: str) -> None:
    assert words in serialization_error(body)


@pytest.mark.parametrize("tag", [0, 2, 3, 4, 28, 29, 35, 36, 99, 55799])
def test_tags_other_than_the_timestamp_are_refused(tag: int) -> None:
    body = cbor2.dumps({"Text": cbor2.CBORTag(tag, "a+")})
    assert "Expected a text string, found an unsupported CBOR item" in serialization_error(body)


def test_shared_references_cannot_build_a_cycle() -> None:
    """``{"Names": 28([29(0)])}``: a list marked shareable that holds a reference to itself."""
    body = bytes.fromhex("a1654e616d6573d81c81d81d00")
    assert "Expected an array, found an unsupported CBOR item" in serialization_error(body)
    whole = cbor2.dumps({"Names": ["a"]}, value_sharing=True)  # the whole body marked shareable
    assert "must be a CBOR map, not an unsupported CBOR item" in serialization_error(whole)


def request(path: str, body: bytes, **headers: str) -> HttpRequest:
    base = {"smithy-protocol": "rpc-v2-cbor", "content-type": "application/cbor"}
    return HttpRequest("POST", path, "", base | headers, body)


def test_the_codec_routes_by_path_and_validates() -> None:
    cbor = CborCodec(MODEL)
    for path in (
        "/service/EchoService/operation/Echo",
        "/v1/service/x.y.EchoService/operation/Echo",
    ):
        resolved = cbor.resolve("echo", request(path, b""), path)
        assert resolved.operation.name == "Echo"
    call = cbor.decode(resolved, request(path, botocore_body({"Text": "ok"})))
    assert call.params == {"Text": "ok"}
    with pytest.raises(WireError) as caught:
        cbor.decode(resolved, request(path, cbor2.dumps({"Text": "x" * 17})))
    assert caught.value.code == "ValidationException"
    assert "Member must have length less than or equal to 16" in caught.value.message


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/service/EchoService/operation/Echo", {}, 405),
        ("POST", "/service/Other/operation/Echo", {}, 404),
        ("POST", "/service/EchoService/operation/Nope", {}, 404),
        ("POST", "/service/EchoService/operation/Echo", {"smithy-protocol": "rpc-v2-json"}, 400),
    ],
)
def test_requests_the_codec_cannot_route(
    method: str, path: str, headers: dict[str, str], status: int
) -> None:
    req = request(path, b"", **headers)
    req = HttpRequest(method, req.path, "", req.headers, b"")
    with pytest.raises(WireError) as caught:
        CborCodec(MODEL).resolve("echo", req, path)
    assert (caught.value.code, caught.value.status) == ("UnknownOperationException", status)


def test_errors_are_what_botocore_parses() -> None:
    answer = CborCodec(MODEL).error(WireError("SerializationException", "bad", 400), "rid", None)
    headers = dict(answer.headers)
    assert headers["smithy-protocol"] == "rpc-v2-cbor"
    assert headers["Content-Type"] == "application/cbor"
    parsed = botocore_reads(answer.body, answer.status, {k.lower(): v for k, v in headers.items()})
    assert parsed["Error"] == {"Code": "SerializationException", "Message": "bad"}


def test_a_query_compatible_service_sends_its_query_code() -> None:
    """CloudWatch: the modeled shape id in ``__type``, the Query code in the header."""
    path = "/service/GraniteServiceVersion20100801/operation/DescribeAlarms"
    cloudwatch = codec(service_model("cloudwatch"), request(path, b""))
    assert isinstance(cloudwatch, CborCodec)
    answer = cloudwatch.error(WireError("LimitExceeded", "too many", 400), "rid", None)
    data = cbor2.loads(answer.body)
    assert data == {"__type": "com.amazonaws.cloudwatch#LimitExceededFault", "message": "too many"}
    assert ("x-amzn-query-error", "LimitExceeded;Sender") in answer.headers
    assert error_parts(cloudwatch.model, "SerializationException", 400) == (
        "SerializationException",
        [],
    )
