"""The EKS add-on amazon-sagemaker-hyperpod-training-operator: what the catalog lists, the
objects it renders (namespace, the HyperPodPyTorchJob CRD, service account, the operator's
Deployment), the table's checks on add-on objects, and the preflight with it installed."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from podwarden.logic.addon_objects import ADDON_LABEL, workload_object
from podwarden.logic.kube_snapshot import snapshot
from podwarden.logic.preflight import Status
from podwarden.logic.preflight_facts import EksCluster
from podwarden.logic.preflight_rules import evaluate
from podwarden.model import jobs
from podwarden.policy import eks_catalog
from podwarden.policy.eks_addon_objects import load_manifest
from podwarden.policy.yaml_tables import TableError
from tests.unit.test_aws_eks import ADDONS_OK
from tests.unit.test_kube_snapshot import aws_node, health_agent
from tests.unit.test_preflight_rules import TABLES, addons, good

VERSION = "v1.1.0-eksbuild.1"


def rendered() -> list[dict[str, Any]]:
    rows = eks_catalog.addon_workloads(jobs.HPTO_ADDON, VERSION)
    return [workload_object(w, jobs.HPTO_ADDON) for w in rows]


def test_the_addon_installs_namespace_crd_service_account_then_the_operator() -> None:
    objects = rendered()
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Namespace", jobs.HPTO_NAMESPACE),
        ("CustomResourceDefinition", jobs.HPTO_CRD),
        ("ServiceAccount", jobs.HPTO_OPERATOR),
        ("Deployment", jobs.HPTO_OPERATOR),
    ]
    assert all(o["metadata"]["labels"][ADDON_LABEL] == jobs.HPTO_ADDON for o in objects)
    deployment = objects[-1]
    assert deployment["metadata"]["namespace"] == jobs.HPTO_NAMESPACE
    pod = deployment["spec"]["template"]
    assert jobs.HPTO_CONTROL_PLANE_LABEL in pod["metadata"]["labels"]  # hyp get-operator-logs
    assert pod["spec"]["serviceAccountName"] == jobs.HPTO_OPERATOR
    assert pod["spec"]["containers"][0]["image"].endswith(":v1.1.0")
    workload = eks_catalog.addon_workload(jobs.HPTO_ADDON, VERSION)
    assert workload is not None and workload["kind"] == "Deployment"  # carries the version
    addon = eks_catalog.load_addons().get(jobs.HPTO_ADDON)
    assert addon is not None and addon.namespace == jobs.HPTO_NAMESPACE
    assert addon.default_for("1.32") is not None


def test_the_crd_is_what_hyp_needs() -> None:
    crd = load_manifest("hpto_crd.yaml")
    spec = crd["spec"]
    assert crd["metadata"]["name"] == jobs.HPTO_CRD
    assert (spec["group"], spec["scope"]) == (jobs.HPTO_GROUP, "Namespaced")
    assert (spec["names"]["kind"], spec["names"]["plural"]) == (jobs.HPTO_KIND, jobs.HPTO_PLURAL)
    (v1,) = spec["versions"]
    assert (v1["name"], v1["served"], v1["storage"]) == (jobs.HPTO_VERSION, True, True)
    assert v1["subresources"] == {"status": {}}
    props = v1["schema"]["openAPIV3Schema"]["properties"]
    job = props["spec"]["properties"]
    replica = job["replicaSpecs"]["items"]["properties"]
    assert set(replica) == {"name", "replicas", "maxReplicas", "spares", "template"}
    assert replica["template"]["x-kubernetes-preserve-unknown-fields"] is True
    assert {"jobMaxRetryCount", "cleanPodPolicy", "restartPolicy"} <= set(
        job["runPolicy"]["properties"]
    )
    assert "minReplicas" in job["elasticPolicy"]["properties"]
    assert job["nprocPerNode"]["type"] == "string"  # hyp's model reads a string
    status = props["status"]["properties"]
    assert {"conditions", "jobPods", "restartCount", "restartStatus"} <= set(status)
    assert load_manifest("hpto_crd.yaml") is not load_manifest("hpto_crd.yaml")  # fresh copies


@pytest.mark.parametrize(
    ("objects", "problem"),
    [
        ("[{kind: Secret, name: s}]", "kind must be one of"),
        ("[{kind: Namespace, name: n, colour: red}]", "unknown field 'colour'"),
        ("[{kind: ServiceAccount, name: s}]", "missing field 'namespace'"),
        (
            "[{kind: CustomResourceDefinition, name: x.example.com, manifest: hpto_crd.yaml}]",
            "manifest hpto_crd.yaml is not CustomResourceDefinition x.example.com",
        ),
        (
            "[{kind: CustomResourceDefinition, name: x.example.com, manifest: nope.yaml}]",
            "no such packaged file",
        ),
    ],
)
def test_addon_objects_in_the_table_are_checked(objects: str, problem: str) -> None:
    table = ADDONS_OK.replace("    workloads:", f"    objects: {objects}\n    workloads:", 1)
    with pytest.raises(TableError, match=rf"add-on 'a', object 0: .*{re.escape(problem)}"):
        eks_catalog.parse_addons(table, "t.yaml")


def test_the_preflight_passes_with_the_training_operator_installed() -> None:
    deployment = rendered()[-1]
    facts = good()
    assert isinstance(facts.eks, EksCluster)
    eks = dataclasses.replace(facts.eks, addons=addons(**{jobs.HPTO_ADDON: VERSION}))
    kube = snapshot([aws_node(), health_agent()], [deployment], [], [])
    with_addon = dataclasses.replace(facts, eks=eks, kube=kube)
    before = {f.rule: f.status for f in evaluate(good(), TABLES).findings}
    after = {f.rule: f.status for f in evaluate(with_addon, TABLES).findings}
    assert after == before
    assert after["addons-compatible"] == Status.PASS
