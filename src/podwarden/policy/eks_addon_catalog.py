"""The EKS add-on catalog (``tables/eks_addons.yaml``): each add-on EKS offers, its versions
(which Kubernetes minors each supports, and which one is the default for each) and the
Kubernetes objects it installs: its workloads (a DaemonSet or Deployment whose image carries the
version) and its other objects (``eks_addon_objects``).

Schema and parser; ``eks_catalog`` loads the packaged table (``load_addons``) and answers the
reconciler's question, what an add-on installs (``addon_workloads``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from podwarden.policy.eks_addon_objects import AddonObject, parse_object
from podwarden.policy.eks_table_schema import (
    check_keys,
    check_schema,
    minor_key,
    minor_range,
    nonempty_mapping,
    string_list,
)
from podwarden.policy.yaml_tables import as_list, fail, load_yaml

_ADDON_VERSION = re.compile(
    r"v(?P<x>[0-9]+)\.(?P<y>[0-9]+)\.(?P<z>[0-9]+)(?:-[a-z0-9]+)*?-eksbuild\.(?P<build>[0-9]+)"
)
_WORKLOAD_KINDS = frozenset({"DaemonSet", "Deployment"})


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
    data = nonempty_mapping(load_yaml(text, source), source, "the table")
    check_keys(data, {"schema_version", "registry", "defaults", "addons"}, source, "the table")
    check_schema(data, source)
    defaults = nonempty_mapping(data["defaults"], source, "defaults")
    check_keys(defaults, {"architecture", "compute_types"}, source, "defaults")
    arch = string_list(defaults["architecture"], source, "defaults.architecture")
    compute = string_list(defaults["compute_types"], source, "defaults.compute_types")
    addons = {
        str(name): _addon(str(name), raw, arch, compute, source)
        for name, raw in nonempty_mapping(data["addons"], source, "addons").items()
    }
    return Addons(registry=str(data["registry"]), addons=MappingProxyType(addons))


_ADDON_REQUIRED = {"type", "publisher", "owner", "namespace", "workloads", "versions"}
_ADDON_FLAGS = {"requires_iam_permissions", "requires_configuration"}
_ADDON_OPTIONAL = {*_ADDON_FLAGS, "objects"}


def _addon(
    name: str, raw: object, arch: tuple[str, ...], compute: tuple[str, ...], source: str
) -> Addon:
    where = f"add-on '{name}'"
    fields = nonempty_mapping(raw, source, where)
    check_keys(fields, _ADDON_REQUIRED, source, where, optional=_ADDON_OPTIONAL)
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
                for v, raw_v in nonempty_mapping(
                    fields["versions"], source, f"{where}, versions"
                ).items()
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
    fields = nonempty_mapping(raw, source, where)
    required = {"kind", "namespace", "name", "container", "image"}
    check_keys(fields, required, source, where, optional={"service_account", "pod_labels"})
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
        pairs = nonempty_mapping(labels, source, f"{where}, pod_labels").items()
        pod_labels = tuple(sorted((str(k), str(v)) for k, v in pairs))
    plain = {k: str(v) for k, v in fields.items() if k != "pod_labels"}
    return Workload(**plain, pod_labels=pod_labels)


def _addon_version(version: str, raw: object, source: str, where: str) -> AddonVersion:
    if _ADDON_VERSION.fullmatch(version) is None:
        fail(source, where, "not a v<x>.<y>.<z>-eksbuild.<n> version")
    fields = nonempty_mapping(raw, source, where)
    check_keys(fields, {"kubernetes"}, source, where, optional={"default"})
    compatible = minor_range(fields["kubernetes"], source, where)
    default = minor_range(fields["default"], source, where) if "default" in fields else ()
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
