"""Round trips through botocore: its serializer's bodies decode to the caller's parameters, and
our response bodies parse, in botocore, back to the handler's output."""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from podwarden.wire.errors import WireError
from podwarden.wire.json_protocol import (
    content_type,
    decode_request,
    encode_error,
    encode_response,
)
from podwarden.wire.models import ServiceModel
from tests.wire.oracle import op, parse, serialize

ROLE = "arn:aws:iam::123456789012:role/hyperpod-exec"
EKS = "arn:aws:eks:us-west-2:123456789012:cluster/my-eks"
CLUSTER_ARN = "arn:aws:sagemaker:us-west-2:123456789012:cluster/abcdef123456"
T0 = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
T1 = datetime(2025, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)

CREATE_CLUSTER: dict[str, Any] = {
    "ClusterName": "ml-cluster-1",
    "InstanceGroups": [
        {
            "InstanceGroupName": "workers",
            "InstanceType": "ml.p5.48xlarge",
            "InstanceCount": 4,
            "MinInstanceCount": 0,
            "ExecutionRole": ROLE,
            "ThreadsPerCore": 2,
            "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-bucket/lcs/", "OnCreate": "on.sh"},
            "InstanceStorageConfigs": [
                {"EbsVolumeConfig": {"VolumeSizeInGB": 500, "RootVolume": False}},
                {
                    "FsxLustreConfig": {
                        "DnsName": "fs-0123456789abcdef0.fsx.aws",
                        "MountName": "abc",
                    }
                },
            ],
            "OnStartDeepHealthChecks": ["InstanceStress", "InstanceConnectivity"],
            "KubernetesConfig": {
                "Labels": {"team": "ml", "example.com/tier": "gpu"},
                "Taints": [
                    {"Key": "nvidia.com/gpu", "Value": "present", "Effect": "NoSchedule"},
                    {"Key": "dedicated", "Effect": "NoExecute"},
                ],
            },
            "OverrideVpcConfig": {"SecurityGroupIds": ["sg-0abc"], "Subnets": ["subnet-1"]},
            "AutoPatchConfig": {
                "PatchingStrategy": "DrainFirst",
                "PatchSchedule": {"NextPatchDate": T1},
            },
        },
        {
            "InstanceGroupName": "head",
            "InstanceType": "ml.m5.xlarge",
            "InstanceCount": 1,
            "ExecutionRole": ROLE,
        },
    ],
    "VpcConfig": {"SecurityGroupIds": ["sg-0abc"], "Subnets": ["subnet-1", "subnet-2"]},
    "Tags": [{"Key": "owner", "Value": "Ünïcode team"}, {"Key": "empty", "Value": ""}],
    "Orchestrator": {"Eks": {"ClusterArn": EKS}},
    "NodeRecovery": "Automatic",
    "NodeProvisioningMode": "Continuous",
}


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("CreateCluster", CREATE_CLUSTER),
        ("DescribeCluster", {"ClusterName": "ml-cluster-1"}),
        ("DescribeCluster", {"ClusterName": CLUSTER_ARN}),
        ("DeleteCluster", {"ClusterName": "ml-cluster-1"}),
        (
            "ListClusters",
            {
                "CreationTimeAfter": T0,
                "CreationTimeBefore": T1,
                "MaxResults": 10,
                "NameContains": "ml-",
                "SortBy": "NAME",
                "SortOrder": "Descending",
            },
        ),
        (
            "ListClusterNodes",
            {"ClusterName": "c", "CreationTimeAfter": T1, "IncludeNodeLogicalIds": True},
        ),
        (
            "UpdateCluster",
            {
                "ClusterName": "ml-cluster-1",
                "InstanceGroups": CREATE_CLUSTER["InstanceGroups"][1:],
                "InstanceGroupsToDelete": ["old"],
            },
        ),
        ("BatchDeleteClusterNodes", {"ClusterName": "c", "NodeIds": ["i-0123456789abcdef0"]}),
    ],
)
def test_botocore_request_bodies_decode_to_the_callers_parameters(
    name: str, params: dict[str, Any]
) -> None:
    model = op(name)
    assert decode_request(model, serialize(model, params)) == params


def test_timestamps_become_aware_utc_datetimes() -> None:
    model = op("ListClusters")
    plus_two = timezone(timedelta(hours=2))
    sent = {"CreationTimeAfter": datetime(2025, 1, 1, 2, 0, tzinfo=plus_two)}
    decoded = decode_request(model, serialize(model, sent))
    after = decoded["CreationTimeAfter"]
    assert after == datetime(2025, 1, 1, tzinfo=UTC)
    assert after.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (1735689600, datetime(2025, 1, 1, tzinfo=UTC)),
        (1735689600.5, datetime(2025, 1, 1, 0, 0, 0, 500000, tzinfo=UTC)),
        ("2025-01-01T00:00:00Z", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2025-01-01T00:00:00.250Z", datetime(2025, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)),
        ("2025-01-01T02:00:00+02:00", datetime(2025, 1, 1, tzinfo=UTC)),
        ("2025-01-01T00:00:00", datetime(2025, 1, 1, tzinfo=UTC)),
    ],
)
def test_epoch_seconds_and_iso8601_strings_are_both_accepted(
    wire: object, expected: datetime
) -> None:
    decoded = decode_request(op("ListClusters"), json.dumps({"CreationTimeAfter": wire}).encode())
    assert decoded["CreationTimeAfter"] == expected
    assert decoded["CreationTimeAfter"].tzinfo is not None


def test_empty_body_is_an_empty_structure_and_unknown_members_are_ignored() -> None:
    assert decode_request(op("ListClusters"), b"") == {}
    body = b'{"MaxResults": 5, "NotAMember": {"deep": [1, 2]}, "SortBy": null}'
    assert decode_request(op("ListClusters"), body) == {"MaxResults": 5}


DESCRIBE_CLUSTER: dict[str, Any] = {
    "ClusterArn": CLUSTER_ARN,
    "ClusterName": "ml-cluster-1",
    "ClusterStatus": "InService",
    "CreationTime": T1,
    "InstanceGroups": [
        {
            "CurrentCount": 3,
            "TargetCount": 4,
            "InstanceGroupName": "workers",
            "InstanceType": "ml.p5.48xlarge",
            "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-b/lcs/", "OnCreate": "on.sh"},
            "ExecutionRole": ROLE,
            "ThreadsPerCore": 1,
            "InstanceStorageConfigs": [{"EbsVolumeConfig": {"VolumeSizeInGB": 500}}],
            "OnStartDeepHealthChecks": ["InstanceStress"],
            "Status": "InService",
            "AutoPatchConfig": {
                "PatchingStrategy": "WhenIdle",
                "CurrentPatchSchedule": {"NextPatchDate": T0},
            },
            "KubernetesConfig": {
                "CurrentLabels": {"team": "ml"},
                "DesiredTaints": [{"Key": "k", "Value": "v", "Effect": "NoSchedule"}],
            },
        }
    ],
    "VpcConfig": {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]},
    "Orchestrator": {"Eks": {"ClusterArn": EKS}},
    "NodeRecovery": "Automatic",
}

LIST_CLUSTER_NODES: dict[str, Any] = {
    "NextToken": "opaque+/=token",
    "ClusterNodeSummaries": [
        {
            "InstanceGroupName": "workers",
            "InstanceId": f"i-0123456789abcdef{n}",
            "NodeLogicalId": f"node-{n}",
            "InstanceType": "ml.p5.48xlarge",
            "LaunchTime": T0 + timedelta(seconds=n, microseconds=n * 1001),
            "InstanceStatus": {"Status": "Running", "Message": ""},
        }
        for n in range(5)
    ],
}


@pytest.mark.parametrize(
    ("name", "output"),
    [
        ("DescribeCluster", DESCRIBE_CLUSTER),
        ("ListClusterNodes", LIST_CLUSTER_NODES),
        ("ListClusters", {"ClusterSummaries": []}),
        ("CreateCluster", {"ClusterArn": CLUSTER_ARN}),
    ],
)
def test_encoded_responses_parse_in_botocore_to_the_same_output(
    name: str, output: dict[str, Any]
) -> None:
    model = op(name)
    assert parse(model, encode_response(model, output)) == output


def test_encoding_writes_epoch_seconds_and_omits_none_and_unmodeled_members() -> None:
    model = op("DescribeCluster")
    output = {**DESCRIBE_CLUSTER, "FailureMessage": None, "InternalNote": "secret"}
    body = json.loads(encode_response(model, output))
    assert body["CreationTime"] == T1.timestamp()
    assert isinstance(body["CreationTime"], float)
    assert "FailureMessage" not in body
    assert "InternalNote" not in body
    assert b" " not in encode_response(model, {"ClusterArn": "a", "ClusterStatus": "x"})
    naive = encode_response(op("CreateCluster"), {"ClusterArn": CLUSTER_ARN})
    assert json.loads(naive) == {"ClusterArn": CLUSTER_ARN}


def test_whole_second_timestamps_are_integers_and_naive_ones_are_utc() -> None:
    model = op("ListClusterNodes")
    node = dict(LIST_CLUSTER_NODES["ClusterNodeSummaries"][0])
    node["LaunchTime"] = datetime(2025, 1, 1)  # naive: taken as UTC
    body = json.loads(encode_response(model, {"ClusterNodeSummaries": [node]}))
    assert body["ClusterNodeSummaries"][0]["LaunchTime"] == 1735689600
    parsed = parse(model, encode_response(model, {"ClusterNodeSummaries": [node]}))
    assert parsed["ClusterNodeSummaries"][0]["LaunchTime"] == datetime(2025, 1, 1, tzinfo=UTC)


def test_blobs_round_trip_through_botocore() -> None:
    # SageMaker's cluster operations carry no blobs; KMS (also awsJson1.1) does.
    blob_op = op("Decrypt", "kms")
    payload = bytes(range(256))
    assert decode_request(blob_op, serialize(blob_op, {"CiphertextBlob": payload})) == {
        "CiphertextBlob": payload
    }
    assert json.loads(encode_response(blob_op, {"Plaintext": payload}))["Plaintext"] == (
        base64.b64encode(payload).decode()
    )
    assert parse(blob_op, encode_response(blob_op, {"Plaintext": payload}))["Plaintext"] == payload


def test_non_finite_floats_are_written_as_strings() -> None:
    model = op("DescribeEndpoint")
    variant = {"VariantName": "v", "CurrentWeight": math.inf, "DesiredWeight": 0.5}
    out = {
        "EndpointName": "e",
        "EndpointArn": "arn",
        "EndpointConfigName": "c",
        "EndpointStatus": "InService",
        "CreationTime": T0,
        "LastModifiedTime": T0,
        "ProductionVariants": [variant],
    }
    body = json.loads(encode_response(model, out))
    assert body["ProductionVariants"][0]["CurrentWeight"] == "Infinity"
    # awsJson writes non-finite numbers as strings (Smithy's protocol); botocore hands them on as-is
    parsed = parse(model, encode_response(model, out))["ProductionVariants"][0]
    assert parsed == {**variant, "CurrentWeight": "Infinity"}


def test_error_bodies_and_content_type() -> None:
    assert json.loads(encode_error("ResourceNotFound", "Cluster x not found")) == {
        "__type": "ResourceNotFound",
        "message": "Cluster x not found",
    }
    assert content_type(op("DescribeCluster")) == "application/x-amz-json-1.1"


SYNTHETIC: dict[str, Any] = {
    "metadata": {
        "protocol": "json",
        "jsonVersion": "1.0",
        "targetPrefix": "Synthetic",
        "serviceId": "Synthetic",
        "endpointPrefix": "synthetic",
        "signatureVersion": "v4",
    },
    "operations": {
        "Op": {
            "name": "Op",
            "http": {"method": "POST", "requestUri": "/"},
            "input": {"shape": "In"},
            "output": {"shape": "Out"},
        }
    },
    "shapes": {
        "In": {
            "type": "structure",
            "members": {"Tree": {"shape": "Node"}, "Doc": {"shape": "Doc"}},
        },
        "Node": {
            "type": "structure",
            "required": ["Name"],
            "members": {"Name": {"shape": "Short"}, "Children": {"shape": "Nodes"}},
        },
        "Nodes": {"type": "list", "member": {"shape": "Node"}},
        "Doc": {"type": "structure", "members": {}, "document": True},
        "Short": {"type": "string", "max": 3},
        "Out": {
            "type": "structure",
            "members": {"Iso": {"shape": "IsoTime"}, "Http": {"shape": "HttpTime"}},
        },
        "IsoTime": {"type": "timestamp", "timestampFormat": "iso8601"},
        "HttpTime": {"type": "timestamp", "timestampFormat": "rfc822"},
    },
}


def test_recursive_shapes_documents_and_timestamp_formats() -> None:
    model = ServiceModel(SYNTHETIC, service_name="synthetic").operation_model("Op")
    tree = {"Name": "a", "Children": [{"Name": "b", "Children": [{"Name": "c"}]}]}
    doc = {"any": [1, {"json": None}]}
    assert decode_request(model, serialize(model, {"Tree": tree, "Doc": doc})) == {
        "Tree": tree,
        "Doc": doc,
    }
    deep = {"Name": "a", "Children": [{"Name": "b", "Children": [{"Name": "long"}, {}]}]}
    with pytest.raises(WireError) as caught:
        decode_request(model, json.dumps({"Tree": deep}).encode())
    assert caught.value.message == (
        "2 validation errors detected: Value 'long' at 'tree.children.1.member.children.1.member"
        ".name' failed to satisfy constraint: Member must have length less than or equal to 3; "
        "Value null at 'tree.children.1.member.children.2.member.name' failed to satisfy "
        "constraint: Member must not be null"
    )
    out = {"Iso": T1, "Http": T0}
    body = json.loads(encode_response(model, out))
    assert body == {"Iso": "2025-03-04T05:06:07.123Z", "Http": "Tue, 04 Mar 2025 05:06:07 GMT"}
    assert parse(model, encode_response(model, {"Http": T0})) == {"Http": T0}
    assert content_type(model) == "application/x-amz-json-1.0"
