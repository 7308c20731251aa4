"""Preflight rules about the request's instance groups alone: instance types (R11), deep health
checks without custom taints (R19), InstanceStorageConfigs (R10)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.logic.preflight import Outcome, Rule, failed, listed, passed, skipped
from podwarden.logic.preflight_facts import Facts
from podwarden.policy.preflight import Tables

NO_GROUPS = "the request has no instance groups"


def group_types(group: Mapping[str, Any]) -> list[str]:
    """The instance types of a group: InstanceType, or those of InstanceRequirements."""
    if group.get("InstanceType"):
        return [str(group["InstanceType"])]
    return [str(t) for t in (group.get("InstanceRequirements") or {}).get("InstanceTypes") or []]


def instance_types(facts: Facts, tables: Tables) -> Outcome:
    groups = facts.groups()
    if not groups:
        return skipped(NO_GROUPS)
    prefix = tables.preflight.instance_type_prefix
    catalog = tables.catalog
    problems, good = [], []
    for g in groups:
        name = g["InstanceGroupName"]
        types = group_types(g)
        if not types:
            problems.append(f"instance group {name} names no instance type")
        for t in types:
            if not t.startswith(prefix):
                hint = f"; did you mean {prefix}{t}?" if prefix + t in catalog else ""
                problems.append(f"instance group {name}: {t} lacks the {prefix} prefix{hint}")
            elif t not in catalog:
                problems.append(f"instance group {name}: {t} is not a HyperPod instance type")
            else:
                good.append(f"{name}: {t}")
    if problems:
        return failed(
            problems,
            f"Use SageMaker ML instance types with the {prefix} prefix (ml.p5.48xlarge, not "
            "p5.48xlarge); aws sagemaker's ClusterInstanceType lists them.",
        )
    return passed(listed(good))


def deep_health_check_taints(facts: Facts, tables: Tables) -> Outcome:
    groups = facts.groups()
    if not groups:
        return skipped(NO_GROUPS)
    problems = []
    checked = []
    for g in groups:
        if not g.get("OnStartDeepHealthChecks"):
            continue
        checked.append(str(g["InstanceGroupName"]))
        taints = (g.get("KubernetesConfig") or {}).get("Taints") or []
        if taints:
            shown = listed(f"{t.get('Key')}={t.get('Value', '')}:{t.get('Effect')}" for t in taints)
            problems.append(
                f"instance group {g['InstanceGroupName']} has OnStartDeepHealthChecks "
                f"{listed(g['OnStartDeepHealthChecks'])} and custom taints {shown}"
            )
    if problems:
        return failed(
            problems,
            "Remove KubernetesConfig.Taints from these groups, or turn their "
            "OnStartDeepHealthChecks off: HyperPod taints nodes itself during deep checks.",
        )
    if not checked:
        return skipped("no instance group has OnStartDeepHealthChecks")
    return passed(f"no custom taints on {listed(checked)}")


def instance_storage(facts: Facts, tables: Tables) -> Outcome:
    groups = facts.groups()
    if not groups:
        return skipped(NO_GROUPS)
    lo, hi = tables.preflight.ebs_min_gb, tables.preflight.ebs_max_gb
    problems, volumes = [], 0
    for g in groups:
        name = g["InstanceGroupName"]
        ebs = [
            c["EbsVolumeConfig"]
            for c in g.get("InstanceStorageConfigs") or []
            if isinstance(c.get("EbsVolumeConfig"), dict)
        ]
        volumes += len(ebs)
        for e in ebs:
            size = e.get("VolumeSizeInGB")
            if size is not None and not (isinstance(size, int) and lo <= size <= hi):
                problems.append(
                    f"instance group {name}: VolumeSizeInGB {size} is outside {lo}-{hi}"
                )
        roots = sum(1 for e in ebs if e.get("RootVolume"))
        if roots > 1:
            problems.append(f"instance group {name}: {roots} EbsVolumeConfigs set RootVolume")
    if problems:
        return failed(
            problems,
            f"Give each EBS volume {lo}-{hi} GB and set RootVolume on at most one "
            "EbsVolumeConfig per group; the extra volume mounts at /opt/sagemaker.",
        )
    if not volumes:
        return skipped("no EBS volumes in InstanceStorageConfigs")
    return passed(f"{volumes} EBS volume(s) within {lo}-{hi} GB, at most one root volume per group")


RULES = (
    Rule(
        "instance-types",
        "R11",
        "Every instance type is a known SageMaker ML type with the ml. prefix.",
        instance_types,
    ),
    Rule(
        "deep-health-check-taints",
        "R19",
        "Instance groups with OnStartDeepHealthChecks carry no custom taints.",
        deep_health_check_taints,
    ),
    Rule(
        "instance-storage",
        "R10",
        "InstanceStorageConfigs are valid: EBS sizes within bounds, at most one root volume.",
        instance_storage,
    ),
)
