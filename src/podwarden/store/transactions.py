"""One write transaction, with a busy database as a temporary error.

SQLite has one writer at a time; a writer waits for the lock up to its ``busy_timeout`` (5 s,
``store.sql``) and SQLite's busy handler is not fair, so under many concurrent large writes one
can wait past it and fail with "database is locked". That is load, not a fault: it becomes
:class:`~podwarden.model.errors.TemporaryError`, which the API answers as 503
``ServiceUnavailable`` (botocore retries it) and a reconciler requeues, instead of a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from podwarden.model.errors import TemporaryError

_BUSY = ("database is locked", "database table is locked", "database is busy")


@contextmanager
def begin(engine: Engine) -> Iterator[Connection]:
    try:
        with engine.begin() as conn:
            yield conn
    except OperationalError as exc:
        if any(text in str(exc.orig) for text in _BUSY):
            raise TemporaryError("The store is busy; retry the request.", delay=0.5) from exc
        raise
