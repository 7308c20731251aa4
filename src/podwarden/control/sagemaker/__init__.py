"""SageMaker's HyperPod cluster API: clusters, nodes, events, operations and tags."""

from podwarden.control.registry import merge
from podwarden.control.sagemaker import clusters, events, nodes, operations, tags

OPERATIONS = merge(
    clusters.OPERATIONS, nodes.OPERATIONS, events.OPERATIONS, operations.OPERATIONS, tags.OPERATIONS
)
