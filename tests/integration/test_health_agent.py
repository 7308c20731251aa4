"""The health agent on the real control plane: an injected fault travels source -> agent ->
labels, taint, condition, event -> recovery, as in HyperPod (R15-R18)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kubernetes import client

from podwarden.agent.inject import inject, signal_for
from podwarden.kube.nodes import KubeNodes
from podwarden.local.runtime import ControlPlane

from .hyperpod_helpers import all_nodes, create, group, server, sm, wait_status
from .kube_objects import as_dict, hyperpod_node, wait_for
from .kube_objects import create as create_node

__all__ = ["server", "sm"]

HEALTH = "sagemaker.amazonaws.com/node-health-status"


def inject_now(cp: ControlPlane, node: str, **kind: Any) -> None:
    async def run() -> None:
        nodes = await KubeNodes.from_kubeconfig(cp.kubeconfig)
        try:
            await inject(nodes, node, signal_for(**kind))
        finally:
            await nodes.close()

    asyncio.run(run())


def node_of(kube: client.ApiClient, instance_id: str) -> dict[str, Any]:
    return as_dict(kube, client.CoreV1Api(kube).read_node(f"hyperpod-{instance_id}"))


def test_xid_79_quarantines_then_replaces_on_automatic_cluster(
    sm: Any, kube: client.ApiClient, control_plane: ControlPlane
) -> None:
    create(sm, "pw-agent-auto", group("gpu", "ml.g5.xlarge", 1))
    wait_status(sm, "pw-agent-auto")
    (first,) = all_nodes(sm, "pw-agent-auto")
    inject_now(control_plane, first["InstanceId"], xid=79)

    def replaced() -> list[dict[str, Any]] | None:
        nodes = all_nodes(sm, "pw-agent-auto")
        done = [
            n
            for n in nodes
            if n["InstanceId"] != first["InstanceId"] and n["InstanceStatus"]["Status"] == "Running"
        ]
        return done if done and len(nodes) == 1 else None

    (new,) = wait_for("replacement after Xid 79", replaced)
    assert new["NodeLogicalId"] == first["NodeLogicalId"]
    assert node_of(kube, new["InstanceId"])["metadata"]["labels"][HEALTH] == "Schedulable"


def test_fault_on_manual_cluster_is_labelled_tainted_and_not_recovered(
    sm: Any, kube: client.ApiClient, control_plane: ControlPlane
) -> None:
    sm.create_cluster(
        ClusterName="pw-agent-manual",
        InstanceGroups=[group("gpu", "ml.g5.xlarge", 1), group("cpu", "ml.c5.large", 1)],
        Orchestrator={
            "Eks": {"ClusterArn": "arn:aws:eks:us-west-2:000000000000:cluster/podwarden"}
        },
        NodeRecovery="None",
    )
    wait_status(sm, "pw-agent-manual")
    by_group = {n["InstanceGroupName"]: n for n in all_nodes(sm, "pw-agent-manual")}
    gpu_id, cpu_id = by_group["gpu"]["InstanceId"], by_group["cpu"]["InstanceId"]
    inject_now(control_plane, gpu_id, xid=74)
    inject_now(control_plane, cpu_id, xid=74)

    def quarantined() -> dict[str, Any] | None:
        node = node_of(kube, gpu_id)
        labels = node["metadata"]["labels"]
        conditions = {c["type"] for c in node["status"].get("conditions") or []}
        # labels and taint are one patch, the condition a second one (status subresource)
        done = labels.get(HEALTH) == "UnschedulablePendingReplacement"
        return node if done and "NvidiaErrorReplace" in conditions else None

    node = wait_for("GPU node quarantined", quarantined)
    labels, annotations = node["metadata"]["labels"], node["metadata"]["annotations"]
    assert labels["sagemaker.amazonaws.com/fault-types"] == "NvidiaErrorReplace"
    assert labels["sagemaker.amazonaws.com/fault-reasons"] == "XidNvlinkError"
    details = json.loads(annotations["sagemaker.amazonaws.com/fault-details"])
    assert details[0]["reason"] == "XidNvlinkError" and "Xid" in details[0]["message"]
    assert {"key": HEALTH, "value": "Unschedulable", "effect": "NoSchedule"} in node["spec"][
        "taints"
    ]
    conditions = {c["type"]: c for c in node["status"]["conditions"]}
    assert conditions["NvidiaErrorReplace"]["status"] == "True"
    assert conditions["NvidiaErrorReplace"]["reason"] == "XidNvlinkError"
    assert "podwarden.io/fault-injected" not in labels  # the injection was consumed

    def event_seen() -> bool:
        events = client.CoreV1Api(kube).list_namespaced_event(
            "default", field_selector=f"involvedObject.name=hyperpod-{gpu_id}"
        )
        return any(e.reason == "XidNvlinkError" and e.type == "Warning" for e in events.items)

    wait_for("a Warning event for the Xid", event_seen, timeout=15)

    # NodeRecovery None: labelled only. The CPU node is not watched by the agent at all (R17).
    time.sleep(1.5)
    assert {n["InstanceId"] for n in all_nodes(sm, "pw-agent-manual")} == {gpu_id, cpu_id}
    cpu_labels = node_of(kube, cpu_id)["metadata"]["labels"]
    assert cpu_labels[HEALTH] == "Schedulable"
    assert "podwarden.io/fault-injected" not in cpu_labels

    # an operator reboots it through the API: the node comes back clean, same instance
    sm.batch_reboot_cluster_nodes(ClusterName="pw-agent-manual", NodeIds=[gpu_id])

    def clean() -> dict[str, Any] | None:
        n = node_of(kube, gpu_id)
        summary = {s["InstanceId"]: s for s in all_nodes(sm, "pw-agent-manual")}[gpu_id]
        ok = (
            n["metadata"]["labels"][HEALTH] == "Schedulable"
            and not any(t["key"] == HEALTH for t in n["spec"].get("taints") or [])
            and summary["InstanceStatus"]["Status"] == "Running"
        )
        return n if ok else None

    wait_for("rebooted node clean and running", clean)


def test_application_xid_only_records_an_event(
    sm: Any, kube: client.ApiClient, control_plane: ControlPlane
) -> None:
    create(sm, "pw-agent-app", group("gpu", "ml.g5.xlarge", 1))
    wait_status(sm, "pw-agent-app")
    (only,) = all_nodes(sm, "pw-agent-app")
    inject_now(control_plane, only["InstanceId"], xid=13)

    def event_seen() -> bool:
        events = client.CoreV1Api(kube).list_namespaced_event(
            "default", field_selector=f"involvedObject.name=hyperpod-{only['InstanceId']}"
        )
        return any(e.reason == "XidApplicationError" for e in events.items)

    wait_for("event for Xid 13", event_seen)
    node = node_of(kube, only["InstanceId"])
    assert node["metadata"]["labels"][HEALTH] == "Schedulable"
    assert not any(t["key"] == HEALTH for t in node["spec"].get("taints") or [])


def test_stale_quarantine_is_cleared_by_the_agent(sm: Any, kube: client.ApiClient) -> None:
    """What an agent that died mid-fault leaves behind (labels, taint, details of a fault that
    has since aged out of its window) is cleared on the next pass: the agent's only memory is
    the node, and it re-reads it."""
    create(sm, "pw-agent-stale", group("gpu", "ml.g5.xlarge", 1))
    wait_status(sm, "pw-agent-stale")
    (only,) = all_nodes(sm, "pw-agent-stale")
    name = f"hyperpod-{only['InstanceId']}"
    old = {
        "timestamp": time.time() - 7200,
        "type": "NvidiaErrorReboot",
        "reason": "XidDoubleBitEcc",
        "message": "NVRM: Xid (PCI:0000:b9:00): 48",
        "action": "Reboot",
        "rule": "xid-48",
        "severity": "fatal",
        "key": "xid-48/0000:b9:00/",
    }
    client.CoreV1Api(kube).patch_node(
        name,
        {
            "metadata": {
                "labels": {
                    HEALTH: "Unschedulable",
                    "sagemaker.amazonaws.com/fault-types": "NvidiaErrorReboot",
                },
                "annotations": {"sagemaker.amazonaws.com/fault-details": json.dumps([old])},
            },
            "spec": {"taints": [{"key": HEALTH, "value": "Unschedulable", "effect": "NoSchedule"}]},
        },
    )

    def cleared() -> bool:
        node = node_of(kube, only["InstanceId"])
        labels = node["metadata"]["labels"]
        return (
            labels[HEALTH] == "Schedulable"
            and "sagemaker.amazonaws.com/fault-types" not in labels
            and not node["spec"].get("taints")
        )

    wait_for("stale quarantine cleared", cleared, timeout=30)


def test_safety_limit_pauses_automatic_replacement_and_manual_api_still_works(
    sm: Any, kube: client.ApiClient, control_plane: ControlPlane
) -> None:
    # NodeRecovery None first, so both faults are on the nodes before recovery may act
    sm.create_cluster(
        ClusterName="pw-agent-limit",
        InstanceGroups=[group("gpu", "ml.g5.xlarge", 5)],
        Orchestrator={
            "Eks": {"ClusterArn": "arn:aws:eks:us-west-2:000000000000:cluster/podwarden"}
        },
        NodeRecovery="None",
    )
    wait_status(sm, "pw-agent-limit")
    ids = sorted(n["InstanceId"] for n in all_nodes(sm, "pw-agent-limit"))
    for instance_id in ids[:2]:  # 2 of 5 unhealthy: 40% > the 20% limit
        inject_now(control_plane, instance_id, xid=79)

    def labelled() -> bool:
        labels = [node_of(kube, i)["metadata"]["labels"].get(HEALTH) for i in ids[:2]]
        return labels == ["UnschedulablePendingReplacement"] * 2

    wait_for("both faulty nodes labelled", labelled)
    sm.update_cluster(ClusterName="pw-agent-limit", NodeRecovery="Automatic")

    def paused_event() -> bool:
        events = client.CoreV1Api(kube).list_namespaced_event(
            "default", field_selector=f"involvedObject.name=hyperpod-{ids[0]}"
        )
        return any(e.reason == "RemediationPaused" for e in events.items)

    wait_for("a RemediationPaused event", paused_event, timeout=30)
    time.sleep(1.0)
    assert set(ids) <= {n["InstanceId"] for n in all_nodes(sm, "pw-agent-limit")}  # none replaced

    # a manual replacement is not limited; once 1 of 5 is unhealthy, automatic recovery resumes
    sm.batch_replace_cluster_nodes(ClusterName="pw-agent-limit", NodeIds=[ids[0]])

    def both_replaced() -> bool:
        current = {n["InstanceId"] for n in all_nodes(sm, "pw-agent-limit")}
        return ids[0] not in current and ids[1] not in current and len(current) == 5

    wait_for("manual, then automatic replacement", both_replaced, timeout=60)


DEEP = "sagemaker.amazonaws.com/deep-health-check-status"
TAINT = {"key": HEALTH, "value": "Unschedulable", "effect": "NoSchedule"}


def test_deep_health_checks_on_new_nodes_on_demand_and_on_failure(
    sm: Any, kube: client.ApiClient, control_plane: ControlPlane
) -> None:
    client.CoreV1Api(kube).list_node(limit=1)  # the first typed read builds the models: seconds
    create(
        sm, "pw-dhc", group("gpu", "ml.g5.xlarge", 1, OnStartDeepHealthChecks=["InstanceStress"])
    )

    def under_check() -> dict[str, Any] | None:
        nodes = all_nodes(sm, "pw-dhc")
        if nodes and nodes[0]["InstanceStatus"]["Status"] == "DeepHealthCheckInProgress":
            return nodes[0]
        return None

    first = wait_for("deep checks on the new node", under_check, interval=0.05)
    node = node_of(kube, first["InstanceId"])
    assert node["metadata"]["labels"][HEALTH] == "Unschedulable"  # R18 (docs/requirements.md)
    assert node["metadata"]["labels"][DEEP] == "InProgress"
    assert TAINT in node["spec"]["taints"]
    assert sm.describe_cluster(ClusterName="pw-dhc")["ClusterStatus"] == "Creating"

    wait_status(sm, "pw-dhc")  # the checks passed
    node = node_of(kube, first["InstanceId"])
    assert (node["metadata"]["labels"][HEALTH], node["metadata"]["labels"][DEEP]) == (
        "Schedulable",
        "Passed",
    )
    assert TAINT not in (node["spec"].get("taints") or [])

    # on demand, then a failure reported during the checks: Failed, then a replacement
    sm.start_cluster_health_check(
        ClusterName="pw-dhc",
        DeepHealthCheckConfigurations=[
            {"InstanceGroupName": "gpu", "DeepHealthChecks": ["InstanceStress"]}
        ],
    )
    wait_for("on-demand deep checks", under_check, interval=0.05)
    inject_now(control_plane, first["InstanceId"], dhc_fail=True)

    def replaced() -> list[dict[str, Any]] | None:
        nodes = all_nodes(sm, "pw-dhc")
        fresh = [n for n in nodes if n["InstanceId"] != first["InstanceId"]]
        return fresh if fresh and len(nodes) == 1 else None

    (new,) = wait_for("replacement after a failed deep check", replaced)
    assert new["NodeLogicalId"] == first["NodeLogicalId"]

    def passed() -> bool:  # the replacement runs its own deep checks (the cluster stays InService)
        summary = all_nodes(sm, "pw-dhc")[0]
        if summary["InstanceStatus"]["Status"] != "Running":
            return False
        return bool(node_of(kube, new["InstanceId"])["metadata"]["labels"].get(DEEP) == "Passed")

    wait_for("the replacement passed its deep checks", passed, timeout=60)


def test_podwarden_agent_follows_a_kernel_log(
    kube: client.ApiClient, control_plane: ControlPlane, tmp_path: Path
) -> None:
    """The real-node path: ``podwarden agent`` reads NVRM Xid lines from a kernel log."""
    name = "hyperpod-i-0feedfacecafe0001"
    create_node(kube, hyperpod_node(name, "ml.p5.48xlarge", gpus=8, pods=49))
    log = tmp_path / "messages"
    log.write_text("kernel: booting\n")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "podwarden.cli.main",
            "agent",
            "--node",
            name,
            "--kubeconfig",
            str(control_plane.kubeconfig),
            "--kernel-log",
            str(log),
            "--interval",
            "0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert "watching" in proc.stdout.readline()
        with log.open("a") as f:
            f.write(
                "[1234.5] NVRM: Xid (PCI:0000:b9:00): 74, pid=<unknown>, name=<unknown>, "
                "NVLink: fatal error detected on link 6\n"
            )

        def quarantined() -> dict[str, Any] | None:
            node = as_dict(kube, client.CoreV1Api(kube).read_node(name))
            conditions = {c["type"]: c["status"] for c in node["status"].get("conditions") or []}
            ok = (
                node["metadata"]["labels"].get(HEALTH) == "UnschedulablePendingReplacement"
                and conditions.get("NvidiaErrorReplace") == "True"
            )
            return node if ok else None

        node = wait_for("quarantine from the kernel log", quarantined, timeout=30)
        assert TAINT in node["spec"]["taints"]
        details = json.loads(
            node["metadata"]["annotations"]["sagemaker.amazonaws.com/fault-details"]
        )
        assert "NVLink: fatal error" in details[0]["message"]
    finally:
        proc.terminate()
        proc.wait(15)
