"""EKS clusters of the further Kubernetes minors (toolchain.toml's ``kubernetes_releases``) are
real control planes of that minor, and UpdateClusterVersion is a real upgrade: the cluster's
apiserver, controller manager and scheduler are restarted on the next minor's binaries while
etcd keeps its data, so the HyperPod nodes and their pods survive it (R3 in
docs/requirements.md: HyperPod supports 1.28-1.34).

The further minors' binaries must be built first (``scripts/build-k8s --kubernetes all``, which
``make test`` and ``.ci/run`` run): a first-use build takes minutes, longer than these tests
wait."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from podwarden.local.releases import release_binaries
from podwarden.local.toolchain import load_toolchain

from .conftest import api_client
from .hyperpod_helpers import all_nodes, cluster_id, cluster_nodes, group, server, sm, wait_status
from .hyperpod_server import ThreadServer
from .kube_objects import as_dict, node_is_ready, wait_for
from .test_hyperpod_on_eks_cluster import create_eks_cluster
from .test_local_account import aws, server_data, wait_active

__all__ = ["server", "sm"]  # module-scoped fixtures used by the tests below

pytestmark = pytest.mark.integration

NAMESPACE = "default"


@pytest.fixture(scope="module", autouse=True)
def _releases_built() -> None:
    """Fail (not build, not skip) when a further minor's binaries are missing, saying how to
    build them: the same rule as the shared control plane's binaries (conftest)."""
    for minor in load_toolchain().releases:
        release_binaries(minor, build=False)


def kubeconfig_of(server: ThreadServer, name: str) -> Path:
    """The plane's admin kubeconfig: <data dir>/eks-planes/eks/<name>-<id8>/kubeconfig."""
    (found,) = (Path(server_data(server)) / "eks-planes").glob(f"eks/{name}-*/kubeconfig")
    return found


def git_version(api: client.ApiClient) -> str:
    """What the apiserver's /version reports."""
    return str(client.VersionApi(api).get_code().git_version)


def pinned(minor: str) -> str:
    return load_toolchain().kubernetes(minor).version


def upgrade(eks: Any, name: str, version: str) -> dict[str, Any]:
    """UpdateClusterVersion, waited for until the update ends; the cluster then."""
    update = eks.update_cluster_version(name=name, version=version)["update"]
    last: list[str] = []

    def ended() -> dict[str, Any] | None:
        found: dict[str, Any] = eks.describe_update(name=name, updateId=update["id"])["update"]
        last[:] = [found["status"], str(found.get("errors"))]
        return found if found["status"] != "InProgress" else None

    done = wait_for(f"{name}'s update to {version}", ended, timeout=180, seen=lambda: last)
    assert done["status"] == "Successful", done
    return wait_active(eks, name, timeout=60)


def pod_on(node: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "nodeName": node,
            "tolerations": [{"operator": "Exists"}],
            "containers": [{"name": "c", "image": "busybox"}],
        },
    }


def running_pods(api: client.ApiClient) -> dict[str, str]:
    """Each Running pod of the namespace by name: its uid."""
    pods = as_dict(api, client.CoreV1Api(api).list_namespaced_pod(NAMESPACE))["items"]
    return {
        p["metadata"]["name"]: p["metadata"]["uid"]
        for p in pods
        if p.get("status", {}).get("phase") == "Running"
    }


def all_ready(api: client.ApiClient, nodes: list[str]) -> bool:
    return all(node_is_ready(api, n) for n in nodes)


def test_a_cluster_created_at_the_newest_minor_runs_it(server: ThreadServer) -> None:
    eks = aws(server, "eks")
    newest = max(load_toolchain().releases, key=lambda m: int(m.split(".")[1]))
    cluster = create_eks_cluster(server, "at-newest", version=newest)
    assert cluster["version"] == newest
    with api_client(kubeconfig_of(server, "at-newest")) as plane:
        assert git_version(plane) == pinned(newest)
    eks.delete_cluster(name="at-newest")
    wait_for(
        "EKS cluster at-newest deleted",
        lambda: "at-newest" not in eks.list_clusters()["clusters"],
        timeout=60,
    )


def test_version_updates_upgrade_the_plane_and_hyperpod_nodes_survive(
    server: ThreadServer, sm: Any
) -> None:
    eks = aws(server, "eks")
    target = create_eks_cluster(server, "upgraded")
    assert target["version"] == "1.32"
    arn: str = sm.create_cluster(
        ClusterName="on-upgraded",
        InstanceGroups=[group("gpu", "ml.g5.xlarge", 2)],
        Orchestrator={"Eks": {"ClusterArn": target["arn"]}},
        NodeRecovery="Automatic",
    )["ClusterArn"]
    wait_status(sm, "on-upgraded")
    cid = cluster_id(arn)
    with api_client(kubeconfig_of(server, "upgraded")) as plane:
        assert git_version(plane) == pinned("1.32")
        nodes = sorted(cluster_nodes(plane, cid))
        assert len(nodes) == 2
        core = client.CoreV1Api(plane)
        for i, node in enumerate(nodes):
            pod = client.V1Pod.from_dict(pod_on(node, f"trainer-{i}"))
            core.create_namespaced_pod(NAMESPACE, pod)  # type: ignore[arg-type]

        def both_running() -> dict[str, str] | None:
            found = running_pods(plane)
            return found if len(found) == 2 else None

        pods = wait_for("two pods Running on the HyperPod nodes", both_running)

        # one minor at a time, as EKS allows: 1.32 -> 1.33 -> 1.34
        for version in ("1.33", "1.34"):
            cluster = upgrade(eks, "upgraded", version)
            assert cluster["version"] == version
            assert git_version(plane) == pinned(version)  # the apiserver itself moved
            assert sorted(cluster_nodes(plane, cid)) == nodes  # same nodes...
            # ...still Ready (kwok kept their leases through the restart)
            wait_for(f"{nodes} Ready on {version}", lambda: all_ready(plane, nodes))
            assert running_pods(plane) == pods  # the same pods, still Running

        instances = all_nodes(sm, "on-upgraded")
        assert {f"hyperpod-{n['InstanceId']}" for n in instances} == set(nodes)
        assert all(n["InstanceStatus"]["Status"] == "Running" for n in instances)
        assert sm.describe_cluster(ClusterName="on-upgraded")["ClusterStatus"] == "InService"

    sm.delete_cluster(ClusterName="on-upgraded")
    wait_for(
        "HyperPod cluster on-upgraded deleted",
        lambda: (
            "on-upgraded" not in [c["ClusterName"] for c in sm.list_clusters()["ClusterSummaries"]]
        ),
        timeout=60,
    )
    eks.delete_cluster(name="upgraded")
    wait_for(
        "EKS cluster upgraded deleted",
        lambda: "upgraded" not in eks.list_clusters()["clusters"],
        timeout=60,
    )
