"""Semantic rules of CreateCluster / UpdateCluster."""

from __future__ import annotations

from typing import Any

import pytest

from podwarden.logic import cluster_rules as rules


def ok_type(name: str) -> str | None:
    return None if name.startswith("ml.") else f"{name} is not an ml. type"


def g(name: str = "w", **extra: Any) -> dict[str, Any]:
    return {"InstanceGroupName": name, "InstanceType": "ml.c5.large", "InstanceCount": 1, **extra}


def test_orchestrator_rules() -> None:
    assert rules.orchestrator_problems({"Orchestrator": {"Eks": {"ClusterArn": "x"}}}) == []
    assert "exactly one" in rules.orchestrator_problems({"Orchestrator": {}})[0]
    assert (
        "exactly one" in rules.orchestrator_problems({"Orchestrator": {"Eks": {}, "Slurm": {}}})[0]
    )
    assert (
        "Slurm orchestration is not supported"
        in rules.orchestrator_problems({"Orchestrator": {"Slurm": {}}})[0]
    )
    assert "EKS-orchestrated" in rules.orchestrator_problems({})[0]


def test_group_rules_collect_every_problem() -> None:
    problems = rules.group_problems(
        [
            g("a"),
            g("a"),
            g("b", InstanceType="p5.48xlarge"),
            {"InstanceGroupName": "c", "InstanceCount": 1},
            {
                "InstanceGroupName": "d",
                "InstanceCount": 1,
                "InstanceRequirements": {"InstanceTypes": ["ml.c5.large"]},
            },
            g("f", InstanceStorageConfigs=[{"EbsVolumeConfig": {"RootVolume": True}}] * 2),
            g(
                "h",
                OnStartDeepHealthChecks=["InstanceStress"],
                KubernetesConfig={"Taints": [{"Key": "k", "Effect": "NoSchedule"}]},
            ),
        ],
        ok_type,
    )
    text = " ".join(problems)
    assert "name a is used by more than one" in text
    assert "b: p5.48xlarge is not an ml. type" in text
    assert "c must specify exactly one of InstanceType or InstanceRequirements" in text
    assert "d: InstanceRequirements" in text
    assert "f: at most one EbsVolumeConfig" in text
    assert "h: custom taints cannot be added" in text
    assert len(problems) == 6


@pytest.mark.parametrize(
    "uri",
    [
        "s3://hyperpod-eks-bucket-000000000000-us-west-2/",  # AWS's workshop names it so
        "s3://sagemaker-lifecycle/config",
        "https://my-scripts.s3.us-west-2.amazonaws.com/lc/",
    ],
)
def test_any_bucket_may_hold_lifecycle_scripts(uri: str) -> None:
    """Whether instances can read the scripts is for the execution role's policies, at launch;
    the API does not restrict bucket names (issue #17: the workshop's bucket was refused)."""
    group = g("w", LifeCycleConfig={"SourceS3Uri": uri, "OnCreate": "on_create.sh"})
    assert rules.group_problems([group], ok_type) == []


def test_update_rules() -> None:
    existing = {"a": g("a"), "b": g("b")}
    problems = rules.update_problems(
        existing, [g("a", InstanceType="ml.c5.xlarge"), g("b")], ["b", "zz"]
    )
    text = " ".join(problems)
    assert "InstanceType of instance group a cannot be changed" in text
    assert "b cannot be both updated and deleted" in text
    assert "zz in InstanceGroupsToDelete does not exist" in text
    assert rules.update_problems(existing, [g("a"), g("new")], []) == []
