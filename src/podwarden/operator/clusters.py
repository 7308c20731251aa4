"""The cluster reconciler: level-triggered, one HyperPod cluster (by id) at a time.

A pass over a cluster re-reads desired state (store) and observed state (nodes), plans with
``logic.cluster_plan`` and applies the actions: the records here, the Kubernetes calls through
``operator.node_calls``; the plan says when it wants the next pass. Passes are driven by
``operator.queue``: a handler's wake-up, a change to one of the cluster's nodes, the plan's own
requeue, and a slow resync. It keeps nothing between passes, so a restart
converges from whatever a crash left: an instance record is written before its node is created
and a node is deleted before its record, so no node is ever unaccounted for.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from podwarden import metrics
from podwarden.control.instance_network import instance_addresses
from podwarden.logic import cluster_actions as ca
from podwarden.logic import cluster_plan as cp
from podwarden.logic.capacity import CapacityPool, Provisioning
from podwarden.logic.operations import IN_PROGRESS, finished
from podwarden.logic.software_update import UpdateTiming
from podwarden.model.cluster import (
    Cluster,
    ClusterStatus,
    GroupStatus,
    Instance,
    InstanceGroup,
    InstanceStatus,
    Recovery,
)
from podwarden.model.errors import Conflict, TerminalError
from podwarden.operator.deep_checks import CheckRunner, SimulatedCheckRunner
from podwarden.operator.events import cluster_event, failure_event
from podwarden.operator.instances import MESSAGES, new_instance, observe, on_create_script
from podwarden.operator.node_calls import CapacityFn, NodeCall, NodeCalls
from podwarden.operator.providers import InstanceProvider, Providers
from podwarden.operator.queue import WorkQueue, drive
from podwarden.operator.software_updates import SoftwareUpdates, record_update
from podwarden.policy.capacity import SimulatedCapacity
from podwarden.policy.remediation import RemediationLimits, load_limits
from podwarden.store.sql import Store
from podwarden.store.usage import instances_by_type

log = logging.getLogger("podwarden.operator")

# pause after a pass that acted, so a step that cannot progress yet does not spin
AFTER_ACTIONS = 0.05


@dataclass(frozen=True)
class ReconcilerSettings:
    launch_delay: float = 3.0  # seconds from launch until the node joins
    reboot_delay: float = 5.0  # seconds a reboot keeps the node NotReady
    # simulated InstanceStress run (about 2 h on HyperPod); the other deep-check types take
    # their share of it (policy/tables/deep_checks.yaml)
    deep_check_duration: float = 10.0
    time_scale: float = 1.0  # multiplies simulated durations (1.0 = as configured)
    # seconds between passes over every cluster: a safety net for a lost wake-up (node watches,
    # API writes and each plan's requeue drive the passes)
    resync: float = 30.0
    concurrency: int = 32  # parallel Kubernetes calls per pass
    workers: int = 4  # clusters reconciled at once
    # a node's software update (``logic.software_update``): re-image time, healthy time after
    # it that passes the batch's health check, how long refused evictions may hold a drain
    reimage_delay: float = 5.0
    update_settle: float = 2.0
    drain_timeout: float = 600.0

    def update_timing(self) -> UpdateTiming:
        scale = self.time_scale
        return UpdateTiming(
            reimage=self.reimage_delay * scale,
            settle=self.update_settle * scale,
            drain_timeout=self.drain_timeout * scale,
            boot_timeout=max(120.0, 10 * self.reimage_delay) * scale,
        )


class ClusterReconciler:
    def __init__(
        self,
        store: Store,
        providers: Providers,
        capacity: CapacityFn,
        settings: ReconcilerSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        is_cpu_only: Callable[[str], bool] = lambda _: False,
        limits: RemediationLimits | None = None,
        ec2_capacity: SimulatedCapacity | None = None,
        check_runner: CheckRunner | None = None,
    ) -> None:
        self.store = store
        # the simulated EC2 capacity launches take from (shared with the admin endpoint, which
        # changes it at run time); None: unlimited
        self.ec2_capacity = ec2_capacity
        self.providers = providers
        self.capacity = capacity
        self.is_cpu_only = is_cpu_only
        self.settings = settings or ReconcilerSettings()
        # the repair window is a simulated duration like the others: a goodput run at 1/5000
        # of real time keeps HyperPod's "10 repairs in 10 minutes" meaning 10 simulated minutes
        base = limits if limits is not None else load_limits()
        window = base.repair_window_seconds * self.settings.time_scale
        self.limits = dataclasses.replace(base, repair_window_seconds=window)
        self.clock = clock
        self.queue: WorkQueue[str] = WorkQueue()
        # who runs deep health checks: the GPU programs implement the same CheckRunner
        stress = self.settings.deep_check_duration * self.settings.time_scale
        self.check_runner = check_runner or SimulatedCheckRunner(store, stress)
        self.updates = SoftwareUpdates(store, self.settings.update_timing(), clock)
        self.node_calls = NodeCalls(
            store,
            capacity,
            self.settings,
            updates=self.updates,
            check_runner=self.check_runner,
            clock=clock,
        )
        self._sem = asyncio.Semaphore(self.settings.concurrency)

    def wake(self, cluster_id: str | None = None) -> None:
        """Desired or observed state of a cluster changed (a handler wrote it, one of its nodes
        changed): reconcile it now. None: every cluster."""
        if cluster_id is None:
            for key in self.all_keys():
                self.queue.add(key)
        else:
            self.queue.add(cluster_id)

    def all_keys(self) -> list[str]:
        return [c.cluster_id for c in self.store.list_clusters()]

    def failed(self, key: str, error: TerminalError) -> None:
        self._fail(key, error.message)

    async def run(self) -> None:
        """Reconcile clusters as they are woken, each again when its plan asks, every cluster
        each ``resync`` seconds, until cancelled (``operator.queue``)."""
        await drive(
            self,
            self.queue,
            workers=self.settings.workers,
            resync=self.settings.resync,
            name="cluster",
        )

    async def reconcile(self, cluster_id: str) -> float | None:
        """One pass over one cluster; returns seconds until it wants another pass."""
        cluster = self.store.cluster_by_id(cluster_id)
        if cluster is None:
            return None
        provider = await self.providers.provider_for(cluster)
        instances = self.store.list_instances(cluster_id)
        nodes = {n.name: n for n in map(observe, await provider.nodes_of(cluster_id))}
        self.store.put_operations(
            finished(self.store.list_operations(cluster_id, IN_PROGRESS), cluster, instances)
        )
        plan = cp.plan_cluster(
            cluster,
            instances,
            nodes,
            self.clock(),
            is_cpu_only=self.is_cpu_only,
            limits=self.limits,
            updates=await self.updates.inputs(provider, cluster, instances),
            provisioning=self._provisioning(),
        )
        if not plan.actions:
            return plan.requeue_after
        await self._apply(provider, cluster, instances, plan.actions)
        return AFTER_ACTIONS

    def _provisioning(self) -> Provisioning:
        """The capacity this pass launches within. The pool reads what every cluster holds
        while planning, and the launches are recorded before the pass awaits anything: two
        clusters' passes cannot both take the last instance."""
        sim = self.ec2_capacity
        if sim is None:
            return Provisioning(time_scale=self.settings.time_scale)
        pool = CapacityPool(sim.available, lambda: instances_by_type(self.store))
        return Provisioning(pool, sim.retry, self.settings.time_scale)

    async def _apply(
        self,
        provider: InstanceProvider,
        cluster: Cluster,
        instances: list[Instance],
        actions: list[ca.Action],
    ) -> None:
        by_id = {i.instance_id: i for i in instances}
        now = self.clock()
        self.store.add_events(
            [e for a in actions if (e := cluster_event(cluster, by_id, a, now)) is not None]
        )
        kube_calls: list[NodeCall] = []
        cluster_dirty = False
        statuses: list[Instance] = []  # the instance statuses this pass sets, written together
        try:
            for action in actions:
                metrics.current().applied(cluster, by_id, action, now)  # repairs, pauses
                if isinstance(action, ca.RemoveCluster):
                    self.store.delete_cluster(cluster.cluster_id)
                    _close(kube_calls)
                    return
                if isinstance(action, ca.Reboot | ca.Replace) and action.automatic:
                    self._count_repair(cluster.groups[by_id[action.instance_id].group])
                    cluster_dirty = True
                if isinstance(action, ca.PauseRemediation):
                    kube_calls += self.node_calls.explain_pause(provider, cluster, action)
                call = self.node_calls.call(provider, cluster, by_id, action)
                if call is not None:
                    kube_calls.append(call)
                elif not self._record_change(cluster, by_id, action, statuses):
                    cluster_dirty = _cluster_change(cluster, action) or cluster_dirty
        except BaseException:
            _close(kube_calls)  # e.g. a launch that fails the cluster: planned calls never run
            raise
        finally:
            # a record another writer changed first is planned again next pass
            self.store.save_instances(statuses)
        await self._gather(kube_calls)
        if cluster_dirty:
            with contextlib.suppress(Conflict):  # a user's update won: plan again next pass
                self.store.save_cluster(cluster)

    def _record_change(
        self,
        cluster: Cluster,
        by_id: dict[str, Instance],
        action: ca.Action,
        statuses: list[Instance],
    ) -> bool:
        """Apply an action on instance records; False if it is not one. A status it sets is
        added to ``statuses``, which the caller writes in one transaction."""
        match action:
            case ca.Launch(group, count, promised):
                script = on_create_script(self.store, cluster.groups[group], self.clock())
                new = [self._new_instance(cluster, group, by_id) for _ in range(count)]
                for inst in new:
                    inst.on_create = script
                for inst, logical_id in zip(new, promised, strict=False):
                    inst.logical_id = logical_id  # BatchAddClusterNodes' answer
                self.store.add_instances(new)
            case ca.MarkRunning(instance_id):
                statuses.append(_with_status(by_id[instance_id], InstanceStatus.RUNNING))
            case ca.Terminate(instance_id):
                statuses.append(_with_status(by_id[instance_id], InstanceStatus.SHUTTING_DOWN))
            case ca.Forget(instance_id):
                self.store.delete_instance(instance_id)  # its volumes go with it
            case ca.Replace(instance_id):
                self._replace(cluster, by_id[instance_id], by_id)
            case ca.CapacityFailed(message):
                raise TerminalError(message)  # the only action of its pass (all or nothing)
            case _:
                return False
        return True

    def _count_repair(self, group: InstanceGroup) -> None:
        now = self.clock()
        window = self.limits.repair_window_seconds
        group.repairs = [t for t in group.repairs if now - t <= window] + [now]

    def _replace(self, cluster: Cluster, old: Instance, others: dict[str, Instance]) -> None:
        """New instance (new id, node and volumes; same NodeLogicalId and group configuration)
        and the old one terminating, in one transaction; the old volumes go with the old record."""
        fresh = self._new_instance(cluster, old.group, others)
        fresh.logical_id = old.logical_id
        fresh.on_create = old.on_create  # the script as read when the group was provisioned
        old.status = InstanceStatus.SHUTTING_DOWN
        old.message = "Replacing the instance"
        old.recovery = Recovery.NONE
        with contextlib.suppress(Conflict):
            self.store.replace_instance(old, fresh)

    async def _gather(self, calls: list[NodeCall]) -> None:
        async def bounded(call: NodeCall) -> None:
            async with self._sem:
                await call

        results = await asyncio.gather(*(bounded(c) for c in calls), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    def _fail(self, cluster_id: str, message: str) -> None:
        """Record a failure retrying cannot fix: the cluster (and its unfinished groups) are
        Failed with the reason in FailureMessage, until the user updates or deletes it."""
        cluster = self.store.cluster_by_id(cluster_id)
        if cluster is None or cluster.status == ClusterStatus.DELETING:
            return
        cluster.status = ClusterStatus.FAILED
        cluster.failure_message = message
        self.store.add_events([failure_event(cluster, self.clock(), message)])
        for group in cluster.groups.values():
            if group.status in (GroupStatus.CREATING, GroupStatus.UPDATING):
                group.status = GroupStatus.FAILED
        with contextlib.suppress(Conflict):
            self.store.save_cluster(cluster)

    def _new_instance(self, cluster: Cluster, group: str, others: dict[str, Instance]) -> Instance:
        """A new instance of ``group``, placed in its subnets (R14) clear of the addresses of
        ``others``, the cluster's instances."""
        delay = self.settings.launch_delay * self.settings.time_scale
        spec = cluster.groups[group]
        taken = {i.private_ipv6 for i in others.values() if i.private_ipv6}
        addresses = instance_addresses(self.store, cluster, spec, taken)
        return new_instance(cluster, spec, self.clock(), delay, addresses)


def _with_status(inst: Instance, status: InstanceStatus) -> Instance:
    inst.status = status
    inst.message = MESSAGES[status]
    return inst


def _close(calls: list[NodeCall]) -> None:
    """Discard Kubernetes calls that will not be awaited (no "never awaited" warnings)."""
    for call in calls:
        call.close()


def _cluster_change(cluster: Cluster, action: ca.Action) -> bool:
    """Apply an action on the cluster record in memory; True if it changed."""
    match action:
        case ca.PauseRemediation(group, reason):
            cluster.groups[group].remediation_paused = reason
        case ca.SetGroup(group, status, applied):
            cluster.groups[group].status = status
            if applied is not None:
                cluster.groups[group].applied_kubernetes_config = dict(applied)
        case ca.ReleaseLogicalIds(group, keep):
            cluster.groups[group].reserved_logical_ids = list(keep)
        case ca.CapacityRetry(group, shortfall, attempts, retry_at):
            g = cluster.groups[group]
            g.capacity_shortfall, g.capacity_attempts, g.capacity_retry_at = (
                shortfall,
                attempts,
                retry_at,
            )
        case ca.RemoveGroup(group):
            del cluster.groups[group]
        case ca.SetCluster(status):
            cluster.status = status
        case _:
            return record_update(cluster, action)
    return True
