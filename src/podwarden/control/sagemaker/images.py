"""The HyperPod AMI of instance groups and nodes: which Kubernetes minor a cluster runs (its
EKS cluster's), the release and image a new group starts on, and the members DescribeCluster,
DescribeClusterNode and ListClusterNodes show of it (``Current``/``Desired``
``ImageReleaseVersion`` and ``ImageId``, ``ImageVersionStatus``, ``SoftwareUpdateStatus``,
``ActiveSoftwareUpdateConfig``, ``TargetStateCount``, ``LastSoftwareUpdateTime``).

What is desired comes from the group's software update (``InstanceGroup.software_update``)
while it runs: its target while Pending or InProgress, its origin while RollbackInProgress
(the model: "If a rollback occurs, the current image ID and desired image ID ... swap
values"); otherwise a group's desired image is its current one. The catalog
(``policy.hyperpod_images``) gives ImageVersionStatus; a release it does not know (a record
written before releases existed) shows none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from podwarden.control.context import Context
from podwarden.model.cluster import (
    Cluster,
    Instance,
    InstanceGroup,
    InstanceStatus,
    SoftwareUpdate,
    SoftwareUpdateStatus,
)
from podwarden.policy.hyperpod_images import ImageCatalog, day_of, load_images
from podwarden.store import orchestrators

DEFAULT_IMAGE = "default"
UNFINISHED = frozenset(
    {
        SoftwareUpdateStatus.PENDING,
        SoftwareUpdateStatus.IN_PROGRESS,
        SoftwareUpdateStatus.ROLLBACK_IN_PROGRESS,
    }
)


def kubernetes_minor(ctx: Context, spec: Mapping[str, Any]) -> str:
    """The Kubernetes minor of the EKS cluster a HyperPod cluster's ``Orchestrator`` names
    (``store.orchestrators``)."""
    return orchestrators.kubernetes_minor(ctx.store.resources, spec)


def unfinished(update: SoftwareUpdate | None) -> bool:
    return update is not None and update.status in UNFINISHED


def desired_image(group: InstanceGroup) -> tuple[str, str]:
    """(release, image id) the group's nodes are meant to run now."""
    update = group.software_update
    if update is None or update.status not in UNFINISHED:
        return group.image_release, group.image_id
    if update.status == SoftwareUpdateStatus.ROLLBACK_IN_PROGRESS:
        return update.from_release, update.from_image_id
    return update.to_release, update.to_image_id


def start_image(
    spec: Mapping[str, Any],
    minor: str,
    catalog: ImageCatalog,
    earliest: InstanceGroup | None = None,
) -> tuple[str, str]:
    """(release, image id) a new group starts on: its ImageReleaseVersion and ImageId when
    given; a group on the default image inherits the AMI of ``earliest`` (UpdateCluster of a
    Continuous cluster: "new instance groups inherit the AMI from the earliest existing
    instance group", the model's ImageId documentation); else the catalog's default release
    for ``minor``."""
    image_id = str(spec.get("ImageId", DEFAULT_IMAGE))
    if "ImageReleaseVersion" in spec:
        return str(spec["ImageReleaseVersion"]), image_id
    if image_id == DEFAULT_IMAGE and earliest is not None and earliest.image_release:
        return earliest.image_release, earliest.image_id
    return catalog.default_release(minor) or "", image_id


def earliest_group(cluster: Cluster) -> InstanceGroup | None:
    """The group a new one of a Continuous cluster inherits its AMI from (None otherwise)."""
    if cluster.spec.get("NodeProvisioningMode") != "Continuous":
        return None
    return next((g for g in cluster.groups.values() if not g.deleting), None)


def place_new_group(
    group: InstanceGroup, minor: str, now: float, earliest: InstanceGroup | None = None
) -> None:
    """Set a new group's release and image, and start its schedule (if any) at ``now``."""
    group.image_release, group.image_id = start_image(group.spec, minor, load_images(), earliest)
    if "ScheduledUpdateConfig" in group.spec:
        group.last_scheduled_update = now


def respec_group(group: InstanceGroup, spec: Mapping[str, Any], now: float) -> None:
    """UpdateCluster of an existing group: a new or changed ScheduleExpression is evaluated from
    ``now`` on (so an occurrence before the change does not fire). The group's AMI stays: it
    changes through UpdateClusterSoftware only."""
    before = (group.spec.get("ScheduledUpdateConfig") or {}).get("ScheduleExpression")
    after = (spec.get("ScheduledUpdateConfig") or {}).get("ScheduleExpression")
    if after is not None and after != before:
        group.last_scheduled_update = now


@dataclass(frozen=True)
class ImageView:
    """What the Describe members need besides the records: the cluster's Kubernetes minor,
    today (for end of life) and the catalog."""

    minor: str
    now: float
    catalog: ImageCatalog
    # release -> its status, computed once per request (ListClusterNodes asks per node)
    known: dict[str, str | None] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, ctx: Context, cluster: Cluster) -> ImageView:
        return cls(kubernetes_minor(ctx, cluster.spec), ctx.now(), load_images())

    def status(self, release: str) -> str | None:
        if release not in self.known:
            found = self.catalog.status(release, self.minor, day_of(self.now)) if release else None
            self.known[release] = None if found is None else str(found)
        return self.known[release]


def _release_fields(prefix: str, release: str, image_id: str) -> dict[str, str]:
    out = {f"{prefix}ImageId": image_id}
    if release:
        out[f"{prefix}ImageReleaseVersion"] = release
    return out


def group_fields(ctx: Context, cluster: Cluster) -> dict[str, dict[str, Any]]:
    """DescribeCluster's image members of each group, by group name."""
    view = ImageView.of(ctx, cluster)
    busy = [g for g in cluster.groups.values() if unfinished(g.software_update)]
    instances = ctx.store.list_instances(cluster.cluster_id) if busy else []
    return {g.name: _group_fields(view, g, instances) for g in cluster.groups.values()}


def _group_fields(
    view: ImageView, group: InstanceGroup, instances: list[Instance]
) -> dict[str, Any]:
    desired = desired_image(group)
    update = group.software_update
    current = (
        (update.to_release, update.to_image_id)
        if update is not None and update.status == SoftwareUpdateStatus.ROLLBACK_IN_PROGRESS
        else (group.image_release, group.image_id)
    )
    out: dict[str, Any] = {**_release_fields("Current", *current)}
    out.update(_release_fields("Desired", *desired))
    status = view.status(current[0])
    if status is not None:
        out["ImageVersionStatus"] = status
    if update is not None:
        out["SoftwareUpdateStatus"] = update.status
        if unfinished(update) and update.deployment:
            out["ActiveSoftwareUpdateConfig"] = update.deployment
    if unfinished(update):
        out["TargetStateCount"] = sum(
            1
            for i in instances
            if i.group == group.name
            and i.status == InstanceStatus.RUNNING
            and (i.image_release, i.image_id) == desired
        )
    return out


def node_summary_fields(view: ImageView, inst: Instance) -> dict[str, Any]:
    """ListClusterNodes' image members of a node (the summary models only these three)."""
    out: dict[str, Any] = {}
    if inst.image_release:
        out["CurrentImageReleaseVersion"] = inst.image_release
        status = view.status(inst.image_release)
        if status is not None:
            out["ImageVersionStatus"] = status
    if inst.last_software_update:
        out["LastSoftwareUpdateTime"] = datetime.fromtimestamp(inst.last_software_update, UTC)
    return out


def node_detail_fields(
    view: ImageView, inst: Instance, group: InstanceGroup | None
) -> dict[str, Any]:
    """DescribeClusterNode's image members: the summary's, the node's image id, and what it is
    meant to run (its group's update target while one runs, else what it runs)."""
    out = node_summary_fields(view, inst)
    out["CurrentImageId"] = inst.image_id
    desired = (
        desired_image(group)
        if group is not None and unfinished(group.software_update)
        else (inst.image_release, inst.image_id)
    )
    out.update(_release_fields("Desired", *desired))
    return out
