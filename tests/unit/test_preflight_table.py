"""The preflight table (policy/tables/preflight.yaml): it loads as start-up loads it, agrees
with the other tables it overlaps, and a bad table fails naming the entry."""

from __future__ import annotations

import pytest
import yaml

from podwarden.policy import eks_catalog
from podwarden.policy.preflight import (
    TABLE,
    load_preflight,
    load_tables,
    parse_preflight,
)
from podwarden.policy.yaml_tables import TableError


def _packaged_text() -> str:
    from importlib import resources  # noqa: PLC0415

    return resources.files("podwarden.policy").joinpath("tables", TABLE).read_text("utf-8")


def test_packaged_table_loads_with_the_seed_values() -> None:
    table = load_preflight()
    # R3: the seed's 1.28-1.32, and 1.33-1.34 that AWS's newest page adds
    assert table.kubernetes_versions == ("1.28", "1.29", "1.30", "1.31", "1.32", "1.33", "1.34")
    assert table.authentication_modes == ("API", "API_AND_CONFIG_MAP")  # R4
    assert table.vpc_cni.minimum == (1, 18, 3)  # R5
    assert table.vpc_cni.minimum_text == "1.18.3"
    assert {c.name for c in table.other_cnis} >= {"Calico", "Cilium", "Flannel", "Weave Net"}
    r8 = {
        "kube-proxy",
        "coredns",
        "vpc-cni",
        "eks-pod-identity-agent",
        "aws-guardduty-agent",
        "aws-fsx-csi-driver",
        "aws-mountpoint-s3-csi-driver",
        "adot",
        "amazon-cloudwatch-observability",
    }
    assert r8 <= set(table.compatible_addons)
    assert table.execution_role.managed_policy == "AmazonSageMakerClusterInstanceRolePolicy"
    assert (table.ebs_min_gb, table.ebs_max_gb) == (1, 16384)
    assert "/opt/sagemaker" in table.volume_paths  # R10
    assert table.instance_type_prefix == "ml."  # R11


def test_versions_agree_with_the_eks_catalog_hyperpod_flags() -> None:
    flagged = {v.version for v in eks_catalog.load_versions().versions.values() if v.hyperpod}
    assert set(load_preflight().kubernetes_versions) == flagged


def test_names_it_relies_on_exist_in_the_other_tables() -> None:
    tables = load_tables()
    table = tables.preflight
    assert table.execution_role.managed_policy in tables.managed_policies
    addons = eks_catalog.load_addons()
    assert table.vpc_cni.addon in addons.addons
    assert table.pod_credentials.pod_identity_addon in addons.addons
    cni = addons.addons[table.vpc_cni.addon].workloads[0]
    assert (cni.namespace, cni.name, cni.container) == (
        table.vpc_cni.namespace,
        table.vpc_cni.daemonset,
        table.vpc_cni.container,
    )
    # every add-on podwarden's catalog offers is on the compatible list (R8 and R10)
    assert set(addons.addons) <= set(table.compatible_addons)


def _broken(change: dict[str, object]) -> str:
    data = yaml.safe_load(_packaged_text())
    data.update(change)
    return yaml.safe_dump(data)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"kubernetes_versions": [1.3]}, "kubernetes_versions"),
        ({"kubernetes_versions": ["1.3x"]}, "kubernetes_versions"),
        ({"vpc_cni": {"addon": "vpc-cni", "minimum": "1.18", "daemonset": {}}}, "vpc_cni"),
        ({"ebs_volume_gb": {"min": 10, "max": 1}}, "ebs_volume_gb"),
        ({"volume_paths": ["opt/sagemaker"]}, "volume_paths"),
        ({"compatible_addons": ["a", "a"]}, "compatible_addons"),
        ({"schema_version": 2}, "schema_version"),
        ({"surprise": 1}, "the table"),
        ({"other_cnis": [{"name": "x", "daemonsets": []}]}, "other_cnis[0]"),
    ],
)
def test_bad_tables_fail_naming_the_entry(change: dict[str, object], where: str) -> None:
    with pytest.raises(TableError) as err:
        parse_preflight(_broken(change), "preflight.yaml")
    assert str(err.value).startswith(f"preflight.yaml: {where}:")
