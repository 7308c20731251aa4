"""Whatever a client sends, decoding ends in parameters or a ``WireError`` (HTTP 400), never in
another exception: malformed JSON, wrong types, deep nesting, huge inputs and random values."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest

from podwarden.wire.errors import WireError
from podwarden.wire.json_protocol import decode_request, encode_error, encode_response
from podwarden.wire.models import OperationModel, Shape
from podwarden.wire.validate import validate
from tests.wire.oracle import client_accepts, op

SER = "SerializationException"
LIST_START = "Start of list found where not expected"
MAP_START = "Start of structure or map found where not expected."


def error_of(body: bytes | str, name: str = "CreateCluster") -> WireError:
    raw = body.encode() if isinstance(body, str) else body
    with pytest.raises(WireError) as caught:
        decode_request(op(name), raw)
    assert caught.value.status == 400
    return caught.value


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[]", LIST_START),
        ('[{"ClusterName": "a"}]', LIST_START),
        ('"text"', "The request body must be a JSON object, not STRING_VALUE"),
        ("12", "The request body must be a JSON object, not NUMBER_VALUE"),
        ("null", "The request body must be a JSON object, not NULL_VALUE"),
        ("true", "The request body must be a JSON object, not TRUE_VALUE"),
        ("{", "Malformed JSON: Expecting property name enclosed in double quotes: line 1 column 2"),
        ('{"ClusterName": "a",}', "Malformed JSON: "),
        ('{"a": 1} trailing', "Malformed JSON: Extra data: line 1 column 10 (char 9)"),
        (" ", "Malformed JSON: Expecting value: line 1 column 2 (char 1)"),
        ('{"InstanceCount": NaN}', "Malformed JSON: NaN is not a JSON value"),
        ('{"x": -Infinity}', "Malformed JSON: -Infinity is not a JSON value"),
    ],
)
def test_bodies_that_are_not_a_json_object(body: str, message: str) -> None:
    err = error_of(body)
    assert err.code == SER
    assert err.message.startswith(message)


def test_bytes_that_are_not_utf8() -> None:
    assert error_of(b'{"ClusterName": "\xff"}').message.startswith("Malformed JSON: 'utf-8' codec")


def in_group(raw_members: str) -> str:
    """A CreateCluster body whose one instance group has the given raw JSON members added."""
    role = "arn:aws:iam::123456789012:role/r"
    group = f'{{"InstanceGroupName": "g", "ExecutionRole": "{role}", {raw_members}}}'
    return f'{{"ClusterName": "a", "InstanceGroups": [{group}]}}'


UNION_ONE_OF = (
    "A ClusterInstanceStorageConfig must have exactly one of EbsVolumeConfig, FsxLustreConfig, "
    "FsxOpenZfsConfig set; found "
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"ClusterName": 5}', "NUMBER_VALUE can not be converted to a String"),
        ('{"ClusterName": 5.5}', "DECIMAL_VALUE can not be converted to a String"),
        ('{"ClusterName": true}', "TRUE_VALUE can not be converted to a String"),
        ('{"ClusterName": false}', "FALSE_VALUE can not be converted to a String"),
        ('{"ClusterName": ["a"]}', LIST_START),
        ('{"ClusterName": {"a": 1}}', MAP_START),
        ('{"ClusterName": "a", "InstanceGroups": {}}', MAP_START),
        ('{"ClusterName": "a", "InstanceGroups": "x"}', "Expected list or null"),
        ('{"ClusterName": "a", "VpcConfig": 3}', "Expected null"),
        ('{"ClusterName": "a", "VpcConfig": []}', LIST_START),
        (in_group('"KubernetesConfig": {"Labels": ["a"]}'), LIST_START),
        (in_group('"KubernetesConfig": {"Labels": "a"}'), "Expected map or null"),
        (in_group('"InstanceCount": "1"'), "STRING_VALUE can not be converted to an Integer"),
        (in_group('"InstanceCount": 1.5'), "DECIMAL_VALUE can not be converted to an Integer"),
        (in_group('"InstanceCount": 1.0'), "DECIMAL_VALUE can not be converted to an Integer"),
        (in_group('"InstanceCount": 1e400'), "DECIMAL_VALUE can not be converted to an Integer"),
        (
            in_group('"InstanceCount": 2147483648'),
            "NUMBER_VALUE can not be converted to an Integer: out of range",
        ),
        (
            in_group('"InstanceStorageConfigs": [{"EbsVolumeConfig": {"RootVolume": "true"}}]'),
            "STRING_VALUE can not be converted to a Boolean",
        ),
        (in_group('"InstanceStorageConfigs": [{"Unknown": {}}]'), UNION_ONE_OF + "Unknown"),
        (in_group('"InstanceStorageConfigs": [{"EbsVolumeConfig": null}]'), UNION_ONE_OF + "none"),
    ],
)
def test_wrong_json_types_are_serialization_exceptions(body: str, message: str) -> None:
    err = error_of(body)
    assert (err.code, err.message) == (SER, message)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"yesterday"', "'yesterday' can not be converted to a Timestamp: expected epoch seconds"),
        ("1e300", "NUMBER_VALUE can not be converted to a Timestamp: out of range"),
        ("true", "TRUE_VALUE can not be converted to a Timestamp"),
        ("[1]", LIST_START),
    ],
)
def test_bad_timestamps(value: str, message: str) -> None:
    err = error_of('{"CreationTimeAfter": ' + value + "}", "ListClusters")
    assert err.code == SER
    assert err.message.startswith(message)


def test_bad_blobs() -> None:
    with pytest.raises(WireError) as caught:
        decode_request(op("Decrypt", "kms"), b'{"CiphertextBlob": "not base64!"}')
    assert caught.value.message == "'not base64!' can not be converted to a Blob: invalid Base64"
    with pytest.raises(WireError) as caught:
        decode_request(op("Decrypt", "kms"), b'{"CiphertextBlob": 12}')
    assert caught.value.message == "NUMBER_VALUE can not be converted to a Blob"


@pytest.mark.parametrize("depth", [10, 200, 400, 5_000, 200_000])
def test_deep_nesting_is_a_serialization_exception_or_fine(depth: int) -> None:
    assert error_of("[" * depth + "]" * depth).code == SER
    assert error_of('{"ClusterName": ' + "[" * depth + "]" * depth + "}").code == SER
    # SearchExpression is recursive: nesting is legal until it is too deep to handle.
    nested: dict[str, Any] = {"Filters": [{"Name": "n"}]}
    for _ in range(depth if depth <= 400 else 0):
        nested = {"SubExpressions": [nested]}
    body = json.dumps({"Resource": "TrainingJob", "SearchExpression": nested}).encode()
    try:
        decode_request(op("Search"), body)
    except WireError as err:
        assert err.code in (SER, "ValidationException")


def test_huge_inputs_are_handled_quickly_and_messages_stay_bounded() -> None:
    start = time.perf_counter()
    tags = [{"Key": f"k{i}", "Value": "v"} for i in range(100_000)]
    message = error_of(json.dumps({"ClusterName": "c", "Tags": tags})).message
    assert message.startswith("1 validation error detected: Value '[{Key=k0, Value=v}, ")
    assert message.endswith(
        "' at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"
    )
    assert len(message) < 500
    bad_subnets = {"SecurityGroupIds": ["sg"], "Subnets": ["bad_subnet"] * 50_000}
    many = error_of(json.dumps({"ClusterName": "c", "VpcConfig": bad_subnets})).message
    assert many.startswith("50001 validation errors detected: ")
    assert many.endswith("; ... and 49901 more")
    huge_name = "a" * 2_000_000
    long_error = error_of(json.dumps({"ClusterName": huge_name})).message
    assert long_error.count("failed to satisfy constraint") == 1  # not pattern-matched: too long
    assert time.perf_counter() - start < 10


# ---- random inputs ----------------------------------------------------------------------------


def random_json(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["str", "int", "float", "bool", "null", "big", "list", "dict"]
    kind = rng.choice(kinds if depth < 4 else kinds[:6])
    if kind == "list":
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind == "dict":
        return {
            rng.choice(["a", "ClusterName", "Key"]): random_json(rng, depth + 1) for _ in range(3)
        }
    if kind == "str":
        return rng.choice(["", "x", "ml.p5.48xlarge", "1", "é\u2028", "a" * 70])
    if kind == "int":
        return rng.choice([-1, 0, 1, 7, 2**31, -(2**63) - 1])
    if kind == "float":
        return rng.choice([0.5, -0.0, 1e308, 1.0])
    return {"bool": rng.random() < 0.5, "null": None, "big": 10**100}[kind]


def plausible(shape: Shape, rng: random.Random, depth: int = 0) -> Any:  # noqa: PLR0911
    """A value of roughly the right type for ``shape``, wrong now and then."""
    if rng.random() < 0.04 or depth > 8:
        return random_json(rng, 3)
    kind = shape.type_name
    if kind == "structure":
        members = list(shape.members.items())
        chosen = rng.sample(members, k=min(len(members), rng.randint(0, 4)))
        chosen += [(n, shape.members[n]) for n in shape.required_members if rng.random() < 0.9]
        return {name: plausible(member, rng, depth + 1) for name, member in chosen}
    if kind == "list":
        return [plausible(shape.member, rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "map":
        return {
            rng.choice(["a", "b.c/d", "_"]): plausible(shape.value, rng, depth + 1)
            for _ in range(2)
        }
    if kind == "string":
        enum = shape.metadata.get("enum")
        return rng.choice(enum) if enum and rng.random() < 0.8 else rng.choice(["abc", "a-1", ""])
    if kind in ("integer", "long"):
        return rng.choice([0, 1, 3, -5, 70000])
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "timestamp":
        return rng.choice([1700000000, 1700000000.25, "2024-05-06T07:08:09Z"])
    return random_json(rng, 3)


@pytest.mark.parametrize("name", ["CreateCluster", "UpdateCluster"])
def test_random_inputs_give_parameters_or_a_wire_error(name: str) -> None:
    model: OperationModel = op(name)
    rng = random.Random(20250304)
    outcomes = {"ok": 0, SER: 0, "ValidationException": 0}
    for case in range(600):
        value = random_json(rng) if case % 3 == 0 else plausible(model.input_shape, rng)
        body = json.dumps(value).encode()
        try:
            params = decode_request(model, body)
        except WireError as err:
            assert err.status == 400
            outcomes[err.code] += 1
            if err.code == "ValidationException":
                assert " validation error" in err.message
            continue
        outcomes["ok"] += 1
        assert validate(model.input_shape, params) == []
        assert client_accepts(model, params)  # we are stricter than botocore's client
    assert all(count > 0 for count in outcomes.values()), outcomes


def test_lone_surrogates_are_rejected_and_can_be_echoed_in_the_error() -> None:
    err = error_of('{"ClusterName": "\\ud800x"}')
    assert err.code == "ValidationException"
    assert "Value '\ud800x' at 'clusterName'" in err.message
    assert json.loads(encode_error(err.code, err.message))["message"] == err.message
    listed = decode_request(op("ListClusters"), b'{"NextToken": "\\udfff"}')
    assert encode_response(op("ListClusters"), {"NextToken": listed["NextToken"]})
