"""Answers of pure read operations, kept while the store stays as it was when they were made.

Clients poll: the HyperPod CLI, boto3's waiters and dashboards call DescribeCluster and
ListClusterNodes over and over while nothing changes. An operation listed in
``policy/tables/read_cache.yaml`` answers from a function of the store, the request and the
caller (and, where its entry says so, today's UTC date), so its encoded answer can be kept and
given again for as long as none of those changed:

* the store: its generation (``Store.generation``, SQLite's ``data_version``), read *before* the
  answer is made, changes with every commit by anyone, so an answer kept under a generation is
  never older than it;
* the request: the service, the operation, the protocol, the method, path, query and body (the
  table lists only operations whose input the model binds to no header: the tests check the
  shipped table, and a server checks each operation the first time it sees it, and never keeps
  one that fails);
* the caller: account, region, access key and principal;
* the clock: an entry's ``day`` adds today's UTC date; a handler that read the clock outside what
  its entry allows (any reading for ``none``, another day for ``day``) has its answer used once
  and not kept (``Clock``): the table cannot silently go stale when a handler changes.

Each request is still authenticated before the cache is asked; only successful answers are kept,
each with the request id its response carries replaced by the new request's. Where the store has
no generation (PostgreSQL) nothing is kept. Memory is bounded (``max_bytes``, least recently
used out first).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from podwarden.api.callers import Caller
from podwarden.policy.read_cache import Clock, ReadCacheTable, load_read_cache
from podwarden.wire.http import HttpRequest, HttpResponse
from podwarden.wire.models import operation_model

log = logging.getLogger("podwarden.api.read_cache")

DAY_S = 86_400
MAX_BYTES = 16 * 1024 * 1024  # all kept answers, keys included
MAX_ENTRY_BYTES = 1024 * 1024  # a larger answer is not kept
HEADER_LOCATIONS = frozenset({"header", "headers"})


class ClockReadings:
    """``now`` that remembers the times it gave: a handler's clock while its answer is made."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self.days: set[int] = set()  # the UTC days of the times given

    def __call__(self) -> float:
        t = self._now()
        self.days.add(int(t // DAY_S))
        return t


@dataclass(frozen=True)
class Ticket:
    """A cacheable request: its key, the store's generation when it arrived, its clock."""

    key: tuple[Hashable, ...]
    generation: Hashable
    clock: Clock
    day: int


@dataclass(frozen=True)
class _Kept:
    generation: Hashable
    status: int
    headers: tuple[tuple[str, str], ...]  # with the request id as ``_ID``
    parts: tuple[bytes, ...]  # the body split where the request id was
    size: int


_ID = "\x00request-id\x00"  # where a kept header carried the request id (never in a real one)


def header_members(service: str, operation: str) -> list[str]:
    """The operation's input members its model binds to HTTP headers (the key would miss
    them); ``UnknownOperation`` when the model has no such operation."""
    shape = operation_model(service, operation).input_shape
    members = shape.members if shape is not None else {}
    return [
        name
        for name, member in members.items()
        if member.serialization.get("location") in HEADER_LOCATIONS
    ]


def check_table(table: ReadCacheTable) -> None:
    """Every listed operation exists in its service's model and takes no input from a header;
    a ``ValueError`` naming the first that does not. The shipped table is checked by the tests;
    a running server checks each operation when it first sees it (``ReadCache.ticket``), since
    loading every listed service's model at start would cost its memory (EC2's alone is tens of
    MiB) in servers that never serve that service."""
    for service, op in table.clocks:
        bound = header_members(service, op)
        if bound:
            raise ValueError(
                f"read cache: {service} {op} takes input from headers ({', '.join(bound)}): "
                "its answers cannot be keyed by method, path, query and body"
            )


class ReadCache:
    def __init__(
        self,
        generation: Callable[[], Hashable | None],
        table: ReadCacheTable | None = None,
        *,
        max_bytes: int = MAX_BYTES,
        max_entry_bytes: int = MAX_ENTRY_BYTES,
    ) -> None:
        self._generation = generation
        self._table = load_read_cache() if table is None else table
        self._keyable: dict[tuple[str, str], bool] = {}  # (service, operation) -> checked
        self._max_bytes = max_bytes
        self._max_entry = max_entry_bytes
        self._kept: OrderedDict[tuple[Hashable, ...], _Kept] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # large requests are handled on the bulk pool's thread

    def ticket(
        self,
        service: str,
        operation: str,
        request: HttpRequest,
        *,
        family: str,
        caller: Caller,
        now: float,
    ) -> Ticket | None:
        """The request's ticket when its operation's answers may be kept, else None."""
        clock = self._table.clock(service, operation)
        if clock is None or not self._keyable_op(service, operation):
            return None
        generation = self._generation()
        if generation is None:
            return None
        day = int(now // DAY_S)
        key = (
            service,
            operation,
            family,
            request.method,
            request.path,
            request.query_string,
            request.body,
            caller.account,
            caller.region,
            caller.access_key_id,
            caller.principal_arn,
            day if clock is Clock.DAY else None,
        )
        return Ticket(key, generation, clock, day)

    def answer(self, ticket: Ticket, request_id: str) -> HttpResponse | None:
        """The kept answer to the ticket's request as of its generation, for ``request_id``."""
        with self._lock:
            kept = self._kept.get(ticket.key)
            if kept is None or kept.generation != ticket.generation:
                return None
            self._kept.move_to_end(ticket.key)
        headers = [(k, v.replace(_ID, request_id)) for k, v in kept.headers]
        return HttpResponse(kept.status, headers, request_id.encode().join(kept.parts))

    def keep(
        self, ticket: Ticket, response: HttpResponse, request_id: str, clock: ClockReadings
    ) -> bool:
        """Keep a successful answer made for the ticket (with ``clock`` as the handler's clock);
        whether it was kept."""
        if response.status != 200 or not self._clock_allows(ticket, clock):
            return False
        size = len(response.body) + sum(
            len(part) for part in ticket.key if isinstance(part, str | bytes)
        )
        if size > self._max_entry:
            return False
        kept = _Kept(
            ticket.generation,
            response.status,
            tuple((k, v.replace(request_id, _ID)) for k, v in response.headers),
            tuple(response.body.split(request_id.encode())),
            size,
        )
        with self._lock:
            old = self._kept.pop(ticket.key, None)
            self._bytes += size - (old.size if old is not None else 0)
            self._kept[ticket.key] = kept
            while self._bytes > self._max_bytes:
                _, oldest = self._kept.popitem(last=False)
                self._bytes -= oldest.size
        return True

    def _keyable_op(self, service: str, operation: str) -> bool:
        keyable = self._keyable.get((service, operation))
        if keyable is None:  # first seen: its model is loaded, as its request is being served
            bound = header_members(service, operation)
            if bound:
                log.error(
                    "read cache: %s %s takes input from headers (%s): never kept",
                    service,
                    operation,
                    ", ".join(bound),
                )
            keyable = self._keyable[(service, operation)] = not bound
        return keyable

    @staticmethod
    def _clock_allows(ticket: Ticket, clock: ClockReadings) -> bool:
        if ticket.clock is Clock.NONE:
            return not clock.days
        return clock.days <= {ticket.day}

    def __len__(self) -> int:
        return len(self._kept)
