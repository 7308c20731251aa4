"""HyperPod's job-auto-restart RBAC (``tables/job_auto_restart_rbac.yaml``): the ClusterRole and
ClusterRoleBinding that give the Kubernetes user ``hyperpod-service-linked-role`` exactly the
permissions of HyperPod's restart watcher (docs/sources.md, "Job auto-resume").

The objects stay plain dicts (what server-side apply sends); the loader only checks the shape
the auto-resume service relies on: one role, one binding of that role to that user, rules made
of string lists. A table that breaks it fails at load, naming the file and the field.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from podwarden.model.jobs import SERVICE_LINKED_USER
from podwarden.policy.yaml_tables import as_list, fail, load_yaml, packaged

TABLE = "job_auto_restart_rbac.yaml"
RBAC_API = "rbac.authorization.k8s.io/v1"


@dataclass(frozen=True)
class AutoRestartRbac:
    role: dict[str, Any]
    binding: dict[str, Any]

    @property
    def objects(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The objects in the order they must be applied (the role before its binding)."""
        return self.role, self.binding


def _obj(raw: object, source: str, index: int, kind: str) -> dict[str, Any]:
    where = f"object {index}"
    if not isinstance(raw, dict):
        fail(source, where, "expected a mapping")
    if raw.get("apiVersion") != RBAC_API:
        fail(source, f"{where}, field 'apiVersion'", f"expected {RBAC_API}")
    if raw.get("kind") != kind:
        fail(source, f"{where}, field 'kind'", f"expected {kind} (role first, then binding)")
    meta = raw.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        fail(source, f"{kind}, field 'metadata.name'", "expected a non-empty string")
    return raw


def _strings(raw: object, source: str, where: str) -> None:
    items = as_list(raw, source, where)
    if not items or not all(isinstance(s, str) for s in items):
        fail(source, where, "expected a non-empty list of strings")


def _check_rules(role: dict[str, Any], source: str) -> None:
    rules = as_list(role.get("rules"), source, "ClusterRole, field 'rules'")
    if not rules:
        fail(source, "ClusterRole, field 'rules'", "expected at least one rule")
    for n, rule in enumerate(rules):
        where = f"ClusterRole rule {n}"
        if not isinstance(rule, dict) or set(rule) != {"apiGroups", "resources", "verbs"}:
            fail(source, where, "expected exactly the fields apiGroups, resources, verbs")
        for name in ("apiGroups", "resources", "verbs"):
            _strings(rule[name], source, f"{where}, field '{name}'")


def _check_binding(binding: dict[str, Any], role_name: str, source: str) -> None:
    ref = binding.get("roleRef")
    if (
        not isinstance(ref, dict)
        or ref.get("kind") != "ClusterRole"
        or ref.get("name") != role_name
    ):
        fail(source, "ClusterRoleBinding, field 'roleRef'", f"expected ClusterRole {role_name}")
    subjects = as_list(binding.get("subjects"), source, "ClusterRoleBinding, field 'subjects'")
    users = [s for s in subjects if isinstance(s, dict) and s.get("kind") == "User"]
    if [s.get("name") for s in users] != [SERVICE_LINKED_USER] or len(subjects) != 1:
        fail(
            source,
            "ClusterRoleBinding, field 'subjects'",
            f"expected exactly the User {SERVICE_LINKED_USER}",
        )


def parse_rbac(text: str, source: str) -> AutoRestartRbac:
    docs = as_list(load_yaml(text, source), source, "top level")
    if len(docs) != 2:
        fail(source, "top level", "expected a list of two objects: ClusterRole, ClusterRoleBinding")
    role = _obj(docs[0], source, 0, "ClusterRole")
    binding = _obj(docs[1], source, 1, "ClusterRoleBinding")
    _check_rules(role, source)
    _check_binding(binding, role["metadata"]["name"], source)
    return AutoRestartRbac(role, binding)


@functools.cache
def load_rbac() -> AutoRestartRbac:
    return parse_rbac(*packaged(TABLE))
