"""The Kubernetes Node a HyperPod instance should be: labels, taints, capacity, annotations.

HyperPod's label keys (docs/sources.md, "Node labels and taints"); capacity from the instance
catalog, whose ``pods`` is the max-pods table of R12 (docs/requirements.md).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podwarden.model.cluster import Cluster, DeepCheck, Instance, InstanceGroup
from podwarden.model.labels import (
    CLUSTER_ID,
    CLUSTER_NAME,
    COMPUTE_TYPE,
    DEEP_HEALTH,
    GROUP_NAME,
    HEALTH,
    HEALTH_TAINT_EFFECT,
    HEALTH_TAINT_VALUE,
    IMAGE_RELEASE,
    INSTANCE_TYPE,
    INSTANCE_TYPE_BETA,
    KWOK_ANNOTATION,
    REGION,
    VOLUMES,
    ZONE,
)

# podwarden owns these label prefixes on a node; anything else is the user's or another
# controller's
MANAGED_PREFIXES = ("sagemaker.amazonaws.com/", "podwarden.io/")


@dataclass(frozen=True)
class Taint:
    key: str
    value: str | None
    effect: str

    def manifest(self) -> dict[str, str]:
        out = {"key": self.key, "effect": self.effect}
        if self.value is not None:
            out["value"] = self.value
        return out


def desired_labels(cluster: Cluster, group: InstanceGroup, inst: Instance) -> dict[str, str]:
    labels = {
        INSTANCE_TYPE: inst.instance_type,
        INSTANCE_TYPE_BETA: inst.instance_type,
        COMPUTE_TYPE: "hyperpod",
        GROUP_NAME: group.name,
        CLUSTER_NAME: cluster.name,
        CLUSTER_ID: cluster.cluster_id,
        HEALTH: "Schedulable",
        REGION: cluster.region,
        ZONE: inst.availability_zone,
        "kubernetes.io/hostname": inst.node_name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
    }
    if inst.image_release:
        labels[IMAGE_RELEASE] = inst.image_release
    labels.update(kubernetes_labels(group.spec))
    if inst.deep_check in (DeepCheck.REQUESTED, DeepCheck.IN_PROGRESS):
        labels.update({HEALTH: UNDER_CHECK, DEEP_HEALTH: DeepCheck.IN_PROGRESS})
    return labels


# the health label and taint value of a node under deep health checks (R18 in docs/requirements.md)
UNDER_CHECK = HEALTH_TAINT_VALUE


def health_taint() -> Taint:
    return Taint(HEALTH, HEALTH_TAINT_VALUE, HEALTH_TAINT_EFFECT)


def kubernetes_labels(spec: dict[str, Any]) -> dict[str, str]:
    return dict(spec.get("KubernetesConfig", {}).get("Labels", {}))


def kubernetes_taints(spec: dict[str, Any]) -> list[Taint]:
    return [
        Taint(t["Key"], t.get("Value"), t["Effect"])
        for t in spec.get("KubernetesConfig", {}).get("Taints", [])
    ]


def volumes_annotation(inst: Instance) -> str:
    return json.dumps(
        [
            {
                "volumeId": v.volume_id,
                "sizeGiB": v.size_gib,
                "mountPath": v.mount_path,
                "root": v.root,
            }
            for v in inst.volumes
        ],
        separators=(",", ":"),
    )


def desired_node(
    cluster: Cluster, group: InstanceGroup, inst: Instance, capacity: dict[str, str]
) -> dict[str, Any]:
    """The full Node manifest to create for an instance."""
    key, value = KWOK_ANNOTATION
    labels_ = desired_labels(cluster, group, inst)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": inst.node_name,
            "labels": labels_,
            "annotations": {key: value, VOLUMES: volumes_annotation(inst)},
        },
        "spec": {
            "providerID": f"aws:///{inst.availability_zone}/{inst.instance_id}",
            "taints": [
                t.manifest()
                for t in (
                    *kubernetes_taints(group.spec),
                    *((health_taint(),) if labels_[HEALTH] != "Schedulable" else ()),
                )
            ],
            **ipv6_pod_cidr(inst),
        },
        "status": {"capacity": capacity, "allocatable": capacity, **ipv6_addresses(inst)},
    }


def registered(node: Mapping[str, Any]) -> bool:
    """Whether the node's kubelet has registered it: a kubelet (and kwok's ``node-initialize``
    stage, which plays one) reports its version in ``status.nodeInfo`` as it does, with the
    node's addresses and kubelet port. Until then the apiserver cannot reach its kubelet."""
    return bool(((node.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion"))


def ipv6_addresses(inst: Instance) -> dict[str, Any]:
    """On an IPv6 EKS cluster (the instance has a pod prefix) the node's addresses are its
    IPv6 InternalIP and its hostname, as a kubelet with an IPv6 ``--node-ip`` reports them
    (kwok keeps addresses it is given); elsewhere kwok's own (InternalIP 127.0.0.1). R14 in
    docs/requirements.md."""
    if not (inst.ipv6_pod_prefix and inst.private_ipv6):
        return {}
    return {
        "addresses": [
            {"type": "InternalIP", "address": inst.private_ipv6},
            {"type": "Hostname", "address": inst.node_name},
        ]
    }


def ipv6_pod_cidr(inst: Instance) -> dict[str, Any]:
    """The /80 the VPC CNI delegated to the node on an IPv6 EKS cluster, as ``podCIDR``: how
    kwok is told where the node's pods take their addresses (EKS leaves ``podCIDR`` empty; its
    VPC CNI hands out the prefix's addresses itself)."""
    if not inst.ipv6_pod_prefix:
        return {}
    return {"podCIDR": inst.ipv6_pod_prefix, "podCIDRs": [inst.ipv6_pod_prefix]}
