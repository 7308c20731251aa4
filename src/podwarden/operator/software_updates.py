"""What the cluster reconciler does for platform-software updates (``logic.software_update``
plans them): reads what the plan needs besides nodes, drains and re-images instances, and
applies an update's steps to the cluster record."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from podwarden.control.alarm_states import firing_alarms
from podwarden.logic import cluster_actions as ca
from podwarden.logic.software_update import ACTIVE, UpdateInputs, UpdateTiming
from podwarden.model.cluster import Cluster, Instance, InstanceStatus
from podwarden.model.errors import Conflict
from podwarden.operator.providers import InstanceProvider
from podwarden.policy.hyperpod_images import load_images
from podwarden.store import orchestrators
from podwarden.store.sql import Store


class SoftwareUpdates:
    def __init__(self, store: Store, timing: UpdateTiming, clock: Callable[[], float]) -> None:
        self.store = store
        self.timing = timing
        self.clock = clock

    async def inputs(
        self, provider: InstanceProvider, cluster: Cluster, instances: list[Instance]
    ) -> UpdateInputs:
        """The workload pods left on the nodes drained for an update (only those are listed);
        the alarms in ALARM among those the active updates watch (CloudWatch alarms of the
        cluster's account and Region, ``control.alarm_states``); for a group with a
        ScheduledUpdateConfig, the newest release for the cluster's Kubernetes minor."""
        draining = [i.node_name for i in instances if i.status == InstanceStatus.SYSTEM_UPDATING]
        counts = await asyncio.gather(*(provider.workload_pods(n) for n in draining))
        latest = ""
        if any("ScheduledUpdateConfig" in g.spec for g in cluster.groups.values()):
            minor = orchestrators.kubernetes_minor(self.store.resources, cluster.spec)
            latest = load_images().default_release(minor) or ""
        watched = {
            alarm["AlarmName"]
            for g in cluster.groups.values()
            if g.software_update is not None and g.software_update.status in ACTIVE
            for alarm in g.software_update.deployment.get("AutoRollbackConfiguration") or []
        }
        firing = (
            firing_alarms(self.store, cluster.account, cluster.region, watched)
            if watched
            else frozenset()
        )
        return UpdateInputs(
            pods_left=dict(zip(draining, counts, strict=True)),
            alarms_firing=firing,
            timing=self.timing,
            latest_release=latest,
        )

    async def drain(self, provider: InstanceProvider, inst: Instance, release: str) -> None:
        """Out of service for a software update: SystemUpdating, its node quarantined and
        drained; refused evictions are asked again each pass until the drain deadline."""
        if inst.status != InstanceStatus.SYSTEM_UPDATING:
            inst.status = InstanceStatus.SYSTEM_UPDATING
            inst.message = f"Updating the platform software to release {release}: draining"
            inst.update_deadline = self.clock() + self.timing.drain_timeout
            with contextlib.suppress(Conflict):
                self.store.save_instance(inst)
        await provider.prepare_update(inst.node_name)

    async def reimage(
        self, provider: InstanceProvider, inst: Instance, release: str, image_id: str
    ) -> None:
        """Same id, node and volumes, a new image: the node is NotReady until the re-image is
        done, then boots like a rebooted one (the instance is Pending meanwhile)."""
        now = self.clock()
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        await provider.reimage(inst.node_name, release, at)
        inst.status = InstanceStatus.PENDING
        inst.message = f"Re-imaging the instance with release {release}"
        inst.image_release, inst.image_id = release, image_id
        inst.last_software_update = now
        inst.ready_at = now + self.timing.reimage
        with contextlib.suppress(Conflict):
            self.store.save_instance(inst)


def record_update(cluster: Cluster, action: ca.Action) -> bool:
    """Apply an update's step on the cluster record in memory; False if it is none."""
    match action:
        case ca.StartScheduledUpdate(group, due, update):
            cluster.groups[group].last_scheduled_update = due
            if update is not None:
                cluster.groups[group].software_update = update
        case ca.SoftwareUpdateStep(group, update, release, message):
            cluster.groups[group].software_update = update
            if release is not None:
                cluster.groups[group].image_release, cluster.groups[group].image_id = release
            if message:
                cluster.failure_message = message
        case _:
            return False
    return True
