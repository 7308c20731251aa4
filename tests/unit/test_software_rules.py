"""The rules on a group's platform software (``logic/software_rules``): DeploymentConfig,
ScheduledUpdateConfig and ImageReleaseVersion, as CreateCluster, UpdateCluster and
UpdateClusterSoftware check them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from podwarden.logic.software_rules import (
    deployment_problems,
    image_problems,
    schedule_problems,
    software_problems,
)
from podwarden.policy.hyperpod_images import load_images

NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC).timestamp()
CATALOG = load_images()


def group(**more: Any) -> dict[str, Any]:
    return {"InstanceGroupName": "g", **more}


def test_deployment() -> None:
    assert deployment_problems(None, "DeploymentConfig") == []
    assert deployment_problems({}, "DeploymentConfig") == []
    fine = {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "CAPACITY_PERCENTAGE", "Value": 100},
            "RollbackMaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 500},
        },
        "AutoRollbackConfiguration": [{"AlarmName": "a"}, {"AlarmName": "b"}],
    }
    assert deployment_problems(fine, "DeploymentConfig") == []
    bad = {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "CAPACITY_PERCENTAGE", "Value": 101},
            "RollbackMaximumBatchSize": {"Type": "CAPACITY_PERCENTAGE", "Value": 200},
        },
        "AutoRollbackConfiguration": [{"AlarmName": "b"}, {"AlarmName": "a"}] * 2,
    }
    problems = deployment_problems(bad, "DeploymentConfig")
    assert len(problems) == 3
    assert (
        "MaximumBatchSize of type CAPACITY_PERCENTAGE must be at most 100, not 101" in (problems[0])
    )
    assert "RollbackMaximumBatchSize" in problems[1] and "200" in problems[1]
    assert problems[2].endswith("repeated: a, b.")


def test_schedule() -> None:
    assert schedule_problems(group(), NOW) == []
    weekly = {"ScheduleExpression": "cron(0 3 ? * MON *)"}
    assert schedule_problems(group(ScheduledUpdateConfig=weekly), NOW) == []
    (bad,) = schedule_problems(
        group(ScheduledUpdateConfig={"ScheduleExpression": "rate(7 days)"}), NOW
    )
    assert bad.startswith("Instance group g: ") and "cron(" in bad

    def past(percent: int) -> dict[str, Any]:
        size = {"Type": "CAPACITY_PERCENTAGE", "Value": percent}
        return {
            "ScheduleExpression": "cron(0 3 1 6 ? 2026)",
            "DeploymentConfig": {"RollingUpdatePolicy": {"MaximumBatchSize": size}},
        }

    assert schedule_problems(group(ScheduledUpdateConfig=past(10)), NOW) == [
        "Instance group g: ScheduleExpression 'cron(0 3 1 6 ? 2026)' never falls due after now."
    ]
    problems = schedule_problems(group(ScheduledUpdateConfig=past(150)), NOW)
    assert len(problems) == 2 and "ScheduledUpdateConfig: RollingUpdatePolicy" in problems[1]


def test_images() -> None:
    assert image_problems([group(), group(ImageReleaseVersion="1.4.1")], "1.32", CATALOG) == []
    (unknown,) = image_problems([group(ImageReleaseVersion="9.9.9")], "1.32", CATALOG)
    assert unknown.startswith("Instance group g: ImageReleaseVersion 9.9.9")
    (wrong,) = image_problems([group(ImageReleaseVersion="1.0.1")], "1.32", CATALOG)
    assert "not for the cluster's Kubernetes 1.32" in wrong
    # an existing group may keep a release of an older minor, not name an unknown one
    existing = frozenset({"g"})
    assert image_problems([group(ImageReleaseVersion="1.0.1")], "1.32", CATALOG, existing) == []
    assert image_problems([group(ImageReleaseVersion="9.9.9")], "1.32", CATALOG, existing)


def test_software_problems_joins_both() -> None:
    groups = [
        group(ImageReleaseVersion="9.9.9"),
        group(ScheduledUpdateConfig={"ScheduleExpression": "cron(0 3 * * ? *)"}),
    ]
    problems = software_problems(groups, "1.32", CATALOG, NOW)
    assert len(problems) == 2 and "9.9.9" in problems[0] and "Day-of-month" in problems[1]
