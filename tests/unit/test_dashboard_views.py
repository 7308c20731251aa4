"""The dashboard's view records (``dashboard.views``, ``dashboard.jobs``) and its table
(``policy/dashboard.py``): the state each node's cell shows, the kind of each timeline event,
the node's details, the jobs panel; and a broken table fails naming where."""

from __future__ import annotations

import json
from typing import Any

import pytest

from podwarden.dashboard import views
from podwarden.dashboard.jobs import job_rows
from podwarden.model.cluster import (
    Cluster,
    ClusterEvent,
    Instance,
    InstanceGroup,
    SoftwareUpdate,
)
from podwarden.model.labels import DEEP_HEALTH, FAULT_DETAILS, HEALTH
from podwarden.policy.dashboard import load_dashboard, parse_dashboard
from podwarden.policy.yaml_tables import TableError, packaged

TABLE = load_dashboard()


def instance(iid: str = "i-0000000000000000a", status: str = "Running", **kw: Any) -> Instance:
    fields: dict[str, Any] = {
        "instance_id": iid,
        "cluster_id": "c1",
        "group": "gpu",
        "logical_id": f"gpu-{iid[-4:]}",
        "instance_type": "ml.g5.xlarge",
        "status": status,
        "launch_time": 0.0,
        "ready_at": 0.0,
    }
    return Instance(**(fields | kw))


def node(
    health: str | None = "Schedulable", ready: bool = True, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    all_labels = dict(labels or {})
    if health is not None:
        all_labels[HEALTH] = health
    return {
        "metadata": {"name": "n", "labels": all_labels, "annotations": {}},
        "spec": {},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


@pytest.mark.parametrize(
    ("status", "the_node", "state"),
    [
        ("Running", node(), "healthy"),
        ("Running", node("UnschedulablePendingReplacement"), "unhealthy"),
        ("Running", node("UnschedulablePendingReboot"), "unhealthy"),
        ("Pending", node("UnschedulablePendingReboot", ready=False), "unhealthy"),  # rebooting
        ("Failure", None, "unhealthy"),
        ("ShuttingDown", node("UnschedulablePendingReplacement"), "unhealthy"),
        ("ShuttingDown", node(), "leaving"),
        ("Running", node("Unschedulable", labels={DEEP_HEALTH: "InProgress"}), "checking"),
        ("DeepHealthCheckInProgress", None, "checking"),
        ("SystemUpdating", node(), "updating"),
        ("Pending", None, "pending"),
        ("Running", None, "pending"),  # no node yet
        ("Running", node(ready=False), "unhealthy"),
        ("Running", node(None), "healthy"),  # not assessed yet: a healthy node
    ],
)
def test_cell_state(status: str, the_node: dict[str, Any] | None, state: str) -> None:
    assert views.cell_state(TABLE, instance(status=status), the_node) == state


def test_every_state_the_rules_give_has_words_and_the_last_rule_is_the_default() -> None:
    assert {r.state for r in TABLE.cells} <= set(TABLE.states)
    last = TABLE.cells[-1]
    assert not (last.instance or last.health or last.deep_check or last.node)


def cluster(**groups: int) -> Cluster:
    made = {
        name: InstanceGroup(
            spec={"InstanceGroupName": name, "InstanceType": "ml.g5.xlarge", "InstanceCount": n},
            status="InService",
            image_release="1.4.1",
        )
        for name, n in groups.items()
    }
    return Cluster("c1", "demo", "arn", "us-west-2", "000000000000", "InService", 0.0, {}, made)


def test_cluster_row_counts_running_instances_against_the_target() -> None:
    c = cluster(gpu=3, cpu=1)
    c.groups["gpu"].remediation_paused = "2 of 3 nodes are unhealthy"
    c.groups["gpu"].software_update = SoftwareUpdate(to_release="1.5", from_release="1.4.1")
    members = [
        instance("i-0000000000000000a"),
        instance("i-0000000000000000b", status="Pending"),
        instance("i-0000000000000000c"),
    ]
    row = views.cluster_row(c, members)
    gpu, cpu = row.groups
    assert (gpu.name, gpu.current, gpu.target, gpu.release) == ("gpu", 2, 3, "1.4.1")
    assert gpu.paused == "2 of 3 nodes are unhealthy"
    assert gpu.update == "Pending"
    assert (cpu.current, cpu.target, cpu.update) == (0, 1, "")


def test_grids_order_cells_by_logical_id_and_count_states() -> None:
    c = cluster(gpu=3)
    a = instance("i-0000000000000000a", logical_id="gpu-2")
    b = instance("i-0000000000000000b", logical_id="gpu-1")
    d = instance("i-0000000000000000d", logical_id="gpu-3", status="Pending")
    nodes = {a.node_name: node(), b.node_name: node("UnschedulablePendingReplacement")}
    (grid,) = views.grids(TABLE, c, [a, b, d], nodes)
    assert [cell.instance_id for cell in grid.cells] == [
        b.instance_id,
        a.instance_id,
        d.instance_id,
    ]
    assert [cell.state for cell in grid.cells] == ["unhealthy", "healthy", "pending"]
    assert grid.counts == (("healthy", 1), ("unhealthy", 1), ("pending", 1))
    assert b.node_name in grid.cells[0].title


def event(text: str, iid: str = "", level: str = "Info", at: float = 1.0) -> ClusterEvent:
    return ClusterEvent("e", "c1", at, "Instance", level, text, "gpu", iid)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Rebooting instance i-1 (a health label)", "reboot"),
        ("Replacing instance i-1 (BatchReplaceClusterNodes)", "replacement"),
        ("Deep health checks failed on instance i-1", "deep-check"),
        (
            "3 of 4 nodes of instance group gpu are unhealthy, more than the limit of 20%: "
            "automatic recovery is paused until fewer are",
            "pause",
        ),
        ("Automatic recovery of instance group gpu resumed", "pause"),
        ("Software update of instance group gpu to release 1.5 started", "update"),
        ("Launching 2 instance(s) in instance group gpu", "launch"),
        ("Instance i-1 is running", "launch"),
        ("Cluster demo is InService", "status"),
        ("Instance group gpu is Degraded", "status"),
        ("Preflight warning: subnets-private (seed R6): nothing to check.", "preflight"),
        ("Something new", "other"),
    ],
)
def test_cluster_event_kinds(text: str, kind: str) -> None:
    assert views.cluster_event_entry(TABLE, event(text)).kind == kind


def kube_event(component: str, reason: str, message: str, name: str) -> dict[str, Any]:
    return {
        "involvedObject": {"kind": "Node", "name": name},
        "source": {"component": component},
        "reason": reason,
        "message": message,
        "type": "Warning",
        "lastTimestamp": "2026-01-02T03:04:05Z",
    }


def test_node_events_on_the_timeline() -> None:
    name = "hyperpod-i-0123456789abcdef0"
    agent = "podwarden-health-agent"
    quarantine = kube_event(agent, "XidGpuFallenOffBus", "Xid 79 (action: Replace)", name)
    fault = kube_event(agent, "XidApplicationError", "Xid 13 (action: None)", name)
    pause = kube_event("podwarden-recovery", "RemediationPaused", "paused", name)
    unknown = kube_event("kubelet", "NodeReady", "ready", name)
    entries = views.timeline(TABLE, [], [quarantine, fault, pause, unknown])
    assert sorted(e.kind for e in entries) == ["fault", "pause", "quarantine"]
    assert all(e.instance_id == "i-0123456789abcdef0" for e in entries)
    assert entries[0].when == "2026-01-02 03:04:05Z"
    assert entries[0].level == "Warn"


def test_timeline_is_newest_first_and_bounded() -> None:
    events = [event(f"Instance i-{n} is running", at=float(n)) for n in range(10)]
    entries = views.timeline(TABLE, events, [], limit=3)
    assert [e.at for e in entries] == [9.0, 8.0, 7.0]


def test_node_names_of_include_instances_gone() -> None:
    names = views.node_names_of([instance()], [event("Replacing", "i-00000000000000ff")])
    assert names == {"hyperpod-i-0000000000000000a", "hyperpod-i-00000000000000ff"}


def test_node_detail() -> None:
    inst = instance()
    the_node = node("UnschedulablePendingReplacement", labels={"team": "ml"})
    the_node["metadata"]["annotations"][FAULT_DETAILS] = json.dumps(
        [
            {"timestamp": 1.0, "reason": "Old", "message": "first", "action": "Reboot"},
            {
                "timestamp": 2.0,
                "reason": "XidGpuFallenOffBus",
                "message": "79",
                "action": "Replace",
            },
        ]
    )
    the_node["spec"]["taints"] = [{"key": HEALTH, "value": "Unschedulable", "effect": "NoSchedule"}]
    the_node["status"]["conditions"].append(
        {"type": "NvidiaErrorReplace", "status": "True", "reason": "XidGpuFallenOffBus"}
    )
    history = [
        views.cluster_event_entry(TABLE, event("Replacing instance x", inst.instance_id)),
        views.cluster_event_entry(TABLE, event("Instance other", "i-0000000000000000b")),
    ]
    detail = views.node_detail(TABLE, inst, the_node, history)
    assert detail.state == "unhealthy"
    assert detail.ready == "Ready"
    assert [f["reason"] for f in detail.faults] == ["XidGpuFallenOffBus", "Old"]  # newest first
    assert detail.faults[0]["when"] == "1970-01-01 00:00:02Z"
    assert detail.taints == (f"{HEALTH}=Unschedulable:NoSchedule",)
    assert ("team", "ml") in detail.labels
    assert [c[4] for c in detail.conditions] == [False, True]  # Ready fine, the fault's not
    assert [e.text for e in detail.history] == ["Replacing instance x"]


def test_unreadable_fault_details_are_shown_not_raised() -> None:
    the_node = node()
    the_node["metadata"]["annotations"][FAULT_DETAILS] = "{not json"
    (shown,) = views.fault_details(the_node)
    assert "unreadable" in shown["message"]
    assert views.fault_details(None) == []


def test_job_rows() -> None:
    job = {
        "metadata": {
            "name": "llama",
            "namespace": "kubeflow",
            "annotations": {
                "sagemaker.amazonaws.com/enable-job-auto-resume": "true",
                "sagemaker.amazonaws.com/job-max-retry-count": "5",
                "podwarden.io/auto-resume-restarts": "2",
            },
        },
        "status": {
            "conditions": [
                {"type": "Created", "status": "True"},
                {"type": "Running", "status": "True"},
            ]
        },
    }
    other = {"metadata": {"name": "elsewhere", "namespace": "kubeflow"}, "status": {}}

    def pod(name: str, job_name: str, node_name: str, restarts: int = 0) -> dict[str, Any]:
        return {
            "metadata": {
                "name": name,
                "namespace": "kubeflow",
                "labels": {"training.kubeflow.org/job-name": job_name},
            },
            "spec": {"nodeName": node_name},
            "status": {"phase": "Running", "containerStatuses": [{"restartCount": restarts}]},
        }

    pods = [
        pod("llama-worker-0", "llama", "hyperpod-i-a", 1),
        pod("llama-worker-1", "llama", ""),
        pod("elsewhere-worker-0", "elsewhere", "hyperpod-i-other-cluster"),
    ]
    record = {
        "metadata": {"namespace": "kubeflow"},
        "data": {
            "job": "PyTorchJob/llama",
            "checkpoint-step": "40",
            "starts": "3",
            "completed": "false",
            "run": json.dumps({"startedAt": 1.0, "step": 57, "restart": 2}),
        },
    }
    (row,) = job_rows(
        [("PyTorchJob", job), ("PyTorchJob", other)], pods, [record], {"hyperpod-i-a"}
    )
    assert (row.name, row.state, row.auto_resume, row.restarts) == (
        "llama",
        "Running",
        True,
        "2 of 5",
    )
    assert row.progress == "at step 57, last checkpoint at step 40, 3 run(s) started"
    assert [(p.name, p.on_cluster, p.restarts) for p in row.pods] == [
        ("llama-worker-0", True, 1),
        ("llama-worker-1", False, 0),
    ]


def test_hpto_jobs_count_restarts_from_their_status() -> None:
    job = {"metadata": {"name": "hp", "namespace": "default"}, "status": {"restartCount": 3}}
    (row,) = job_rows([("HyperPodPyTorchJob", job)], [], [], set())
    assert (row.restarts, row.state, row.progress) == ("3", "Created", "no checkpoint record yet")


def broken(old: str, new: str) -> str:
    text, _ = packaged("dashboard.yaml")
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("{state: healthy}\n", "{state: healthy, node: gone}\n", "cells[9].node"),
        ("{state: healthy}\n", "{state: healthy, health: [Schedulable]}\n", "the last rule"),
        ("{state: leaving,", "{state: away,", "cells[2].state"),
        ('{kind: reboot, pattern: "^Rebooting instance "}', "{kind: reboot}", "pattern"),
        ('pattern: "^Rebooting instance "', 'pattern: "(unclosed"', "not a regular expression"),
        ("{kind: fault, component: podwarden-health-agent}", "{kind: fault}", "component"),
        ("  other: Other\n", "", "'other'"),
        (
            "{state: pending, instance: [Pending]}",
            "{state: pending, instance: []}",
            "list of names",
        ),
        ("{state: pending, instance: [Pending]}", "{state: pending, colour: red}", "unknown field"),
    ],
)
def test_a_broken_table_fails_naming_where(old: str, new: str, says: str) -> None:
    with pytest.raises(TableError) as info:
        parse_dashboard(broken(old, new), "dashboard.yaml")
    assert says in str(info.value)
    assert "dashboard.yaml" in str(info.value)
