"""EKS catalogs of the local AWS account: Kubernetes versions, add-ons, access policies.

Data lives in ``tables/eks_versions.yaml``, ``tables/eks_addons.yaml`` and
``tables/eks_access_policies.yaml``; this module holds their schemas and loaders. A table that
breaks its schema fails at load with a :class:`TableError` naming the file and the entry. The
EKS handlers (``control/aws/eks*.py``) answer from these tables, and the reconciler asks
:func:`addon_workloads` what Kubernetes objects an add-on installs.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

from podwarden.policy.eks_addon_objects import AddonObject, parse_object
from podwarden.policy.yaml_tables import as_list, fail, load_yaml, packaged

SCHEMA_VERSION = 1
VERSIONS_TABLE = "eks_versions.yaml"
ADDONS_TABLE = "eks_addons.yaml"
ACCESS_TABLE = "eks_access_policies.yaml"
POLICY_ARN_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"

_MINOR = re.compile(r"(?P<major>[0-9]+)\.(?P<minor>[0-9]+)")
_RANGE = re.compile(r"(?P<lo>[0-9]+\.[0-9]+)(?:-(?P<hi>[0-9]+\.[0-9]+))?")
_ADDON_VERSION = re.compile(
    r"v(?P<x>[0-9]+)\.(?P<y>[0-9]+)\.(?P<z>[0-9]+)(?:-[a-z0-9]+)*?-eksbuild\.(?P<build>[0-9]+)"
)
_KUBE_RELEASE = re.compile(r"v(?P<minor>[0-9]+\.[0-9]+)\.[0-9]+")
_WORKLOAD_KINDS = frozenset({"DaemonSet", "Deployment"})
_GRANTS = frozenset({"cluster-admin", "admin", "edit", "view", "none"})
T = TypeVar("T")


def minor_key(version: str) -> tuple[int, int]:
    """``"1.32"`` -> ``(1, 32)``, for ordering; ValueError when it is not ``<major>.<minor>``."""
    m = _MINOR.fullmatch(version)
    if m is None:
        raise ValueError(f"'{version}' is not a <major>.<minor> Kubernetes version")
    return int(m["major"]), int(m["minor"])


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
    hyperpod: bool  # inside HyperPod's supported set (seed R3)

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
    data = _mapping(load_yaml(text, source), source, "the table")
    _keys(data, {"schema_version", "default", "runnable", "versions"}, source, "the table")
    _schema(data, source)
    versions: dict[str, KubeVersion] = {}
    for name, raw in _mapping(data["versions"], source, "versions").items():
        versions[str(name)] = _kube_version(str(name), raw, source)
    runnable: dict[str, str] = {}
    for name, raw in _mapping(data["runnable"], source, "runnable").items():
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
    _check(lambda: minor_key(name), source, where)
    fields = _mapping(raw, source, where)
    dates = ("released", "end_of_standard_support", "end_of_extended_support")
    _keys(fields, {*dates, "platform_version", "hyperpod"}, source, where)
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
    fields = _mapping(raw, source, where)
    _keys(fields, {"kubernetes"}, source, where)
    release = str(fields["kubernetes"])
    m = _KUBE_RELEASE.fullmatch(release)
    if m is None or m["minor"] != name:
        fail(source, where, f"kubernetes must be a v{name}.<patch> release, not '{release}'")
    return release


# ---------------------------------------------------------------- add-ons


@dataclass(frozen=True)
class AddonVersion:
    version: str  # v1.19.2-eksbuild.1
    kubernetes: tuple[str, ...]  # compatible minors, oldest first
    default_for: frozenset[str]

    @property
    def upstream(self) -> str:
        """The version without the EKS build suffix: ``v1.19.2``."""
        m = _ADDON_VERSION.fullmatch(self.version)
        assert m is not None  # checked at load
        return f"v{m['x']}.{m['y']}.{m['z']}"

    @property
    def sort_key(self) -> tuple[int, ...]:
        m = _ADDON_VERSION.fullmatch(self.version)
        assert m is not None
        return int(m["x"]), int(m["y"]), int(m["z"]), int(m["build"])


@dataclass(frozen=True)
class Workload:
    kind: str
    namespace: str
    name: str
    container: str
    image: str  # template: {registry} {region} {version} {upstream}
    service_account: str = ""  # the pods' service account ("": the namespace's default)
    pod_labels: tuple[tuple[str, str], ...] = ()  # extra labels on the pods

    def row(self, image: str) -> dict[str, Any]:
        row: dict[str, Any] = {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "container": self.container,
            "image": image,
        }
        if self.service_account:
            row["service_account"] = self.service_account
        if self.pod_labels:
            row["pod_labels"] = dict(self.pod_labels)
        return row


@dataclass(frozen=True)
class Addon:
    name: str
    type: str
    publisher: str
    owner: str
    namespace: str
    requires_iam_permissions: bool
    requires_configuration: bool
    architecture: tuple[str, ...]
    compute_types: tuple[str, ...]
    workloads: tuple[Workload, ...]
    versions: tuple[AddonVersion, ...]  # newest first
    objects: tuple[AddonObject, ...] = ()

    def version(self, version: str) -> AddonVersion | None:
        return next((v for v in self.versions if v.version == version), None)

    def default_for(self, kubernetes: str) -> AddonVersion | None:
        return next((v for v in self.versions if kubernetes in v.default_for), None)


@dataclass(frozen=True)
class Addons:
    registry: str
    addons: Mapping[str, Addon]

    def get(self, name: str) -> Addon | None:
        return self.addons.get(name)

    def workloads(self, name: str, version: str, region: str) -> list[dict[str, Any]]:
        """The objects add-on ``name`` at ``version`` installs, in the order to apply them:
        its other objects (namespace, CRDs, service accounts), then its workloads; [] for an
        unknown add-on."""
        addon = self.addons.get(name)
        if addon is None:
            return []
        found = addon.version(version)
        upstream = found.upstream if found else version.split("-", 1)[0]
        registry = self.registry.format(region=region)
        return [o.row() for o in addon.objects] + [
            w.row(
                w.image.format(registry=registry, region=region, version=version, upstream=upstream)
            )
            for w in addon.workloads
        ]


def parse_addons(text: str, source: str) -> Addons:
    data = _mapping(load_yaml(text, source), source, "the table")
    _keys(data, {"schema_version", "registry", "defaults", "addons"}, source, "the table")
    _schema(data, source)
    defaults = _mapping(data["defaults"], source, "defaults")
    _keys(defaults, {"architecture", "compute_types"}, source, "defaults")
    arch = _strings(defaults["architecture"], source, "defaults.architecture")
    compute = _strings(defaults["compute_types"], source, "defaults.compute_types")
    addons = {
        str(name): _addon(str(name), raw, arch, compute, source)
        for name, raw in _mapping(data["addons"], source, "addons").items()
    }
    return Addons(registry=str(data["registry"]), addons=MappingProxyType(addons))


_ADDON_REQUIRED = {"type", "publisher", "owner", "namespace", "workloads", "versions"}
_ADDON_FLAGS = {"requires_iam_permissions", "requires_configuration"}
_ADDON_OPTIONAL = {*_ADDON_FLAGS, "objects"}


def _addon(
    name: str, raw: object, arch: tuple[str, ...], compute: tuple[str, ...], source: str
) -> Addon:
    where = f"add-on '{name}'"
    fields = _mapping(raw, source, where)
    _keys(fields, _ADDON_REQUIRED, source, where, optional=_ADDON_OPTIONAL)
    workloads = tuple(
        _workload(w, source, f"{where}, workload {i}")
        for i, w in enumerate(as_list(fields["workloads"], source, f"{where}, workloads"))
    )
    if not workloads:
        fail(source, where, "workloads must name at least one object")
    objects = tuple(
        parse_object(o, source, f"{where}, object {i}")
        for i, o in enumerate(as_list(fields.get("objects", []), source, f"{where}, objects"))
    )
    versions = tuple(
        sorted(
            (
                _addon_version(str(v), raw_v, source, f"{where}, version '{v}'")
                for v, raw_v in _mapping(fields["versions"], source, f"{where}, versions").items()
            ),
            key=lambda v: v.sort_key,
            reverse=True,
        )
    )
    _check_defaults(versions, source, where)
    flags = {k: fields.get(k, False) for k in _ADDON_FLAGS}
    for key, value in flags.items():
        if not isinstance(value, bool):
            fail(source, where, f"{key} must be true or false")
    return Addon(
        name=name,
        type=str(fields["type"]),
        publisher=str(fields["publisher"]),
        owner=str(fields["owner"]),
        namespace=str(fields["namespace"]),
        architecture=arch,
        compute_types=compute,
        workloads=workloads,
        versions=versions,
        objects=objects,
        **flags,
    )


def _workload(raw: object, source: str, where: str) -> Workload:
    fields = _mapping(raw, source, where)
    required = {"kind", "namespace", "name", "container", "image"}
    _keys(fields, required, source, where, optional={"service_account", "pod_labels"})
    if fields["kind"] not in _WORKLOAD_KINDS:
        fail(source, where, f"kind must be one of {sorted(_WORKLOAD_KINDS)}")
    image = str(fields["image"])
    placeholders = set(re.findall(r"{([a-z]+)}", image))
    if not placeholders & {"version", "upstream"}:
        fail(source, where, "image must carry the version: {version} or {upstream}")
    if placeholders - {"registry", "region", "version", "upstream"}:
        fail(source, where, f"unknown placeholder in image '{image}'")
    labels = fields.get("pod_labels")
    pod_labels: tuple[tuple[str, str], ...] = ()
    if labels is not None:
        pairs = _mapping(labels, source, f"{where}, pod_labels").items()
        pod_labels = tuple(sorted((str(k), str(v)) for k, v in pairs))
    plain = {k: str(v) for k, v in fields.items() if k != "pod_labels"}
    return Workload(**plain, pod_labels=pod_labels)


def _addon_version(version: str, raw: object, source: str, where: str) -> AddonVersion:
    if _ADDON_VERSION.fullmatch(version) is None:
        fail(source, where, "not a v<x>.<y>.<z>-eksbuild.<n> version")
    fields = _mapping(raw, source, where)
    _keys(fields, {"kubernetes"}, source, where, optional={"default"})
    compatible = _range(fields["kubernetes"], source, where)
    default = _range(fields["default"], source, where) if "default" in fields else ()
    if not set(default) <= set(compatible):
        fail(source, where, "default names Kubernetes versions outside its kubernetes range")
    return AddonVersion(version=version, kubernetes=compatible, default_for=frozenset(default))


def _check_defaults(versions: tuple[AddonVersion, ...], source: str, where: str) -> None:
    """Exactly one default version per Kubernetes version the add-on supports."""
    for minor in sorted({k for v in versions for k in v.kubernetes}, key=minor_key):
        defaults = [v.version for v in versions if minor in v.default_for]
        if len(defaults) != 1:
            found = ", ".join(defaults) or "none"
            fail(source, where, f"needs exactly one default for Kubernetes {minor}: {found}")


def _range(raw: object, source: str, where: str) -> tuple[str, ...]:
    """``"1.28-1.30"`` -> ``("1.28", "1.29", "1.30")``."""
    m = _RANGE.fullmatch(raw) if isinstance(raw, str) else None
    if m is None:
        fail(source, where, f'expected a quoted range like "1.28-1.34", got {raw!r}')
    lo, hi = minor_key(m["lo"]), minor_key(m["hi"] or m["lo"])
    if lo[0] != hi[0] or lo[1] > hi[1]:
        fail(source, where, f"empty or cross-major range '{raw}'")
    return tuple(f"{lo[0]}.{n}" for n in range(lo[1], hi[1] + 1))


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
    data = _mapping(load_yaml(text, source), source, "the table")
    _keys(data, {"schema_version", "policies", "entry_types"}, source, "the table")
    _schema(data, source)
    types = {
        str(n): _entry_type(str(n), raw, source)
        for n, raw in _mapping(data["entry_types"], source, "entry_types").items()
    }
    policies = {
        str(n): _policy(str(n), raw, types, source)
        for n, raw in _mapping(data["policies"], source, "policies").items()
    }
    return Access(policies=MappingProxyType(policies), entry_types=MappingProxyType(types))


def _policy(name: str, raw: object, types: Mapping[str, EntryType], source: str) -> AccessPolicy:
    where = f"policy '{name}'"
    fields = _mapping(raw, source, where)
    _keys(fields, {"kubernetes"}, source, where, optional={"entry_types"})
    if fields["kubernetes"] not in _GRANTS:
        fail(source, where, f"kubernetes must be one of {sorted(_GRANTS)}")
    entry_types = _strings(fields.get("entry_types", ["STANDARD"]), source, where)
    for t in entry_types:
        if t not in types:
            fail(source, where, f"unknown entry type '{t}'")
    return AccessPolicy(name, str(fields["kubernetes"]), frozenset(entry_types))


def _entry_type(name: str, raw: object, source: str) -> EntryType:
    where = f"entry type '{name}'"
    fields = _mapping(raw, source, where)
    _keys(fields, {"username", "groups"}, source, where, optional={"custom", "roles_only"})
    username = fields["username"]
    if username is not None and not isinstance(username, str):
        fail(source, where, "username must be a string or null")
    custom, roles_only = fields.get("custom", False), fields.get("roles_only", True)
    if not isinstance(custom, bool) or not isinstance(roles_only, bool):
        fail(source, where, "custom and roles_only must be true or false")
    if username is None and not custom:
        fail(source, where, "a type whose username is derived must allow a custom one")
    groups = _strings(fields["groups"], source, where, empty=True)
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


# ---------------------------------------------------------------- schema helpers


def _schema(data: Mapping[str, Any], source: str) -> None:
    if data.get("schema_version") != SCHEMA_VERSION:
        fail(source, "schema_version", f"must be {SCHEMA_VERSION}")


def _mapping(raw: object, source: str, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or not raw:
        fail(source, where, "expected a non-empty mapping")
    return raw


def _strings(raw: object, source: str, where: str, *, empty: bool = False) -> tuple[str, ...]:
    items = as_list(raw, source, where)
    if (not items and not empty) or not all(isinstance(s, str) and s for s in items):
        fail(source, where, "expected a list of non-empty strings")
    return tuple(items)


def _keys(
    fields: Mapping[str, Any],
    required: set[str],
    source: str,
    where: str,
    *,
    optional: set[str] | frozenset[str] = frozenset(),
) -> None:
    for key in sorted(map(str, set(fields) - required - optional)):
        fail(source, where, f"unknown field '{key}'")
    for key in sorted(required - set(fields)):
        fail(source, where, f"missing field '{key}'")


def _check(fn: Callable[[], T], source: str, where: str) -> T:
    try:
        return fn()
    except ValueError as exc:
        fail(source, where, str(exc))
