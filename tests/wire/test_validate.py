"""The validator, class by class: the exact AWS message for each kind of violation, the paths,
the order, and that every violation is reported. Bounds and enums come from the model."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from podwarden.wire.errors import WireError
from podwarden.wire.json_protocol import decode_request
from podwarden.wire.models import service_model
from podwarden.wire.validate import (
    CONSTRAINT,
    NOT_NULL,
    TYPE,
    UNION,
    Violation,
    compile_pattern,
    format_violations,
    render,
    validate,
)
from tests.wire.oracle import op

ROLE = "arn:aws:iam::123456789012:role/exec"
SM = service_model("sagemaker")


def meta(shape: str, key: str) -> Any:
    return SM.shape_for(shape).metadata[key]


def enum_phrase(shape: str) -> str:
    return f"Member must satisfy enum value set: [{', '.join(meta(shape, 'enum'))}]"


def group(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "InstanceGroupName": "workers",
        "InstanceType": "ml.p5.48xlarge",
        "InstanceCount": 1,
        "ExecutionRole": ROLE,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def create(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"ClusterName": "c1", "InstanceGroups": [group()]}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def rejection(name: str, params: dict[str, Any]) -> WireError:
    with pytest.raises(WireError) as caught:
        decode_request(op(name), json.dumps(params).encode())
    return caught.value


def validation_message(name: str, params: dict[str, Any]) -> str:
    err = rejection(name, params)
    assert (err.code, err.status) == ("ValidationException", 400), err.message
    return err.message


PATTERN_NAME = "Member must satisfy regular expression pattern: [a-zA-Z0-9](-*[a-zA-Z0-9])*"
IG1 = "instanceGroups.1.member"

CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "missing required",
        create(ClusterName=None),
        "Value null at 'clusterName' failed to satisfy constraint: Member must not be null",
    ),
    (
        "too long",
        create(ClusterName="a" * 64),
        f"Value '{'a' * 64}' at 'clusterName' failed to satisfy constraint: "
        "Member must have length less than or equal to 63",
    ),
    (
        "too short",
        create(Tags=[{"Key": "", "Value": ""}]),
        "Value '' at 'tags.1.member.key' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
    ),
    (
        "pattern",
        create(ClusterName="bad_name"),
        f"Value 'bad_name' at 'clusterName' failed to satisfy constraint: {PATTERN_NAME}",
    ),
    (
        "enum in a list item",
        create(InstanceGroups=[group(InstanceType="p5.48xlarge")]),
        f"Value 'p5.48xlarge' at '{IG1}.instanceType' failed to satisfy constraint: "
        + enum_phrase("ClusterInstanceType"),
    ),
    (
        "below minimum",
        create(InstanceGroups=[group(InstanceCount=-1)]),
        f"Value '-1' at '{IG1}.instanceCount' failed to satisfy constraint: "
        "Member must have value greater than or equal to 0",
    ),
    (
        "above maximum",
        create(InstanceGroups=[group(InstanceCount=meta("ClusterInstanceCount", "max") + 1)]),
        f"Value '{meta('ClusterInstanceCount', 'max') + 1}' at '{IG1}.instanceCount' failed to "
        f"satisfy constraint: Member must have value less than or equal to "
        f"{meta('ClusterInstanceCount', 'max')}",
    ),
    (
        "list too long",
        create(InstanceGroups=[group(OnStartDeepHealthChecks=["InstanceStress"] * 4)]),
        f"Value '[InstanceStress, InstanceStress, InstanceStress, InstanceStress]' at "
        f"'{IG1}.onStartDeepHealthChecks' failed to satisfy constraint: "
        "Member must have length less than or equal to 3",
    ),
    (
        "empty list",
        create(InstanceGroups=[]),
        "Value '[]' at 'instanceGroups' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
    ),
    (
        "missing required in the second list item",
        create(InstanceGroups=[group(), group(InstanceGroupName="g2", ExecutionRole=None)]),
        "Value null at 'instanceGroups.2.member.executionRole' failed to satisfy constraint: "
        "Member must not be null",
    ),
    (
        "deep nesting",
        create(
            InstanceGroups=[
                group(
                    KubernetesConfig={
                        "Taints": [{"Key": "k", "Effect": "NoSchedule"}, {"Key": "k"}]
                    }
                )
            ]
        ),
        f"Value null at '{IG1}.kubernetesConfig.taints.2.member.effect' failed to satisfy "
        "constraint: Member must not be null",
    ),
    (
        "null list item",
        create(VpcConfig={"SecurityGroupIds": ["sg-1", None], "Subnets": ["s-1"]}),
        "Value null at 'vpcConfig.securityGroupIds.2.member' failed to satisfy constraint: "
        "Member must not be null",
    ),
    (
        "map keys, reported once per map with every key constraint",
        create(InstanceGroups=[group(KubernetesConfig={"Labels": {"-bad": "v", "_x": "v"}})]),
        f"Value '{{-bad=v, _x=v}}' at '{IG1}.kubernetesConfig.labels' failed to satisfy "
        "constraint: Map keys must satisfy constraint: [Member must have length less than or "
        "equal to 317, Member must have length greater than or equal to 1, Member must satisfy "
        f"regular expression pattern: {meta('ClusterKubernetesLabelKey', 'pattern')}]",
    ),
    (
        "map values",
        create(InstanceGroups=[group(KubernetesConfig={"Labels": {"a": "x" * 64}})]),
        f"Value '{{a={'x' * 64}}}' at '{IG1}.kubernetesConfig.labels' failed to satisfy "
        "constraint: Map value must satisfy constraint: [Member must have length less than or "
        "equal to 63, Member must have length greater than or equal to 1, Member must satisfy "
        f"regular expression pattern: {meta('ClusterKubernetesLabelValue', 'pattern')}]",
    ),
    (
        "unicode property classes in tag patterns",
        create(Tags=[{"Key": "ok Ünï:/=+-@", "Value": "fine"}, {"Key": "bad!", "Value": "v"}]),
        "Value 'bad!' at 'tags.2.member.key' failed to satisfy constraint: Member must satisfy "
        f"regular expression pattern: {meta('TagKey', 'pattern')}",
    ),
]


@pytest.mark.parametrize(("case", "params", "violation"), CASES, ids=[c[0] for c in CASES])
def test_each_class_of_violation_gets_the_aws_message(
    case: str, params: dict[str, Any], violation: str
) -> None:
    assert (
        validation_message("CreateCluster", params) == f"1 validation error detected: {violation}"
    )


def test_several_violations_are_all_reported_in_model_order_depth_first() -> None:
    params = create(
        ClusterName="bad_name_" + "x" * 60,  # too long *and* off-pattern: both reported
        InstanceGroups=[
            group(InstanceCount=-1, InstanceType="p5.48xlarge"),
            group(ExecutionRole=None),
        ],
        NodeRecovery="Sometimes",
    )
    name = params["ClusterName"]
    expected = [
        f"Value '{name}' at 'clusterName' failed to satisfy constraint: "
        "Member must have length less than or equal to 63",
        f"Value '{name}' at 'clusterName' failed to satisfy constraint: {PATTERN_NAME}",
        f"Value '-1' at '{IG1}.instanceCount' failed to satisfy constraint: "
        "Member must have value greater than or equal to 0",
        f"Value 'p5.48xlarge' at '{IG1}.instanceType' failed to satisfy constraint: "
        + enum_phrase("ClusterInstanceType"),
        "Value null at 'instanceGroups.2.member.executionRole' failed to satisfy constraint: "
        "Member must not be null",
        "Value 'Sometimes' at 'nodeRecovery' failed to satisfy constraint: "
        + enum_phrase("ClusterNodeRecovery"),
    ]
    message = validation_message("CreateCluster", params)
    assert message == f"6 validation errors detected: {'; '.join(expected)}"


def test_a_valid_request_has_no_violations_and_validation_does_not_change_it() -> None:
    params = create(InstanceGroups=[group(KubernetesConfig={"Labels": {"a.b/c": "d"}})])
    before = copy.deepcopy(params)
    assert validate(op("CreateCluster").input_shape, params) == []
    assert params == before


def test_unions_need_exactly_one_member() -> None:
    shape = op("CreateCluster").input_shape
    two = {"EbsVolumeConfig": {"VolumeSizeInGB": 1}, "FsxOpenZfsConfig": {"DnsName": "x"}}
    params = create(InstanceGroups=[group(InstanceStorageConfigs=[two, {}])])
    union_errors = [v for v in validate(shape, params) if v.phrase == UNION]
    assert [(v.path, v.kind) for v in union_errors] == [
        (f"{IG1}.instanceStorageConfigs.1.member", TYPE),
        (f"{IG1}.instanceStorageConfigs.2.member", TYPE),
    ]
    # On the wire AWS rejects it while deserializing (Smithy's malformed-request tests).
    err = rejection("CreateCluster", params)
    assert err.code == "SerializationException"
    assert "ClusterInstanceStorageConfig must have exactly one of" in err.message


def test_wrong_python_types_are_reported_not_raised() -> None:
    shape = op("CreateCluster").input_shape
    weird: dict[str, Any] = {
        "ClusterName": 5,
        "InstanceGroups": {"not": "a list"},
        "Tags": [["nested"], "str"],
        "VpcConfig": "nope",
        "NodeRecovery": None,
    }
    found = validate(shape, weird)
    assert {(v.path, v.kind) for v in found} == {
        ("clusterName", TYPE),
        ("instanceGroups", TYPE),
        ("tags.1.member", TYPE),
        ("tags.2.member", TYPE),
        ("vpcConfig", TYPE),
    }
    assert found[0].phrase == "Member must be of type string"
    assert validate(shape, "not even a dict")[0].kind == TYPE


def test_format_violations_summary_and_limit() -> None:
    one = Violation("a", "x", "Member must not be empty")
    null = Violation("b", None, NOT_NULL)
    assert format_violations([one]) == (
        "1 validation error detected: Value 'x' at 'a' failed to satisfy constraint: "
        "Member must not be empty"
    )
    assert format_violations([one, null]).startswith("2 validation errors detected: Value 'x'")
    assert "; Value null at 'b' failed" in format_violations([one, null])
    many = format_violations([one] * 250, limit=100)
    assert many.startswith("250 validation errors detected: ")
    assert many.endswith("; ... and 150 more")
    assert many.count("Value 'x'") == 100
    with pytest.raises(ValueError, match="no violations"):
        format_violations([])
    assert one.kind == CONSTRAINT


def test_values_render_like_aws_and_containers_are_cut() -> None:
    assert render(None) is None
    assert render("as is, even ' quotes") == "as is, even ' quotes"
    assert render(True) == "true"
    assert render(7) == "7"
    assert render([1, "a", None, False]) == "[1, a, null, false]"
    assert render({"K": {"N": [1]}}) == "{K={N=[1]}}"
    assert render(b"\x00\x01") == "AAE="
    assert render(datetime(2025, 1, 1, tzinfo=UTC)) == "2025-01-01T00:00:00+00:00"
    long = render(list(range(10_000)))
    assert long is not None
    assert len(long) == 256
    assert long.endswith("...")


def test_every_sagemaker_pattern_compiles_and_java_isms_are_translated() -> None:
    patterns = {
        SM.shape_for(name).metadata["pattern"]
        for name in SM.shape_names
        if "pattern" in SM.shape_for(name).metadata
    }
    assert len(patterns) > 200
    assert [p for p in patterns if compile_pattern(p) is None] == []
    surrogates = r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*"
    rx = compile_pattern(surrogates)
    assert rx.fullmatch("tab\tand \U0001f600") is not None
    assert rx.fullmatch("bell\x07") is None
    assert compile_pattern(r"[a\x{60}]+").fullmatch("a`a") is not None
    assert compile_pattern("[unclosed") is None


def test_patterns_are_anchored() -> None:
    shape = op("DescribeCluster").input_shape
    assert validate(shape, {"ClusterName": "good-name"}) == []
    [violation] = validate(shape, {"ClusterName": "good-name!"})
    assert violation.phrase.startswith("Member must satisfy regular expression pattern: ")


def test_float_bounds_are_printed_as_floats() -> None:
    shape = op("CreateEndpointConfig").input_shape
    params = {
        "EndpointConfigName": "c",
        "ProductionVariants": [{"VariantName": "v", "InitialVariantWeight": -1.5}],
    }
    messages = [str(v) for v in validate(shape, params)]
    assert (
        "Value '-1.5' at 'productionVariants.1.member.initialVariantWeight' failed to satisfy "
        "constraint: Member must have value greater than or equal to 0.0"
    ) in messages


def test_huge_strings_skip_the_pattern_only_when_already_too_long() -> None:
    shape = op("DescribeClusterOperation").input_shape  # OperationId: a pattern and no max
    assert "max" not in shape.members["OperationId"].metadata
    huge = "x" * 10_000
    [violation] = validate(shape, {"ClusterName": "c", "OperationId": huge})
    assert violation.phrase.startswith("Member must satisfy regular expression pattern: ")
    [too_long] = validate(op("DescribeCluster").input_shape, {"ClusterName": huge})
    assert too_long.phrase == "Member must have length less than or equal to 256"


def test_map_size_and_null_map_values() -> None:
    shape = op("CreateCluster").input_shape
    labels: dict[str, Any] = {
        f"k{i}": "v" for i in range(meta("ClusterKubernetesLabels", "max") + 1)
    }
    labels["k0"] = None
    found = validate(shape, create(InstanceGroups=[group(KubernetesConfig={"Labels": labels})]))
    assert [(v.path, v.phrase) for v in found] == [
        (
            f"{IG1}.kubernetesConfig.labels",
            f"Member must have length less than or equal to {meta('ClusterKubernetesLabels', 'max')}",
        ),
        (f"{IG1}.kubernetesConfig.labels.k0.member", NOT_NULL),
    ]
    assert found[0].value is not None and found[0].value.startswith("{k0=null, k1=v, ")
