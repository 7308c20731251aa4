"""HyperPod's job-auto-restart RBAC table (policy/tables/job_auto_restart_rbac.yaml): the packaged
table holds the chart's rules for hyperpod-service-linked-role, and a broken one fails naming
the file and the field."""

from __future__ import annotations

import pytest
import yaml

from podwarden.policy.job_auto_restart_rbac import TABLE, load_rbac, parse_rbac
from podwarden.policy.yaml_tables import TableError, packaged


def allowed(group: str, resource: str, verb: str) -> bool:
    return any(
        group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"]
        for r in load_rbac().role["rules"]
    )


def test_the_packaged_table_is_hyperpods_job_auto_restart_role() -> None:
    rbac = load_rbac()
    assert [o["kind"] for o in rbac.objects] == ["ClusterRole", "ClusterRoleBinding"]
    assert rbac.role["metadata"]["name"] == "job-auto-restart"
    subject = rbac.binding["subjects"][0]
    assert (subject["kind"], subject["name"]) == ("User", "hyperpod-service-linked-role")
    # what auto-resume calls
    for group, resource, verb in [
        ("kubeflow.org", "pytorchjobs", "watch"),
        ("kubeflow.org", "pytorchjobs", "patch"),
        ("kubeflow.org", "pytorchjobs/status", "patch"),
        ("", "pods", "delete"),
        ("", "pods", "watch"),
        ("", "nodes", "watch"),
        ("", "events", "create"),
    ]:
        assert allowed(group, resource, verb), (group, resource, verb)
    # and nothing wider: no pod writes, no secrets
    assert not allowed("", "pods", "create")
    assert not allowed("", "pods", "patch")
    assert not allowed("", "secrets", "get")


def _broken(edit: str) -> str:
    docs = yaml.safe_load(packaged(TABLE)[0])
    if edit == "kind":
        docs[0]["kind"] = "Role"
    elif edit == "verbs":
        docs[0]["rules"][1]["verbs"] = "delete"
    elif edit == "subject":
        docs[1]["subjects"][0]["name"] = "someone-else"
    elif edit == "roleRef":
        docs[1]["roleRef"]["name"] = "other-role"
    elif edit == "count":
        docs = docs[:1]
    return yaml.safe_dump(docs)


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        ("kind", "object 0, field 'kind'"),
        ("verbs", "ClusterRole rule 1, field 'verbs'"),
        ("subject", "ClusterRoleBinding, field 'subjects'"),
        ("roleRef", "ClusterRoleBinding, field 'roleRef'"),
        ("count", "top level"),
    ],
)
def test_a_broken_table_fails_naming_file_and_field(edit: str, where: str) -> None:
    with pytest.raises(TableError) as err:
        parse_rbac(_broken(edit), "tables/x.yaml")
    assert str(err.value).startswith(f"tables/x.yaml: {where}: ")
