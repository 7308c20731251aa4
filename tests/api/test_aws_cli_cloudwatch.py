"""The AWS CLI (v1, a dev dependency) manages CloudWatch alarms against podwarden: ``aws
cloudwatch put-metric-alarm``, ``describe-alarms``, ``set-alarm-state`` (how a test fires an
alarm that HyperPod's AutoRollbackConfiguration watches) and ``delete-alarms``, as a user types
them (tests/api/test_aws_cli.py's conventions). The CLI speaks awsJson 1.0 to CloudWatch, as
boto3 does; with ``AWS_DATA_PATH`` pointing at a model that lists only Smithy RPC v2 CBOR (what
SDKs preferring CBOR send) the same commands work in CBOR."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.aws_server import ACCOUNT, REGION, AwsServer
from tests.api.cloudwatch_clients import data_path
from tests.api.test_aws_cli import cli_env, failed, ok


@pytest.mark.parametrize("protocol", ["json", "smithy-rpc-v2-cbor"])
def test_cloudwatch_alarms(aws: AwsServer, tmp_path: Path, protocol: str) -> None:
    env = cli_env(tmp_path / "home")
    (tmp_path / "home").mkdir()
    if protocol != "json":
        env["AWS_DATA_PATH"] = str(data_path(tmp_path / "data", protocol))
    name = f"cli-{protocol}"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "awscli", "cloudwatch", *args, "--debug"]
        argv += ["--endpoint-url", aws.endpoint, "--region", REGION, "--output", "json"]
        return subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=120, check=False
        )

    put = cli(
        "put-metric-alarm",
        "--alarm-name",
        name,
        "--metric-name",
        "CPUUtilization",
        "--namespace",
        "AWS/EC2",
        "--statistic",
        "Average",
        "--period",
        "60",
        "--evaluation-periods",
        "2",
        "--threshold",
        "70",
        "--comparison-operator",
        "GreaterThanThreshold",
        "--dimensions",
        "Name=InstanceId,Value=i-0123",
    )
    assert ok(put) is None
    wire = "smithy-protocol': b'rpc-v2-cbor" if protocol != "json" else "application/x-amz-json-1.0"
    assert wire in put.stderr  # --debug prints what botocore sent
    alarms = ok(cli("describe-alarms", "--alarm-names", name))["MetricAlarms"]
    assert [a["AlarmName"] for a in alarms] == [name]
    assert alarms[0]["AlarmArn"] == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
    assert (alarms[0]["StateValue"], alarms[0]["Threshold"]) == ("INSUFFICIENT_DATA", 70.0)

    fire = ["set-alarm-state", "--alarm-name", name, "--state-value", "ALARM"]
    assert ok(cli(*fire, "--state-reason", "testing the rollback")) is None
    firing = ok(
        cli("describe-alarms", "--state-value", "ALARM", "--query", "MetricAlarms[].AlarmName")
    )
    assert firing == [name]

    missing = ["set-alarm-state", "--alarm-name", "no-such-alarm", "--state-value", "OK"]
    stderr = failed(cli(*missing, "--state-reason", "x"), "ResourceNotFound", "SetAlarmState")
    assert "no-such-alarm" in stderr

    assert ok(cli("delete-alarms", "--alarm-names", name)) is None
    assert ok(cli("describe-alarms", "--alarm-names", name))["MetricAlarms"] == []
