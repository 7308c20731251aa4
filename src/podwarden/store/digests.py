"""A cheap fingerprint of each HyperPod cluster's records, for the dashboard's live updates: a
few aggregate queries, no document decoded. Any write to a cluster, its instances or its events
changes its digest (versions only grow; an instance removed changes the count)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from podwarden.store.sql import Store, clusters, events, instances


@dataclass(frozen=True)
class ClusterDigest:
    account: str
    version: int
    instances: tuple[int, int]  # how many, and the sum of their versions
    events: int


def cluster_digests(store: Store) -> dict[str, ClusterDigest]:
    """Every cluster's digest, by cluster id."""
    with store.engine.connect() as conn:
        heads = conn.execute(
            select(clusters.c.cluster_id, clusters.c.account, clusters.c.version)
        ).all()
        by_instances = {
            str(cid): (int(n), int(total or 0))
            for cid, n, total in conn.execute(
                select(
                    instances.c.cluster_id, func.count(), func.sum(instances.c.version)
                ).group_by(instances.c.cluster_id)
            )
        }
        by_events = {
            str(cid): int(n)
            for cid, n in conn.execute(
                select(events.c.cluster_id, func.count()).group_by(events.c.cluster_id)
            )
        }
        return {
            str(cid): ClusterDigest(
                str(account),
                int(version),
                by_instances.get(str(cid), (0, 0)),
                by_events.get(str(cid), 0),
            )
            for cid, account, version in heads
        }
