"""What every HyperPod cluster holds, for the simulated EC2 capacity (``logic.capacity``)."""

from __future__ import annotations

from collections import Counter

from podwarden.store.sql import Store


def instances_by_type(store: Store) -> dict[str, int]:
    """Instances of each type in every cluster of the store, in any state: an instance holds its
    capacity until its record is gone (terminated and forgotten)."""
    counts: Counter[str] = Counter()
    for cluster in store.list_clusters():
        counts.update(i.instance_type for i in store.list_instances(cluster.cluster_id))
    return dict(counts)
