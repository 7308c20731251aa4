"""SageMaker's HyperPod cluster API: clusters, nodes, events and operations."""

from podwarden.control.registry import merge
from podwarden.control.sagemaker import clusters, events, nodes, operations

OPERATIONS = merge(clusters.OPERATIONS, nodes.OPERATIONS, events.OPERATIONS, operations.OPERATIONS)
