"""SageMaker's HyperPod cluster API: clusters, nodes (and adding them), platform software
updates, events, operations and tags."""

from podwarden.control.registry import merge
from podwarden.control.sagemaker import (
    clusters,
    events,
    node_additions,
    nodes,
    operations,
    software,
    tags,
)

OPERATIONS = merge(
    clusters.OPERATIONS,
    nodes.OPERATIONS,
    node_additions.OPERATIONS,
    events.OPERATIONS,
    operations.OPERATIONS,
    software.OPERATIONS,
    tags.OPERATIONS,
)
