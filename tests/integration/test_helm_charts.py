"""Helm as a real component (issue #10 item 8): the helm that scripts/build-k8s builds installs
podwarden's charts into the real control plane, and what they create does what they promise.

The health agent's chart (deploy/helm/podwarden-health-agent): its DaemonSets run on accelerated
instance types only (R17 in docs/requirements.md: no agent on CPU instances), with the RBAC the
agent's code uses;
``helm uninstall`` removes everything it created.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from kubernetes import client

from podwarden.local.assets import find_optional
from podwarden.local.runtime import ControlPlane

from .kube_objects import as_dict, create, hyperpod_node, node_is_ready, wait_for

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "podwarden-health-agent"
NAMESPACE = "podwarden-system"
RELEASE = "health-agent"
GPU_NODE = "hyperpod-i-0a1b2c3d4e5f6b001"  # ml.g5.xlarge: in the chart's gpuInstanceTypes
CPU_NODE = "hyperpod-i-0a1b2c3d4e5f6b002"  # ml.m5.xlarge: no agent (R17)


@pytest.fixture(scope="module")
def helm(control_plane: ControlPlane) -> list[str]:
    binary = find_optional("helm")
    assert binary is not None, "helm is not built: run scripts/build-k8s (make test does)"
    return [str(binary), "--kubeconfig", str(control_plane.kubeconfig)]


def _run(helm: list[str], *args: str) -> str:
    # helm's cache, config and data in a throwaway home: nothing of the user's is read or written
    home = Path(helm[-1]).parent / "helm-home"
    env = {**os.environ, "HOME": str(home), "HELM_CACHE_HOME": str(home / "cache"),
           "HELM_CONFIG_HOME": str(home / "config"), "HELM_DATA_HOME": str(home / "data")}  # fmt: skip
    out = subprocess.run(
        [*helm, *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )
    assert out.returncode == 0, f"helm {' '.join(args)} failed: {out.stderr}"
    return out.stdout


def _agent_pods(kube: client.ApiClient) -> dict[str, str]:
    pods = as_dict(
        kube,
        client.CoreV1Api(kube).list_namespaced_pod(
            NAMESPACE, label_selector="app.kubernetes.io/name=podwarden-health-agent"
        ),
    )
    return {
        p["spec"]["nodeName"]: p["metadata"]["labels"]["app.kubernetes.io/component"]
        for p in pods["items"]
    }


def _names(kube: client.ApiClient, listed: object) -> set[str]:
    return {item["metadata"]["name"] for item in as_dict(kube, listed)["items"]}


def test_helm_installs_the_health_agent_on_accelerated_nodes_only(
    kube: client.ApiClient, helm: list[str]
) -> None:
    create(kube, hyperpod_node(GPU_NODE, "ml.g5.xlarge", gpus=1, pods=14))
    create(kube, hyperpod_node(CPU_NODE, "ml.m5.xlarge", gpus=0, pods=14))
    for node in (GPU_NODE, CPU_NODE):
        wait_for(f"node {node} Ready", lambda n=node: node_is_ready(kube, n))  # type: ignore[misc]

    _run(helm, "install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--create-namespace")
    assert RELEASE in _run(helm, "list", "--namespace", NAMESPACE, "--short")

    apps = client.AppsV1Api(kube)
    names = _names(kube, apps.list_namespaced_daemon_set(NAMESPACE))
    assert names == {"podwarden-health-agent", "podwarden-health-agent-neuron"}
    rbac = client.RbacAuthorizationV1Api(kube)
    role = as_dict(kube, rbac.read_cluster_role("podwarden-health-agent"))
    verbs = {(r["resources"][0], v) for r in role["rules"] for v in r["verbs"]}
    assert ("nodes", "patch") in verbs and ("events", "create") in verbs
    assert not any(v in ("delete", "*") for _, v in verbs)  # exactly what the agent calls

    pods = wait_for("the agent's pod on the GPU node", lambda: _agent_pods(kube).get(GPU_NODE))
    assert pods == "nvidia"
    assert CPU_NODE not in _agent_pods(kube)

    _run(helm, "uninstall", RELEASE, "--namespace", NAMESPACE)
    wait_for(
        "the chart's DaemonSets removed",
        lambda: not _names(kube, apps.list_namespaced_daemon_set(NAMESPACE)),
    )
    assert "podwarden-health-agent" not in _names(kube, rbac.list_cluster_role())
