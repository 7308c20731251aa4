"""The orders ListClusterNodes reads a cluster's instances in, as keyset queries.

A page starts just past the last instance of the page before (its :data:`Key`), so reading a
cluster of N instances page by page costs N rows in all, where slicing the whole sorted list for
every page cost N rows a page (quadratic in N: issue #14, measured in BENCHMARKS.md "Growth with
the cluster"). A key is ``(launch_time, instance_id)`` of that last instance; the name order
uses only the id (ids are unique). Instances that come or go between pages neither repeat nor
shift the pages after them, as an offset would.

:func:`add_launch_time` brings a store written before the ``launch_time`` column existed up to
date (the column, filled from each instance's document, and the index).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Float, Index, Select, Table, bindparam, inspect, select, text, tuple_

Key = tuple[float, str]  # (launch_time, instance_id) of the last instance a page held


@dataclass(frozen=True)
class InstanceOrder:
    by_name: bool  # SortBy NAME (the instance id); else CREATION_TIME
    descending: bool
    resume: bool  # a statement for a page after the first (it takes a key)

    def statement(self, t: Table) -> Select[Any]:
        columns = (t.c.instance_id,) if self.by_name else (t.c.launch_time, t.c.instance_id)
        q = select(t.c.doc, t.c.version).where(t.c.cluster_id == bindparam("cluster_id"))
        if self.resume:
            mine: Any = t.c.instance_id
            theirs: Any = bindparam("k_id")
            if not self.by_name:
                mine = tuple_(t.c.launch_time, t.c.instance_id)
                theirs = tuple_(bindparam("k_time"), bindparam("k_id"))
            q = q.where(mine < theirs if self.descending else mine > theirs)
        ordered = [c.desc() if self.descending else c.asc() for c in columns]
        # an explicit OFFSET: SQLite's compiler adds one to a bound LIMIT anyway
        return q.order_by(*ordered).limit(bindparam("limit")).offset(bindparam("skip"))

    def params(self, cluster_id: str, after: Key | None, limit: int) -> Mapping[str, Any]:
        out: dict[str, Any] = {"cluster_id": cluster_id, "limit": limit, "skip": 0}
        if after is not None:
            out["k_time"], out["k_id"] = after
        return out

    def of(self, *, after: Key | None) -> InstanceOrder:
        """The same order's statement for a first page (after None) or a later one."""
        return InstanceOrder(self.by_name, self.descending, resume=after is not None)


ORDERS = tuple(
    InstanceOrder(by_name, descending, resume)
    for by_name in (False, True)
    for descending in (False, True)
    for resume in (False, True)
)


def add_launch_time(engine: Engine, table: Table) -> None:
    """Add ``launch_time`` (from each document) and its index to a store that lacks them."""
    if "launch_time" in {c["name"] for c in inspect(engine).get_columns(table.name)}:
        return
    kind = Float().compile(dialect=engine.dialect)
    with engine.begin() as conn:
        conn.execute(
            text(f"ALTER TABLE {table.name} ADD COLUMN launch_time {kind} NOT NULL DEFAULT 0")
        )
        rows = conn.execute(select(table.c.instance_id, table.c.doc)).all()
        for instance_id, doc in rows:
            conn.execute(
                table.update()
                .where(table.c.instance_id == instance_id)
                .values(launch_time=float(json.loads(doc)["launch_time"]))
            )
    for index in table.indexes:
        if isinstance(index, Index) and "launch_time" in index.columns:
            index.create(engine, checkfirst=True)
