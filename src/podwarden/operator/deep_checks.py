"""Deep health checks on the cluster reconciler's side: the check-runner interface, the
simulated runner, and the two steps the reconciler takes for an instance (start its run, end
it with each check's result).

A :class:`CheckRunner` runs the checks of a :class:`CheckRun` on a node, with the nodes checked
together for the multi-node ones, and gives each check's result when the run ends. The
:class:`SimulatedCheckRunner` does it from ``policy/tables/deep_checks.yaml``: a check takes its
share of the reconciler's ``deep_check_duration``, and a fault on a node (its health label asks
for a recovery: the health agent's verdict, e.g. ``podwarden fault inject --dhc-fail``) fails
it. The GPU programs (DCGM diagnostics, NCCL tests, a multi-node training run) will implement
the same interface. The decisions are ``logic.deep_checks``'s; what is here is the I/O: the
store's records, the provider's nodes, the events.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from podwarden.logic import deep_checks as dc
from podwarden.logic.deep_checks import CheckResult
from podwarden.model.cluster import Cluster, ClusterEvent, DeepCheck, Instance, InstanceStatus
from podwarden.model.errors import Conflict
from podwarden.model.labels import AGENT_TAINT_KEYS, HEALTH, SCHEDULABLE
from podwarden.policy.deep_checks import DeepCheckTable, load_deep_checks
from podwarden.store.sql import Store

log = logging.getLogger("podwarden.operator")


class CheckNodes(Protocol):
    """What deep checks need of the provider of a cluster's nodes (``InstanceProvider`` has
    it all): the nodes, a patch, and the labels and taint of a node under checks (R18)."""

    async def nodes_of(self, cluster_id: str) -> list[dict[str, Any]]: ...

    async def update(self, name: str, patch: dict[str, Any]) -> None: ...

    async def deep_check_started(self, name: str) -> None: ...

    async def deep_check_finished(self, name: str, passed: bool) -> None: ...


@dataclass(frozen=True)
class CheckRun:
    """One instance's run of deep health checks: which, on which node, with which instances
    for the multi-node checks (this one included), since when and until when (the end of the
    nodes checked together), and results known before the end (a failure another node of the
    run shared)."""

    cluster_id: str
    instance_id: str
    node_name: str
    instance_type: str
    checks: tuple[str, ...]
    peers: tuple[str, ...]
    started: float
    until: float
    recorded: tuple[CheckResult, ...] = ()


def run_of(inst: Instance) -> CheckRun:
    return CheckRun(
        cluster_id=inst.cluster_id,
        instance_id=inst.instance_id,
        node_name=inst.node_name,
        instance_type=inst.instance_type,
        checks=tuple(inst.deep_checks),
        peers=tuple(inst.deep_check_peers),
        started=inst.deep_check_started,
        until=inst.deep_check_until,
        recorded=tuple(CheckResult.from_doc(d) for d in inst.deep_check_results),
    )


class CheckRunner(Protocol):
    """Runs deep health checks on HyperPod nodes (:class:`SimulatedCheckRunner`; the GPU
    programs later)."""

    def seconds(self, checks: Sequence[str]) -> float:
        """How long one node's run of ``checks`` is expected to take."""

    async def start(self, provider: CheckNodes, run: CheckRun) -> None:
        """Start the run's checks on its node (the multi-node ones with its peers). A
        restarted reconciler may start a run again: a second start must be harmless."""

    async def results(self, provider: CheckNodes, run: CheckRun, now: float) -> list[CheckResult]:
        """Each check's result when the run ends at ``now`` (its time is up, or a fault on
        its node or on a node checked together ended it)."""


class SimulatedCheckRunner:
    """Checks that take their share of ``base`` seconds (the reconciler's deep_check_duration,
    scaled) and fail where a node reports a fault."""

    def __init__(self, store: Store, base: float, table: DeepCheckTable | None = None) -> None:
        self.store = store
        self.base = base
        self.table = table or load_deep_checks()

    def seconds(self, checks: Sequence[str]) -> float:
        return dc.run_seconds(self.table, checks, self.base)

    async def start(self, provider: CheckNodes, run: CheckRun) -> None:
        return None  # nothing runs: the results are read off the nodes at the end

    async def results(self, provider: CheckNodes, run: CheckRun, now: float) -> list[CheckResult]:
        labels = {
            n["metadata"]["name"]: n["metadata"].get("labels") or {}
            for n in await provider.nodes_of(run.cluster_id)
        }
        peers = [p for p in run.peers if p != run.instance_id]
        found = self.store.list_instances(run.cluster_id) if peers else []
        records = {i.instance_id: i for i in found}
        view = dc.RunView(
            checks=run.checks,
            node=run.node_name,
            started=run.started,
            until=run.until,
            base=self.base,
            batch=max(1, len(run.peers)),
            fault=dc.node_fault(labels.get(run.node_name, {})),
            peer_faults=dc.peer_faults(run.instance_id, peers, records, labels),
            recorded=run.recorded,
        )
        return dc.verdict(view, now, self.table)


class DeepCheckSteps:
    """The reconciler's two steps of an instance's deep health checks, with ``runner``."""

    def __init__(self, store: Store, runner: CheckRunner) -> None:
        self.store = store
        self.runner = runner
        self.table = load_deep_checks()

    async def start(
        self, provider: CheckNodes, cluster: Cluster, inst: Instance, now: float
    ) -> None:
        """Start an instance's run: the checks a request gave it, else its group's
        OnStartDeepHealthChecks (checked together with the group's instances starting theirs).
        The instance is DeepHealthCheckInProgress and its node Unschedulable and tainted
        (R18). The nodes checked together end together: a later start moves the others' end
        to its own."""
        on_start = not inst.deep_checks
        spec_checks = cluster.groups[inst.group].spec.get("OnStartDeepHealthChecks") or []
        checks = list(self.table.ordered(spec_checks if on_start else inst.deep_checks))
        inst.deep_checks = checks
        if on_start:
            multi = dc.together(self.table, checks)
            members = self.store.list_instances(inst.cluster_id) if multi else []
            inst.deep_check_peers = dc.on_start_peers(inst, members) if multi else []
        until = now + self.runner.seconds(checks)
        await self.runner.start(provider, _planned(inst, now, until))
        await provider.deep_check_started(inst.node_name)
        now_there = self.store.list_instances(inst.cluster_id) if inst.deep_check_peers else []
        others = dc.running_with(inst, now_there)
        until = max([until, *(p.deep_check_until for p in others)])
        inst.status = InstanceStatus.DEEP_HEALTH_CHECK_IN_PROGRESS
        inst.deep_check = DeepCheck.IN_PROGRESS
        inst.deep_check_started, inst.deep_check_until = now, until
        inst.deep_check_results = []
        inst.message = dc.in_progress_message(checks, inst.deep_check_peers, self.table)
        _save(self.store, inst)
        for peer in others:
            if peer.deep_check_until < until - dc.ALIGN_SLACK:
                peer.deep_check_until = until
                _save(self.store, peer)

    async def finish(self, provider: CheckNodes, inst: Instance, planned: bool, now: float) -> None:
        """End an instance's run with each check's result from the runner. Passed: the node
        is Schedulable and untainted. Failed on this node: the fault's labels stay and ask for
        its recovery, and a multi-node check it failed fails for every node still checked
        with it. Failed on another node only: the node is marked Failed and released from
        quarantine, as it reported no fault (docs/sources.md, "Deep health check types").
        ``planned``: the planner saw no fault and no recorded failure; a run it ends as failed
        stays failed."""
        results = await self.runner.results(provider, run_of(inst), now)
        ok = planned and dc.passed(results)
        if ok != planned:
            log.info("instance %s: %s", inst.instance_id, dc.summary(results))
        await provider.deep_check_finished(inst.node_name, ok)
        if not dc.passed(results) and not dc.blamed(results, inst.node_name):
            await _release(provider, inst)
        inst.status = InstanceStatus.RUNNING
        inst.deep_check = DeepCheck.PASSED if ok else DeepCheck.FAILED
        inst.deep_check_results = [r.to_doc() for r in results]
        inst.message = dc.summary(results)
        _save(self.store, inst)
        self.store.add_events([_event(inst, now, ok)])
        shared = dc.shared_failure(results, inst.node_name, self.table)
        if shared is not None:
            for peer in dc.running_with(inst, self.store.list_instances(inst.cluster_id)):
                peer.deep_check_results = [shared.to_doc()]
                peer.deep_check_until = now  # ends at the next pass, failed with this one
                _save(self.store, peer)


def _planned(inst: Instance, now: float, until: float) -> CheckRun:
    return dataclasses.replace(run_of(inst), started=now, until=until, recorded=())


async def _release(provider: CheckNodes, inst: Instance) -> None:
    """Take a node out of quarantine: Schedulable, without the health taint."""
    node: dict[str, Any] | None = next(
        (
            n
            for n in await provider.nodes_of(inst.cluster_id)
            if n["metadata"]["name"] == inst.node_name
        ),
        None,
    )
    if node is None:
        return  # gone: nothing to release
    taints = [
        t for t in node.get("spec", {}).get("taints") or [] if t["key"] not in AGENT_TAINT_KEYS
    ]
    patch = {"metadata": {"labels": {HEALTH: SCHEDULABLE}}, "spec": {"taints": taints}}
    await provider.update(inst.node_name, patch)


def _event(inst: Instance, now: float, ok: bool) -> ClusterEvent:
    """The event naming which checks ran on the instance and which failed."""
    return ClusterEvent(
        str(uuid.uuid4()),
        inst.cluster_id,
        now,
        "Instance",
        "Info" if ok else "Error",
        f"Instance {inst.instance_id}: {inst.message}",
        inst.group,
        inst.instance_id,
    )


def _save(store: Store, inst: Instance) -> None:
    with contextlib.suppress(Conflict):  # another writer won: the next pass plans again
        store.save_instance(inst)
