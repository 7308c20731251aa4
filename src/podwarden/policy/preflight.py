"""The preflight's supported values (``tables/preflight.yaml``) and the other tables its rules
read (the instance catalog for R11/R12, the AWS-managed policies for R7).

A table that breaks its schema fails at load with a :class:`TableError` naming the file and
the entry, as the other tables do.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from podwarden.policy.aws_policies import ManagedPolicy, load_aws_policies
from podwarden.policy.catalog import Catalog, load_catalog
from podwarden.policy.yaml_tables import as_list, fail, is_int, packaged

TABLE = "preflight.yaml"
SCHEMA_VERSION = 1
_MINOR = re.compile(r"[0-9]+\.[0-9]+")
_SEMVER = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+")
_KEYS = frozenset(
    {
        "schema_version",
        "kubernetes_versions",
        "authentication_modes",
        "vpc_cni",
        "other_cnis",
        "compatible_addons",
        "execution_role",
        "health_agent_daemonsets",
        "instance_type_labels",
        "instance_type_prefix",
        "ebs_volume_gb",
        "volume_paths",
        "system_host_paths",
        "pod_credentials",
    }
)


@dataclass(frozen=True)
class VpcCni:
    addon: str
    minimum: tuple[int, int, int]
    namespace: str
    daemonset: str
    container: str

    @property
    def minimum_text(self) -> str:
        return ".".join(str(n) for n in self.minimum)


@dataclass(frozen=True)
class OtherCni:
    name: str
    daemonsets: tuple[str, ...]
    images: tuple[str, ...]


@dataclass(frozen=True)
class ExecutionRoleRules:
    trusted_service: str
    managed_policy: str
    node_policies: tuple[str, ...]
    node_entry_types: tuple[str, ...]
    hyperpod_entry_type: str


@dataclass(frozen=True)
class PodCredentials:
    pod_identity_addon: str
    pod_identity_daemonset: str
    irsa_annotation: str
    sdk_env: tuple[str, ...]
    credential_env: tuple[str, ...]


@dataclass(frozen=True)
class PreflightTable:
    kubernetes_versions: tuple[str, ...]
    authentication_modes: tuple[str, ...]
    vpc_cni: VpcCni
    other_cnis: tuple[OtherCni, ...]
    compatible_addons: tuple[str, ...]
    execution_role: ExecutionRoleRules
    health_agent_daemonsets: tuple[str, ...]
    instance_type_labels: tuple[str, ...]
    instance_type_prefix: str
    ebs_min_gb: int
    ebs_max_gb: int
    volume_paths: tuple[str, ...]
    system_host_paths: tuple[str, ...]
    pod_credentials: PodCredentials


@dataclass(frozen=True)
class Tables:
    """Everything the rules read besides the facts."""

    preflight: PreflightTable
    catalog: Catalog
    managed_policies: Mapping[str, ManagedPolicy]  # by policy name


def parse_preflight(text: str, source: str) -> PreflightTable:
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        fail(source, "the table", "expected a mapping")
    missing, extra = _KEYS - set(data), set(data) - _KEYS
    if missing or extra:
        fail(
            source,
            "the table",
            f"missing keys {sorted(missing)}, unknown keys {sorted(extra)}",
        )
    if data["schema_version"] != SCHEMA_VERSION:
        fail(source, "schema_version", f"expected {SCHEMA_VERSION}")
    versions = _strings(data["kubernetes_versions"], source, "kubernetes_versions")
    for v in versions:
        if not _MINOR.fullmatch(v):
            fail(source, "kubernetes_versions", f"'{v}' is not a quoted <major>.<minor>")
    ebs = _mapping(data["ebs_volume_gb"], source, "ebs_volume_gb", {"min", "max"})
    lo, hi = ebs["min"], ebs["max"]
    if not (is_int(lo) and is_int(hi) and 1 <= lo <= hi):
        fail(source, "ebs_volume_gb", "min and max must be integers, 1 <= min <= max")
    prefix = data["instance_type_prefix"]
    if not isinstance(prefix, str) or not prefix:
        fail(source, "instance_type_prefix", "must be a non-empty string")
    return PreflightTable(
        kubernetes_versions=versions,
        authentication_modes=_strings(data["authentication_modes"], source, "authentication_modes"),
        vpc_cni=_vpc_cni(data["vpc_cni"], source),
        other_cnis=tuple(
            _other_cni(raw, source, f"other_cnis[{i}]")
            for i, raw in enumerate(as_list(data["other_cnis"], source, "other_cnis"))
        ),
        compatible_addons=_strings(data["compatible_addons"], source, "compatible_addons"),
        execution_role=_execution_role(data["execution_role"], source),
        health_agent_daemonsets=_strings(
            data["health_agent_daemonsets"], source, "health_agent_daemonsets"
        ),
        instance_type_labels=_strings(data["instance_type_labels"], source, "instance_type_labels"),
        instance_type_prefix=prefix,
        ebs_min_gb=lo,
        ebs_max_gb=hi,
        volume_paths=_paths(data["volume_paths"], source, "volume_paths"),
        system_host_paths=_paths(data["system_host_paths"], source, "system_host_paths"),
        pod_credentials=_pod_credentials(data["pod_credentials"], source),
    )


def _vpc_cni(raw: object, source: str) -> VpcCni:
    fields = _mapping(raw, source, "vpc_cni", {"addon", "minimum", "daemonset"})
    minimum = str(fields["minimum"])
    if not _SEMVER.fullmatch(minimum):
        fail(source, "vpc_cni", f"minimum must be a quoted <x>.<y>.<z>, not '{minimum}'")
    ds = _mapping(
        fields["daemonset"], source, "vpc_cni.daemonset", {"namespace", "name", "container"}
    )
    x, y, z = (int(n) for n in minimum.split("."))
    return VpcCni(
        addon=str(fields["addon"]),
        minimum=(x, y, z),
        namespace=str(ds["namespace"]),
        daemonset=str(ds["name"]),
        container=str(ds["container"]),
    )


def _other_cni(raw: object, source: str, where: str) -> OtherCni:
    fields = _mapping(raw, source, where, {"name", "daemonsets", "images"})
    daemonsets = _strings(fields["daemonsets"], source, f"{where}.daemonsets")
    return OtherCni(
        name=str(fields["name"]),
        daemonsets=daemonsets,
        images=_strings(fields["images"], source, f"{where}.images", empty=True),
    )


def _execution_role(raw: object, source: str) -> ExecutionRoleRules:
    keys = {
        "trusted_service",
        "managed_policy",
        "node_policies",
        "node_entry_types",
        "hyperpod_entry_type",
    }
    fields = _mapping(raw, source, "execution_role", keys)
    return ExecutionRoleRules(
        trusted_service=str(fields["trusted_service"]),
        managed_policy=str(fields["managed_policy"]),
        node_policies=_strings(fields["node_policies"], source, "execution_role.node_policies"),
        node_entry_types=_strings(
            fields["node_entry_types"], source, "execution_role.node_entry_types"
        ),
        hyperpod_entry_type=str(fields["hyperpod_entry_type"]),
    )


def _pod_credentials(raw: object, source: str) -> PodCredentials:
    keys = {
        "pod_identity_addon",
        "pod_identity_daemonset",
        "irsa_annotation",
        "sdk_env",
        "credential_env",
    }
    fields = _mapping(raw, source, "pod_credentials", keys)
    return PodCredentials(
        pod_identity_addon=str(fields["pod_identity_addon"]),
        pod_identity_daemonset=str(fields["pod_identity_daemonset"]),
        irsa_annotation=str(fields["irsa_annotation"]),
        sdk_env=_strings(fields["sdk_env"], source, "pod_credentials.sdk_env"),
        credential_env=_strings(fields["credential_env"], source, "pod_credentials.credential_env"),
    )


def _paths(raw: object, source: str, where: str) -> tuple[str, ...]:
    paths = _strings(raw, source, where)
    for p in paths:
        if not p.startswith("/") or (p != "/" and p.endswith("/")):
            fail(source, where, f"'{p}' must be an absolute path without a trailing slash")
    return paths


def _mapping(raw: object, source: str, where: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        fail(source, where, "expected a mapping")
    if set(raw) != keys:
        fail(source, where, f"expected exactly the keys {sorted(keys)}, got {sorted(raw)}")
    return raw


def _strings(raw: object, source: str, where: str, *, empty: bool = False) -> tuple[str, ...]:
    items = as_list(raw, source, where)
    if not items and not empty:
        fail(source, where, "must not be empty")
    if not all(isinstance(s, str) and s for s in items):
        fail(source, where, "expected non-empty strings (quote versions: YAML reads 1.30 as 1.3)")
    if len(set(items)) != len(items):
        fail(source, where, "duplicate entries")
    return tuple(items)


@functools.cache
def load_preflight() -> PreflightTable:
    return parse_preflight(*packaged(TABLE))


@functools.cache
def load_tables() -> Tables:
    return Tables(
        preflight=load_preflight(),
        catalog=load_catalog(),
        managed_policies={p.name: p for p in load_aws_policies().values()},
    )
