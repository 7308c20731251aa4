"""Kubernetes label, annotation and taint keys HyperPod uses (docs/sources.md,
"Node labels and taints"), and podwarden's own bookkeeping keys."""

from __future__ import annotations

INSTANCE_TYPE = "node.kubernetes.io/instance-type"
INSTANCE_TYPE_BETA = "beta.kubernetes.io/instance-type"
COMPUTE_TYPE = "sagemaker.amazonaws.com/compute-type"
GROUP_NAME = "sagemaker.amazonaws.com/instance-group-name"
CLUSTER_NAME = "sagemaker.amazonaws.com/cluster-name"
HEALTH = "sagemaker.amazonaws.com/node-health-status"
# node-health-status values (docs/sources.md, "Health label values")
SCHEDULABLE = "Schedulable"
PENDING_REBOOT = "UnschedulablePendingReboot"
PENDING_REPLACEMENT = "UnschedulablePendingReplacement"
DEEP_HEALTH = "sagemaker.amazonaws.com/deep-health-check-status"
REGION = "topology.kubernetes.io/region"
ZONE = "topology.kubernetes.io/zone"

# podwarden's own: which cluster record a node belongs to (cluster names can be reused), and
# the EBS volumes of the instance (InstanceStorageConfigs, R10 in docs/requirements.md)
CLUSTER_ID = "podwarden.io/cluster-id"
# the HyperPod AMI release the instance runs (UpdateClusterSoftware changes it in place)
IMAGE_RELEASE = "podwarden.io/image-release"
VOLUMES = "podwarden.io/ebs-volumes"
# kwok manages only nodes with this annotation
KWOK_ANNOTATION = ("kwok.x-k8s.io/node", "fake")

# written by the health agent (docs/sources.md, "Node labels and taints")
FAULT_TYPES = "sagemaker.amazonaws.com/fault-types"
FAULT_REASONS = "sagemaker.amazonaws.com/fault-reasons"
FAULT_DETAILS = "sagemaker.amazonaws.com/fault-details"
# the quarantine taint: key HEALTH, value Unschedulable, effect NoSchedule (R18 in
# docs/requirements.md)
HEALTH_TAINT_VALUE = "Unschedulable"
HEALTH_TAINT_EFFECT = "NoSchedule"
# labels the agent owns on a node: the reconciler never resets them while syncing
AGENT_LABELS = (HEALTH, FAULT_TYPES, FAULT_REASONS, DEEP_HEALTH)
# taint keys the agent owns
AGENT_TAINT_KEYS = frozenset({HEALTH})

# fault injection for simulated nodes: a label to find them, an annotation with the signals
INJECT_LABEL = "podwarden.io/fault-injected"
INJECT_ANNOTATION = "podwarden.io/inject-faults"
