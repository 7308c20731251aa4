"""One server's metrics: a registry of its own, the instruments the hooks record into, and the
collector of what is true at scrape time (:mod:`podwarden.metrics.state`).

Names follow Prometheus' conventions (a ``podwarden_`` prefix, ``_total`` counters, base units),
except where HyperPod's observability add-on documents a name for the same thing
(``training_auto_recovery_count``; docs/sources.md, "Metrics"). Label values are bounded: services
and operations are botocore's names of what podwarden serves, fault labels come from the fault
policy, cluster and group names from the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sized
from typing import Any, Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)

from podwarden.logic import cluster_actions as ca
from podwarden.logic.faults import Fault, NodeHealth
from podwarden.metrics.fault_times import earliest_fault, quarantine_began
from podwarden.metrics.state import ClusterSource, NodeSource, StateCollector
from podwarden.model.cluster import Cluster, Instance

# ``<name>_created`` series double every counter and histogram and say nothing a scrape needs
disable_created_metrics()  # type: ignore[no-untyped-call]

UNKNOWN: Final = "unknown"  # a request refused before its service or operation was known
# an API call takes about a millisecond; a slow one (a large S3 body) seconds
API_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
PASS_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# fault to quarantine and to repair: a fraction of a second locally, minutes on HyperPod
RECOVERY_BUCKETS: Final = (
    0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600,
)  # fmt: skip


def _nothing() -> list[Any]:
    return []


class Metrics:
    """The instruments of one server, in ``registry``. ``nodes`` and ``clusters`` are read at
    scrape time (the node watches' caches and the store): counts of what is, not bookkeeping of
    every change."""

    def __init__(
        self,
        nodes: NodeSource = _nothing,
        clusters: ClusterSource = _nothing,
    ) -> None:
        self.registry = CollectorRegistry()
        self.nodes = nodes
        self.queues: dict[str, Sized] = {}
        self._api_and_reconciler_instruments(self.registry)
        self._recovery_instruments(self.registry)
        self.registry.register(StateCollector(nodes, clusters, self.queues))
        ProcessCollector(registry=self.registry)

    def _api_and_reconciler_instruments(self, reg: CollectorRegistry) -> None:
        """What the API answers and how the reconcilers' passes end, and their durations."""
        self.api_requests = Counter(
            "podwarden_api_requests",
            "AWS API requests answered, by service, operation and HTTP status code",
            ("service", "operation", "code"),
            registry=reg,
        )
        self.api_seconds = Histogram(
            "podwarden_api_request_duration_seconds",
            "Time from a request's arrival to its answer, by service and operation",
            ("service", "operation"),
            buckets=API_BUCKETS,
            registry=reg,
        )
        self.read_cache = Counter(
            "podwarden_api_read_cache",
            "Requests for reads the API may answer from its read cache, by result: hit (a kept "
            "answer, the store unchanged since it was made) or miss (the handler ran)",
            ("result",),
            registry=reg,
        )
        self._cache_hits = self.read_cache.labels("hit")
        self._cache_misses = self.read_cache.labels("miss")
        self._api_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.reconciles = Counter(
            "podwarden_reconcile",
            "Reconcile passes by reconciler and result (success, requeue_after, "
            "temporary_error, terminal_error, error)",
            ("controller", "result"),
            registry=reg,
        )
        self.reconcile_seconds = Histogram(
            "podwarden_reconcile_duration_seconds",
            "Duration of a reconcile pass, by reconciler",
            ("controller",),
            buckets=PASS_BUCKETS,
            registry=reg,
        )

    def _recovery_instruments(self, reg: CollectorRegistry) -> None:
        """Faults, the times from a fault to quarantine and repair, pauses and job restarts."""
        self.faults = Counter(
            "podwarden_node_faults",
            "Faults the health agent recorded on HyperPod nodes, by fault type (the node "
            "condition, or Event), reason and the action the fault policy asks for",
            ("fault_type", "reason", "action"),
            registry=reg,
        )
        self.to_quarantine = Histogram(
            "podwarden_fault_to_quarantine_seconds",
            "Time from a fault to the agent's verdict that quarantines its node",
            buckets=RECOVERY_BUCKETS,
            registry=reg,
        )
        self.to_repair = Histogram(
            "podwarden_fault_to_repair_seconds",
            "Time from a node's first recorded fault to the reboot or replacement that repairs "
            "it, by action and trigger (automatic, or manual through the API)",
            ("action", "trigger"),
            buckets=RECOVERY_BUCKETS,
            registry=reg,
        )
        self.pauses = Counter(
            "podwarden_remediation_pauses",
            "Times automatic recovery of an instance group was paused by its safety limits",
            ("cluster", "instance_group"),
            registry=reg,
        )
        self.job_restarts = Gauge(
            "training_auto_recovery_count",
            "Automatic recoveries (whole-job restarts by job auto-resume) of a training job",
            ("namespace", "job_name"),
            registry=reg,
        )

    # --- the API --------------------------------------------------------------------------------

    def api_request(self, service: str, operation: str, status: int, seconds: float) -> None:
        # a request's two children, found once per (service, operation, status): a label lookup
        # costs about 2 µs, a tenth of what a cached read's whole handling does
        children = self._api_children.get((service, operation, status))
        if children is None:
            labels = (service or UNKNOWN, operation or UNKNOWN)
            children = (
                self.api_requests.labels(*labels, str(status)),
                self.api_seconds.labels(*labels),
            )
            self._api_children[(service, operation, status)] = children
        children[0].inc()
        children[1].observe(seconds)

    def read_cached(self, hit: bool) -> None:
        (self._cache_hits if hit else self._cache_misses).inc()

    # --- reconcilers ----------------------------------------------------------------------------

    def watch_queue(self, controller: str, queue: Sized) -> None:
        """Report ``len(queue)`` as the reconciler's queue depth at each scrape."""
        self.queues[controller] = queue

    def reconciled(self, controller: str, result: str, seconds: float) -> None:
        self.reconciles.labels(controller, result).inc()
        self.reconcile_seconds.labels(controller).observe(seconds)

    def applied(
        self, cluster: Cluster, by_id: Mapping[str, Instance], action: ca.Action, now: float
    ) -> None:
        """The cluster reconciler is about to apply ``action`` (before the pass changes the
        records): a repair of a faulted node, or a pause of a group's automatic recovery."""
        match action:
            case ca.Reboot(instance_id, automatic) | ca.Replace(instance_id, automatic):
                inst = by_id.get(instance_id)
                if inst is not None:
                    kind = type(action).__name__
                    self._repaired(inst.node_name, kind, automatic, now)
            case ca.PauseRemediation(group, reason) if reason:
                before = cluster.groups.get(group)
                if before is not None and not before.remediation_paused:
                    self.pauses.labels(cluster.name, group).inc()

    def _repaired(self, node_name: str, kind: str, automatic: bool, now: float) -> None:
        node = next((n for n in self.nodes() if n["metadata"]["name"] == node_name), None)
        first = earliest_fault(node) if node is not None else None
        if first is not None:  # a repair of a node without faults (an API call) is not timed
            trigger = "automatic" if automatic else "manual"
            self.to_repair.labels(kind, trigger).observe(max(0.0, now - first))

    # --- the health agent -----------------------------------------------------------------------

    def fault(self, fault: Fault) -> None:
        self.faults.labels(fault.condition or "Event", fault.reason, fault.action).inc()

    def verdict(self, previous_status: str | None, health: NodeHealth, now: float) -> None:
        """The agent wrote ``health`` on a node whose health label was ``previous_status``."""
        began = quarantine_began(previous_status, health)
        if began is not None:
            self.to_quarantine.observe(max(0.0, now - began))

    # --- training -------------------------------------------------------------------------------

    def job_restarted(self, namespace: str, job: str, restarts: int) -> None:
        """A job's auto-resume counted its ``restarts``-th restart (the count on the job)."""
        self.job_restarts.labels(namespace, job).set(restarts)
