"""CloudWatch of the local AWS account: metric alarms through the operation table (PutMetricAlarm,
DescribeAlarms, SetAlarmState, DeleteAlarms), each refusal as CloudWatch words it, and what the
HyperPod reconciler reads of them (``control.alarm_states.firing_alarms``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from podwarden.control.alarm_states import firing_alarms
from podwarden.control.cloudwatch import OPERATIONS as CW
from podwarden.control.context import Context
from podwarden.model.errors import PodwardenError
from podwarden.wire.errors import WireError, wire_error
from tests.aws_helpers import ACCOUNT, REGION, assert_shape, make_context

CPU = {
    "MetricName": "CPUUtilization",
    "Namespace": "AWS/EC2",
    "Statistic": "Average",
    "Period": 60,
    "EvaluationPeriods": 2,
    "Threshold": 70.0,
    "ComparisonOperator": "GreaterThanThreshold",
}


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return make_context(tmp_path)


def call(ctx: Context, op: str, **params: Any) -> dict[str, Any]:
    out = CW[op](ctx, params)
    assert_shape("cloudwatch", op, out)
    return out


def fails(ctx: Context, op: str, **params: Any) -> WireError:
    with pytest.raises(PodwardenError) as info:
        CW[op](ctx, params)
    return wire_error("cloudwatch", info.value)


def put(ctx: Context, name: str, **params: Any) -> None:
    call(ctx, "PutMetricAlarm", AlarmName=name, **(CPU | params))


def alarms(ctx: Context, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = call(ctx, "DescribeAlarms", **params)["MetricAlarms"]
    return found


def test_a_new_alarm_has_insufficient_data_and_its_configuration(ctx: Context) -> None:
    put(ctx, "cpu-high", Dimensions=[{"Name": "InstanceId", "Value": "i-1"}])
    (alarm,) = alarms(ctx)
    assert alarm["AlarmArn"] == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:cpu-high"
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["StateReason"] == "Unchecked: Initial alarm creation"
    assert alarm["ActionsEnabled"] is True
    assert alarm["AlarmActions"] == alarm["OKActions"] == alarm["InsufficientDataActions"] == []
    assert {k: alarm[k] for k in CPU} == CPU
    assert alarm["Dimensions"] == [{"Name": "InstanceId", "Value": "i-1"}]
    assert "_podwarden" not in alarm


def test_an_update_replaces_the_configuration_and_keeps_the_state(ctx: Context) -> None:
    put(ctx, "a", AlarmDescription="first", Unit="Percent")
    call(ctx, "SetAlarmState", AlarmName="a", StateValue="ALARM", StateReason="test")
    before = alarms(ctx)[0]
    put(ctx, "a", Threshold=90.0)
    after = alarms(ctx)[0]
    assert after["Threshold"] == 90.0
    assert "AlarmDescription" not in after and "Unit" not in after  # overwritten, not merged
    assert after["StateValue"] == "ALARM"
    assert after["StateUpdatedTimestamp"] == before["StateUpdatedTimestamp"]
    assert (
        after["AlarmConfigurationUpdatedTimestamp"] >= before["AlarmConfigurationUpdatedTimestamp"]
    )


def test_set_alarm_state_moves_the_state_and_its_timestamps(ctx: Context) -> None:
    put(ctx, "a")
    created = alarms(ctx)[0]
    call(
        ctx,
        "SetAlarmState",
        AlarmName="a",
        StateValue="ALARM",
        StateReason="r",
        StateReasonData="{}",
    )
    fired = alarms(ctx)[0]
    assert (fired["StateValue"], fired["StateReason"], fired["StateReasonData"]) == (
        "ALARM",
        "r",
        "{}",
    )
    assert fired["StateTransitionedTimestamp"] >= created["StateTransitionedTimestamp"]
    call(ctx, "SetAlarmState", AlarmName="a", StateValue="ALARM", StateReason="again")
    again = alarms(ctx)[0]
    assert again["StateTransitionedTimestamp"] == fired["StateTransitionedTimestamp"]
    assert "StateReasonData" not in again


def test_set_alarm_state_refusals(ctx: Context) -> None:
    err = fails(ctx, "SetAlarmState", AlarmName="nope", StateValue="OK", StateReason="r")
    assert (err.code, err.status, err.message) == (
        "ResourceNotFound",
        404,
        "Alarm nope does not exist.",
    )
    put(ctx, "a")
    err = fails(
        ctx, "SetAlarmState", AlarmName="a", StateValue="OK", StateReason="r", StateReasonData="{x"
    )
    assert (err.code, err.status) == ("InvalidFormat", 400)
    assert alarms(ctx)[0]["StateValue"] == "INSUFFICIENT_DATA"  # nothing changed


def test_describe_filters_and_sorts_by_name(ctx: Context) -> None:
    for name in ("web-b", "web-a", "db"):
        put(ctx, name, AlarmActions=[f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"])
    call(ctx, "SetAlarmState", AlarmName="web-b", StateValue="ALARM", StateReason="r")

    def names(**params: Any) -> list[str]:
        return [a["AlarmName"] for a in alarms(ctx, **params)]

    assert names() == ["db", "web-a", "web-b"]
    assert names(AlarmNamePrefix="web-") == ["web-a", "web-b"]
    assert names(AlarmNames=["web-b", "db", "missing"]) == ["db", "web-b"]
    assert names(StateValue="ALARM") == ["web-b"]
    assert names(StateValue="OK") == []
    assert names(ActionPrefix=f"arn:aws:sns:{REGION}:{ACCOUNT}:web") == ["web-a", "web-b"]
    assert names(AlarmTypes=["CompositeAlarm"]) == []
    assert names(ChildrenOfAlarmName="web-a") == []
    out = call(ctx, "DescribeAlarms", AlarmTypes=["MetricAlarm", "LogAlarm"])
    assert out["CompositeAlarms"] == [] and out["LogAlarms"] == []


def test_describe_pages_with_max_records(ctx: Context) -> None:
    for i in range(5):
        put(ctx, f"alarm-{i}")
    seen, token, pages = [], None, 0
    while True:
        params: dict[str, Any] = {"MaxRecords": 2, "AlarmNamePrefix": "alarm-"}
        out = call(ctx, "DescribeAlarms", **params, **({"NextToken": token} if token else {}))
        seen += [a["AlarmName"] for a in out["MetricAlarms"]]
        pages += 1
        token = out.get("NextToken")
        if token is None:
            break
    assert (seen, pages) == ([f"alarm-{i}" for i in range(5)], 3)


def test_describe_refusals(ctx: Context) -> None:
    err = fails(ctx, "DescribeAlarms", AlarmNames=["a"], AlarmNamePrefix="a")
    assert (err.code, err.status) == ("InvalidParameterCombination", 400)
    err = fails(ctx, "DescribeAlarms", ParentsOfAlarmName="a", StateValue="OK")
    assert (err.code, err.status) == ("InvalidParameterCombination", 400)
    err = fails(ctx, "DescribeAlarms", NextToken="not-a-token")
    assert (err.code, err.status) == ("InvalidNextToken", 400)
    for i in range(3):
        put(ctx, f"p{i}")
    token = call(ctx, "DescribeAlarms", MaxRecords=1)["NextToken"]
    err = fails(ctx, "DescribeAlarms", MaxRecords=1, NextToken=token, StateValue="OK")
    assert err.code == "InvalidNextToken"  # a token is good only for the query that issued it


def test_delete_alarms_deletes_those_that_exist(ctx: Context) -> None:
    put(ctx, "a")
    put(ctx, "b")
    call(ctx, "DeleteAlarms", AlarmNames=["a", "missing", "a"])
    assert [x["AlarmName"] for x in alarms(ctx)] == ["b"]


def test_alarms_are_regional(tmp_path: Path) -> None:
    west = make_context(tmp_path)
    east = make_context(tmp_path, region="us-east-1", store=west.store)
    put(west, "a")
    assert alarms(east) == []


@pytest.mark.parametrize(
    ("params", "code", "words"),
    [
        (
            {"Metrics": [{"Id": "m1", "Expression": "1"}]},
            "InvalidParameterCombination",
            "Metrics cannot be combined with MetricName",
        ),
        (
            {"ExtendedStatistic": "p99"},
            "InvalidParameterCombination",
            "Statistic and ExtendedStatistic",
        ),
        ({"Namespace": None}, "ValidationError", "needs Namespace"),
        ({"Statistic": None}, "ValidationError", "needs Statistic or ExtendedStatistic"),
        ({"EvaluationPeriods": None}, "ValidationError", "EvaluationPeriods must be set"),
        ({"ComparisonOperator": None}, "ValidationError", "ComparisonOperator must be set"),
        ({"Threshold": None}, "ValidationError", "set Threshold"),
        (
            {"ComparisonOperator": "LessThanLowerThreshold"},
            "ValidationError",
            "set ThresholdMetricId",
        ),
        ({"DatapointsToAlarm": 3}, "ValidationError", "DatapointsToAlarm (3) cannot be greater"),
        ({"Period": 45}, "ValidationError", "Period 45 is not valid"),
    ],
)
def test_put_metric_alarm_rules(
    ctx: Context, params: dict[str, Any], code: str, words: str
) -> None:
    request = {k: v for k, v in (CPU | params).items() if v is not None}
    err = fails(ctx, "PutMetricAlarm", AlarmName="bad", **request)
    assert (err.code, err.status) == (code, 400)
    assert words in err.message
    assert alarms(ctx) == []


def test_a_metric_math_alarm(ctx: Context) -> None:
    metrics: list[dict[str, Any]] = [
        {
            "Id": "m1",
            "MetricStat": {
                "Metric": {"Namespace": "N", "MetricName": "M"},
                "Period": 60,
                "Stat": "Sum",
            },
            "ReturnData": False,
        },
        {"Id": "e1", "Expression": "m1 * 2"},
    ]
    call(
        ctx,
        "PutMetricAlarm",
        AlarmName="math",
        Metrics=metrics,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    (alarm,) = alarms(ctx)
    assert alarm["Metrics"] == metrics and "Dimensions" not in alarm
    two = [{**m, "ReturnData": True} for m in metrics]
    err = fails(
        ctx,
        "PutMetricAlarm",
        AlarmName="m2",
        Metrics=two,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    assert err.code == "ValidationError" and "found 2" in err.message


def test_firing_alarms_reads_alarm_states(ctx: Context) -> None:
    for name in ("a", "b", "c"):
        put(ctx, name)
    call(ctx, "SetAlarmState", AlarmName="a", StateValue="ALARM", StateReason="r")
    call(ctx, "SetAlarmState", AlarmName="c", StateValue="OK", StateReason="r")
    store = ctx.store
    assert firing_alarms(store, ACCOUNT, REGION, ["a", "b", "c", "gone"]) == {"a"}
    assert firing_alarms(store, ACCOUNT, REGION, ["a"]) == {"a"}
    assert firing_alarms(store, ACCOUNT, REGION, ["b"]) == frozenset()
    assert firing_alarms(store, ACCOUNT, REGION, []) == frozenset()
    assert firing_alarms(store, ACCOUNT, "eu-west-1", ["a"]) == frozenset()  # another Region
    assert firing_alarms(store, "111111111111", REGION, ["a", "b"]) == frozenset()
    call(ctx, "DeleteAlarms", AlarmNames=["a"])
    assert firing_alarms(store, ACCOUNT, REGION, ["a", "b"]) == frozenset()
