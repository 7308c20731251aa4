"""The one place ids and ARNs are made and parsed (docs/sources.md, "IDs and ARNs")."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
CLUSTER_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z\-]*):sagemaker:(?P<region>[a-z0-9\-]*):(?P<account>[0-9]{12})"
    r":cluster/(?P<id>[a-z0-9]{12})"
)
INSTANCE_ID = re.compile(r"i-[a-f0-9]{8}(?:[a-f0-9]{9})?")
NODE_NAME_PREFIX = "hyperpod-"


def new_cluster_id() -> str:
    """12 lowercase alphanumerics: the tail of a cluster ARN (not the cluster's name)."""
    return "".join(secrets.choice(_ALNUM) for _ in range(12))


def new_instance_id() -> str:
    """An EC2-style instance id: ``i-`` and 17 hex digits."""
    return "i-" + secrets.token_hex(9)[:17]


def new_logical_id(group: str) -> str:
    """A NodeLogicalId: stable for the node's life, across replacements. AWS's format is not
    public; podwarden uses ``<group>-<12 hex>`` (within the model's pattern and 128 chars)."""
    return f"{group}-{secrets.token_hex(6)}"


def cluster_arn(region: str, account: str, cluster_id: str, partition: str = "aws") -> str:
    return f"arn:{partition}:sagemaker:{region}:{account}:cluster/{cluster_id}"


@dataclass(frozen=True)
class ClusterRef:
    """What a ``ClusterName`` input names: an ARN (by id) or a plain name."""

    name: str | None = None
    cluster_id: str | None = None


def parse_cluster_ref(value: str) -> ClusterRef:
    m = CLUSTER_ARN.fullmatch(value)
    if m:
        return ClusterRef(cluster_id=m["id"])
    return ClusterRef(name=value)


def node_name(instance_id: str) -> str:
    """Kubernetes node name of a HyperPod instance: ``hyperpod-i-…``."""
    return NODE_NAME_PREFIX + instance_id


def instance_id_of_node(name: str) -> str | None:
    if not name.startswith(NODE_NAME_PREFIX):
        return None
    tail = name.removeprefix(NODE_NAME_PREFIX)
    return tail if INSTANCE_ID.fullmatch(tail) else None
