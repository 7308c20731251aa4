"""The store on SQLite and on PostgreSQL: uniqueness, optimistic versions, atomic writes,
persistence across a restart."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from podwarden.model.cluster import Cluster, Instance, InstanceGroup
from podwarden.model.errors import Conflict, InUse, TemporaryError
from podwarden.store.resources import Record
from podwarden.store.sql import Store, sqlite_url

MakeStore = Callable[[], Store]


def _cluster(name: str = "c", cid: str = "abcdefghijkl") -> Cluster:
    return Cluster(
        cluster_id=cid,
        name=name,
        arn=f"arn:aws:sagemaker:us-west-2:000000000000:cluster/{cid}",
        region="us-west-2",
        account="000000000000",
        status="Creating",
        created=1.0,
        spec={"NodeRecovery": "Automatic"},
        groups={"g": InstanceGroup(spec={"InstanceGroupName": "g", "InstanceCount": 2})},
    )


def _instance(
    n: int,
    cid: str = "abcdefghijkl",
    *,
    status: str = "Pending",
    launch: float = 1.0,
    ready: float = 2.0,
) -> Instance:
    return Instance(
        instance_id=f"i-{n:017x}",
        cluster_id=cid,
        group="g",
        logical_id=f"g-{n}",
        instance_type="ml.c5.large",
        status=status,
        launch_time=launch,
        ready_at=ready,
    )


def test_round_trip_and_persistence(make_store: MakeStore) -> None:
    store = make_store()
    store.create_cluster(_cluster())
    store.add_instances([_instance(1), _instance(2)])
    store.close()
    again = make_store()
    got = again.get_cluster("000000000000", "us-west-2", name="c")
    assert got is not None and got.groups["g"].spec["InstanceCount"] == 2
    assert got.version == 1
    assert {i.instance_id for i in again.list_instances("abcdefghijkl")} == {
        _instance(1).instance_id,
        _instance(2).instance_id,
    }
    assert again.get_cluster("000000000000", "us-east-1", name="c") is None


def test_names_are_unique_per_account_and_region(make_store: MakeStore) -> None:
    store = make_store()
    store.create_cluster(_cluster())
    with pytest.raises(InUse):
        store.create_cluster(_cluster(cid="zzzzzzzzzzzz"))


def test_stale_write_is_a_conflict(make_store: MakeStore) -> None:
    store = make_store()
    store.create_cluster(_cluster())
    a = store.get_cluster("000000000000", "us-west-2", name="c")
    b = store.get_cluster("000000000000", "us-west-2", name="c")
    assert a is not None and b is not None
    a.status = "InService"
    store.save_cluster(a)
    b.status = "Deleting"
    with pytest.raises(Conflict):
        store.save_cluster(b)


def test_cluster_and_instances_commit_together(make_store: MakeStore) -> None:
    store = make_store()
    store.create_cluster(_cluster())
    store.add_instances([_instance(1)])
    cluster = store.get_cluster("000000000000", "us-west-2", name="c")
    (inst,) = store.list_instances("abcdefghijkl")
    stale = store.list_instances("abcdefghijkl")[0]
    stale.message = "other writer"
    store.save_instance(stale)
    assert cluster is not None
    cluster.groups["g"].spec["InstanceCount"] = 1
    inst.status = "ShuttingDown"
    with pytest.raises(Conflict):
        store.save_cluster_and_instances(cluster, [inst])
    fresh = store.get_cluster("000000000000", "us-west-2", name="c")
    assert fresh is not None and fresh.groups["g"].spec["InstanceCount"] == 2  # rolled back


def test_resource_reads_on_both_databases(make_store: MakeStore) -> None:
    """The prepared reads (get, get_with_blob, list by scope/parent) answer what was written;
    keys are unique per run, as the PostgreSQL database is shared by the tests."""
    resources = make_store().resources
    kind = f"test:{uuid.uuid4().hex[:12]}"
    with_body = resources.create(Record(kind, "", "b/k1", {"Key": "k1"}, "b", 2.0), b"\x00body")
    resources.create(Record(kind, "", "b/k0", {"Key": "k0"}, "b", 1.0))
    resources.create(Record(kind, "acct", "x", {"n": 1}, "", 3.0))

    got = resources.get(kind, "", "b/k1")
    assert got is not None and got.doc == {"Key": "k1"} and got.version == with_body.version
    assert resources.get(kind, "", "nope") is None
    assert resources.blob(with_body) == b"\x00body"
    joined = resources.get_with_blob(kind, "", "b/k1")
    assert joined is not None and joined[0] == got and joined[1] == b"\x00body"
    bare = resources.get_with_blob(kind, "", "b/k0")
    assert bare is not None and bare[0].key == "b/k0" and bare[1] is None
    assert resources.get_with_blob(kind, "", "b/none") is None
    assert [r.key for r in resources.list(kind)] == ["b/k0", "b/k1", "x"]
    assert [r.key for r in resources.list(kind, "")] == ["b/k0", "b/k1"]
    assert [r.key for r in resources.list(kind, parent="b")] == ["b/k0", "b/k1"]
    assert [r.key for r in resources.list(kind, "acct", parent="")] == ["x"]


def test_a_write_that_outwaits_the_lock_is_a_temporary_error(tmp_path: Path) -> None:
    """SQLite's busy timeout (5 s) passing under another writer's lock is load: a TemporaryError
    (the API's retryable 503), never an OperationalError (a 500)."""
    store = Store(sqlite_url(tmp_path))
    holder = sqlite3.connect(tmp_path / "podwarden.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(TemporaryError):
            store.resources.put(Record("test:kind", "", "k", {"a": 1}))
        holder.execute("ROLLBACK")
        store.resources.put(Record("test:kind", "", "k", {"a": 1}))  # and it works once free
        got = store.resources.get("test:kind", "", "k")
        assert got is not None and got.doc == {"a": 1}
    finally:
        holder.close()
        store.close()


def test_hot_reads_see_every_commit_and_pin_no_snapshot(tmp_path: Path) -> None:
    """SQLite's hot reads run on each thread's own long-lived connection (store.prepared): a
    commit made anywhere is seen by the next read, and an idle read connection holds no read
    transaction that would stop a checkpoint from emptying the WAL."""
    store = Store(sqlite_url(tmp_path))
    try:
        store.create_cluster(_cluster())
        assert store.get_cluster("000000000000", "us-west-2", name="c") is not None  # opens it
        other = Store(sqlite_url(tmp_path))  # another writer: another process, as it were
        got = other.get_cluster("000000000000", "us-west-2", name="c")
        assert got is not None
        got.status = "InService"
        other.save_cluster(got)
        other.close()
        again = store.get_cluster("000000000000", "us-west-2", name="c")
        assert again is not None and again.status == "InService"
        seen: list[Cluster | None] = []
        reader = threading.Thread(
            target=lambda: seen.append(store.get_cluster("000000000000", "us-west-2", name="c"))
        )
        reader.start()
        reader.join(10)
        assert [c.status if c else None for c in seen] == ["InService"]
        with sqlite3.connect(tmp_path / "podwarden.db") as conn:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0
    finally:
        store.close()


def test_listed_instances_are_copies_and_follow_every_write(make_store: MakeStore) -> None:
    """list_instances decodes a document only when its version changed (store.sql), yet each
    caller gets instances of its own, and a write by any other store is seen."""
    store = make_store()
    store.create_cluster(_cluster())
    store.add_instances([_instance(1), _instance(2)])
    first = {i.instance_id: i for i in store.list_instances("abcdefghijkl")}
    mine = first[_instance(1).instance_id]
    mine.status = "Running"  # changed but not saved
    mine.on_create["uri"] = "s3://x"
    mine.deep_checks.append("InstanceStress")
    again = {i.instance_id: i for i in store.list_instances("abcdefghijkl")}
    unsaved = again[_instance(1).instance_id]
    assert (unsaved.status, unsaved.on_create, unsaved.deep_checks) == ("Pending", {}, [])
    other = make_store()  # another writer
    theirs = {i.instance_id: i for i in other.list_instances("abcdefghijkl")}
    theirs[_instance(2).instance_id].status = "Running"
    other.save_instance(theirs[_instance(2).instance_id])
    other.delete_instance(_instance(1).instance_id)
    now = store.list_instances("abcdefghijkl")
    assert [(i.instance_id, i.status, i.version) for i in now] == [
        (_instance(2).instance_id, "Running", 2)
    ]


def test_save_instances_writes_together_and_returns_what_another_writer_changed(
    make_store: MakeStore,
) -> None:
    store = make_store()
    store.create_cluster(_cluster())
    store.add_instances([_instance(1), _instance(2), _instance(3)])
    mine = {i.instance_id: i for i in store.list_instances("abcdefghijkl")}
    theirs = {i.instance_id: i for i in store.list_instances("abcdefghijkl")}
    theirs[_instance(2).instance_id].status = "ShuttingDown"
    store.save_instance(theirs[_instance(2).instance_id])  # another writer got there first
    for inst in mine.values():
        inst.status = "Running"
    lost = store.save_instances(list(mine.values()))
    assert [i.instance_id for i in lost] == [_instance(2).instance_id]
    now = {i.instance_id: (i.status, i.version) for i in store.list_instances("abcdefghijkl")}
    assert now == {
        _instance(1).instance_id: ("Running", 2),
        _instance(2).instance_id: ("ShuttingDown", 2),
        _instance(3).instance_id: ("Running", 2),
    }
    assert (
        mine[_instance(1).instance_id].version == 2 and mine[_instance(2).instance_id].version == 1
    )
    assert store.save_instances([]) == []
