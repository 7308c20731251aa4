"""The actions a cluster plan is made of. Each is a fact about what to change; the operator
applies them (store writes, Kubernetes calls)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podwarden.logic.node_spec import Taint
from podwarden.model.cluster import SoftwareUpdate


@dataclass(frozen=True)
class Launch:
    """Launch ``count`` new instances of ``group``; the first take ``logical_ids`` (those
    BatchAddClusterNodes promised), the others new NodeLogicalIds."""

    group: str
    count: int
    logical_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class CreateNode:
    instance_id: str


@dataclass(frozen=True)
class MarkRunning:
    instance_id: str


@dataclass(frozen=True)
class NodeBooted:
    """The instance has finished booting (after a reboot): its node reports Ready."""

    instance_id: str


@dataclass(frozen=True)
class SyncNode:
    """Bring the node's user labels and taints to the group's KubernetesConfig, keeping the
    taints the health agent owns (``keep_taints``)."""

    instance_id: str
    keep_taints: tuple[Taint, ...] = ()


@dataclass(frozen=True)
class Reboot:
    """Reboot in place: same instance id, node and volumes; the node goes NotReady, then
    Ready again after the reboot delay. ``automatic``: triggered by a health label (counts
    toward the group's repair limit), not by the API."""

    instance_id: str
    automatic: bool = False


@dataclass(frozen=True)
class Replace:
    """Terminate the instance (its volumes go with it) and launch a new one with a new id and
    node, the same NodeLogicalId and the group's configuration."""

    instance_id: str
    automatic: bool = False


@dataclass(frozen=True)
class StartDeepCheck:
    """Deep health checks begin: the instance is DeepHealthCheckInProgress, its node
    Unschedulable, InProgress and tainted (R18 in docs/requirements.md)."""

    instance_id: str


@dataclass(frozen=True)
class FinishDeepCheck:
    """Deep health checks end: passed -> Schedulable, Passed, untainted; failed -> Failed
    (the failure's health label then asks for the recovery)."""

    instance_id: str
    passed: bool


@dataclass(frozen=True)
class PauseRemediation:
    """Automatic recovery of a group is paused for ``reason`` ("" resumes it); the operator
    records it and explains it in Events on the group's unhealthy nodes."""

    group: str
    reason: str
    nodes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SoftwareUpdateStep:
    """The group's software update moves on (``logic.software_update``): its record becomes
    ``update``; ``release`` (release, image id): the group's nodes all run it now;
    ``message``: why it is rolling back or rolled back (the cluster's FailureMessage)."""

    group: str
    update: SoftwareUpdate
    release: tuple[str, str] | None = None
    message: str = ""


@dataclass(frozen=True)
class StartScheduledUpdate:
    """The group's ScheduledUpdateConfig fell due at ``due``: its schedule moves on from there,
    and ``update`` (None when the group already runs the newest release) starts."""

    group: str
    due: float
    update: SoftwareUpdate | None


@dataclass(frozen=True)
class DrainForUpdate:
    """Take the instance out of service for a software update to ``release``: quarantine its
    node and evict its pods (again on each pass while disruption budgets refuse some)."""

    instance_id: str
    release: str


@dataclass(frozen=True)
class Reimage:
    """The drained instance boots on ``release``: same id, node and volumes; the node goes
    NotReady until the re-image is done (then the reboot path brings it back)."""

    instance_id: str
    release: str
    image_id: str


@dataclass(frozen=True)
class Terminate:
    instance_id: str


@dataclass(frozen=True)
class DeleteNode:
    node_name: str


@dataclass(frozen=True)
class Forget:
    """The instance is terminated and its node gone: drop the record."""

    instance_id: str


@dataclass(frozen=True)
class SetGroup:
    group: str
    status: str
    applied_kubernetes_config: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ReleaseLogicalIds:
    """The group's reserved NodeLogicalIds are taken (by this pass's Launch or an instance) or
    no longer needed (the target fell): forget them, but for ``keep`` (promised to instances
    that wait for capacity)."""

    group: str
    keep: tuple[str, ...] = ()


@dataclass(frozen=True)
class CapacityRetry:
    """The group's record of launches refused for capacity (``logic.capacity``): ``shortfall``
    instances wait for attempt ``attempts + 1`` at ``retry_at``; all zero: none."""

    group: str
    shortfall: int = 0
    attempts: int = 0
    retry_at: float = 0.0


@dataclass(frozen=True)
class CapacityNotice:
    """A cluster event about the group's capacity (a refused attempt, capacity that came);
    ``scaling``: its EventMetadata's InstanceGroupScaling."""

    group: str
    level: str
    text: str
    scaling: Mapping[str, Any]


@dataclass(frozen=True)
class CapacityFailed:
    """Capacity is short and the cluster is not in Continuous mode: it fails with ``message``
    and nothing else of the pass is applied (all or nothing)."""

    message: str


@dataclass(frozen=True)
class RemoveGroup:
    group: str


@dataclass(frozen=True)
class SetCluster:
    status: str


@dataclass(frozen=True)
class RemoveCluster:
    pass


Action = (
    Launch
    | CreateNode
    | MarkRunning
    | SyncNode
    | NodeBooted
    | Reboot
    | Replace
    | PauseRemediation
    | StartDeepCheck
    | FinishDeepCheck
    | SoftwareUpdateStep
    | StartScheduledUpdate
    | DrainForUpdate
    | Reimage
    | Terminate
    | DeleteNode
    | Forget
    | SetGroup
    | ReleaseLogicalIds
    | CapacityRetry
    | CapacityNotice
    | CapacityFailed
    | RemoveGroup
    | SetCluster
    | RemoveCluster
)
