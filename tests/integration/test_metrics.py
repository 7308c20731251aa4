"""Metrics and ``podwarden status`` on the real control plane: an injected Xid 79 travels agent ->
quarantine -> automatic replacement, and the scrape of ``/_podwarden/metrics`` shows the fault
in the fault counters, one quarantine and one repair in the histograms, the nodes by health and
the reconcilers' passes; ``podwarden status`` shows the same cluster, nodes and events. A group
past its safety limit shows as paused (and counted once), and a manual replacement of a faulted
node is timed as one."""

from __future__ import annotations

import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from podwarden.cli.main import main
from podwarden.local.runtime import ControlPlane

from .hyperpod_helpers import all_nodes, create, group, server, sm, wait_status
from .hyperpod_server import EKS_ARN, ThreadServer
from .kube_objects import wait_for
from .test_health_agent import inject_now

__all__ = ["server", "sm"]

NAME = "pw-metrics"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(srv: ThreadServer) -> Samples:
    with urllib.request.urlopen(srv.endpoint + "/_podwarden/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, sample: str, /, **labels: str) -> float:
    return samples.get((sample, tuple(sorted(labels.items()))), 0.0)


def test_an_injected_fault_shows_in_the_metrics_and_the_status(
    server: ThreadServer,
    sm: Any,
    control_plane: ControlPlane,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    create(sm, NAME, group("gpu", "ml.g5.xlarge", 2), NodeProvisioningMode="Continuous")
    wait_status(sm, NAME)
    before = scrape(server)
    first = all_nodes(sm, NAME)[0]
    inject_now(control_plane, first["InstanceId"], xid=79)

    def replaced() -> list[dict[str, Any]] | None:
        nodes = all_nodes(sm, NAME)
        running = [n for n in nodes if n["InstanceStatus"]["Status"] == "Running"]
        gone = all(n["InstanceId"] != first["InstanceId"] for n in nodes)
        return nodes if gone and len(running) == 2 else None

    wait_for("the faulted node replaced", replaced)

    def healthy_again() -> Samples | None:
        got = scrape(server)
        schedulable = value(
            got,
            "podwarden_cluster_nodes",
            cluster=NAME,
            instance_group="gpu",
            health_status="Schedulable",
        )
        return got if schedulable == 2 else None

    after = wait_for("both nodes Schedulable in the metrics", healthy_again)

    def grew(sample: str, **labels: str) -> float:
        return value(after, sample, **labels) - value(before, sample, **labels)

    fault = {"fault_type": "NvidiaErrorReplace", "reason": "XidGpuFallenOffBus"}
    assert grew("podwarden_node_faults_total", action="Replace", **fault) == 1
    assert grew("podwarden_fault_to_quarantine_seconds_count") == 1
    repair = {"action": "Replace", "trigger": "automatic"}
    assert grew("podwarden_fault_to_repair_seconds_count", **repair) == 1
    # the repair came after the quarantine: its time is at least the quarantine's
    assert grew("podwarden_fault_to_repair_seconds_sum", **repair) >= grew(
        "podwarden_fault_to_quarantine_seconds_sum"
    )
    assert value(after, "podwarden_remediation_paused", cluster=NAME, instance_group="gpu") == 0
    assert grew("podwarden_reconcile_total", controller="cluster", result="success") > 0
    assert ("podwarden_workqueue_depth", (("name", "cluster"),)) in after
    api = {"service": "sagemaker", "operation": "ListClusterNodes", "code": "200"}
    assert grew("podwarden_api_requests_total", **api) >= 1

    monkeypatch.setenv("COLUMNS", "220")
    assert main(["status", "--endpoint", server.endpoint, "--cluster", NAME]) == 0
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if NAME in line and "ml.g5.xlarge" in line]
    assert "2/2" in row and "2 Running" in row and "2 Schedulable" in row
    assert "Recent events" in out and first["InstanceId"] in out


def test_a_safety_limit_pause_and_a_manual_repair_show_in_the_metrics(
    server: ThreadServer, sm: Any, control_plane: ControlPlane
) -> None:
    name = "pw-metrics-limit"
    # NodeRecovery None first, so both faults are on the nodes before recovery may act
    sm.create_cluster(
        ClusterName=name,
        InstanceGroups=[group("gpu", "ml.g5.xlarge", 5)],
        Orchestrator={"Eks": {"ClusterArn": EKS_ARN}},
        NodeRecovery="None",
    )
    wait_status(sm, name)
    ids = sorted(n["InstanceId"] for n in all_nodes(sm, name))
    for instance_id in ids[:2]:  # 2 of 5 unhealthy: 40 % > the 20 % limit
        inject_now(control_plane, instance_id, xid=79)
    where = {"cluster": name, "instance_group": "gpu"}
    quarantined = {**where, "health_status": "UnschedulablePendingReplacement"}

    def both_quarantined() -> Samples | None:
        got = scrape(server)
        return got if value(got, "podwarden_cluster_nodes", **quarantined) == 2 else None

    before = wait_for("both faulty nodes quarantined in the metrics", both_quarantined)
    sm.update_cluster(ClusterName=name, NodeRecovery="Automatic")

    def paused() -> Samples | None:
        got = scrape(server)
        return got if value(got, "podwarden_remediation_paused", **where) == 1 else None

    during = wait_for("the group's automatic recovery paused in the metrics", paused)
    assert value(during, "podwarden_remediation_pauses_total", **where) == 1

    sm.batch_replace_cluster_nodes(ClusterName=name, NodeIds=[ids[0]])  # not limited

    def resumed() -> Samples | None:
        got = scrape(server)
        current = {n["InstanceId"] for n in all_nodes(sm, name)}
        done = ids[0] not in current and ids[1] not in current and len(current) == 5
        return got if done and value(got, "podwarden_remediation_paused", **where) == 0 else None

    after = wait_for("manual, then automatic replacement, recovery resumed", resumed, timeout=60)

    def grew(sample: str, **labels: str) -> float:
        return value(after, sample, **labels) - value(before, sample, **labels)

    assert grew("podwarden_fault_to_repair_seconds_count", action="Replace", trigger="manual") == 1
    assert (
        grew("podwarden_fault_to_repair_seconds_count", action="Replace", trigger="automatic") == 1
    )
    assert value(after, "podwarden_remediation_pauses_total", **where) == 1  # one pause in all
