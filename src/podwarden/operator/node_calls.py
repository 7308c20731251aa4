"""The Kubernetes calls a cluster pass's actions need (``operator.clusters``): launch, update,
delete, reboot and re-image a node, run its deep health checks, and explain a remediation pause.

Each call is a coroutine the reconciler gathers after it has written the pass's records; a call
also updates the records of its own step (a reboot's Pending instance, a deep check's progress).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from podwarden.logic import cluster_actions as ca
from podwarden.logic.node_spec import desired_node
from podwarden.model.cluster import Cluster, Instance, InstanceStatus, Recovery
from podwarden.model.errors import Conflict
from podwarden.operator.deep_checks import CheckRunner, DeepCheckSteps
from podwarden.operator.instances import config_patch
from podwarden.operator.providers import InstanceProvider
from podwarden.operator.software_updates import SoftwareUpdates
from podwarden.store.sql import Store

if TYPE_CHECKING:
    from podwarden.operator.clusters import ReconcilerSettings

log = logging.getLogger("podwarden.operator")

# (instance type, extra EBS GiB) -> Kubernetes capacity
CapacityFn = Callable[[str, int], dict[str, str]]
NodeCall = Coroutine[Any, Any, None]


class NodeCalls:
    """The node steps of a cluster reconciler: its store, capacity function, settings (delays,
    time scale), software updates and deep-check runner, on its clock."""

    def __init__(
        self,
        store: Store,
        capacity: CapacityFn,
        settings: ReconcilerSettings,
        *,
        updates: SoftwareUpdates,
        check_runner: CheckRunner,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.capacity = capacity
        self.settings = settings
        self.updates = updates
        self.check_runner = check_runner
        self.clock = clock

    def call(
        self,
        provider: InstanceProvider,
        cluster: Cluster,
        by_id: dict[str, Instance],
        action: ca.Action,
    ) -> NodeCall | None:
        """The Kubernetes call an action needs, if it is one."""
        call: NodeCall | None = None
        match action:
            case ca.CreateNode(instance_id):
                inst = by_id[instance_id]
                extra = sum(v.size_gib for v in inst.volumes if not v.root)
                capacity = self.capacity(inst.instance_type, extra)
                group = cluster.groups[inst.group]
                call = provider.launch(desired_node(cluster, group, inst, capacity))
            case ca.SyncNode(instance_id, keep):
                inst = by_id[instance_id]
                patch = config_patch(cluster, cluster.groups[inst.group], inst, keep)
                call = provider.update(inst.node_name, patch)
            case ca.DeleteNode(name):
                call = provider.terminate(name)
            case ca.Reboot(instance_id):
                call = self._reboot(provider, by_id[instance_id])
            case ca.StartDeepCheck(instance_id):
                call = self._start_deep_check(provider, cluster, by_id[instance_id])
            case ca.FinishDeepCheck(instance_id, passed):
                call = self._finish_deep_check(provider, by_id[instance_id], passed)
            case ca.DrainForUpdate(instance_id, release):
                call = self.updates.drain(provider, by_id[instance_id], release)
            case ca.Reimage(instance_id, release, image_id):
                call = self.updates.reimage(provider, by_id[instance_id], release, image_id)
            case ca.NodeBooted(instance_id):
                at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock()))
                call = provider.booted(by_id[instance_id].node_name, at)
        return call

    def explain_pause(
        self, provider: InstanceProvider, cluster: Cluster, action: ca.PauseRemediation
    ) -> list[NodeCall]:
        """Log the pause (or resumption) and put it in an Event on each unhealthy node."""
        reason = action.reason or f"automatic recovery of instance group {action.group} resumed"
        log.warning("cluster %s: %s", cluster.name, reason)
        kind = "RemediationPaused" if action.reason else "RemediationResumed"
        return [provider.event(node, kind, reason) for node in action.nodes]

    def _deep_checks(self) -> DeepCheckSteps:
        """The deep-check steps with the reconciler's check runner (``operator.deep_checks``;
        by default the simulated one: each check takes its share of the scaled
        deep_check_duration)."""
        return DeepCheckSteps(self.store, self.check_runner)

    async def _start_deep_check(
        self, provider: InstanceProvider, cluster: Cluster, inst: Instance
    ) -> None:
        await self._deep_checks().start(provider, cluster, inst, self.clock())

    async def _finish_deep_check(
        self, provider: InstanceProvider, inst: Instance, passed: bool
    ) -> None:
        await self._deep_checks().finish(provider, inst, passed, self.clock())

    async def _reboot(self, provider: InstanceProvider, inst: Instance) -> None:
        """Same id, node and volumes: the node goes NotReady and the instance Pending until the
        reboot delay has passed and the node is Ready again."""
        now = self.clock()
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        await provider.reboot(inst.node_name, at)
        inst.status = InstanceStatus.PENDING
        inst.message = "Rebooting the instance"
        inst.recovery = Recovery.NONE
        inst.ready_at = now + self.settings.reboot_delay * self.settings.time_scale
        with contextlib.suppress(Conflict):
            self.store.save_instance(inst)
