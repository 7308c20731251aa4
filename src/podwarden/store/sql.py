"""The state store on SQLAlchemy Core: SQLite (WAL) in the data directory, or PostgreSQL.

Each record is a JSON document plus the columns queries need, with a version for optimistic
concurrency: an update names the version it read and fails with Conflict if another writer got
there first. Every write is one committed transaction, so a crash loses nothing acknowledged.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError

from podwarden.model.cluster import Cluster, ClusterEvent, ClusterOperation, Instance
from podwarden.model.errors import Conflict, InUse
from podwarden.store.instance_order import ORDERS, InstanceOrder, Key, add_launch_time
from podwarden.store.prepared import PreparedRead, ReadConnections
from podwarden.store.resources import Resources
from podwarden.store.transactions import begin

metadata = MetaData()

clusters = Table(
    "clusters",
    metadata,
    Column("cluster_id", String(12), primary_key=True),
    Column("account", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(63), nullable=False),
    Column("created", Float, nullable=False),
    Column("version", Integer, nullable=False),
    Column("doc", Text, nullable=False),
    Index("clusters_name", "account", "region", "name", unique=True),
)

instances = Table(
    "instances",
    metadata,
    Column("instance_id", String(19), primary_key=True),
    Column("cluster_id", String(12), nullable=False, index=True),
    Column("group_name", String(63), nullable=False),
    Column("status", String(32), nullable=False),
    # the key of ListClusterNodes' default order (store.instance_order): pages are read from
    # where the last one ended, through this index, not by decoding every instance per page
    Column("launch_time", Float, nullable=False, server_default="0"),
    Column("version", Integer, nullable=False),
    Column("doc", Text, nullable=False),
    Index("instances_by_launch", "cluster_id", "launch_time", "instance_id"),
)


# Hot read statements, built once: composing SQLAlchemy expressions costs more per request than
# running the query (measured: 0.5 ms -> 0.1 ms for a DescribeCluster lookup). Each Store compiles
# them for its engine and runs them without SQLAlchemy's Connection (``store.prepared``: 170 ->
# 40 µs a lookup).
_CLUSTER_BY_NAME = select(clusters.c.doc, clusters.c.version).where(
    clusters.c.account == bindparam("account"),
    clusters.c.region == bindparam("region"),
    clusters.c.name == bindparam("name"),
)
_CLUSTER_BY_ID = select(clusters.c.doc, clusters.c.version).where(
    clusters.c.account == bindparam("account"),
    clusters.c.region == bindparam("region"),
    clusters.c.cluster_id == bindparam("cluster_id"),
)
_CLUSTER_ANYWHERE = select(clusters.c.doc, clusters.c.version).where(
    clusters.c.cluster_id == bindparam("cluster_id")
)
_COUNT_BY_GROUP = (
    select(instances.c.group_name, func.count())
    .where(instances.c.cluster_id == bindparam("cluster_id"))
    .where(instances.c.status == bindparam("status"))
    .group_by(instances.c.group_name)
)
_INSTANCES_OF = select(instances.c.doc, instances.c.version, instances.c.instance_id).where(
    instances.c.cluster_id == bindparam("cluster_id")
)


events = Table(
    "events",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("cluster_id", String(12), nullable=False, index=True),
    Column("time", Float, nullable=False),
    Column("doc", Text, nullable=False),
)
_EVENTS_OF = select(events.c.doc).where(events.c.cluster_id == bindparam("cluster_id"))

operations = Table(
    "operations",
    metadata,
    Column("operation_id", String(36), primary_key=True),
    Column("cluster_id", String(12), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("doc", Text, nullable=False),
)


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'podwarden.db'}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def _update_cluster(conn: Connection, cluster: Cluster) -> None:
    result = conn.execute(
        clusters.update()
        .where(clusters.c.cluster_id == cluster.cluster_id)
        .where(clusters.c.version == cluster.version)
        .values(version=cluster.version + 1, doc=json.dumps(cluster.to_doc()))
    )
    if result.rowcount != 1:
        raise Conflict(f"Cluster {cluster.name} was modified concurrently; retry.")


def _update_instance(conn: Connection, inst: Instance) -> None:
    result = conn.execute(
        instances.update()
        .where(instances.c.instance_id == inst.instance_id)
        .where(instances.c.version == inst.version)
        .values(
            version=inst.version + 1,
            status=inst.status,
            launch_time=inst.launch_time,
            doc=json.dumps(inst.to_doc()),
        )
    )
    if result.rowcount != 1:
        raise Conflict(f"Instance {inst.instance_id} was modified concurrently; retry.")


def _instance_row(inst: Instance) -> dict[str, Any]:
    return {
        "instance_id": inst.instance_id,
        "cluster_id": inst.cluster_id,
        "group_name": inst.group,
        "status": inst.status,
        "launch_time": inst.launch_time,
        "version": 1,
        "doc": json.dumps(inst.to_doc()),
    }


class Store:
    def __init__(self, url: str) -> None:
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)
        add_launch_time(self.engine, instances)  # a store written before the column existed
        self._reads = ReadConnections(self.engine, _sqlite_pragmas)
        self.resources = Resources(self.engine, self._reads)  # the local AWS account's records
        # the hot reads, compiled for this engine and run on a pooled DB-API connection
        self._cluster_by_name = PreparedRead(self._reads, _CLUSTER_BY_NAME)
        self._cluster_by_id = PreparedRead(self._reads, _CLUSTER_BY_ID)
        self._cluster_anywhere = PreparedRead(self._reads, _CLUSTER_ANYWHERE)
        self._count_by_group = PreparedRead(self._reads, _COUNT_BY_GROUP)
        self._instances_of = PreparedRead(self._reads, _INSTANCES_OF)
        self._events_of = PreparedRead(self._reads, _EVENTS_OF)
        # each cluster's instances as last decoded (list_instances), never handed out
        self._decoded: dict[str, dict[str, Instance]] = {}
        self._in_order = {o: PreparedRead(self._reads, o.statement(instances)) for o in ORDERS}

    def close(self) -> None:
        self._reads.close()
        self.engine.dispose()

    def generation(self) -> tuple[int, int] | None:
        """A token that changes whenever anything in the store changes, or None where the
        database offers no cheap one (``ReadConnections.generation``): what the API's read cache
        keeps answers by."""
        return self._reads.generation()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with begin(self.engine) as conn:
            yield conn

    # -- clusters -------------------------------------------------------------------------
    def create_cluster(self, cluster: Cluster) -> Cluster:
        row = {
            "cluster_id": cluster.cluster_id,
            "account": cluster.account,
            "region": cluster.region,
            "name": cluster.name,
            "created": cluster.created,
            "version": 1,
            "doc": json.dumps(cluster.to_doc()),
        }
        try:
            with self._tx() as conn:
                conn.execute(clusters.insert().values(**row))
        except IntegrityError:
            raise InUse(f"Cluster with name {cluster.name} already exists.") from None
        cluster.version = 1
        return cluster

    def save_cluster(self, cluster: Cluster) -> Cluster:
        """Write back a cluster read at ``cluster.version``; Conflict if it changed since."""
        with self._tx() as conn:
            _update_cluster(conn, cluster)
        cluster.version += 1
        return cluster

    def save_cluster_and_instances(self, cluster: Cluster, changed: list[Instance]) -> None:
        """Write a cluster and some of its instances in one transaction, all or nothing."""
        with self._tx() as conn:
            _update_cluster(conn, cluster)
            for i in changed:
                _update_instance(conn, i)
        cluster.version += 1
        for i in changed:
            i.version += 1

    def add_events(self, new: list[ClusterEvent]) -> None:
        if not new:
            return
        rows = [
            {
                "event_id": e.event_id,
                "cluster_id": e.cluster_id,
                "time": e.time,
                "doc": json.dumps(e.to_doc()),
            }
            for e in new
        ]
        with self._tx() as conn:
            conn.execute(events.insert(), rows)

    def list_events(self, cluster_id: str) -> list[ClusterEvent]:
        rows = self._events_of.all({"cluster_id": cluster_id})
        return [ClusterEvent(**json.loads(doc)) for (doc,) in rows]

    def put_operations(self, ops: list[ClusterOperation]) -> None:
        """Insert or overwrite operations (their status is the only thing that changes)."""
        if not ops:
            return
        with self._tx() as conn:
            for op in ops:
                conn.execute(
                    operations.delete().where(operations.c.operation_id == op.operation_id)
                )
                conn.execute(
                    operations.insert().values(
                        operation_id=op.operation_id,
                        cluster_id=op.cluster_id,
                        status=op.status,
                        doc=json.dumps(op.to_doc()),
                    )
                )

    def list_operations(self, cluster_id: str, status: str | None = None) -> list[ClusterOperation]:
        q = select(operations.c.doc).where(operations.c.cluster_id == cluster_id)
        if status is not None:
            q = q.where(operations.c.status == status)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [ClusterOperation(**json.loads(r.doc)) for r in rows]

    def delete_cluster(self, cluster_id: str) -> None:
        with self._tx() as conn:
            conn.execute(operations.delete().where(operations.c.cluster_id == cluster_id))
            conn.execute(events.delete().where(events.c.cluster_id == cluster_id))
            conn.execute(instances.delete().where(instances.c.cluster_id == cluster_id))
            conn.execute(clusters.delete().where(clusters.c.cluster_id == cluster_id))

    def get_cluster(
        self, account: str, region: str, *, name: str | None = None, cluster_id: str | None = None
    ) -> Cluster | None:
        params = {"account": account, "region": region}
        if name:
            q, params["name"] = self._cluster_by_name, name
        else:
            q, params["cluster_id"] = self._cluster_by_id, cluster_id or ""
        row = q.first(params)
        return None if row is None else Cluster.from_doc(json.loads(row[0]), row[1])

    def cluster_by_id(self, cluster_id: str) -> Cluster | None:
        """A cluster by its id, in any account or region (for the reconciler)."""
        row = self._cluster_anywhere.first({"cluster_id": cluster_id})
        return None if row is None else Cluster.from_doc(json.loads(row[0]), row[1])

    def list_clusters(self, account: str | None = None, region: str | None = None) -> list[Cluster]:
        q = select(clusters.c.doc, clusters.c.version)
        if account is not None:
            q = q.where(clusters.c.account == account)
        if region is not None:
            q = q.where(clusters.c.region == region)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(clusters.c.created, clusters.c.cluster_id)).all()
        return [Cluster.from_doc(json.loads(r.doc), r.version) for r in rows]

    # -- instances ------------------------------------------------------------------------
    def add_instances(self, new: list[Instance]) -> None:
        if not new:
            return
        with self._tx() as conn:
            conn.execute(instances.insert(), [_instance_row(i) for i in new])
        for i in new:
            i.version = 1

    def save_instance(self, inst: Instance) -> Instance:
        with self._tx() as conn:
            _update_instance(conn, inst)
        inst.version += 1
        return inst

    def save_instances(self, changed: list[Instance]) -> list[Instance]:
        """Write each instance whose stored version is still the one it was read at, in one
        transaction (one commit for a pass that changes many, not one each); return those
        another writer changed first (not written: read them again)."""
        saved: list[Instance] = []
        lost: list[Instance] = []
        if not changed:
            return lost
        with self._tx() as conn:
            for inst in changed:
                try:
                    _update_instance(conn, inst)
                    saved.append(inst)
                except Conflict:
                    lost.append(inst)
        for inst in saved:
            inst.version += 1
        return lost

    def replace_instance(self, old: Instance, new: Instance) -> None:
        """Write a terminating instance and its replacement in one transaction."""
        with self._tx() as conn:
            _update_instance(conn, old)
            conn.execute(instances.insert().values(**_instance_row(new)))
        old.version += 1
        new.version = 1

    def delete_instance(self, instance_id: str) -> None:
        with self._tx() as conn:
            conn.execute(instances.delete().where(instances.c.instance_id == instance_id))

    def count_instances(self, cluster_id: str, status: str) -> dict[str, int]:
        """Instances of a cluster in ``status``, counted per group (no documents decoded)."""
        params = {"cluster_id": cluster_id, "status": status}
        return {str(g): int(n) for g, n in self._count_by_group.all(params)}

    def list_instances(self, cluster_id: str) -> list[Instance]:
        """Every instance of the cluster, each a copy of its own to change and save. Documents
        are decoded only when their version changed since the last call (``_decoded``): a
        reconciler's pass over a cluster of 5,000 instances spent most of its time decoding
        unchanged ones (BENCHMARKS.md, "Growth with the cluster")."""
        rows = self._instances_of.all({"cluster_id": cluster_id})
        before = self._decoded.get(cluster_id, {})
        now: dict[str, Instance] = {}
        for doc, version, instance_id in rows:
            known = before.get(instance_id)
            if known is None or known.version != version:
                known = Instance.from_doc(json.loads(doc), version)
            now[instance_id] = known
        self._decoded[cluster_id] = now  # only what is there now: nothing stays behind
        return [inst.copy() for inst in now.values()]

    def instances_in_order(
        self, cluster_id: str, order: InstanceOrder, after: Key | None, limit: int
    ) -> list[Instance]:
        """Up to ``limit`` instances of a cluster in ``order``, from just past ``after`` (a key
        of that order; None: from the start), read through the order's index: a page costs its
        own rows, not the cluster's."""
        statement = self._in_order[order.of(after=after)]
        rows = statement.all(order.params(cluster_id, after, limit))
        return [Instance.from_doc(json.loads(doc), version) for doc, version in rows]
