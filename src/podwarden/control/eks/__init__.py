"""EKS (rest-json, signing name ``eks``) of the local AWS account: every operation podwarden
answers, by what it acts on: clusters, Kubernetes versions, cluster updates, add-ons, access
entries, Pod Identity associations, and the tags of all four (``records`` and ``network`` are
what they share)."""

from podwarden.control.eks import (
    access,
    addons,
    clusters,
    pod_identity,
    tags,
    updates,
    versions,
)
from podwarden.control.registry import merge

OPERATIONS = merge(
    clusters.OPERATIONS,
    versions.OPERATIONS,
    updates.OPERATIONS,
    addons.OPERATIONS,
    access.OPERATIONS,
    pod_identity.OPERATIONS,
    tags.OPERATIONS,
)
