"""The operation table: (service, operation name) -> handler. Data, not an if-chain.

SageMaker's HyperPod operations live in ``control``; the local AWS account's services in
``control.aws`` (each module exports its ``HANDLERS``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from podwarden.control import clusters, events, nodes, operations
from podwarden.control.aws import ec2, eks, iam, s3, sts
from podwarden.control.context import Context

Handler = Callable[[Context, dict[str, Any]], dict[str, Any]]

# awsJson services: X-Amz-Target prefix -> botocore service name
JSON_TARGETS: Mapping[str, str] = {"SageMaker": "sagemaker"}

OPERATIONS: Mapping[str, Mapping[str, Handler]] = {
    "sagemaker": {
        "CreateCluster": clusters.create_cluster,
        "DescribeCluster": clusters.describe_cluster,
        "ListClusters": clusters.list_clusters,
        "UpdateCluster": clusters.update_cluster,
        "DeleteCluster": clusters.delete_cluster,
        "ListClusterNodes": nodes.list_cluster_nodes,
        "DescribeClusterNode": nodes.describe_cluster_node,
        "BatchDeleteClusterNodes": nodes.batch_delete_cluster_nodes,
        "BatchRebootClusterNodes": nodes.batch_reboot_cluster_nodes,
        "BatchReplaceClusterNodes": nodes.batch_replace_cluster_nodes,
        "StartClusterHealthCheck": nodes.start_cluster_health_check,
        "ListClusterEvents": events.list_cluster_events,
        "DescribeClusterEvent": events.describe_cluster_event,
        "ListClusterOperations": operations.list_cluster_operations,
        "DescribeClusterOperation": operations.describe_cluster_operation,
    },
    "eks": eks.HANDLERS,
    "ec2": ec2.HANDLERS,
    "iam": iam.HANDLERS,
    "sts": sts.HANDLERS,
    "s3": s3.HANDLERS,
}
