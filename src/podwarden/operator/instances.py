"""What the cluster reconciler writes about one instance: a new instance's record, the merge
patch that puts its group's configuration on its node, and what it reads back from the node."""

from __future__ import annotations

import logging
import random
from typing import Any

from podwarden.control.lifecycle_access import check_read_access
from podwarden.control.lifecycle_scripts import LifecycleScriptsFailed, lifecycle_script
from podwarden.logic.instance_addresses import InstanceAddresses
from podwarden.logic.node_spec import (
    Taint,
    desired_labels,
    kubernetes_labels,
    kubernetes_taints,
    registered,
)
from podwarden.logic.recovery_policy import ObservedNode
from podwarden.model import ids
from podwarden.model.cluster import (
    Cluster,
    DeepCheck,
    Instance,
    InstanceGroup,
    InstanceStatus,
    Volume,
)
from podwarden.model.errors import TerminalError
from podwarden.model.labels import AGENT_LABELS
from podwarden.store.sql import Store

log = logging.getLogger("podwarden.operator")

MESSAGES = {
    InstanceStatus.PENDING: "Launching the instance",
    InstanceStatus.RUNNING: "Node is Ready",
    InstanceStatus.SHUTTING_DOWN: "Terminating the instance",
}


def observe(node: dict[str, Any]) -> ObservedNode:
    conditions = node.get("status", {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    taints = tuple(
        Taint(t["key"], t.get("value"), t["effect"])
        for t in node.get("spec", {}).get("taints") or []
    )
    meta = node["metadata"]
    labels = meta.get("labels") or {}
    return ObservedNode(meta["name"], ready, labels, taints, registered(node))


def new_instance(
    cluster: Cluster,
    group: InstanceGroup,
    now: float,
    launch_delay: float,
    addresses: InstanceAddresses | None = None,
) -> Instance:
    """A new Pending instance of ``group``: its id, logical id, volumes, address and zone; its
    node joins ``launch_delay`` (simulated) seconds from ``now``. ``addresses``: its subnet's
    zone and IPv6 address (``control.instance_network``), when a subnet of the group has an
    IPv6 block."""
    zones = cluster.spec.get("_AvailabilityZones") or [f"{cluster.region}a"]
    volumes = [
        Volume(
            volume_id="vol-" + ids.new_instance_id()[2:],
            size_gib=int(cfg["EbsVolumeConfig"].get("VolumeSizeInGB", 0)),
            mount_path="/" if cfg["EbsVolumeConfig"].get("RootVolume") else "/opt/sagemaker",
            root=bool(cfg["EbsVolumeConfig"].get("RootVolume", False)),
        )
        for cfg in group.spec.get("InstanceStorageConfigs", [])
        if "EbsVolumeConfig" in cfg
    ]
    rnd = random.Random()  # noqa: S311 - simulated addresses, not secrets
    checks = bool(group.spec.get("OnStartDeepHealthChecks"))
    return Instance(
        instance_id=ids.new_instance_id(),
        cluster_id=cluster.cluster_id,
        group=group.name,
        logical_id=ids.new_logical_id(group.name),
        instance_type=group.instance_type,
        status=InstanceStatus.PENDING,
        message=MESSAGES[InstanceStatus.PENDING],
        launch_time=now,
        ready_at=now + launch_delay,
        private_ip=f"10.1.{rnd.randint(0, 255)}.{rnd.randint(1, 254)}",
        private_ipv6=addresses.ipv6 if addresses else "",
        ipv6_pod_prefix=addresses.pod_prefix if addresses else "",
        availability_zone=addresses.availability_zone if addresses else rnd.choice(zones),
        volumes=volumes,
        deep_check=DeepCheck.REQUESTED if checks else DeepCheck.NONE,
        # the group's AMI; LastSoftwareUpdateTime: when the group's last update finished (0: none)
        image_release=group.image_release,
        image_id=group.image_id,
        last_software_update=group.software_update.finished if group.software_update else 0.0,
    )


def config_patch(
    cluster: Cluster, group: InstanceGroup, inst: Instance, keep: tuple[Taint, ...]
) -> dict[str, Any]:
    """Merge patch that sets the group's KubernetesConfig labels and taints on the node and
    removes labels the previous config had set; the health agent's labels and taints stay."""
    labels: dict[str, str | None] = {
        k: v for k, v in desired_labels(cluster, group, inst).items() if k not in AGENT_LABELS
    }
    previous = kubernetes_labels({"KubernetesConfig": group.applied_kubernetes_config})
    for key in previous:
        if key not in kubernetes_labels(group.spec):
            labels[key] = None
    return {
        "metadata": {"labels": labels},
        "spec": {"taints": [t.manifest() for t in (*kubernetes_taints(group.spec), *keep)]},
    }


def on_create_script(store: Store, group: InstanceGroup, now: float) -> dict[str, str]:
    """The group's OnCreate script from the local account's S3, as AWS reads it when it
    provisions an instance: with the group's ExecutionRole, whose policies must allow reading it
    (``control.lifecycle_access``). A script the role may not read, or one that is missing,
    fails the cluster with AWS's message (``TerminalError``)."""
    config = group.spec.get("LifeCycleConfig")
    if not config:
        return {}
    uri, on_create = config["SourceS3Uri"], config["OnCreate"]
    try:
        check_read_access(store, group.spec["ExecutionRole"], uri, on_create, now)
        script = lifecycle_script(store, uri, on_create)
    except LifecycleScriptsFailed as exc:
        log.warning("instance group %s: %s", group.name, exc.detail)
        raise TerminalError(exc.failure_message(ids.new_instance_id())) from exc
    return {"uri": script.uri, "etag": script.etag, "content": script.text}
