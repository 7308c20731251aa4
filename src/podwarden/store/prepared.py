"""Hot read statements compiled once and run on a pooled DB-API connection.

Running a prebuilt ``select`` through SQLAlchemy's ``Connection`` still costs a connection object,
a transaction, the compiled-cache lookup, parameter processing and a ``Result`` per call: about
170 µs for a one-row primary-key lookup in SQLite (measured), where the DB-API cursor on a pooled
connection takes about 40 µs. A :class:`PreparedRead` keeps the SQL the engine's dialect compiles
for the statement (so SQLite and PostgreSQL each get their own paramstyle and quoting) and runs it
on ``engine.raw_connection()``: the pool, its connect hooks (SQLite's pragmas) and its reset on
return (a rollback) still apply. Rows come back as plain tuples in the statement's column order.

Only for reads whose columns need no SQLAlchemy result processing (text, integers, floats,
binary) and whose parameters need no bind processing (plain strings and numbers).
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Engine, Select


class ReadConnections:
    """The connections :class:`PreparedRead` runs on.

    SQLite (a file): each thread keeps one connection of its own, opened outside the pool with
    the store's pragmas (``on_connect``), for as long as the store is open. A pooled connection
    costs a checkout and a checkin with its reset (a rollback) per read: about 30 µs, a third
    of a DescribeCluster's own work (measured in-process, 3 reads a call). A ``SELECT`` in
    sqlite3's default mode opens no transaction, so each read sees every commit before it.
    Other databases (PostgreSQL): a pooled connection per read, whose reset on return ends the
    transaction the read opened.
    """

    def __init__(self, engine: Engine, on_connect: Callable[[Any, Any], None] | None = None):
        self.engine = engine
        self._own = engine.dialect.name == "sqlite" and engine.url.database not in (
            None,
            "",
            ":memory:",
        )
        self._on_connect = on_connect
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()
        self._serial = itertools.count(1)  # tells apart connections opened over the store's life

    def _thread_connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            cargs, cparams = self.engine.dialect.create_connect_args(self.engine.url)
            # used by this thread only; closed by close(), which may run on another
            connect: Any = sqlite3.connect
            conn = connect(*cargs, **{**cparams, "check_same_thread": False})
            if self._on_connect is not None:
                self._on_connect(conn, None)
            with self._lock:
                self._opened.append(conn)
            self._local.conn = conn
            self._local.serial = next(self._serial)
        return conn

    def generation(self) -> tuple[int, int] | None:
        """A token that changes whenever the database changes, whoever commits (this process's
        writes, another process's): SQLite's ``data_version`` on this thread's own connection
        (about 2 µs), which never writes, so every commit is another connection's. Tokens of
        different threads differ (each has its own connection and count). None where there is
        no such token (PostgreSQL, an in-memory SQLite): nothing may be kept by it there."""
        if not self._own:
            return None
        conn = self._thread_connection()
        row = conn.execute("PRAGMA data_version").fetchone()
        return (self._local.serial, int(row[0]))

    def run(self, sql: str, params: Any, *, one: bool) -> Any:
        """Execute ``sql``: its first row (``one``) or every row."""
        if self._own:
            cursor = self._thread_connection().cursor()
            try:
                cursor.execute(sql, params)
                return cursor.fetchone() if one else cursor.fetchall()
            finally:
                cursor.close()
        conn = self.engine.raw_connection()
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(sql, params)
                return cursor.fetchone() if one else cursor.fetchall()
            finally:
                cursor.close()
        finally:
            conn.close()

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()


class PreparedRead:
    def __init__(self, reads: ReadConnections, statement: Select[Any]) -> None:
        compiled = statement.compile(dialect=reads.engine.dialect)
        self._reads = reads
        self._sql = compiled.string
        # positional paramstyles (SQLite's qmark) take a tuple in the compiled order, named ones
        # (psycopg's pyformat) a mapping of the statement's own parameters
        self._positional = bool(reads.engine.dialect.positional)
        names = compiled.positiontup if self._positional else compiled.params
        self._names: tuple[str, ...] = tuple(names or ())

    def _params(self, params: Mapping[str, Any]) -> Any:
        if self._positional:
            return tuple(params[name] for name in self._names)
        return {name: params[name] for name in self._names}

    def first(self, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row, or None."""
        row = self._reads.run(self._sql, self._params(params), one=True)
        return None if row is None else tuple(row)

    def all(self, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row."""
        return [tuple(r) for r in self._reads.run(self._sql, self._params(params), one=False)]
