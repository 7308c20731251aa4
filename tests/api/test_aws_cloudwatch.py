"""CloudWatch alarms over real HTTP through boto3, in each protocol CloudWatch speaks: awsJson
1.0 (what boto3 1.44 and the AWS CLI send), Smithy RPC v2 CBOR and Query. Every operation, its
errors as botocore's modeled exceptions, and what the wire looked like."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from podwarden.control.alarm_states import firing_alarms
from tests.api.aws_server import ACCOUNT, REGION, AwsServer
from tests.api.cloudwatch_clients import PROTOCOLS, cloudwatch_client

CPU: dict[str, Any] = {
    "MetricName": "CPUUtilization",
    "Namespace": "AWS/EC2",
    "Statistic": "Average",
    "Period": 60,
    "EvaluationPeriods": 2,
    "Threshold": 70.5,
    "ComparisonOperator": "GreaterThanThreshold",
    "Dimensions": [{"Name": "InstanceId", "Value": "i-0123"}],
}


@pytest.fixture(scope="module", params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("botocore-data")


@pytest.fixture
def cw(aws: AwsServer, data_root: Path, protocol: str) -> Iterator[Any]:
    client = cloudwatch_client(aws.endpoint, data_root, protocol)
    yield client
    names = [a["AlarmName"] for a in client.describe_alarms()["MetricAlarms"]]
    if names:
        client.delete_alarms(AlarmNames=names)


def wire(client: Any) -> list[tuple[str, str, dict[str, str]]]:
    """Records (method, path, headers) of each request the client sends from now on."""
    sent: list[tuple[str, str, dict[str, str]]] = []

    def record(request: Any, **_: Any) -> None:
        headers = {
            k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()
        }
        sent.append((request.method, request.url.split("://", 1)[1].split("/", 1)[1], headers))

    client.meta.events.register("before-send", record)
    return sent


def error(call: Any, **params: Any) -> tuple[ClientError, dict[str, Any]]:
    with pytest.raises(ClientError) as info:
        call(**params)
    return info.value, info.value.response


def test_each_protocol_is_what_it_says_on_the_wire(cw: Any, protocol: str) -> None:
    sent = wire(cw)
    cw.describe_alarms()
    ((method, path, headers),) = sent
    assert method == "POST"
    if protocol == "json":
        assert headers["x-amz-target"] == "GraniteServiceVersion20100801.DescribeAlarms"
        assert headers["content-type"] == "application/x-amz-json-1.0"
    elif protocol == "smithy-rpc-v2-cbor":
        assert path == "service/GraniteServiceVersion20100801/operation/DescribeAlarms"
        assert headers["smithy-protocol"] == "rpc-v2-cbor"
    else:
        assert headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert (
        "Credential=" in headers["authorization"]
        and "/monitoring/aws4_request" in headers["authorization"]
    )


def test_put_describe_set_delete(aws: AwsServer, cw: Any) -> None:
    cw.put_metric_alarm(
        AlarmName="cpu-high", AlarmDescription="hot", **CPU, Tags=[{"Key": "k", "Value": "v"}]
    )
    (alarm,) = cw.describe_alarms(AlarmNames=["cpu-high"])["MetricAlarms"]
    assert alarm["AlarmArn"] == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:cpu-high"
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert {k: alarm[k] for k in CPU} == CPU
    assert alarm["AlarmDescription"] == "hot" and alarm["ActionsEnabled"] is True
    created = alarm["StateUpdatedTimestamp"]
    assert created.tzinfo is not None

    cw.set_alarm_state(AlarmName="cpu-high", StateValue="ALARM", StateReason="testing rollback")
    (fired,) = cw.describe_alarms(StateValue="ALARM")["MetricAlarms"]
    assert (fired["AlarmName"], fired["StateReason"]) == ("cpu-high", "testing rollback")
    assert fired["StateUpdatedTimestamp"] >= created
    assert firing_alarms(aws.store, ACCOUNT, REGION, ["cpu-high", "other"]) == {"cpu-high"}

    cw.put_metric_alarm(AlarmName="cpu-high", **(CPU | {"Threshold": 90.0}))
    (updated,) = cw.describe_alarms(AlarmNames=["cpu-high"])["MetricAlarms"]
    assert (updated["Threshold"], updated["StateValue"]) == (90.0, "ALARM")
    assert "AlarmDescription" not in updated

    cw.delete_alarms(AlarmNames=["cpu-high", "never-existed"])
    assert cw.describe_alarms(AlarmNames=["cpu-high"])["MetricAlarms"] == []
    assert firing_alarms(aws.store, ACCOUNT, REGION, ["cpu-high"]) == frozenset()


def test_describe_filters_and_pages(cw: Any) -> None:
    for name in ("web-3", "web-1", "db-1", "web-2"):
        cw.put_metric_alarm(AlarmName=name, **CPU)
    cw.set_alarm_state(AlarmName="web-2", StateValue="OK", StateReason="fine")
    prefixed = cw.describe_alarms(AlarmNamePrefix="web-")["MetricAlarms"]
    assert [a["AlarmName"] for a in prefixed] == ["web-1", "web-2", "web-3"]
    assert [a["AlarmName"] for a in cw.describe_alarms(StateValue="OK")["MetricAlarms"]] == [
        "web-2"
    ]
    paged = cw.get_paginator("describe_alarms").paginate(PaginationConfig={"PageSize": 3})
    pages = [[a["AlarmName"] for a in page["MetricAlarms"]] for page in paged]
    assert pages == [["db-1", "web-1", "web-2"], ["web-3"]]


def test_errors_are_cloudwatch_exceptions(cw: Any) -> None:
    err, response = error(cw.set_alarm_state, AlarmName="nope", StateValue="ALARM", StateReason="r")
    assert isinstance(err, cw.exceptions.ResourceNotFound)
    assert response["Error"]["Code"] == "ResourceNotFound"
    assert response["Error"]["Message"] == "Alarm nope does not exist."
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404

    err, response = error(cw.describe_alarms, NextToken="garbage")
    assert isinstance(err, cw.exceptions.InvalidNextToken)

    err, response = error(cw.describe_alarms, AlarmNames=["a"], AlarmNamePrefix="a")
    assert isinstance(err, cw.exceptions.InvalidParameterCombinationException)
    assert response["Error"]["Code"] == "InvalidParameterCombination"

    cw.put_metric_alarm(AlarmName="exists", **CPU)
    err, response = error(
        cw.set_alarm_state,
        AlarmName="exists",
        StateValue="OK",
        StateReason="r",
        StateReasonData="{",
    )
    assert isinstance(err, cw.exceptions.InvalidFormatFault)

    err, response = error(cw.put_metric_alarm, AlarmName="bad-period", **(CPU | {"Period": 61}))
    assert response["Error"]["Code"] == "ValidationError"
    assert "Period 61 is not valid" in response["Error"]["Message"]


def test_model_constraints_are_validation_errors(cw: Any) -> None:
    _, response = error(cw.put_metric_alarm, AlarmName="x" * 256, **CPU)
    assert response["Error"]["Code"] == "ValidationError"
    assert "at 'alarmName' failed to satisfy constraint" in response["Error"]["Message"]
    _, response = error(cw.describe_alarms, MaxRecords=101)
    assert "Member must have value less than or equal to 100" in response["Error"]["Message"]


def test_an_operation_podwarden_does_not_serve(cw: Any, protocol: str) -> None:
    _, response = error(cw.list_dashboards)
    expected = "InvalidAction" if protocol == "query" else "UnknownOperationException"
    assert response["Error"]["Code"] == expected
    assert "podwarden does not implement cloudwatch ListDashboards" in response["Error"]["Message"]
