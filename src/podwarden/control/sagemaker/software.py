"""SageMaker's UpdateClusterSoftware: a rolling update of instance groups to a HyperPod AMI
release (``policy/hyperpod_images``).

The handler writes desired state only: each chosen group gets a Pending
``InstanceGroup.software_update`` (its target and origin release and image, the request's
``DeploymentConfig`` as given), the cluster goes ``SystemUpdating``, a cluster event per group
records the request and the cluster's reconciler is woken; the reconciler
(``logic.software_update``) updates the nodes batch by batch and rolls a failed batch back.
DescribeCluster shows the update at once (``SoftwareUpdateStatus`` Pending, the target as
``DesiredImageReleaseVersion``: ``control.sagemaker.images``).

From the model and AWS's documentation (docs/sources.md, "Platform software updates"):
``ResourceNotFound`` for an unknown cluster and ``ConflictException`` for a cluster whose state
does not allow it; without ``InstanceGroups`` every group is updated; a group without
``ImageReleaseVersion`` goes to the latest release for the cluster's Kubernetes minor (its EKS
cluster's version); ``ImageId`` applies to every chosen group, and a group on a custom AMI
needs one (an ``ami-`` id or ``default``). Where AWS is silent, podwarden chooses:

- ConflictException: the cluster is not ``InService`` (Creating, Updating, SystemUpdating,
  RollingBack, Deleting, Failed); a chosen group is being created, updated or deleted, or is
  Failed (``InService`` and ``Degraded`` groups can be updated); a chosen group's previous
  update is still Pending, InProgress or RollbackInProgress;
- ValidationException, all problems in one message: a group the cluster does not have, a group
  named twice, a release the catalog does not know or that does not ship for the cluster's
  Kubernetes minor, a group on a custom AMI without ``ImageId``, a ``CAPACITY_PERCENTAGE``
  batch size over 100, an alarm named twice. A release older than the group's is accepted;
  ``ImageId`` is not checked against EC2 (podwarden has no AMIs);
- a group whose release and image already are the target is left alone; when every chosen
  group is, the request succeeds and changes nothing but a cluster event saying so (no update,
  no status change), so a script that patches "to the latest" can run it again.

Writes are read-modify-write on the cluster record's version: when another writer saved the
cluster first, the request is checked and planned again from a fresh read; after a few lost
races the caller gets ``ServiceUnavailable``, which SDKs retry.
"""

from __future__ import annotations

import copy
import uuid
from collections import Counter
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.sagemaker.clusters import find_cluster
from podwarden.control.sagemaker.images import DEFAULT_IMAGE, kubernetes_minor, unfinished
from podwarden.logic import cluster_rules
from podwarden.logic.software_rules import deployment_problems
from podwarden.model.changes import SAGEMAKER_CLUSTER
from podwarden.model.cluster import (
    Cluster,
    ClusterEvent,
    ClusterStatus,
    GroupStatus,
    InstanceGroup,
    SoftwareUpdate,
    SoftwareUpdateStatus,
)
from podwarden.model.errors import Conflict, Invalid, TemporaryError
from podwarden.policy.hyperpod_images import ImageCatalog, load_images

RETRIES = 5
OPEN_GROUP = (GroupStatus.IN_SERVICE, GroupStatus.DEGRADED)

# (group, target release, target image id)
Target = tuple[InstanceGroup, str, str]


def _chosen(
    cluster: Cluster, req: dict[str, Any]
) -> tuple[list[tuple[str, str | None]], list[str]]:
    """The groups the request names (all live groups when it names none), each with the release
    it asks for (None: the default), and the problems of the names."""
    specs = req.get("InstanceGroups")
    if specs is None:
        return [(g.name, None) for g in cluster.groups.values() if not g.deleting], []
    names = Counter(s["InstanceGroupName"] for s in specs)
    problems = [
        f"Instance group {n} appears more than once in InstanceGroups."
        for n, count in names.items()
        if count > 1
    ]
    problems += [
        f"Instance group {n} not found in cluster {cluster.name}."
        for n in names
        if n not in cluster.groups or cluster.groups[n].deleting
    ]
    chosen = {s["InstanceGroupName"]: s.get("ImageReleaseVersion") for s in specs}
    return list(chosen.items()), problems


def _target(
    group: InstanceGroup, asked: str | None, image_id: str | None, minor: str, catalog: ImageCatalog
) -> tuple[Target | None, list[str]]:
    """What ``group`` is to run, or the problems that stop it."""
    release = asked or catalog.default_release(minor)
    if release is None:
        return None, [f"No HyperPod AMI release ships for Kubernetes {minor}."]
    problem = catalog.release_problem(release, minor)
    problems = [f"Instance group {group.name}: {problem}"] if problem else []
    if image_id is None and group.image_id != DEFAULT_IMAGE:
        problems.append(
            f"Instance group {group.name} runs the custom AMI {group.image_id}; give ImageId (an "
            "AMI id, or default for the HyperPod AMI) to update it."
        )
    return (group, release, image_id or DEFAULT_IMAGE), problems


def _check_state(cluster: Cluster, groups: list[InstanceGroup]) -> None:
    """ConflictException when the cluster or a chosen group cannot start an update now."""
    if cluster.status != ClusterStatus.IN_SERVICE:
        raise Conflict(
            f"Cluster {cluster.name} is {cluster.status}; its software can be updated once it is "
            "InService."
        )
    for group in groups:
        update = group.software_update
        if update is not None and unfinished(update):
            raise Conflict(
                f"Instance group {group.name} already has a software update {update.status} (to "
                f"release {update.to_release}); wait for it to finish."
            )
        if group.status not in OPEN_GROUP:
            raise Conflict(
                f"Instance group {group.name} is {group.status}; its software can be updated "
                "once it is InService."
            )


def _plan(ctx: Context, cluster: Cluster, req: dict[str, Any]) -> tuple[list[Target], list[str]]:
    """The groups to update with their targets, and the chosen groups already on theirs."""
    chosen, problems = _chosen(cluster, req)
    problems += deployment_problems(req.get("DeploymentConfig"), "DeploymentConfig")
    minor, catalog = kubernetes_minor(ctx, cluster.spec), load_images()
    targets: list[Target] = []
    for name, asked in chosen:
        group = cluster.groups.get(name)
        if group is None or group.deleting:
            continue
        target, found = _target(group, asked, req.get("ImageId"), minor, catalog)
        problems += found
        if target is not None:
            targets.append(target)
    if problems:
        raise Invalid(cluster_rules.joined(problems))
    _check_state(cluster, [g for g, _, _ in targets])
    current = [
        g.name for g, release, image in targets if (g.image_release, g.image_id) == (release, image)
    ]
    return [t for t in targets if t[0].name not in current], current


def _event(ctx: Context, cluster: Cluster, text: str, group: str = "") -> ClusterEvent:
    kind = "InstanceGroup" if group else "Cluster"
    return ClusterEvent(
        str(uuid.uuid4()), cluster.cluster_id, ctx.now(), kind, "Info", text, group=group
    )


def _start(
    ctx: Context, cluster: Cluster, targets: list[Target], req: dict[str, Any]
) -> list[ClusterEvent]:
    """Put a Pending update on each target group; the events that record the request."""
    events = []
    for group, release, image_id in targets:
        group.software_update = SoftwareUpdate(
            to_release=release,
            from_release=group.image_release,
            to_image_id=image_id,
            from_image_id=group.image_id,
            deployment=copy.deepcopy(req.get("DeploymentConfig") or {}),
            status=SoftwareUpdateStatus.PENDING,
            requested=ctx.now(),
        )
        events.append(
            _event(
                ctx,
                cluster,
                f"UpdateClusterSoftware requested for instance group {group.name}: HyperPod AMI "
                f"release {group.image_release or 'unknown'} -> {release}, image "
                f"{group.image_id} -> {image_id}.",
                group.name,
            )
        )
    cluster.status = ClusterStatus.SYSTEM_UPDATING
    return events


def _already(ctx: Context, cluster: Cluster, names: list[str]) -> ClusterEvent:
    return _event(
        ctx,
        cluster,
        f"UpdateClusterSoftware: instance group(s) {', '.join(names)} already run the requested "
        "HyperPod AMI release and image; nothing to update for them.",
    )


def update_cluster_software(ctx: Context, req: dict[str, Any]) -> dict[str, Any]:
    for _ in range(RETRIES):
        cluster = find_cluster(ctx, req["ClusterName"])
        targets, current = _plan(ctx, cluster, req)
        events = [_already(ctx, cluster, current)] if current else []
        if targets:
            events = _start(ctx, cluster, targets, req) + events
            try:
                ctx.store.save_cluster(cluster)
            except Conflict:  # another writer saved first: check and plan again
                continue
        ctx.store.add_events(events)
        if targets:
            ctx.wake(SAGEMAKER_CLUSTER, cluster.cluster_id)
        return {"ClusterArn": cluster.arn}
    raise TemporaryError(
        f"Cluster {req['ClusterName']} was modified concurrently; retry UpdateClusterSoftware."
    )


OPERATIONS: Operations = {"UpdateClusterSoftware": update_cluster_software}
