"""The objects an EKS add-on installs besides its workloads (``objects`` of an add-on in
``tables/eks_addons.yaml``): a namespace, a service account, a CRD whose manifest is a packaged
file of ``tables/``. An add-on like the HyperPod training operator is a CRD, a namespace and a
service account as much as a Deployment; the reconciler applies these first, so the workloads
find their namespace and service account, and removes them with the add-on.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from podwarden.policy.yaml_tables import TableError, fail, load_yaml, packaged

# the kinds, and the fields a row names besides ``kind``
FIELDS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "Namespace": frozenset({"name"}),
        "ServiceAccount": frozenset({"namespace", "name"}),
        "CustomResourceDefinition": frozenset({"name", "manifest"}),
    }
)


@dataclass(frozen=True)
class AddonObject:
    kind: str
    name: str
    namespace: str = ""  # "" for a cluster-scoped object
    manifest: str = ""  # the packaged file of the whole object (CRDs)

    def row(self) -> dict[str, Any]:
        """What ``eks_catalog.addon_workloads`` lists for it: ``kind``, ``namespace`` ("" for
        a cluster-scoped object, so every row can be deleted by kind, namespace and name),
        ``name``, and ``manifest`` where there is one."""
        row = {"kind": self.kind, "namespace": self.namespace, "name": self.name}
        return row | ({"manifest": self.manifest} if self.manifest else {})


def parse_object(raw: object, source: str, where: str) -> AddonObject:
    if not isinstance(raw, dict):
        fail(source, where, "expected a mapping")
    kind = str(raw.get("kind"))
    if kind not in FIELDS:
        fail(source, where, f"kind must be one of {sorted(FIELDS)}")
    for key in sorted(map(str, set(raw) - FIELDS[kind] - {"kind"})):
        fail(source, where, f"unknown field '{key}'")
    for key in sorted(FIELDS[kind] - set(raw)):
        fail(source, where, f"missing field '{key}'")
    obj = AddonObject(**{str(k): str(v) for k, v in raw.items()})
    if obj.manifest:
        try:
            manifest = load_manifest(obj.manifest)
        except TableError as exc:
            fail(source, where, str(exc))
        if (manifest["kind"], manifest["metadata"]["name"]) != (obj.kind, obj.name):
            fail(source, where, f"manifest {obj.manifest} is not {obj.kind} {obj.name}")
    return obj


@functools.cache
def _manifest(name: str) -> Mapping[str, Any]:
    try:
        text, source = packaged(name)
    except OSError:
        fail(f"podwarden/policy/tables/{name}", "the manifest", "no such packaged file")
    data = load_yaml(text, source)
    if not isinstance(data, dict):
        fail(source, "the manifest", "expected a Kubernetes object (a mapping)")
    for key in sorted({"apiVersion", "kind", "metadata"} - set(data)):
        fail(source, "the manifest", f"missing field '{key}'")
    if not isinstance(data["metadata"], dict) or not data["metadata"].get("name"):
        fail(source, "metadata", "must name the object (metadata.name)")
    return data


def load_manifest(name: str) -> dict[str, Any]:
    """The Kubernetes object packaged as ``tables/<name>``: a fresh copy the caller may
    change."""
    return copy.deepcopy(dict(_manifest(name)))
