"""CloudWatch's requests are authenticated like every other service's (tests/api/
test_signature_binding.py for the others): SigV4 scoped to its signing name ``monitoring`` in a
real region, with a known key, over exactly the bytes sent. Each negative is sent as boto3's
serializers build the request, in awsJson 1.0, Smithy RPC v2 CBOR and Query, read back with
botocore's parser for that protocol, and leaves no alarm behind."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from botocore.parsers import create_parser  # type: ignore[import-untyped]
from botocore.serialize import create_serializer  # type: ignore[import-untyped]

from podwarden.wire.models import service_model
from tests.api.aws_server import AwsServer
from tests.api.signing import Req, send, sign

PROTOCOLS = ("json", "smithy-rpc-v2-cbor", "query")
ALARM = {
    "AlarmName": "auth-probe",
    "MetricName": "M",
    "Namespace": "N",
    "Statistic": "Sum",
    "Period": 60,
    "EvaluationPeriods": 1,
    "Threshold": 1.0,
    "ComparisonOperator": "GreaterThanThreshold",
}
# what each protocol's client is told, by failure (the JSON families' codes for awsJson and
# CBOR, the Query family's for Query: wire.sigv4_errors)
CODES = {
    "scope": {"json": "InvalidSignatureException", "query": "SignatureDoesNotMatch"},
    "key": {"json": "UnrecognizedClientException", "query": "InvalidClientTokenId"},
    "mismatch": {"json": "InvalidSignatureException", "query": "SignatureDoesNotMatch"},
}


def request(protocol: str, operation: str, params: dict[str, Any]) -> Req:
    """``operation`` as botocore's serializer for ``protocol`` writes it."""
    op = service_model("cloudwatch").operation_model(operation)
    built = create_serializer(protocol).serialize_to_request(params, op)
    body = built["body"]
    if isinstance(body, dict):  # Query: a form
        body = urlencode(body).encode()
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in built["headers"].items()}
    if protocol == "query":
        headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
    return Req("cloudwatch", operation, "POST", built["url_path"], body, headers)


def code_of(protocol: str, operation: str, resp: httpx.Response) -> str:
    op = service_model("cloudwatch").operation_model(operation)
    parsed = create_parser(protocol).parse(
        {"status_code": resp.status_code, "headers": dict(resp.headers), "body": resp.content},
        op.output_shape,
    )
    assert 400 <= resp.status_code < 500, resp.text
    return str(parsed["Error"]["Code"])


def family(protocol: str) -> str:
    return "query" if protocol == "query" else "json"


def put(aws: AwsServer, protocol: str, **signing: Any) -> tuple[Req, str, dict[str, str]]:
    req = request(protocol, "PutMetricAlarm", ALARM)
    url, headers = sign(
        aws, req, scope_service=signing.pop("scope_service", "monitoring"), **signing
    )
    return req, url, headers


def no_alarm(aws: AwsServer) -> bool:
    found: list[Any] = aws.client("cloudwatch").describe_alarms(AlarmNames=["auth-probe"])[
        "MetricAlarms"
    ]
    return not found


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_right_signature_is_accepted(aws: AwsServer, protocol: str) -> None:
    req, url, headers = put(aws, protocol)
    assert send(url, headers, req.body).status_code == 200, protocol
    aws.client("cloudwatch").delete_alarms(AlarmNames=["auth-probe"])


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("scope", ["cloudwatch", "sagemaker", "ec2", "s3", "madeup"])
def test_a_scope_for_another_service_is_refused(aws: AwsServer, protocol: str, scope: str) -> None:
    """Only ``monitoring`` (CloudWatch's signing name, not its botocore name) signs for it."""
    req, url, headers = put(aws, protocol, scope_service=scope)
    resp = send(url, headers, req.body)
    assert code_of(protocol, req.operation, resp) == CODES["scope"][family(protocol)], resp.text
    assert "Credential should be scoped to correct service: 'monitoring'" in resp.text
    assert no_alarm(aws)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_region_that_does_not_exist_is_refused(aws: AwsServer, protocol: str) -> None:
    req, url, headers = put(aws, protocol, region="xx-nowhere-9")
    resp = send(url, headers, req.body)
    assert code_of(protocol, req.operation, resp) == CODES["scope"][family(protocol)]
    assert "region" in resp.text
    assert no_alarm(aws)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_unknown_key_is_refused(aws: AwsServer, protocol: str) -> None:
    req, url, headers = put(aws, protocol, key="AKIAUNKNOWN000000000", secret="x")
    resp = send(url, headers, req.body)
    assert code_of(protocol, req.operation, resp) == CODES["key"][family(protocol)]
    assert no_alarm(aws)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_wrong_secret_is_refused(aws: AwsServer, protocol: str) -> None:
    req, url, headers = put(aws, protocol, secret="not-the-secret")
    resp = send(url, headers, req.body)
    assert code_of(protocol, req.operation, resp) == CODES["mismatch"][family(protocol)]
    assert no_alarm(aws)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_body_tampered_after_signing_is_refused(aws: AwsServer, protocol: str) -> None:
    req, url, headers = put(aws, protocol)
    tampered = req.body.replace(b"auth-probe", b"auth-prob3")
    assert tampered != req.body
    resp = send(url, headers, tampered)
    assert code_of(protocol, req.operation, resp) == CODES["mismatch"][family(protocol)]
    assert no_alarm(aws)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_session_token_on_long_term_keys_is_refused(aws: AwsServer, protocol: str) -> None:
    req, url, headers = put(aws, protocol, token="made-up-session-token")
    resp = send(url, headers, req.body)
    assert code_of(protocol, req.operation, resp) == CODES["key"][family(protocol)]
    assert no_alarm(aws)


def test_an_unsigned_target_header_is_refused(aws: AwsServer) -> None:
    req = request("json", "PutMetricAlarm", ALARM)
    target = req.headers.pop("X-Amz-Target")
    url, headers = sign(aws, req, scope_service="monitoring", extra={"X-Amz-Target": target})
    resp = send(url, headers, req.body)
    assert code_of("json", req.operation, resp) == "InvalidSignatureException"
    assert "'X-Amz-Target' must be a 'SignedHeader'" in resp.text
    assert no_alarm(aws)


def test_a_cbor_path_signed_for_another_operation_is_refused(aws: AwsServer) -> None:
    """The path names the operation and is signed: a DescribeAlarms signature cannot be
    replayed as DeleteAlarms."""
    aws.client("cloudwatch").put_metric_alarm(**ALARM)
    req = request("smithy-rpc-v2-cbor", "DescribeAlarms", {"AlarmNames": ["auth-probe"]})
    url, headers = sign(aws, req, scope_service="monitoring")
    other = url.replace("/operation/DescribeAlarms", "/operation/DeleteAlarms")
    resp = send(other, headers, req.body)
    assert code_of("smithy-rpc-v2-cbor", "DeleteAlarms", resp) == "InvalidSignatureException"
    assert not no_alarm(aws)
    aws.client("cloudwatch").delete_alarms(AlarmNames=["auth-probe"])
