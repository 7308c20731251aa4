"""The SageMaker HyperPod cluster API with real boto3, real HTTP and the real control plane:
instances become kwok-managed Kubernetes nodes labelled and sized as HyperPod does it."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from kubernetes import client

from podwarden.local.runtime import ControlPlane
from tests.local_endpoint import local_client

from .hyperpod_helpers import (
    all_nodes,
    cluster_id,
    cluster_nodes,
    create,
    group,
    server,
    sm,
    wait_status,
)
from .hyperpod_server import EKS_ARN, ProcessServer, ThreadServer, sagemaker
from .kube_objects import as_dict, wait_for

__all__ = ["server", "sm"]  # module-scoped fixtures used by the tests below


def test_create_cluster_gpu_and_cpu_groups_become_nodes(sm: Any, kube: client.ApiClient) -> None:
    taint = {"Key": "dedicated", "Value": "cpu", "Effect": "NoSchedule"}
    arn = create(
        sm,
        "pw-create",
        group(
            "gpu",
            "ml.p5.48xlarge",
            2,
            KubernetesConfig={"Labels": {"team": "ml"}},
            InstanceStorageConfigs=[{"EbsVolumeConfig": {"VolumeSizeInGB": 500}}],
        ),
        group("cpu", "ml.c5.large", 1, KubernetesConfig={"Taints": [taint]}),
    )
    assert arn.startswith("arn:aws:sagemaker:us-west-2:000000000000:cluster/")
    assert len(cluster_id(arn)) == 12 and cluster_id(arn).isalnum()
    described = wait_status(sm, "pw-create")
    groups = {g["InstanceGroupName"]: g for g in described["InstanceGroups"]}
    assert (groups["gpu"]["CurrentCount"], groups["gpu"]["TargetCount"]) == (2, 2)
    assert groups["gpu"]["Status"] == "InService"
    assert groups["gpu"]["KubernetesConfig"]["CurrentLabels"] == {"team": "ml"}
    assert groups["cpu"]["KubernetesConfig"]["CurrentTaints"] == [taint]

    nodes = cluster_nodes(kube, cluster_id(arn))
    summaries = all_nodes(sm, "pw-create")
    assert {f"hyperpod-{s['InstanceId']}" for s in summaries} == set(nodes)
    for s in summaries:
        assert s["InstanceStatus"]["Status"] == "Running"
        node = nodes[f"hyperpod-{s['InstanceId']}"]
        labels = node["metadata"]["labels"]
        assert labels["node.kubernetes.io/instance-type"] == s["InstanceType"]
        assert labels["beta.kubernetes.io/instance-type"] == s["InstanceType"]
        assert labels["sagemaker.amazonaws.com/compute-type"] == "hyperpod"
        assert labels["sagemaker.amazonaws.com/instance-group-name"] == s["InstanceGroupName"]
        assert labels["sagemaker.amazonaws.com/cluster-name"] == "pw-create"
        assert labels["sagemaker.amazonaws.com/node-health-status"] == "Schedulable"
        assert labels["topology.kubernetes.io/region"] == "us-west-2"
        assert labels["topology.kubernetes.io/zone"].startswith("us-west-2")
        capacity = node["status"]["capacity"]
        if s["InstanceGroupName"] == "gpu":
            assert labels["team"] == "ml"
            assert capacity["nvidia.com/gpu"] == "8"
            assert capacity["pods"] == "49"  # R12 (docs/requirements.md)
            assert "/opt/sagemaker" in node["metadata"]["annotations"]["podwarden.io/ebs-volumes"]
            # the 500 GB EBS volume counts toward ephemeral storage (catalog default + volume)
            assert capacity["ephemeral-storage"] == "600Gi"
            assert not node["spec"].get("taints")
        else:
            assert capacity["pods"] == "9"  # R12 (docs/requirements.md)
            assert "nvidia.com/gpu" not in capacity
            assert node["spec"]["taints"] == [
                {"key": "dedicated", "value": "cpu", "effect": "NoSchedule"}
            ]

    detail = sm.describe_cluster_node(ClusterName=arn, NodeId=summaries[0]["InstanceId"])[
        "NodeDetails"
    ]
    assert detail["NodeLogicalId"]
    by_logical = sm.describe_cluster_node(
        ClusterName="pw-create", NodeLogicalId=detail["NodeLogicalId"]
    )
    assert by_logical["NodeDetails"]["InstanceId"] == summaries[0]["InstanceId"]


def test_scale_up_down_and_delete_group(sm: Any, kube: client.ApiClient) -> None:
    arn = create(sm, "pw-scale", group("a", "ml.g5.xlarge", 1), group("b", "ml.m5.large", 1))
    wait_status(sm, "pw-scale")
    cid = cluster_id(arn)

    sm.update_cluster(
        ClusterName="pw-scale",
        InstanceGroups=[group("a", "ml.g5.xlarge", 3), group("b", "ml.m5.large", 1)],
    )
    assert sm.describe_cluster(ClusterName="pw-scale")["ClusterStatus"] == "Updating"
    wait_status(sm, "pw-scale")
    wait_for("4 nodes", lambda: len(cluster_nodes(kube, cid)) == 4)

    sm.update_cluster(ClusterName="pw-scale", InstanceGroups=[group("a", "ml.g5.xlarge", 1)])
    wait_status(sm, "pw-scale")
    wait_for("2 nodes", lambda: len(cluster_nodes(kube, cid)) == 2)

    sm.update_cluster(ClusterName="pw-scale", InstanceGroupsToDelete=["b"])
    d = wait_status(sm, "pw-scale")
    assert [g["InstanceGroupName"] for g in d["InstanceGroups"]] == ["a"]
    wait_for("1 node", lambda: len(cluster_nodes(kube, cid)) == 1)
    labels = next(iter(cluster_nodes(kube, cid).values()))["metadata"]["labels"]
    assert labels["sagemaker.amazonaws.com/instance-group-name"] == "a"


def test_batch_delete_nodes_lowers_the_target(sm: Any, kube: client.ApiClient) -> None:
    create(sm, "pw-batch", group("w", "ml.c5.xlarge", 3))
    wait_status(sm, "pw-batch")
    ids = [s["InstanceId"] for s in all_nodes(sm, "pw-batch")]
    out = sm.batch_delete_cluster_nodes(
        ClusterName="pw-batch", NodeIds=[ids[0], "i-0123456789abcdef0"]
    )
    assert out["Successful"] == [ids[0]]
    assert out["Failed"][0]["Code"] == "NodeIdNotFound"
    wait_for("2 instances", lambda: len(all_nodes(sm, "pw-batch")) == 2)
    d = wait_status(sm, "pw-batch")
    assert d["InstanceGroups"][0]["TargetCount"] == 2


def test_delete_cluster_removes_every_node(sm: Any, kube: client.ApiClient) -> None:
    arn = create(sm, "pw-delete", group("w", "ml.t3.medium", 2))
    wait_status(sm, "pw-delete")
    assert len(cluster_nodes(kube, cluster_id(arn))) == 2
    assert sm.delete_cluster(ClusterName="pw-delete")["ClusterArn"] == arn

    def gone() -> bool:
        try:
            sm.describe_cluster(ClusterName="pw-delete")
        except ClientError as err:
            return bool(err.response["Error"]["Code"] == "ResourceNotFound")
        return False

    wait_for("cluster gone", gone)
    assert cluster_nodes(kube, cluster_id(arn)) == {}


def test_list_clusters_pagination_filters_and_sort(sm: Any) -> None:
    for name in ("pw-list-c", "pw-list-a", "pw-list-b"):
        create(sm, name, group("w", "ml.t3.medium", 0))
    pages = sm.get_paginator("list_clusters").paginate(
        NameContains="pw-list",
        SortBy="NAME",
        SortOrder="Descending",
        PaginationConfig={"PageSize": 1},
    )
    names = [c["ClusterName"] for p in pages for c in p["ClusterSummaries"]]
    assert names == ["pw-list-c", "pw-list-b", "pw-list-a"]
    first = sm.list_clusters(NameContains="pw-list", MaxResults=2)
    assert len(first["ClusterSummaries"]) == 2 and first["NextToken"]
    with pytest.raises(ClientError) as err:
        sm.list_clusters(NameContains="other", NextToken=first["NextToken"])
    assert err.value.response["Error"]["Code"] == "ValidationException"


def _error(call: Any, **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    e = info.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def test_modeled_errors(sm: Any) -> None:
    code, message, status = _error(sm.describe_cluster, ClusterName="no-such-cluster")
    assert (code, status) == ("ResourceNotFound", 400)
    assert "no-such-cluster" in message
    create(sm, "pw-dup", group("w", "ml.t3.medium", 0))
    wait_status(sm, "pw-dup")
    code, _, status = _error(
        sm.create_cluster,
        ClusterName="pw-dup",
        InstanceGroups=[group("w", "ml.t3.medium", 0)],
        Orchestrator={"Eks": {"ClusterArn": EKS_ARN}},
    )
    assert (code, status) == ("ResourceInUse", 400)
    sm.update_cluster(ClusterName="pw-dup", InstanceGroups=[group("w", "ml.t3.medium", 1)])
    code, _, _ = _error(
        sm.update_cluster, ClusterName="pw-dup", InstanceGroups=[group("w", "ml.t3.medium", 2)]
    )
    assert code == "ConflictException"


INVALID = [
    (
        "bad name pattern",
        {"ClusterName": "bad_name"},
        "Value 'bad_name' at 'clusterName' failed to satisfy constraint: Member must satisfy regular expression pattern",
    ),
    (
        "name too long",
        {"ClusterName": "a" * 64},
        "Member must have length less than or equal to 63",
    ),
    (
        "enum without ml.",
        {"InstanceGroups": [group("w", "p5.48xlarge", 1)]},
        "at 'instanceGroups.1.member.instanceType' failed to satisfy constraint: Member must satisfy enum value set",
    ),
    (
        "count above max",
        {"InstanceGroups": [group("w", "ml.c5.large", 6759)]},
        "Member must have value less than or equal to 6758",
    ),
    (
        "duplicate groups",
        {"InstanceGroups": [group("w", "ml.c5.large", 1), group("w", "ml.c5.large", 1)]},
        "used by more than one instance group",
    ),
    (
        "both orchestrators",
        {"Orchestrator": {"Eks": {"ClusterArn": EKS_ARN}, "Slurm": {}}},
        "exactly one of Eks or Slurm",
    ),
    (
        "taints with deep checks (R19)",
        {
            "InstanceGroups": [
                group(
                    "w",
                    "ml.p5.48xlarge",
                    1,
                    OnStartDeepHealthChecks=["InstanceStress"],
                    KubernetesConfig={
                        "Taints": [{"Key": "k", "Value": "v", "Effect": "NoSchedule"}]
                    },
                )
            ]
        },
        "custom taints cannot be added",
    ),
]


@pytest.mark.parametrize(("case", "change", "expected"), INVALID, ids=[c[0] for c in INVALID])
def test_validation_errors(sm: Any, case: str, change: dict[str, Any], expected: str) -> None:
    request: dict[str, Any] = {
        "ClusterName": "pw-valid",
        "InstanceGroups": [group("w", "ml.c5.large", 1)],
        "Orchestrator": {"Eks": {"ClusterArn": EKS_ARN}},
        **change,
    }
    code, message, status = _error(sm.create_cluster, **request)
    assert (code, status) == ("ValidationException", 400)
    assert expected in message
    code, _, _ = _error(sm.describe_cluster, ClusterName="pw-valid")
    assert code == "ResourceNotFound"  # nothing was created


def test_auth_failures(server: ThreadServer) -> None:
    code, _, _ = _error(sagemaker(server.endpoint, secret="wrong" * 8).list_clusters)
    assert code == "InvalidSignatureException"
    code, _, _ = _error(sagemaker(server.endpoint, key="AKIAUNKNOWNKEY000000").list_clusters)
    assert code == "UnrecognizedClientException"


def test_the_seeded_eks_cluster_is_active_when_the_api_listens(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    """podwarden serve reconciles the seeded (adopted) EKS cluster before it listens, so a
    HyperPod CreateCluster sent at once passes the preflight's eks-cluster-active rule (CI lost
    that race while the first pass ran beside the first request)."""
    server = ProcessServer(control_plane.kubeconfig, tmp_path).start()
    try:
        eks = local_client("eks", server.endpoint)
        assert eks.describe_cluster(name="podwarden")["cluster"]["status"] == "ACTIVE"
    finally:
        server.kill()


def test_crash_mid_scale_converges_without_missing_or_extra_nodes(
    control_plane: ControlPlane, kube: client.ApiClient, tmp_path: Path
) -> None:
    slow = ("--launch-delay", "3")
    first = ProcessServer(control_plane.kubeconfig, tmp_path, *slow).start()
    try:
        sm = sagemaker(first.endpoint)
        arn = create(sm, "pw-crash", group("w", "ml.c5.large", 1))
        wait_status(sm, "pw-crash")
        # (the first typed list in a process builds the client's models: seconds; do it now)
        assert len(cluster_nodes(kube, cluster_id(arn))) == 1
        sm.update_cluster(ClusterName="pw-crash", InstanceGroups=[group("w", "ml.c5.large", 12)])
        # the scale-up is in flight: 11 instances launched (records written), nodes not yet
        wait_for(
            "11 instances launching", lambda: len(all_nodes(sm, "pw-crash")) == 12, interval=0.05
        )
        assert len(cluster_nodes(kube, cluster_id(arn))) == 1
    finally:
        first.kill()
    second = ProcessServer(control_plane.kubeconfig, tmp_path, *slow).start()
    try:
        sm = sagemaker(second.endpoint)
        d = wait_status(sm, "pw-crash")
        assert d["InstanceGroups"][0]["CurrentCount"] == 12
        summaries = all_nodes(sm, "pw-crash")
        nodes = cluster_nodes(kube, cluster_id(arn))
        assert len(summaries) == 12
        assert {f"hyperpod-{s['InstanceId']}" for s in summaries} == set(nodes)
        time.sleep(1.0)  # a further pass must not add or remove anything
        assert set(cluster_nodes(kube, cluster_id(arn))) == set(nodes)
    finally:
        second.stop()


def test_the_api_answers_while_the_work_loop_is_held(server: ThreadServer) -> None:
    """The AWS API runs on uvicorn's loop, the reconcilers and watches on the work loop
    (``cli.work_loop``): a request is answered while a step of the work loop holds it."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        held.set()
        release.wait(60)

    assert server.composed.work.post(hold)
    try:
        assert held.wait(10), "the work loop never ran the step that holds it"
        quick = sagemaker(server.endpoint)
        quick.meta.config.read_timeout = 10
        names = [c["ClusterName"] for c in quick.list_clusters()["ClusterSummaries"]]
        eks = local_client("eks", server.endpoint).describe_cluster(name="podwarden")
        assert not release.is_set()  # answered while the work loop was still held
        assert isinstance(names, list) and eks["cluster"]["name"] == "podwarden"
    finally:
        release.set()


def test_accepted_connections_have_tcp_nodelay(server: ThreadServer) -> None:
    """Headers and body go out in separate writes; without TCP_NODELAY each response can wait
    for the client's delayed ACK (~40 ms). Inspect the server side of a live connection."""
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        assert conn.recv(65536).startswith(b"HTTP/1.1 ")
        client_port = conn.getsockname()[1]
        server_side = [
            c
            for c in psutil.Process().net_connections(kind="tcp")
            if c.laddr and c.laddr.port == server.port and c.raddr and c.raddr.port == client_port
        ]
        assert len(server_side) == 1
        dup = socket.socket(fileno=os.dup(server_side[0].fd))
        try:
            assert dup.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            dup.close()  # closes only the duplicate descriptor


def test_kubernetes_config_is_reconciled_onto_nodes(sm: Any, kube: client.ApiClient) -> None:
    arn = create(
        sm, "pw-k8scfg", group("w", "ml.c5.large", 2, KubernetesConfig={"Labels": {"old": "x"}})
    )
    wait_status(sm, "pw-k8scfg")
    taint = {"Key": "example.com/gpu-only", "Value": "yes", "Effect": "NoExecute"}
    new = {"Labels": {"team": "research", "tier": "gold"}, "Taints": [taint]}
    sm.update_cluster(
        ClusterName="pw-k8scfg", InstanceGroups=[group("w", "ml.c5.large", 2, KubernetesConfig=new)]
    )
    d = wait_status(sm, "pw-k8scfg")
    config = d["InstanceGroups"][0]["KubernetesConfig"]
    assert config["DesiredLabels"] == config["CurrentLabels"] == new["Labels"]
    assert config["DesiredTaints"] == config["CurrentTaints"] == [taint]
    nodes = cluster_nodes(kube, cluster_id(arn))
    assert len(nodes) == 2
    for node in nodes.values():
        labels = node["metadata"]["labels"]
        assert (labels["team"], labels["tier"]) == ("research", "gold")
        assert "old" not in labels  # the previous config's label is removed
        assert labels["sagemaker.amazonaws.com/compute-type"] == "hyperpod"  # ours are kept
        assert node["spec"]["taints"] == [
            {"key": "example.com/gpu-only", "value": "yes", "effect": "NoExecute"}
        ]
    some = all_nodes(sm, "pw-k8scfg")[0]["InstanceId"]
    detail = sm.describe_cluster_node(ClusterName="pw-k8scfg", NodeId=some)["NodeDetails"]
    assert detail["KubernetesConfig"]["CurrentLabels"] == new["Labels"]


def test_provisioning_refused_by_kubernetes_fails_the_cluster(
    sm: Any, kube: client.ApiClient
) -> None:
    # within the API's label-key constraints (1-317 characters) but over Kubernetes' 63-character
    # name limit: the apiserver refuses the node, retrying cannot help
    long_key = "example.com/" + "k" * 80
    arn = create(
        sm, "pw-fail", group("w", "ml.c5.large", 1, KubernetesConfig={"Labels": {long_key: "v"}})
    )

    def failed() -> dict[str, Any] | None:
        d: dict[str, Any] = sm.describe_cluster(ClusterName="pw-fail")
        return d if d["ClusterStatus"] == "Failed" else None

    d = wait_for("cluster Failed", failed)
    assert "HTTP 422" in d["FailureMessage"]
    assert d["InstanceGroups"][0]["Status"] == "Failed"
    assert cluster_nodes(kube, cluster_id(arn)) == {}
    sm.delete_cluster(ClusterName="pw-fail")

    def gone() -> bool:
        try:
            sm.describe_cluster(ClusterName="pw-fail")
        except ClientError:
            return True
        return False

    wait_for("failed cluster deleted", gone)


def _node_id(s: dict[str, Any]) -> str:
    return str(s["InstanceId"])


def test_batch_reboot_keeps_the_instance_and_replace_changes_it(
    sm: Any, kube: client.ApiClient
) -> None:
    storage = [{"EbsVolumeConfig": {"VolumeSizeInGB": 100}}]
    arn = create(sm, "pw-recover", group("g", "ml.g5.xlarge", 2, InstanceStorageConfigs=storage))
    wait_status(sm, "pw-recover")
    first, second = sorted(all_nodes(sm, "pw-recover"), key=_node_id)
    volumes_before = cluster_nodes(kube, cluster_id(arn))[f"hyperpod-{second['InstanceId']}"][
        "metadata"
    ]["annotations"]["podwarden.io/ebs-volumes"]

    out = sm.batch_reboot_cluster_nodes(
        ClusterName="pw-recover", NodeIds=[first["InstanceId"], "i-0123456789abcdef0"]
    )
    assert out["Successful"] == [first["InstanceId"]]
    assert out["Failed"][0]["ErrorCode"] == "InstanceIdNotFound"
    again = sm.batch_reboot_cluster_nodes(ClusterName="pw-recover", NodeIds=[first["InstanceId"]])
    assert again["Failed"][0]["ErrorCode"] in ("InstanceIdInUse", "InvalidInstanceStatus")

    def rebooting() -> bool:
        d = sm.describe_cluster_node(ClusterName="pw-recover", NodeId=first["InstanceId"])[
            "NodeDetails"
        ]
        return bool(d["InstanceStatus"]["Status"] == "Pending")

    wait_for("reboot under way", rebooting, interval=0.05)

    replaced = sm.batch_replace_cluster_nodes(
        ClusterName="pw-recover",
        NodeLogicalIds=[second["NodeLogicalId"]],
    )
    assert replaced["SuccessfulNodeLogicalIds"] == [second["NodeLogicalId"]]

    def recovered() -> list[dict[str, Any]] | None:
        nodes = all_nodes(sm, "pw-recover")
        ids = {n["InstanceId"] for n in nodes}
        ok = (
            len(nodes) == 2
            and first["InstanceId"] in ids
            and second["InstanceId"] not in ids
            and all(n["InstanceStatus"]["Status"] == "Running" for n in nodes)
        )
        return nodes if ok else None

    nodes = wait_for("reboot and replacement done", recovered)
    new = next(n for n in nodes if n["InstanceId"] != first["InstanceId"])
    detail = sm.describe_cluster_node(ClusterName="pw-recover", NodeId=new["InstanceId"])[
        "NodeDetails"
    ]
    assert detail["NodeLogicalId"] == second["NodeLogicalId"]  # the logical id survives
    kube_nodes = cluster_nodes(kube, cluster_id(arn))
    assert set(kube_nodes) == {f"hyperpod-{n['InstanceId']}" for n in nodes}
    assert (
        kube_nodes[f"hyperpod-{new['InstanceId']}"]["metadata"]["annotations"][
            "podwarden.io/ebs-volumes"
        ]
        != volumes_before
    )  # new volumes
    wait_status(sm, "pw-recover")


def test_health_label_triggers_recovery_on_automatic_clusters_only(
    sm: Any, kube: client.ApiClient
) -> None:
    create(sm, "pw-label", group("gpu", "ml.g5.xlarge", 1), group("cpu", "ml.c5.large", 1))
    wait_status(sm, "pw-label")
    by_group = {n["InstanceGroupName"]: n for n in all_nodes(sm, "pw-label")}
    core = client.CoreV1Api(kube)
    label = "sagemaker.amazonaws.com/node-health-status"
    for name in ("gpu", "cpu"):
        node = f"hyperpod-{by_group[name]['InstanceId']}"
        core.patch_node(node, {"metadata": {"labels": {label: "UnschedulablePendingReplacement"}}})

    def gpu_replaced() -> bool:
        ids = {n["InstanceId"] for n in all_nodes(sm, "pw-label")}
        return by_group["gpu"]["InstanceId"] not in ids

    wait_for("GPU node replaced", gpu_replaced)
    # R15 (docs/requirements.md): the CPU instance is not replaced automatically; it keeps its
    # id and its label
    cpu_node = f"hyperpod-{by_group['cpu']['InstanceId']}"
    time.sleep(1.0)
    assert by_group["cpu"]["InstanceId"] in {n["InstanceId"] for n in all_nodes(sm, "pw-label")}
    assert core.read_node(cpu_node).metadata.labels[label] == "UnschedulablePendingReplacement"  # type: ignore[union-attr,index]


def test_crash_mid_replacement_converges_to_the_target_count(
    control_plane: ControlPlane, kube: client.ApiClient, tmp_path: Path
) -> None:
    slow = ("--launch-delay", "3")
    first = ProcessServer(control_plane.kubeconfig, tmp_path, *slow).start()
    try:
        sm = sagemaker(first.endpoint)
        arn = create(sm, "pw-crash-replace", group("g", "ml.g5.xlarge", 3))
        wait_status(sm, "pw-crash-replace")
        assert len(cluster_nodes(kube, cluster_id(arn))) == 3
        old = all_nodes(sm, "pw-crash-replace")[0]["InstanceId"]
        sm.batch_replace_cluster_nodes(ClusterName="pw-crash-replace", NodeIds=[old])
        # the replacement is in flight: the new instance is recorded, its node not created yet
        wait_for(
            "replacement launching",
            lambda: len(all_nodes(sm, "pw-crash-replace")) >= 4,
            interval=0.05,
        )
    finally:
        first.kill()
    second = ProcessServer(control_plane.kubeconfig, tmp_path, *slow).start()
    try:
        sm = sagemaker(second.endpoint)

        def converged() -> list[dict[str, Any]] | None:
            nodes = all_nodes(sm, "pw-crash-replace")
            running = [n for n in nodes if n["InstanceStatus"]["Status"] == "Running"]
            return nodes if len(nodes) == 3 and len(running) == 3 else None

        nodes = wait_for("three running instances", converged)
        assert old not in {n["InstanceId"] for n in nodes}
        assert set(cluster_nodes(kube, cluster_id(arn))) == {
            f"hyperpod-{n['InstanceId']}" for n in nodes
        }
    finally:
        second.stop()


def test_pods_are_evicted_before_a_reboot(sm: Any, kube: client.ApiClient) -> None:
    create(sm, "pw-evict", group("g", "ml.g5.xlarge", 1))
    wait_status(sm, "pw-evict")
    (only,) = all_nodes(sm, "pw-evict")
    node = f"hyperpod-{only['InstanceId']}"
    core = client.CoreV1Api(kube)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "trainer", "namespace": "default"},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]},
    }
    core.create_namespaced_pod("default", client.V1Pod.from_dict(pod))  # type: ignore[arg-type]

    def running() -> bool:
        status = as_dict(kube, core.read_namespaced_pod("trainer", "default")).get("status", {})
        return bool(status.get("phase") == "Running")

    wait_for("pod running", running)
    sm.batch_reboot_cluster_nodes(ClusterName="pw-evict", NodeIds=[only["InstanceId"]])

    def evicted() -> bool:
        pods = core.list_namespaced_pod("default", field_selector=f"spec.nodeName={node}")
        return not pods.items

    wait_for("pod evicted by the reboot", evicted, timeout=60)


def test_cluster_events_in_continuous_mode(sm: Any) -> None:
    create(sm, "pw-events", group("w", "ml.c5.large", 2), NodeProvisioningMode="Continuous")
    wait_status(sm, "pw-events")
    ids = {n["InstanceId"] for n in all_nodes(sm, "pw-events")}
    events = [
        e
        for p in sm.get_paginator("list_cluster_events").paginate(
            ClusterName="pw-events", PaginationConfig={"PageSize": 2}
        )
        for e in p["Events"]
    ]
    times = [e["EventTime"] for e in events]
    assert times == sorted(times, reverse=True)  # newest first by default
    running = {e["InstanceId"] for e in events if e["Description"].endswith("is running")}
    assert running == ids
    assert any(
        e["ResourceType"] == "Cluster" and e["Description"].endswith("is InService") for e in events
    )
    assert all(
        e["ClusterName"] == "pw-events" and e["EventLevel"] in ("Info", "Warn", "Error")
        for e in events
    )

    one = next(iter(ids))
    mine = sm.list_cluster_events(ClusterName="pw-events", NodeId=one, ResourceType="Instance")[
        "Events"
    ]
    assert mine and {e["InstanceId"] for e in mine} == {one}
    detail = sm.describe_cluster_event(ClusterName="pw-events", EventId=mine[0]["EventId"])[
        "EventDetails"
    ]
    assert detail["EventId"] == mine[0]["EventId"] and detail["InstanceId"] == one

    create(sm, "pw-no-events", group("w", "ml.c5.large", 0))
    code, message, _ = _error(sm.list_cluster_events, ClusterName="pw-no-events")
    assert code == "ValidationException" and "Continuous" in message


def test_cluster_operations_scaling_and_deep_health_checks(sm: Any) -> None:
    create(sm, "pw-ops", group("w", "ml.g5.xlarge", 1))
    wait_status(sm, "pw-ops")
    sm.update_cluster(ClusterName="pw-ops", InstanceGroups=[group("w", "ml.g5.xlarge", 2)])
    wait_status(sm, "pw-ops")

    def all_done(kind: str) -> list[dict[str, Any]] | None:
        ops = sm.list_cluster_operations(ClusterName="pw-ops", Type=kind)[
            "ClusterOperationSummaries"
        ]
        # the newest is Done; an older one may be Superseded if the next began before the
        # reconciler closed it
        ok = bool(ops) and ops[0]["Status"] == "Done"
        ok = ok and all(o["Status"] in ("Done", "Superseded") for o in ops)
        return ops if ok else None

    scaling = wait_for("scaling operations done", lambda: all_done("Scaling"))
    assert len(scaling) == 2  # the create, then the update; newest first
    assert scaling[0]["CreationTime"] >= scaling[1]["CreationTime"]
    latest = sm.describe_cluster_operation(
        ClusterName="pw-ops", OperationId=scaling[0]["OperationId"]
    )
    (detail,) = latest["ScalingDetails"]
    assert detail["InstanceGroupName"] == "w"
    assert detail["Original"]["TargetCount"] == 1 and detail["Desired"]["TargetCount"] == 2

    config = [{"InstanceGroupName": "w", "DeepHealthChecks": ["InstanceStress"]}]
    sm.start_cluster_health_check(ClusterName="pw-ops", DeepHealthCheckConfigurations=config)
    (dhc,) = wait_for(
        "deep health check operation done", lambda: all_done("DeepHealthCheck"), timeout=60
    )
    described = sm.describe_cluster_operation(ClusterName="pw-ops", OperationId=dhc["OperationId"])
    assert described["DeepHealthCheckDetails"] == config
    code, _, _ = _error(
        sm.describe_cluster_operation,
        ClusterName="pw-ops",
        OperationId="00000000-0000-0000-0000-000000000000",
    )
    assert code == "ResourceNotFound"
