"""snapshot(): raw Kubernetes JSON -> the live-cluster facts the preflight reads, and its
document round trip (what the EKS reconciler stores as ``eks:observed``).

The builders here are the JSON fixtures the preflight rule tests use too."""

from __future__ import annotations

import json
from typing import Any

from podwarden.logic.kube_snapshot import Container, KubeSnapshot, Requirement, snapshot


def pod_spec(
    *images: str,
    env: tuple[str, ...] = (),
    node_selector: dict[str, str] | None = None,
    affinity_in: tuple[str, list[str]] | None = None,
    host_paths: tuple[str, ...] = (),
    host_network: bool = False,
    service_account: str | None = None,
    node_name: str | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": image.rsplit("/", 1)[-1].split(":", 1)[0],
                "image": image,
                "env": [{"name": e, "value": "x"} for e in env],
            }
            for image in images
        ],
        "volumes": [{"name": f"v{i}", "hostPath": {"path": p}} for i, p in enumerate(host_paths)],
    }
    if node_selector:
        spec["nodeSelector"] = node_selector
    if affinity_in:
        key, values = affinity_in
        spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": key, "operator": "In", "values": values}]}
                    ]
                }
            }
        }
    if host_network:
        spec["hostNetwork"] = True
    if service_account:
        spec["serviceAccountName"] = service_account
    if node_name:
        spec["nodeName"] = node_name
    return spec


def daemonset(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": {"spec": spec}},
    }


def deployment(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    out = daemonset(namespace, name, spec)
    out["kind"] = "Deployment"
    return out


def pod(
    namespace: str, name: str, spec: dict[str, Any], owner: str | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"namespace": namespace, "name": name}
    if owner:
        meta["ownerReferences"] = [{"kind": owner, "name": "x", "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def service_account(namespace: str, name: str, role: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"namespace": namespace, "name": name}
    if role:
        meta["annotations"] = {"eks.amazonaws.com/role-arn": role}
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}


REGISTRY = "602401143452.dkr.ecr.us-west-2.amazonaws.com"


def aws_node(tag: str = "v1.19.2-eksbuild.1") -> dict[str, Any]:
    spec = pod_spec(f"{REGISTRY}/amazon-k8s-cni:{tag}", host_network=True)
    spec["containers"][0]["name"] = "aws-node"
    return daemonset("kube-system", "aws-node", spec)


def calico() -> dict[str, Any]:
    return daemonset("calico-system", "calico-node", pod_spec("docker.io/calico/node:v3.28.0"))


def health_agent() -> dict[str, Any]:
    return daemonset(
        "podwarden-system",
        "podwarden-health-agent",
        pod_spec("podwarden/health-agent:0.1.0", host_paths=("/dev/kmsg",)),
    )


def test_daemonsets_keep_containers_tags_and_placement() -> None:
    snap = snapshot([aws_node(), calico(), health_agent()], [], [], [])
    node = snap.daemonset("aws-node", "kube-system")
    assert node is not None and node.host_network
    assert node.containers[0] == Container(
        "aws-node", f"{REGISTRY}/amazon-k8s-cni:v1.19.2-eksbuild.1"
    )
    assert node.containers[0].tag == "v1.19.2-eksbuild.1"
    assert snap.daemonset("calico-node") is not None
    assert snap.daemonset("calico-node", "kube-system") is None
    assert snap.daemonset("podwarden-health-agent").host_paths == ("/dev/kmsg",)  # type: ignore[union-attr]


def test_image_tags() -> None:
    assert Container("c", "registry:5000/team/app:v1.2").tag == "v1.2"
    assert Container("c", "registry:5000/team/app").tag == ""
    assert Container("c", "app@sha256:abc").tag == ""


def test_workloads_placement_env_and_paths() -> None:
    train = deployment(
        "default",
        "train",
        pod_spec(
            "train:1",
            env=("AWS_REGION", "HOME", "AWS_ROLE_ARN"),
            node_selector={"node.kubernetes.io/instance-type": "p5.48xlarge"},
            service_account="trainer",
        ),
    )
    bare = pod(
        "ml",
        "debug",
        pod_spec(
            "busybox",
            affinity_in=("beta.kubernetes.io/instance-type", ["ml.g5.xlarge", "g5.xlarge"]),
            host_paths=("/data",),
            node_name="hyperpod-i-0123456789abcdef0",
        ),
    )
    owned = pod("default", "train-abc", pod_spec("train:1"), owner="ReplicaSet")
    by_ds = pod("kube-system", "aws-node-x", pod_spec("cni"), owner="DaemonSet")
    by_job = pod("default", "job-x", pod_spec("job:1"), owner="Job")
    snap = snapshot([], [train], [bare, owned, by_ds, by_job], [])
    refs = [w.ref for w in snap.workloads]
    assert refs == ["Deployment default/train", "Pod ml/debug", "Pod default/job-x"]
    t, d = snap.workloads[0], snap.workloads[1]
    assert t.containers[0].aws_env == ("AWS_REGION", "AWS_ROLE_ARN")
    assert t.service_account == "trainer"
    keys = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
    assert t.label_values(keys) == ("p5.48xlarge",)
    assert d.label_values(keys) == ("ml.g5.xlarge", "g5.xlarge")
    assert d.required_terms == (
        (Requirement("beta.kubernetes.io/instance-type", "In", ("ml.g5.xlarge", "g5.xlarge")),),
    )
    assert d.host_paths == ("/data",)
    assert d.node_name.startswith("hyperpod-")
    assert d.service_account == "default"


def test_may_run_on_judges_selector_and_required_affinity() -> None:
    key = "node.kubernetes.io/instance-type"
    only_p5 = snapshot(
        [daemonset("x", "a", pod_spec("a", affinity_in=(key, ["ml.p5.48xlarge"])))], [], [], []
    ).daemonsets[0]
    linux = snapshot(
        [daemonset("x", "b", pod_spec("b", node_selector={"kubernetes.io/os": "linux"}))],
        [],
        [],
        [],
    ).daemonsets[0]
    assert only_p5.may_run_on({key: "ml.p5.48xlarge"})
    assert not only_p5.may_run_on({key: "ml.g5.xlarge"})
    assert linux.may_run_on({key: "ml.g5.xlarge"})  # keys the node lacks: taken as satisfied


def test_irsa_service_accounts() -> None:
    role = "arn:aws:iam::000000000000:role/s3-reader"
    snap = snapshot(
        [], [], [], [service_account("ml", "reader", role), service_account("ml", "default")]
    )
    assert dict(snap.irsa_roles) == {"ml/reader": role}


def test_document_round_trip_ignores_observed_at() -> None:
    snap = snapshot(
        [aws_node(), calico()],
        [deployment("d", "x", pod_spec("x", affinity_in=("k", ["v"])))],
        [pod("p", "y", pod_spec("y", host_paths=("/opt/sagemaker/data",), host_network=True))],
        [service_account("d", "sa", "arn:aws:iam::000000000000:role/r")],
    )
    doc = json.loads(json.dumps({**snap.to_doc(), "observed_at": 1.0}))
    assert KubeSnapshot.from_doc(doc) == snap


def test_empty_and_sparse_objects() -> None:
    snap = snapshot([{"metadata": {"name": "bare"}}], [{}], [{"spec": None}], [{}])
    assert snap.daemonsets[0].namespace == "default"
    assert snap.daemonsets[0].containers == ()
    assert len(snap.workloads) == 2
    assert dict(snap.irsa_roles) == {}


def test_containers_naming_imds_survive_the_document() -> None:
    spec = {
        "containers": [
            {"name": "a", "image": "x", "args": ["--endpoint", "http://[fd00:ec2::254]/latest"]},
            {
                "name": "b",
                "image": "x",
                "env": [{"name": "URL", "value": "http://169.254.169.254"}],
            },
            {
                "name": "c",
                "image": "x",
                "env": [{"name": "AWS_EC2_METADATA_DISABLED", "value": "true"}],
            },
        ]
    }
    snap = snapshot([], [deployment("ml", "d", spec)], [], [])
    assert [c.imds for c in snap.workloads[0].containers] == [True, True, False]
    assert KubeSnapshot.from_doc(snap.to_doc()) == snap
