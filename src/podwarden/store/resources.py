"""Generic records of the local AWS account (EKS, EC2, IAM, S3...), in the same database as the
HyperPod state.

A record is a JSON document addressed by ``(kind, scope, key)``: ``kind`` names the resource type
(``"ec2:vpc"``, ``"eks:addon"``), ``scope`` where it lives (``"<account>/<region>"`` for regional
resources, ``"<account>"`` for IAM, ``""`` for S3 bucket names, which are global) and ``key`` its
id or name. ``parent`` groups children for listing (a VPC's subnets, a bucket's objects).
Versions give optimistic concurrency as for clusters; every write is one committed transaction.
Blobs (S3 object bodies) live in their own table so listing never reads them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Select,
    String,
    Table,
    Text,
    bindparam,
    select,
)
from sqlalchemy.exc import IntegrityError

from podwarden.model.errors import Conflict
from podwarden.store.prepared import PreparedRead, ReadConnections
from podwarden.store.transactions import begin

metadata = MetaData()

resources = Table(
    "resources",
    metadata,
    Column("kind", String(64), primary_key=True),
    Column("scope", String(64), primary_key=True),
    Column("key", String(2048), primary_key=True),  # S3: "<bucket>/<key up to 1024>"
    Column("parent", String(2048), nullable=False, default=""),
    Column("created", Float, nullable=False),
    Column("version", Integer, nullable=False),
    Column("doc", Text, nullable=False),
    Index("resources_parent", "kind", "scope", "parent"),
)

blobs = Table(
    "blobs",
    metadata,
    Column("blob_key", String(2200), primary_key=True),
    Column("data", LargeBinary, nullable=False),
)


# Hot reads, built once: composing a SQLAlchemy select costs more than running it (as for
# clusters in ``store.sql``); each store compiles them for its engine (``store.prepared``).
_COLUMNS = (
    resources.c.kind,
    resources.c.scope,
    resources.c.key,
    resources.c.parent,
    resources.c.created,
    resources.c.version,
    resources.c.doc,
)
_GET = select(*_COLUMNS).where(
    resources.c.kind == bindparam("kind"),
    resources.c.scope == bindparam("scope"),
    resources.c.key == bindparam("key"),
)
_BLOB = select(blobs.c.data).where(blobs.c.blob_key == bindparam("blob_key"))
# a record and its blob in one read (S3 GetObject: the doc and the body it was written with)
_GET_WITH_BLOB = (
    select(*_COLUMNS, blobs.c.data)
    .select_from(resources.outerjoin(blobs, blobs.c.blob_key == bindparam("blob_key")))
    .where(
        resources.c.kind == bindparam("kind"),
        resources.c.scope == bindparam("scope"),
        resources.c.key == bindparam("key"),
    )
)


def _list_statement(scope: bool, parent: bool) -> Select[Any]:
    q = select(*_COLUMNS).where(resources.c.kind == bindparam("kind"))
    if scope:
        q = q.where(resources.c.scope == bindparam("scope"))
    if parent:
        q = q.where(resources.c.parent == bindparam("parent"))
    return q.order_by(resources.c.created, resources.c.key)


class Duplicate(Exception):
    """A record with that (kind, scope, key) exists already."""


@dataclass
class Record:
    kind: str
    scope: str
    key: str
    doc: dict[str, Any]
    parent: str = ""
    created: float = 0.0
    version: int = 0


def _row(rec: Record) -> dict[str, Any]:
    return {
        "kind": rec.kind,
        "scope": rec.scope,
        "key": rec.key,
        "parent": rec.parent,
        "created": rec.created,
        "version": rec.version,
        "doc": json.dumps(rec.doc),
    }


def _record(row: tuple[Any, ...]) -> Record:
    """A record from a row of ``_COLUMNS``."""
    kind, scope, key, parent, created, version, doc = row
    return Record(
        kind=kind,
        scope=scope,
        key=key,
        doc=json.loads(doc),
        parent=parent,
        created=created,
        version=version,
    )


def _blob_key(rec: Record) -> str:
    return f"{rec.kind}|{rec.scope}|{rec.key}"


class Resources:
    def __init__(self, engine: Engine, reads: ReadConnections) -> None:
        self.engine = engine
        metadata.create_all(engine)
        self._get = PreparedRead(reads, _GET)
        self._blob = PreparedRead(reads, _BLOB)
        self._get_with_blob = PreparedRead(reads, _GET_WITH_BLOB)
        self._lists = {
            (scope, parent): PreparedRead(reads, _list_statement(scope, parent))
            for scope in (False, True)
            for parent in (False, True)
        }

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with begin(self.engine) as conn:
            yield conn

    def create(self, rec: Record, blob: bytes | None = None) -> Record:
        """Insert a new record (and its blob, in the same transaction); ``Duplicate`` if taken."""
        rec.version = 1
        try:
            with self._tx() as conn:
                conn.execute(resources.insert().values(**_row(rec)))
                if blob is not None:
                    conn.execute(blobs.insert().values(blob_key=_blob_key(rec), data=blob))
        except IntegrityError:
            rec.version = 0
            raise Duplicate(f"{rec.kind} {rec.key} exists") from None
        return rec

    def save(self, rec: Record) -> Record:
        """Write back a record read at ``rec.version``; Conflict if it changed since."""
        with self._tx() as conn:
            self._update(conn, rec)
        rec.version += 1
        return rec

    def put(self, rec: Record, blob: bytes | None = None) -> Record:
        """Create or overwrite, whatever the version (S3's last-writer-wins PutObject)."""
        with self._tx() as conn:
            conn.execute(self._delete_q(rec.kind, rec.scope, rec.key))
            conn.execute(blobs.delete().where(blobs.c.blob_key == _blob_key(rec)))
            rec.version = 1
            conn.execute(resources.insert().values(**_row(rec)))
            if blob is not None:
                conn.execute(blobs.insert().values(blob_key=_blob_key(rec), data=blob))
        return rec

    def get(self, kind: str, scope: str, key: str) -> Record | None:
        row = self._get.first({"kind": kind, "scope": scope, "key": key})
        return None if row is None else _record(row)

    def blob(self, rec: Record) -> bytes | None:
        row = self._blob.first({"blob_key": _blob_key(rec)})
        return None if row is None else bytes(row[0])

    def get_with_blob(self, kind: str, scope: str, key: str) -> tuple[Record, bytes | None] | None:
        """A record and its blob (None if it has none), read together in one statement."""
        params = {"kind": kind, "scope": scope, "key": key, "blob_key": f"{kind}|{scope}|{key}"}
        row = self._get_with_blob.first(params)
        if row is None:
            return None
        data = row[len(_COLUMNS)]
        return _record(row[: len(_COLUMNS)]), None if data is None else bytes(data)

    def list(self, kind: str, scope: str | None = None, parent: str | None = None) -> list[Record]:
        """Records of ``kind`` (in ``scope``, under ``parent``), oldest first, then by key."""
        params = {"kind": kind, "scope": scope, "parent": parent}
        rows = self._lists[scope is not None, parent is not None].all(params)
        return [_record(r) for r in rows]

    def delete(self, kind: str, scope: str, key: str) -> bool:
        """Remove a record and its blob; False if there was none."""
        with self._tx() as conn:
            gone = conn.execute(self._delete_q(kind, scope, key)).rowcount
            conn.execute(blobs.delete().where(blobs.c.blob_key == f"{kind}|{scope}|{key}"))
        return bool(gone)

    @staticmethod
    def _delete_q(kind: str, scope: str, key: str) -> Any:
        return resources.delete().where(
            resources.c.kind == kind, resources.c.scope == scope, resources.c.key == key
        )

    @staticmethod
    def _update(conn: Connection, rec: Record) -> None:
        result = conn.execute(
            resources.update()
            .where(
                resources.c.kind == rec.kind,
                resources.c.scope == rec.scope,
                resources.c.key == rec.key,
                resources.c.version == rec.version,
            )
            .values(version=rec.version + 1, doc=json.dumps(rec.doc), parent=rec.parent)
        )
        if result.rowcount != 1:
            raise Conflict(f"{rec.kind} {rec.key} was modified concurrently; retry.")
