"""The preflight against the live cluster (R5, R16 in docs/requirements.md): the EKS reconciler
reads the real control plane into ``eks:observed``, CreateCluster refuses a cluster that runs a
second CNI, and ``podwarden preflight --kubeconfig`` reads the same facts itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from kubernetes import client
from kubernetes.client import ApiClient

from podwarden.cli.server import local_credentials
from podwarden.local.runtime import ControlPlane

from .hyperpod_helpers import create, group, server, sm
from .hyperpod_server import EKS_ARN, ThreadServer
from .kube_objects import wait_for

__all__ = ["server", "sm"]  # module-scoped fixtures used by the tests below

pytestmark = pytest.mark.integration

CALICO = {
    "apiVersion": "apps/v1",
    "kind": "DaemonSet",
    "metadata": {"name": "calico-node", "namespace": "kube-system"},
    "spec": {
        "selector": {"matchLabels": {"k8s-app": "calico-node"}},
        "template": {
            "metadata": {"labels": {"k8s-app": "calico-node"}},
            "spec": {"containers": [{"name": "calico-node", "image": "calico/node:v3.28.0"}]},
        },
    },
}


def observed(srv: ThreadServer, *, calico: bool) -> None:
    """Wait until the EKS reconciler has stored the live cluster with the calico-node DaemonSet
    or without it (its caches follow the cluster by watch; it writes the record when what it
    sees changes, so the record's content, not its ``observed_at``, says what it has seen)."""

    def fresh() -> bool:
        rec = srv.store.resources.get("eks:observed", "000000000000/us-west-2", "podwarden")
        if rec is None:
            return False
        return any(d["name"] == "calico-node" for d in rec.doc["daemonsets"]) == calico

    with_or_without = "with" if calico else "without"
    wait_for(f"a fresh eks:observed snapshot {with_or_without} calico-node", fresh, timeout=60)


def preflight_cli(srv: ThreadServer, control_plane: ControlPlane, request: dict[str, Any]) -> Any:
    cred = local_credentials()[0]
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": cred.access_key_id,
        "AWS_SECRET_ACCESS_KEY": cred.secret_access_key,
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "podwarden.cli.main",
            "preflight",
            "--endpoint-url",
            srv.endpoint,
            "--region",
            "us-west-2",
            "--kubeconfig",
            str(control_plane.kubeconfig),
            "--cli-input-json",
            json.dumps(request),
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_a_second_cni_in_the_live_cluster_refuses_create_cluster(
    server: ThreadServer, sm: Any, kube: ApiClient, control_plane: ControlPlane
) -> None:
    request = {
        "ClusterName": "cni-check",
        "Orchestrator": {"Eks": {"ClusterArn": EKS_ARN}},
        "InstanceGroups": [group("w", "ml.c5.large", 1)],
        "NodeRecovery": "Automatic",
    }
    ok = preflight_cli(server, control_plane, request)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    apps = client.AppsV1Api(kube)
    apps.create_namespaced_daemon_set("kube-system", CALICO)  # type: ignore[arg-type]
    try:
        observed(server, calico=True)
        with pytest.raises(ClientError) as err:
            create(sm, "cni-check", group("w", "ml.c5.large", 1))
        assert err.value.response["Error"]["Code"] == "ValidationException"
        message = err.value.response["Error"]["Message"]
        assert "single-cni (seed R5)" in message and "calico-node" in message
        refused = preflight_cli(server, control_plane, request)
        assert refused.returncode == 1
        report = json.loads(refused.stdout)
        failed = [f["rule"] for f in report["findings"] if f["status"] == "fail"]
        assert failed == ["single-cni"], report
    finally:
        apps.delete_namespaced_daemon_set("calico-node", "kube-system")
    observed(server, calico=False)
    create(sm, "cni-check", group("w", "ml.c5.large", 1))
    sm.delete_cluster(ClusterName="cni-check")
