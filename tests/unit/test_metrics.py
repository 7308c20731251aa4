"""podwarden's Prometheus metrics (src/podwarden/metrics): names, labels and values as a scrape
reads them, the scrape-time collector at 1,000 synthetic nodes, and the per-server binding."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from podwarden import metrics
from podwarden.logic import auto_resume as ar
from podwarden.logic import cluster_actions as ca
from podwarden.logic.faults import Fault, NodeHealth
from podwarden.metrics.fault_times import earliest_fault, quarantine_began
from podwarden.metrics.route import PATH, MetricsRoute
from podwarden.metrics.state import nodes_by_health
from podwarden.model.cluster import Cluster, Instance, InstanceGroup
from podwarden.model.errors import TemporaryError, TerminalError
from podwarden.model.labels import CLUSTER_NAME, FAULT_DETAILS, GROUP_NAME, HEALTH, SCHEDULABLE
from podwarden.operator.queue import WorkQueue, drive
from podwarden.training.auto_resume import JobAutoResume

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(m: metrics.Metrics) -> Samples:
    """Every sample of a scrape: ``(sample name, sorted labels) -> value``."""
    text = generate_latest(m.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, sample: str, /, **labels: str) -> float | None:
    return samples.get((sample, tuple(sorted(labels.items()))))


def fault(at: float, *, action: str = "Replace", severity: str = "fatal") -> Fault:
    return Fault(
        rule="xid-79",
        severity=severity,
        action=action,
        condition="NvidiaErrorReplace" if severity == "fatal" else None,
        reason="XidGpuFallenOffBus",
        message="NVRM: Xid 79",
        at=at,
        key=f"xid-79/0000:b9:00/{at}",
    )


def node(
    name: str, cluster: str, group: str, health: str | None, faults: Iterable[Fault] = ()
) -> dict[str, Any]:
    labels = {CLUSTER_NAME: cluster, GROUP_NAME: group}
    if health is not None:
        labels[HEALTH] = health
    details = [f.to_detail() for f in faults]
    annotations = {FAULT_DETAILS: json.dumps(details)} if details else {}
    return {"metadata": {"name": name, "labels": labels, "annotations": annotations}}


def test_api_requests_are_counted_by_service_operation_and_code() -> None:
    m = metrics.Metrics()
    m.api_request("sagemaker", "DescribeCluster", 200, 0.002)
    m.api_request("sagemaker", "DescribeCluster", 200, 0.003)
    m.api_request("sagemaker", "DescribeCluster", 400, 0.001)
    m.api_request("", "", 403, 0.0005)  # refused before its service was known
    got = scrape(m)
    total = "podwarden_api_requests_total"
    assert value(got, total, service="sagemaker", operation="DescribeCluster", code="200") == 2
    assert value(got, total, service="sagemaker", operation="DescribeCluster", code="400") == 1
    assert value(got, total, service="unknown", operation="unknown", code="403") == 1
    seconds = "podwarden_api_request_duration_seconds"
    assert value(got, f"{seconds}_count", service="sagemaker", operation="DescribeCluster") == 3
    assert value(
        got, f"{seconds}_bucket", service="sagemaker", operation="DescribeCluster", le="0.0025"
    ) == 2  # fmt: skip
    # no ``_created`` series: they would double every counter and histogram
    assert not [name for name, _ in got if name.endswith("_created")]


def test_faults_are_counted_by_type_reason_and_action() -> None:
    m = metrics.Metrics()
    m.fault(fault(1.0))
    m.fault(fault(2.0))
    m.fault(fault(3.0, action="None", severity="info"))
    got = scrape(m)
    name = "podwarden_node_faults_total"
    labels = {"reason": "XidGpuFallenOffBus"}
    assert value(got, name, fault_type="NvidiaErrorReplace", action="Replace", **labels) == 2
    assert value(got, name, fault_type="Event", action="None", **labels) == 1


def health(status: str, *faults: Fault) -> NodeHealth:
    return NodeHealth(status, {}, "", "", tuple(faults))


def test_quarantine_is_timed_from_the_first_fatal_fault_once_per_quarantine() -> None:
    m = metrics.Metrics()
    quarantined = health("UnschedulablePendingReplacement", fault(100.0), fault(101.0))
    m.verdict(SCHEDULABLE, quarantined, now=102.5)
    m.verdict("UnschedulablePendingReplacement", quarantined, now=105.0)  # already out
    m.verdict(SCHEDULABLE, health(SCHEDULABLE, fault(100.0)), now=103.0)  # not quarantined
    got = scrape(m)
    name = "podwarden_fault_to_quarantine_seconds"
    assert value(got, f"{name}_count") == 1
    assert value(got, f"{name}_sum") == pytest.approx(2.5)


def test_quarantine_began_only_for_a_node_in_service() -> None:
    bad = health("UnschedulablePendingReboot", fault(7.0, severity="info"), fault(9.0))
    assert quarantine_began(None, bad) == 9.0  # the info fault did not quarantine it
    assert quarantine_began("", bad) == 9.0
    assert quarantine_began("Unschedulable", bad) is None  # under deep health checks
    assert quarantine_began(SCHEDULABLE, health(SCHEDULABLE, fault(9.0))) is None


def instance(instance_id: str) -> Instance:
    return Instance(
        instance_id=instance_id,
        cluster_id="c1",
        group="gpu",
        logical_id=f"lid-{instance_id}",
        instance_type="ml.g5.xlarge",
        status="Running",
        launch_time=0.0,
        ready_at=0.0,
    )


def cluster(paused: str = "") -> Cluster:
    group = InstanceGroup(spec={"InstanceGroupName": "gpu"}, remediation_paused=paused)
    return Cluster(
        cluster_id="c1",
        name="train",
        arn="arn:aws:sagemaker:us-west-2:000000000000:cluster/c1",
        region="us-west-2",
        account="000000000000",
        status="InService",
        created=0.0,
        spec={},
        groups={"gpu": group},
    )


def test_repairs_are_timed_from_the_nodes_first_fatal_fault() -> None:
    faulted, clean = instance("i-0aaa"), instance("i-0bbb")
    nodes = [
        node(faulted.node_name, "train", "gpu", "UnschedulablePendingReplacement", [fault(50.0)]),
        node(clean.node_name, "train", "gpu", SCHEDULABLE),
    ]
    m = metrics.Metrics(lambda: nodes)
    by_id = {i.instance_id: i for i in (faulted, clean)}
    m.applied(cluster(), by_id, ca.Replace(faulted.instance_id, automatic=True), now=62.0)
    m.applied(cluster(), by_id, ca.Reboot(clean.instance_id), now=62.0)  # no fault: not timed
    m.applied(cluster(), by_id, ca.Reboot(faulted.instance_id), now=70.0)  # manual, via the API
    got = scrape(m)
    name = "podwarden_fault_to_repair_seconds"
    assert value(got, f"{name}_sum", action="Replace", trigger="automatic") == 12.0
    assert value(got, f"{name}_count", action="Reboot", trigger="manual") == 1
    assert value(got, f"{name}_sum", action="Reboot", trigger="manual") == 20.0


def test_a_pause_of_automatic_recovery_is_counted_when_it_begins() -> None:
    m = metrics.Metrics()
    pause = ca.PauseRemediation("gpu", "more than 20% of the group's nodes are unhealthy")
    m.applied(cluster(), {}, pause, now=1.0)
    m.applied(cluster(paused="already"), {}, pause, now=2.0)  # a paused group's new reason
    m.applied(cluster(paused="already"), {}, ca.PauseRemediation("gpu", ""), now=3.0)  # resumed
    got = scrape(m)
    assert (
        value(got, "podwarden_remediation_pauses_total", cluster="train", instance_group="gpu") == 1
    )


def test_paused_groups_are_read_from_the_clusters_at_scrape_time() -> None:
    clusters = [cluster(paused="too many repairs")]
    got = scrape(metrics.Metrics(clusters=lambda: clusters))
    assert value(got, "podwarden_remediation_paused", cluster="train", instance_group="gpu") == 1
    clusters[:] = [cluster()]
    got = scrape(metrics.Metrics(clusters=lambda: clusters))
    assert value(got, "podwarden_remediation_paused", cluster="train", instance_group="gpu") == 0


def test_job_restarts_use_hyperpods_training_metric_name() -> None:
    m = metrics.Metrics()
    m.job_restarted("kubeflow", "llama", 1)
    m.job_restarted("kubeflow", "llama", 2)
    got = scrape(m)
    assert value(got, "training_auto_recovery_count", namespace="kubeflow", job_name="llama") == 2


def synthetic_nodes(count: int) -> list[dict[str, Any]]:
    """``count`` nodes as the node watch holds them (full Node objects), over 4 clusters of 2
    groups (125 nodes each), 5 of each quarantined."""
    out = []
    for i in range(count):
        health = "UnschedulablePendingReplacement" if (i // 8) % 25 == 0 else SCHEDULABLE
        n = node(f"hyperpod-i-{i:017x}", f"cluster-{i % 4}", f"group-{i // 4 % 2}", health)
        n["metadata"]["labels"].update(
            {"node.kubernetes.io/instance-type": "ml.p5.48xlarge", "kubernetes.io/os": "linux"}
        )
        n["status"] = {
            "conditions": [{"type": "Ready", "status": "True"}],
            "capacity": {"cpu": "192", "memory": "2048Gi", "nvidia.com/gpu": "8"},
        }
        out.append(n)
    return out


def test_nodes_by_cluster_group_and_health_at_1000_nodes() -> None:
    nodes = synthetic_nodes(1000)
    m = metrics.Metrics(lambda: nodes)
    m.api_request("sagemaker", "DescribeCluster", 200, 0.001)
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        body = generate_latest(m.registry)
        times.append(time.perf_counter() - t0)
    times.sort()
    print(
        f"\nscrape of 1,000 nodes: median {times[10] * 1000:.2f} ms, "
        f"max {times[-1] * 1000:.2f} ms, {len(body)} bytes"
    )
    got = scrape(m)
    name = "podwarden_cluster_nodes"
    counted = {
        labels: v for (sample, labels), v in got.items() if sample == name
    }  # fmt: skip
    assert sum(counted.values()) == 1000
    assert len(counted) == 4 * 2 * 2  # every cluster and group: Schedulable and quarantined
    assert value(
        got, name, cluster="cluster-0", instance_group="group-0", health_status=SCHEDULABLE
    ) == 120  # fmt: skip
    quarantined = "UnschedulablePendingReplacement"
    assert value(
        got, name, cluster="cluster-0", instance_group="group-0", health_status=quarantined
    ) == 5  # fmt: skip


def test_a_node_without_a_health_label_counts_as_unknown() -> None:
    counts = nodes_by_health([node("n1", "c", "g", None), node("n2", "c", "g", "")])
    assert counts == {("c", "g", "Unknown"): 2}


def test_earliest_fault_reads_the_agents_annotation() -> None:
    assert earliest_fault(node("n", "c", "g", "x", [fault(9.0), fault(4.0)])) == 4.0
    assert earliest_fault(node("n", "c", "g", "x")) is None
    broken = node("n", "c", "g", "x")
    broken["metadata"]["annotations"][FAULT_DETAILS] = "not json"
    assert earliest_fault(broken) is None


class Passes:
    """A reconciler whose keys answer as scripted: None, a requeue, or an error."""

    def __init__(self, answers: Mapping[str, Any]) -> None:
        self.answers = dict(answers)
        self.done = asyncio.Event()
        self.seen: set[str] = set()

    async def reconcile(self, key: str) -> float | None:
        self.seen.add(key)
        if self.seen == set(self.answers):
            self.done.set()
        answer = self.answers[key]
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[no-any-return]

    def all_keys(self) -> list[str]:
        return []

    def failed(self, key: str, error: TerminalError) -> None:
        pass


def test_drive_counts_passes_by_result_and_reports_its_queue_depth() -> None:
    m = metrics.Metrics()
    answers = {
        "ok": None,
        "again": 3600.0,
        "busy": TemporaryError("busy", delay=3600.0),
        "stuck": TerminalError("stuck"),
        "bug": RuntimeError("bug"),
    }
    reconciler = Passes(answers)

    async def run() -> None:
        queue: WorkQueue[str] = WorkQueue()
        for key in answers:
            queue.add(key)
        with metrics.bound(m):
            task = asyncio.create_task(drive(reconciler, queue, name="test", resync=3600))
        async with asyncio.timeout(10):
            await reconciler.done.wait()
            while len(queue) < 3:  # noqa: ASYNC110 - "again", "busy" and "bug" come back
                await asyncio.sleep(0.01)
        got = scrape(m)
        task.cancel()
        for result in ("success", "requeue_after", "temporary_error", "terminal_error", "error"):
            assert value(got, "podwarden_reconcile_total", controller="test", result=result) == 1
        assert value(got, "podwarden_reconcile_duration_seconds_count", controller="test") == 5
        assert value(got, "podwarden_workqueue_depth", name="test") == 3

    asyncio.run(run())


def test_each_context_records_into_its_own_servers_metrics() -> None:
    first, second = metrics.Metrics(), metrics.Metrics()

    async def server(m: metrics.Metrics, job: str) -> None:
        metrics.bind(m)  # as a server's start-up does
        await asyncio.sleep(0)
        await asyncio.create_task(record(job))  # a task it starts inherits the binding

    async def record(job: str) -> None:
        metrics.current().job_restarted("ns", job, 1)

    async def both() -> None:
        await asyncio.gather(server(first, "a"), server(second, "b"))

    asyncio.run(both())
    name = "training_auto_recovery_count"
    assert value(scrape(first), name, namespace="ns", job_name="a") == 1
    assert value(scrape(first), name, namespace="ns", job_name="b") is None
    assert value(scrape(second), name, namespace="ns", job_name="b") == 1
    assert metrics.current() is not first and metrics.current() is not second


class FakeJobs:
    """The calls ``JobAutoResume.apply`` makes, answered without Kubernetes."""

    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []

    async def patch_job(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        self.patches.append(patch)

    async def delete_pod(self, namespace: str, name: str, uid: str) -> None:
        pass

    async def event(self, namespace: str, event: dict[str, Any]) -> None:
        pass


def test_job_auto_resume_records_a_restart_once() -> None:
    service = JobAutoResume(api=None)
    fake = FakeJobs()
    service.kube = fake  # type: ignore[assignment]
    job = ar.JobRef("kubeflow", "llama", "uid-1", "7")
    restart = ar.RestartJob(job, "a node failed", 2, 3, (), (), ())
    m = metrics.Metrics()
    with metrics.bound(m):
        asyncio.run(service.apply(restart))
        asyncio.run(service.apply(dataclasses.replace(restart, attempt=3, resumed=True)))
    assert len(fake.patches) == 1  # the resumed restart was counted already
    got = scrape(m)
    assert value(got, "training_auto_recovery_count", namespace="kubeflow", job_name="llama") == 2


def test_the_route_answers_loopback_clients_only() -> None:
    route = MetricsRoute(metrics.Metrics())
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    def call(client: tuple[str, int], method: str = "GET") -> int:
        sent.clear()
        scope = {"type": "http", "method": method, "path": PATH, "headers": [], "client": client}
        asyncio.run(route(scope, receive, send))
        return int(sent[0]["status"])

    assert call(("127.0.0.1", 5000)) == 200
    assert call(("::1", 5000)) == 200
    assert call(("10.1.2.3", 5000)) == 403
    assert call(("127.0.0.1", 5000), method="HEAD") == 200 and sent[1]["body"] == b""
