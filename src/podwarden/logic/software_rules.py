"""Rules of a group's platform software that the shapes alone cannot express: the HyperPod AMI
release a group asks for (``ImageReleaseVersion``), its ``ScheduledUpdateConfig``, and a
``DeploymentConfig`` (UpdateClusterSoftware's, or a schedule's).

Pure, as ``cluster_rules``: a request (already shape-validated by ``wire``: the release and
image id patterns, ``WaitIntervalInSeconds`` 0-3600, 1-10 alarms, batch sizes >= 1) in, a list
of problems out; the control layer raises them together as one ValidationException. The
messages are podwarden's own (AWS's are not published).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from podwarden.logic.update_schedule import ScheduleError, next_due
from podwarden.policy.hyperpod_images import ImageCatalog

BATCH_SIZES = ("MaximumBatchSize", "RollbackMaximumBatchSize")


def deployment_problems(config: Mapping[str, Any] | None, where: str) -> list[str]:
    """A DeploymentConfiguration's problems; ``where`` starts each message ("DeploymentConfig",
    "Instance group g: ScheduledUpdateConfig.DeploymentConfig")."""
    if not config:
        return []
    problems: list[str] = []
    policy = config.get("RollingUpdatePolicy") or {}
    for key in BATCH_SIZES:
        size = policy.get(key)
        if size and size["Type"] == "CAPACITY_PERCENTAGE" and int(size["Value"]) > 100:
            problems.append(
                f"{where}: RollingUpdatePolicy.{key} of type CAPACITY_PERCENTAGE must be at most "
                f"100, not {size['Value']}."
            )
    names = Counter(a["AlarmName"] for a in config.get("AutoRollbackConfiguration") or [])
    repeated = sorted(n for n, count in names.items() if count > 1)
    if repeated:
        problems.append(
            f"{where}: each alarm may appear once in AutoRollbackConfiguration; repeated: "
            f"{', '.join(repeated)}."
        )
    return problems


def schedule_problems(group: Mapping[str, Any], now: float) -> list[str]:
    """The problems of a group specification's ScheduledUpdateConfig (none without one): an
    expression HyperPod's cron syntax refuses, one that never falls due after ``now`` (a
    one-time schedule in the past), and its DeploymentConfig's."""
    config = group.get("ScheduledUpdateConfig")
    if config is None:
        return []
    name = group["InstanceGroupName"]
    expression = config["ScheduleExpression"]
    try:
        due = next_due(expression, now)
    except ScheduleError as e:
        return [f"Instance group {name}: {e}"]
    problems = deployment_problems(
        config.get("DeploymentConfig"), f"Instance group {name}: ScheduledUpdateConfig"
    )
    if due is None:
        problems.insert(
            0,
            f"Instance group {name}: ScheduleExpression {expression!r} never falls due after now.",
        )
    return problems


def image_problems(
    groups: Iterable[Mapping[str, Any]],
    minor: str,
    catalog: ImageCatalog,
    existing: frozenset[str] = frozenset(),
) -> list[str]:
    """The ImageReleaseVersion of each group specification is a release the catalog knows that
    ships for the cluster's Kubernetes ``minor``. Groups named in ``existing`` (UpdateCluster
    of a group that already runs a release) need only name a known release: their AMI changes
    through UpdateClusterSoftware, not through their specification."""
    problems: list[str] = []
    for g in groups:
        version = g.get("ImageReleaseVersion")
        if version is None:
            continue
        problem = catalog.release_problem(version, minor)
        if problem is not None and (
            g["InstanceGroupName"] not in existing or catalog.get(version) is None
        ):
            problems.append(f"Instance group {g['InstanceGroupName']}: {problem}")
    return problems


def software_problems(
    groups: Iterable[Mapping[str, Any]],
    minor: str,
    catalog: ImageCatalog,
    now: float,
    existing: frozenset[str] = frozenset(),
) -> list[str]:
    """CreateCluster's and UpdateCluster's rules on the groups' platform software."""
    groups = list(groups)
    schedules = [p for g in groups for p in schedule_problems(g, now)]
    return image_problems(groups, minor, catalog, existing) + schedules
