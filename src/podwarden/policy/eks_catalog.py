"""EKS catalogs of the local AWS account: Kubernetes versions, add-ons, access policies.

Data lives in ``tables/eks_versions.yaml``, ``tables/eks_addons.yaml`` and
``tables/eks_access_policies.yaml``; this module holds the versions' and access policies'
schemas, the add-ons' (``eks_addon_catalog``) and the loaders of all three: it is where the
rest of podwarden finds the EKS catalogs. A table that breaks its schema fails at load with a
:class:`TableError` naming the file and the entry (the checks: ``eks_table_schema``). The EKS
handlers (``control/eks/``) answer from these tables, and the reconciler asks
:func:`addon_workloads` what Kubernetes objects an add-on installs.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from podwarden.policy.eks_addon_catalog import Addon, Addons, AddonVersion, Workload, parse_addons
from podwarden.policy.eks_table_schema import (
    SCHEMA_VERSION,
    check_keys,
    check_schema,
    checked,
    minor_key,
    nonempty_mapping,
    string_list,
)
from podwarden.policy.yaml_tables import fail, load_yaml, packaged

__all__ = [
    "ACCESS_TABLE",
    "ADDONS_TABLE",
    "POLICY_ARN_PREFIX",
    "SCHEMA_VERSION",
    "VERSIONS_TABLE",
    "Access",
    "AccessPolicy",
    "Addon",
    "AddonVersion",
    "Addons",
    "EntryType",
    "KubeVersion",
    "Versions",
    "Workload",
    "addon_workload",
    "addon_workloads",
    "load_access",
    "load_addons",
    "load_versions",
    "minor_key",
    "next_minor",
    "parse_access",
    "parse_addons",
    "parse_versions",
]

VERSIONS_TABLE = "eks_versions.yaml"
ADDONS_TABLE = "eks_addons.yaml"
ACCESS_TABLE = "eks_access_policies.yaml"
POLICY_ARN_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"

_KUBE_RELEASE = re.compile(r"v(?P<minor>[0-9]+\.[0-9]+)\.[0-9]+")
_GRANTS = frozenset({"cluster-admin", "admin", "edit", "view", "none"})


def next_minor(version: str) -> str:
    major, minor = minor_key(version)
    return f"{major}.{minor + 1}"


# ---------------------------------------------------------------- Kubernetes versions


@dataclass(frozen=True)
class KubeVersion:
    """One Kubernetes minor version as EKS offers it."""

    version: str
    released: dt.date
    end_of_standard_support: dt.date
    end_of_extended_support: dt.date
    platform_version: str
    hyperpod: bool  # inside HyperPod's supported set (R3 in docs/requirements.md)

    def status(self, today: dt.date) -> str:
        """DescribeClusterVersions' ``versionStatus`` on ``today``."""
        if today <= self.end_of_standard_support:
            return "STANDARD_SUPPORT"
        if today <= self.end_of_extended_support:
            return "EXTENDED_SUPPORT"
        return "UNSUPPORTED"


@dataclass(frozen=True)
class Versions:
    versions: Mapping[str, KubeVersion]  # newest first
    runnable: Mapping[str, str]  # minor -> the exact release podwarden runs (v1.32.9)
    default: str

    def get(self, version: str) -> KubeVersion | None:
        return self.versions.get(version)

    def runnable_text(self) -> str:
        return ", ".join(sorted(self.runnable, key=minor_key))


def parse_versions(text: str, source: str) -> Versions:
    data = nonempty_mapping(load_yaml(text, source), source, "the table")
    check_keys(data, {"schema_version", "default", "runnable", "versions"}, source, "the table")
    check_schema(data, source)
    versions: dict[str, KubeVersion] = {}
    for name, raw in nonempty_mapping(data["versions"], source, "versions").items():
        versions[str(name)] = _kube_version(str(name), raw, source)
    runnable: dict[str, str] = {}
    for name, raw in nonempty_mapping(data["runnable"], source, "runnable").items():
        runnable[str(name)] = _runnable(str(name), raw, versions, source)
    default = data["default"]
    if default not in runnable:
        fail(source, "default", f"'{default}' is not a runnable version")
    ordered = sorted(versions.values(), key=lambda v: minor_key(v.version), reverse=True)
    return Versions(
        versions=MappingProxyType({v.version: v for v in ordered}),
        runnable=MappingProxyType(runnable),
        default=str(default),
    )


def _kube_version(name: str, raw: object, source: str) -> KubeVersion:
    where = f"version '{name}'"
    checked(lambda: minor_key(name), source, where)
    fields = nonempty_mapping(raw, source, where)
    dates = ("released", "end_of_standard_support", "end_of_extended_support")
    check_keys(fields, {*dates, "platform_version", "hyperpod"}, source, where)
    for key in dates:
        if not isinstance(fields[key], dt.date):
            fail(source, where, f"{key} must be a date (YYYY-MM-DD)")
    if not (fields["released"] < fields["end_of_standard_support"]):
        fail(source, where, "end_of_standard_support must come after released")
    if not (fields["end_of_standard_support"] <= fields["end_of_extended_support"]):
        fail(source, where, "end_of_extended_support must not come before standard support")
    if not re.fullmatch(r"eks\.[0-9]+", str(fields["platform_version"])):
        fail(source, where, "platform_version must be eks.<n>")
    if not isinstance(fields["hyperpod"], bool):
        fail(source, where, "hyperpod must be true or false")
    return KubeVersion(version=name, **fields)


def _runnable(name: str, raw: object, versions: Mapping[str, KubeVersion], source: str) -> str:
    where = f"runnable '{name}'"
    if name not in versions:
        fail(source, where, "not one of the versions EKS offers (versions)")
    fields = nonempty_mapping(raw, source, where)
    check_keys(fields, {"kubernetes"}, source, where)
    release = str(fields["kubernetes"])
    m = _KUBE_RELEASE.fullmatch(release)
    if m is None or m["minor"] != name:
        fail(source, where, f"kubernetes must be a v{name}.<patch> release, not '{release}'")
    return release


# ---------------------------------------------------------------- access policies


@dataclass(frozen=True)
class AccessPolicy:
    name: str
    kubernetes: str  # cluster-admin | admin | edit | view | none
    entry_types: frozenset[str]

    @property
    def arn(self) -> str:
        return POLICY_ARN_PREFIX + self.name


@dataclass(frozen=True)
class EntryType:
    name: str
    username: str | None  # None: derived from the principal
    groups: tuple[str, ...]
    custom: bool  # the request may set kubernetesGroups and username
    roles_only: bool  # the principal must be an IAM role of the cluster's account


@dataclass(frozen=True)
class Access:
    policies: Mapping[str, AccessPolicy]  # by name, in table order
    entry_types: Mapping[str, EntryType]

    def policy_by_arn(self, arn: str) -> AccessPolicy | None:
        if not arn.startswith(POLICY_ARN_PREFIX):
            return None
        return self.policies.get(arn.removeprefix(POLICY_ARN_PREFIX))


def parse_access(text: str, source: str) -> Access:
    data = nonempty_mapping(load_yaml(text, source), source, "the table")
    check_keys(data, {"schema_version", "policies", "entry_types"}, source, "the table")
    check_schema(data, source)
    types = {
        str(n): _entry_type(str(n), raw, source)
        for n, raw in nonempty_mapping(data["entry_types"], source, "entry_types").items()
    }
    policies = {
        str(n): _policy(str(n), raw, types, source)
        for n, raw in nonempty_mapping(data["policies"], source, "policies").items()
    }
    return Access(policies=MappingProxyType(policies), entry_types=MappingProxyType(types))


def _policy(name: str, raw: object, types: Mapping[str, EntryType], source: str) -> AccessPolicy:
    where = f"policy '{name}'"
    fields = nonempty_mapping(raw, source, where)
    check_keys(fields, {"kubernetes"}, source, where, optional={"entry_types"})
    if fields["kubernetes"] not in _GRANTS:
        fail(source, where, f"kubernetes must be one of {sorted(_GRANTS)}")
    entry_types = string_list(fields.get("entry_types", ["STANDARD"]), source, where)
    for t in entry_types:
        if t not in types:
            fail(source, where, f"unknown entry type '{t}'")
    return AccessPolicy(name, str(fields["kubernetes"]), frozenset(entry_types))


def _entry_type(name: str, raw: object, source: str) -> EntryType:
    where = f"entry type '{name}'"
    fields = nonempty_mapping(raw, source, where)
    check_keys(fields, {"username", "groups"}, source, where, optional={"custom", "roles_only"})
    username = fields["username"]
    if username is not None and not isinstance(username, str):
        fail(source, where, "username must be a string or null")
    custom, roles_only = fields.get("custom", False), fields.get("roles_only", True)
    if not isinstance(custom, bool) or not isinstance(roles_only, bool):
        fail(source, where, "custom and roles_only must be true or false")
    if username is None and not custom:
        fail(source, where, "a type whose username is derived must allow a custom one")
    groups = string_list(fields["groups"], source, where, empty=True)
    return EntryType(name, username, groups, custom, roles_only)


# ---------------------------------------------------------------- loading


@functools.cache
def load_versions() -> Versions:
    return parse_versions(*packaged(VERSIONS_TABLE))


@functools.cache
def load_addons() -> Addons:
    return parse_addons(*packaged(ADDONS_TABLE))


@functools.cache
def load_access() -> Access:
    return parse_access(*packaged(ACCESS_TABLE))


def addon_workloads(
    addon_name: str, version: str, region: str = "us-west-2"
) -> list[dict[str, Any]]:
    """Every Kubernetes object add-on ``addon_name`` at ``version`` installs, in the order to
    apply them: its other objects first (``kind``, ``namespace``, "" for a cluster-scoped one,
    ``name``, and ``manifest`` where there is one), then its workloads (``kind``,
    ``namespace``, ``name``, ``container``, ``image`` with the version in its tag, and
    ``service_account`` and ``pod_labels`` where the table sets them)."""
    return load_addons().workloads(addon_name, version, region)


def addon_workload(
    addon_name: str, version: str, region: str = "us-west-2"
) -> dict[str, Any] | None:
    """The workload that carries the add-on's version (vpc-cni: the ``aws-node`` DaemonSet with
    image ``…/amazon-k8s-cni:<version>``); None for an add-on podwarden does not know."""
    found = addon_workloads(addon_name, version, region)
    return next((w for w in found if "image" in w), None)
