"""The local AWS account on the real control plane: the seeded default account (EKS cluster
``podwarden`` adopting the embedded control plane, its add-ons as real DaemonSets and
Deployments), an EKS cluster created through the API being its own control plane reachable at
its endpoint with its CA, and HyperPod reading lifecycle scripts from the local S3."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client import ApiClient, Configuration

from podwarden.local.runtime import ControlPlane

from .hyperpod_helpers import cluster_id, create, group, server, sm, wait_active, wait_status
from .hyperpod_server import LIFECYCLE_URI, ThreadServer
from .kube_objects import as_dict, wait_for

# module-scoped fixtures used by the tests below, and wait_active for test_hyperpod_on_eks_cluster
__all__ = ["server", "sm", "wait_active"]

pytestmark = pytest.mark.integration


def aws(server: ThreadServer, service: str) -> Any:
    return server.client(service)


def image_of(kube: ApiClient, name: str) -> str:
    ds = as_dict(kube, client.AppsV1Api(kube).read_namespaced_daemon_set(name, "kube-system"))
    return str(ds["spec"]["template"]["spec"]["containers"][0]["image"])


def daemonsets(kube: ApiClient) -> list[str]:
    found = as_dict(kube, client.AppsV1Api(kube).list_namespaced_daemon_set("kube-system"))
    return [d["metadata"]["name"] for d in found["items"]]


def test_seeded_eks_cluster_is_the_embedded_control_plane(
    server: ThreadServer, control_plane: ControlPlane, kube: ApiClient
) -> None:
    eks = aws(server, "eks")
    cluster = wait_active(eks, "podwarden", timeout=120)
    assert cluster["endpoint"] == control_plane.url
    assert cluster["version"] == "1.32"
    assert cluster["accessConfig"]["authenticationMode"] == "API_AND_CONFIG_MAP"
    ca = base64.b64decode(cluster["certificateAuthority"]["data"])
    assert ca == control_plane.layout.pki.ca_cert.read_bytes()

    def addons_active() -> bool:
        names = eks.list_addons(clusterName="podwarden")["addons"]
        states = [eks.describe_addon(clusterName="podwarden", addonName=n)["addon"] for n in names]
        return len(states) >= 4 and all(a["status"] == "ACTIVE" for a in states)

    wait_for("seeded add-ons ACTIVE", addons_active, timeout=60)
    vpc_cni = eks.describe_addon(clusterName="podwarden", addonName="vpc-cni")["addon"]
    image = image_of(kube, "aws-node")
    # R5 (docs/requirements.md): the tag is the version
    assert image.endswith(f":{vpc_cni['addonVersion']}"), image


def test_addon_update_and_delete_reach_the_cluster(server: ThreadServer, kube: ApiClient) -> None:
    eks = aws(server, "eks")
    wait_active(eks, "podwarden", timeout=120)
    wait_for("aws-node", lambda: "aws-node" in daemonsets(kube), timeout=60)
    eks.update_addon(
        clusterName="podwarden", addonName="vpc-cni", addonVersion="v1.18.6-eksbuild.1"
    )
    wait_for(
        "aws-node at v1.18.6",
        lambda: image_of(kube, "aws-node").endswith(":v1.18.6-eksbuild.1"),
        timeout=60,
    )
    eks.delete_addon(clusterName="podwarden", addonName="kube-proxy")

    wait_for("kube-proxy DaemonSet removed", lambda: "kube-proxy" not in daemonsets(kube), 60)


def test_created_eks_cluster_is_a_new_control_plane(server: ThreadServer) -> None:
    ec2 = aws(server, "ec2")
    eks = aws(server, "eks")
    subnets = [
        s["SubnetId"]
        for s in ec2.describe_subnets(
            Filters=[{"Name": "tag:Name", "Values": ["podwarden-private-*"]}]
        )["Subnets"]
    ]
    eks.create_cluster(
        name="second",
        version="1.32",
        roleArn="arn:aws:iam::000000000000:role/podwarden-eks-cluster",
        resourcesVpcConfig={"subnetIds": subnets},
        accessConfig={"authenticationMode": "API"},
    )
    cluster = wait_active(eks, "second", timeout=180)
    endpoint = cluster["endpoint"]
    assert endpoint.startswith("https://127.0.0.1:")
    first = eks.describe_cluster(name="podwarden")["cluster"]["endpoint"]
    assert endpoint != first
    # reach it with the endpoint and CA DescribeCluster gave, as kubectl would
    ca = base64.b64decode(cluster["certificateAuthority"]["data"])
    planes = Path(server_data(server)) / "eks-planes"
    admin = next(planes.glob("eks/second-*/pki/admin.crt"), None) or next(planes.rglob("admin.crt"))
    with tempfile.NamedTemporaryFile("wb", suffix=".crt", delete=False) as f:
        f.write(ca)
    cfg = Configuration()
    cfg.host = endpoint
    cfg.ssl_ca_cert = f.name
    cfg.cert_file = str(admin)
    cfg.key_file = str(admin.with_suffix(".key"))
    version = client.VersionApi(ApiClient(cfg)).get_code()
    assert version.git_version.startswith("v1.32")
    eks.delete_cluster(name="second")

    def deleted() -> bool:
        return "second" not in eks.list_clusters()["clusters"]

    wait_for("EKS cluster second deleted", deleted, timeout=60)
    assert not list(planes.glob("eks/second-*"))


def test_missing_lifecycle_script_fails_the_cluster(server: ThreadServer, sm: Any) -> None:
    bad = group("w", "ml.c5.large", 1)
    bad["LifeCycleConfig"] = {"SourceS3Uri": LIFECYCLE_URI, "OnCreate": "missing.sh"}
    create(sm, "no-script", bad)

    def failed() -> dict[str, Any] | None:
        d: dict[str, Any] = sm.describe_cluster(ClusterName="no-script")
        return d if d["ClusterStatus"] == "Failed" else None

    d = wait_for("cluster no-script Failed", failed, timeout=60)
    assert "Lifecycle scripts did not run successfully" in d["FailureMessage"]
    assert d["FailureMessage"].startswith("Instance i-")
    sm.delete_cluster(ClusterName="no-script")


def test_lifecycle_script_is_stored_with_the_instance(server: ThreadServer, sm: Any) -> None:
    arn = create(sm, "with-script", group("w", "ml.c5.large", 1))
    wait_status(sm, "with-script")
    instances = server.store.list_instances(cluster_id(arn))
    assert instances and instances[0].on_create["uri"] == LIFECYCLE_URI + "on_create.sh"
    assert instances[0].on_create["content"].startswith("#!/bin/bash")
    sm.delete_cluster(ClusterName="with-script")


def server_data(srv: ThreadServer) -> str:
    settings = srv.settings
    assert settings.data_dir is not None
    return str(settings.data_dir)
