"""Instances read in ListClusterNodes' orders through the store's index (``store.instance_order``),
on SQLite and PostgreSQL: a walk from key to key gives the same sequence as sorting the whole
list, and a store written before the ``launch_time`` column existed is brought up to date."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from sqlalchemy import text

from podwarden.model.cluster import Instance
from podwarden.store.instance_order import ORDERS, InstanceOrder, Key
from podwarden.store.sql import Store
from tests.store.test_store import _instance as store_instance

MakeStore = Callable[[], Store]
CID = "abcdefghijkl"


def _instance(n: int, launch: float, cid: str = CID) -> Instance:
    return store_instance(n, cid, status="Running", launch=launch, ready=launch)


def _walk(store: Store, order: InstanceOrder, limit: int) -> list[str]:
    seen: list[str] = []
    after: Key | None = None
    while True:
        rows = store.instances_in_order(CID, order, after, limit)
        seen.extend(i.instance_id for i in rows)
        if len(rows) < limit:
            return seen
        after = (rows[-1].launch_time, rows[-1].instance_id)


@pytest.mark.parametrize("order", [o for o in ORDERS if not o.resume], ids=str)
def test_a_walk_by_keys_is_the_sorted_list(make_store: MakeStore, order: InstanceOrder) -> None:
    store = make_store()
    rng = random.Random(7)
    # launch times with ties (instances of one launch), ids not in launch order
    made = [_instance(rng.randrange(1 << 40), float(rng.randrange(5))) for _ in range(57)]
    store.add_instances(made)
    store.add_instances([_instance(1, 0.0, cid="otherclustr")])  # another cluster's: not read
    if order.by_name:
        expected = sorted(made, key=lambda i: i.instance_id, reverse=order.descending)
    else:
        key = lambda i: (i.launch_time, i.instance_id)  # noqa: E731
        expected = sorted(made, key=key, reverse=order.descending)
    for limit in (1, 7, 56, 57, 100):
        assert _walk(store, order, limit) == [i.instance_id for i in expected], limit


def test_a_saved_instance_keeps_its_place(make_store: MakeStore) -> None:
    store = make_store()
    store.add_instances([_instance(1, 1.0), _instance(2, 2.0)])
    first = next(i for i in store.list_instances(CID) if i.launch_time == 1.0)
    first.launch_time = 3.0  # a write that moves it is seen by the index too
    store.save_instance(first)
    order = InstanceOrder(by_name=False, descending=False, resume=False)
    assert [i.launch_time for i in store.instances_in_order(CID, order, None, 10)] == [2.0, 3.0]


def test_a_store_without_the_launch_time_column_is_brought_up_to_date(
    make_store: MakeStore,
) -> None:
    store = make_store()
    store.add_instances([_instance(2, 20.0), _instance(1, 10.0)])
    with store.engine.begin() as conn:  # as a store written before the column existed
        docs = conn.execute(text("SELECT instance_id, cluster_id, doc FROM instances")).all()
        conn.execute(text("DROP TABLE instances"))
        conn.execute(
            text(
                "CREATE TABLE instances (instance_id VARCHAR(19) PRIMARY KEY, cluster_id "
                "VARCHAR(12) NOT NULL, group_name VARCHAR(63) NOT NULL, status VARCHAR(32) "
                "NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL)"
            )
        )
        for instance_id, cluster_id, doc in docs:
            conn.execute(
                text("INSERT INTO instances VALUES (:i, :c, 'g', 'Running', 1, :d)"),
                {"i": instance_id, "c": cluster_id, "d": doc},
            )
    store.close()
    again = make_store()
    order = InstanceOrder(by_name=False, descending=False, resume=False)
    got = again.instances_in_order(CID, order, None, 10)
    assert [i.launch_time for i in got] == [10.0, 20.0]
    again.add_instances([_instance(3, 15.0)])  # and new rows carry the column
    assert [i.launch_time for i in again.instances_in_order(CID, order, None, 10)] == [
        10.0,
        15.0,
        20.0,
    ]
