"""Kubernetes label, annotation and taint keys HyperPod uses (hyperpod-kubernetes.md section 2),
and podwarden's own bookkeeping keys."""

from __future__ import annotations

INSTANCE_TYPE = "node.kubernetes.io/instance-type"
INSTANCE_TYPE_BETA = "beta.kubernetes.io/instance-type"
COMPUTE_TYPE = "sagemaker.amazonaws.com/compute-type"
GROUP_NAME = "sagemaker.amazonaws.com/instance-group-name"
CLUSTER_NAME = "sagemaker.amazonaws.com/cluster-name"
HEALTH = "sagemaker.amazonaws.com/node-health-status"
# node-health-status values (hyperpod-kubernetes.md section 3)
SCHEDULABLE = "Schedulable"
PENDING_REBOOT = "UnschedulablePendingReboot"
PENDING_REPLACEMENT = "UnschedulablePendingReplacement"
DEEP_HEALTH = "sagemaker.amazonaws.com/deep-health-check-status"
REGION = "topology.kubernetes.io/region"
ZONE = "topology.kubernetes.io/zone"

# podwarden's own: which cluster record a node belongs to (cluster names can be reused), and
# the EBS volumes of the instance (InstanceStorageConfigs, seed R10)
CLUSTER_ID = "podwarden.io/cluster-id"
VOLUMES = "podwarden.io/ebs-volumes"
# kwok manages only nodes with this annotation
KWOK_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
