"""Semantic rules of CreateCluster and UpdateCluster that the shapes alone cannot express.

Pure: a request (already shape-validated by ``wire``) in, a list of problems out; the control
layer raises them together as one ValidationException. Where AWS's exact wording is not public
the messages are podwarden's own.

A lifecycle script's bucket may have any name, as in AWS: whether the instances can read it is a
question for the execution role's policies, answered when instances launch (a role that cannot
read the scripts fails the cluster then, with HyperPod's message: ``operator.clusters``), never
at the API. ``sagemaker-`` is only the prefix AmazonSageMakerClusterInstanceRolePolicy grants.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from podwarden.logic.deep_check_rules import Lookup, on_start_problems
from podwarden.policy.catalog import InstanceType, load_catalog
from podwarden.policy.deep_checks import load_deep_checks


def _catalog_entry(name: str) -> InstanceType | None:
    return load_catalog().types.get(name)


def orchestrator_problems(request: dict[str, Any]) -> list[str]:
    orch = request.get("Orchestrator")
    if orch is None:
        return ["Orchestrator is required: podwarden manages EKS-orchestrated clusters only."]
    present = [k for k in ("Eks", "Slurm") if orch.get(k) is not None]
    if len(present) != 1:
        return [
            "Orchestrator must specify exactly one of Eks or Slurm; specifying both or providing "
            "an empty configuration is not allowed."
        ]
    if present == ["Slurm"]:
        return ["Slurm orchestration is not supported by podwarden; use Orchestrator.Eks."]
    return []


def group_problems(
    groups: Iterable[dict[str, Any]],
    check_type: Callable[[str], str | None],
    lookup: Lookup = _catalog_entry,
) -> list[str]:
    """Rules for instance group specifications. ``check_type`` returns a problem for an
    instance type podwarden cannot run, else None; ``lookup`` gives a type's catalog entry
    (the packaged catalog) for the deep health checks' rules (``logic.deep_check_rules``)."""
    groups = list(groups)
    problems: list[str] = []
    counts = Counter(g["InstanceGroupName"] for g in groups)
    problems += [
        f"Instance group name {name} is used by more than one instance group."
        for name, n in counts.items()
        if n > 1
    ]
    for g in groups:
        name = g["InstanceGroupName"]
        has_type, has_reqs = "InstanceType" in g, "InstanceRequirements" in g
        if has_type == has_reqs:
            problems.append(
                f"Instance group {name} must specify exactly one of InstanceType or "
                "InstanceRequirements."
            )
        elif has_reqs:
            problems.append(
                f"Instance group {name}: InstanceRequirements (flexible instance groups) is not "
                "supported by podwarden yet; specify InstanceType."
            )
        elif (problem := check_type(g["InstanceType"])) is not None:
            problems.append(f"Instance group {name}: {problem}")
        roots = [
            c
            for c in g.get("InstanceStorageConfigs", [])
            if c.get("EbsVolumeConfig", {}).get("RootVolume")
        ]
        if len(roots) > 1:
            problems.append(
                f"Instance group {name}: at most one EbsVolumeConfig may set RootVolume."
            )
        taints = g.get("KubernetesConfig", {}).get("Taints", [])
        if g.get("OnStartDeepHealthChecks") and taints:
            problems.append(  # R19 (docs/requirements.md)
                f"Instance group {name}: custom taints cannot be added to an instance group with "
                "OnStartDeepHealthChecks enabled."
            )
    return problems + on_start_problems(groups, lookup, load_deep_checks())


def update_problems(
    existing: dict[str, dict[str, Any]],
    updated: list[dict[str, Any]],
    to_delete: list[str],
) -> list[str]:
    """Rules specific to UpdateCluster, given the current group specifications by name."""
    problems: list[str] = []
    for g in updated:
        name = g["InstanceGroupName"]
        old = existing.get(name)
        if old is not None and old.get("InstanceType") != g.get("InstanceType"):
            problems.append(
                f"The InstanceType of instance group {name} cannot be changed "
                f"(from {old.get('InstanceType')} to {g.get('InstanceType')})."
            )
        if name in to_delete:
            problems.append(
                f"Instance group {name} cannot be both updated and deleted in one request."
            )
    problems += [
        f"Instance group {name} in InstanceGroupsToDelete does not exist in the cluster."
        for name in to_delete
        if name not in existing
    ]
    return problems


def joined(problems: list[str]) -> str:
    return " ".join(problems)
