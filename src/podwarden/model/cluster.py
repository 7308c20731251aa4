"""Records of HyperPod clusters and their instances: desired state plus what podwarden knows.

Statuses are the API's enum strings (botocore's SageMaker model; tests/unit/test_model_enums.py
checks every value here against it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from podwarden.model.ids import node_name


class ClusterStatus(StrEnum):
    CREATING = "Creating"
    IN_SERVICE = "InService"
    UPDATING = "Updating"
    SYSTEM_UPDATING = "SystemUpdating"
    ROLLING_BACK = "RollingBack"
    DELETING = "Deleting"
    FAILED = "Failed"


class GroupStatus(StrEnum):
    CREATING = "Creating"
    IN_SERVICE = "InService"
    UPDATING = "Updating"
    DEGRADED = "Degraded"
    SYSTEM_UPDATING = "SystemUpdating"
    DELETING = "Deleting"
    FAILED = "Failed"


class Recovery(StrEnum):
    """A recovery requested for an instance (BatchReboot/ReplaceClusterNodes or a health label)."""

    NONE = ""
    REBOOT = "Reboot"
    REPLACE = "Replace"


class InstanceStatus(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SHUTTING_DOWN = "ShuttingDown"
    FAILURE = "Failure"
    DEEP_HEALTH_CHECK_IN_PROGRESS = "DeepHealthCheckInProgress"
    SYSTEM_UPDATING = "SystemUpdating"


class SoftwareUpdateStatus(StrEnum):
    """An instance group's platform software update (UpdateClusterSoftware)."""

    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ROLLBACK_IN_PROGRESS = "RollbackInProgress"
    ROLLBACK_COMPLETE = "RollbackComplete"


class DeepCheck(StrEnum):
    """Deep health checks of an instance. The last three are the values of the
    ``deep-health-check-status`` label; REQUESTED is podwarden's: due once the node is up."""

    NONE = ""
    REQUESTED = "Requested"
    IN_PROGRESS = "InProgress"
    PASSED = "Passed"
    FAILED = "Failed"


@dataclass
class SoftwareUpdate:
    """A rolling platform-software update of one instance group (UpdateClusterSoftware, or the
    group's ScheduledUpdateConfig when it falls due). ``deployment`` is the request's
    DeploymentConfig as given (model shape DeploymentConfiguration; {} = AWS's defaults).
    The reconciler (``logic.software_update``) moves nodes from ``from_release`` to
    ``to_release`` batch by batch, and back when a batch fails (``rollback_reason``)."""

    to_release: str
    from_release: str
    to_image_id: str = "default"
    from_image_id: str = "default"
    deployment: dict[str, Any] = field(default_factory=dict)
    status: str = SoftwareUpdateStatus.PENDING
    requested: float = 0.0
    # the instance ids of the batch being updated now, and when the next batch may start
    batch: list[str] = field(default_factory=list)
    batches_done: int = 0  # batches of the update (not of its rollback) that went through
    next_batch_at: float = 0.0
    rollback_reason: str = ""
    finished: float = 0.0


@dataclass
class InstanceGroup:
    """One instance group: its specification as the user gave it, and its status."""

    spec: dict[str, Any]
    status: str = GroupStatus.CREATING
    deleting: bool = False
    # the KubernetesConfig every node of the group carries now (Describe's Current* members)
    applied_kubernetes_config: dict[str, Any] = field(default_factory=dict)
    # times of automatic repairs (for the sliding-window limit) and why automatic recovery is
    # paused now ("" when it is not)
    repairs: list[float] = field(default_factory=list)
    remediation_paused: str = ""
    # NodeLogicalIds BatchAddClusterNodes promised and no instance has yet: the reconciler's
    # next launches of the group take them first (``logic.cluster_plan``)
    reserved_logical_ids: list[str] = field(default_factory=list)
    # Continuous provisioning: instances refused for capacity, refused attempts so far and when
    # the next attempt is due (``logic.capacity``); zeros: none waiting
    capacity_shortfall: int = 0
    capacity_attempts: int = 0
    capacity_retry_at: float = 0.0
    # the HyperPod AMI release (policy/tables/hyperpod_images.yaml) and image id the group's
    # nodes run when no update is under way (Describe's CurrentImageReleaseVersion/ImageId)
    image_release: str = ""
    image_id: str = "default"
    # the update under way or the last one (SoftwareUpdateStatus, ActiveSoftwareUpdateConfig);
    # None: never updated
    software_update: SoftwareUpdate | None = None
    # when ScheduledUpdateConfig last started an update (its cron is evaluated after this)
    last_scheduled_update: float = 0.0

    @property
    def name(self) -> str:
        return str(self.spec["InstanceGroupName"])

    @property
    def target_count(self) -> int:
        return 0 if self.deleting else int(self.spec["InstanceCount"])

    @property
    def instance_type(self) -> str:
        return str(self.spec["InstanceType"])


@dataclass
class Cluster:
    cluster_id: str
    name: str
    arn: str
    region: str
    account: str
    status: str
    created: float
    # cluster-level members of the create request that Describe echoes (Orchestrator, VpcConfig,
    # NodeRecovery, NodeProvisioningMode, Tags, ...): the desired state besides the groups
    spec: dict[str, Any]
    groups: dict[str, InstanceGroup] = field(default_factory=dict)
    failure_message: str | None = None
    # BatchAddClusterNodes' answers by ClientToken, for its retries
    # (``control.sagemaker.node_additions``)
    add_node_requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    version: int = 0

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        del doc["version"]
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any], version: int) -> Cluster:
        groups = {k: _group_from_doc(v) for k, v in doc.pop("groups").items()}
        return cls(**doc, groups=groups, version=version)


def _group_from_doc(doc: dict[str, Any]) -> InstanceGroup:
    update = doc.pop("software_update", None)
    group = InstanceGroup(**doc)
    group.software_update = None if update is None else SoftwareUpdate(**update)
    return group


@dataclass
class Volume:
    """An EBS volume of an instance (InstanceStorageConfigs, R10 in docs/requirements.md)."""

    volume_id: str
    size_gib: int
    mount_path: str
    root: bool = False


@dataclass
class Instance:
    instance_id: str
    cluster_id: str
    group: str
    logical_id: str
    instance_type: str
    status: str
    launch_time: float
    # when the simulated launch completes and the node may join (launch delay)
    ready_at: float
    message: str = ""
    recovery: str = Recovery.NONE
    deep_check: str = DeepCheck.NONE
    deep_check_until: float = 0.0
    # the checks of the current (or last) deep-check run ([] until it starts: the group's
    # OnStartDeepHealthChecks), the instance ids checked together by its multi-node checks
    # (this one included), when it started, and each check's result (``logic.deep_checks``)
    deep_checks: list[str] = field(default_factory=list)
    deep_check_peers: list[str] = field(default_factory=list)
    deep_check_started: float = 0.0
    deep_check_results: list[dict[str, str]] = field(default_factory=list)
    private_ip: str = ""
    # on a subnet with an IPv6 block (R14): the instance's IPv6 address, and on an IPv6 EKS
    # cluster the /80 its pods take addresses from (``logic.instance_addresses``)
    private_ipv6: str = ""
    ipv6_pod_prefix: str = ""
    availability_zone: str = ""
    volumes: list[Volume] = field(default_factory=list)
    # the OnCreate lifecycle script read from S3 at launch: uri, etag, content
    on_create: dict[str, str] = field(default_factory=dict)
    # the HyperPod AMI release and image id the instance runs, and when it last changed
    image_release: str = ""
    image_id: str = "default"
    last_software_update: float = 0.0
    # while drained for a software update: when refused evictions fail the update
    update_deadline: float = 0.0
    version: int = 0

    @property
    def node_name(self) -> str:
        return node_name(self.instance_id)

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        del doc["version"]
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any], version: int) -> Instance:
        volumes = [Volume(**v) for v in doc.pop("volumes")]
        return cls(**doc, volumes=volumes, version=version)

    def copy(self) -> Instance:
        """An equal instance sharing nothing that can change in place with this one (its
        lists, dicts and volumes copied; cheaper than ``dataclasses.replace``, which runs
        ``__init__``: the store copies every instance of a cluster per list)."""
        new = object.__new__(Instance)
        new.__dict__.update(self.__dict__)
        new.deep_checks = list(self.deep_checks)
        new.deep_check_peers = list(self.deep_check_peers)
        new.deep_check_results = [dict(r) for r in self.deep_check_results]
        new.volumes = [replace(v) for v in self.volumes]
        new.on_create = dict(self.on_create)
        return new


@dataclass
class ClusterEvent:
    """One entry of a cluster's event stream (ListClusterEvents). ``resource_type`` and
    ``level`` are the API's ClusterEventResourceType and ClusterEventLevel values."""

    event_id: str
    cluster_id: str
    time: float
    resource_type: str  # Cluster | InstanceGroup | Instance
    level: str  # Info | Warn | Error
    description: str
    group: str = ""
    instance_id: str = ""
    # DescribeClusterEvent's EventDetails.EventMetadata (a union: one member), {} for none
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ClusterOperation:
    """A Scaling or DeepHealthCheck operation (ListClusterOperations): InProgress until the
    reconciler has carried it out (Done), or a later one of the same type replaced it
    (Superseded)."""

    operation_id: str
    cluster_id: str
    type: str  # Scaling | DeepHealthCheck
    status: str  # InProgress | Superseded | Done
    created: float
    scaling: list[dict[str, Any]] = field(default_factory=list)
    deep_checks: list[dict[str, Any]] = field(default_factory=list)

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)
