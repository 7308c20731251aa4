"""A keyed work queue and the loop that drains it: how every podwarden reconciler is driven.

The model is controller-runtime's: a reconcile request is only a key; a key waits in the queue at
most once (adding it again keeps the earlier due time), is never reconciled by two workers at
once (added while in progress, it runs again afterwards), and its reconcile answers when to come
back (``RequeueAfter``) or raises. Errors carry their retry semantics (``model.errors``):

* ``TemporaryError(delay)``: again after ``delay`` seconds;
* ``TerminalError``: the reconciler's ``failed`` hook records it; no retry until the key is
  woken again;
* any other error (a ``Conflict`` with another writer, a bug): again after a per-key exponential
  backoff (reset by the next success), so a
  failing object neither spins nor delays the others.

Keys come from wake-ups (a handler's ``ctx.wake``, a Kubernetes watch) and from a slow resync
that re-adds every key: level-triggered, so a lost wake-up costs at most one resync period.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from podwarden import metrics
from podwarden.model.errors import PodwardenError, TemporaryError, TerminalError

K = TypeVar("K", bound=Hashable)
log = logging.getLogger("podwarden.operator")


@dataclass(frozen=True)
class Backoff:
    """Per-key delays after unexpected errors: ``first`` doubling up to ``limit`` seconds."""

    first: float = 0.5
    limit: float = 30.0

    def after(self, failures: int) -> float:
        return float(min(self.limit, self.first * 2.0 ** max(0, failures - 1)))


class WorkQueue(Generic[K]):
    """Keys due at a time; ``get`` hands out the earliest due key not in progress."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._due: dict[K, float] = {}  # queued keys -> when they are due
        self._heap: list[tuple[float, int, K]] = []  # may hold stale entries
        self._seq = itertools.count()
        self._active: set[K] = set()
        self._again: dict[K, float] = {}  # added while active: queued when done
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._due)

    def add(self, key: K, after: float = 0.0) -> None:
        """Queue ``key`` ``after`` seconds from now, unless it is queued sooner already."""
        at = self._clock() + max(0.0, after)
        if key in self._active:
            self._again[key] = min(at, self._again.get(key, at))
            return
        if key in self._due and self._due[key] <= at:
            return
        self._due[key] = at
        heapq.heappush(self._heap, (at, next(self._seq), key))
        self._changed.set()

    async def get(self) -> K:
        """The next due key, waiting until one is; it is in progress until ``done``."""
        while True:
            self._changed.clear()
            wait = self._pop_due()
            if isinstance(wait, float):
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._changed.wait()
                continue
            if wait is None:
                await self._changed.wait()
                continue
            return wait[0]

    def _pop_due(self) -> tuple[K] | float | None:
        """A due key (in a 1-tuple), else seconds until the next one is due, else None."""
        while self._heap:
            at, _, key = self._heap[0]
            if self._due.get(key) != at or key in self._active:
                heapq.heappop(self._heap)  # stale: re-added at another time, or in progress
                continue
            now = self._clock()
            if at > now:
                return at - now
            heapq.heappop(self._heap)
            del self._due[key]
            self._active.add(key)
            return (key,)
        return None

    def done(self, key: K) -> None:
        """``key``'s reconcile ended; if it was added meanwhile, it is queued again."""
        self._active.discard(key)
        again = self._again.pop(key, None)
        if again is not None:
            self.add(key, max(0.0, again - self._clock()))


class Reconciler(Protocol[K]):
    async def reconcile(self, key: K) -> float | None:
        """Make ``key`` true; seconds until it wants another pass, or None."""

    def all_keys(self) -> Iterable[K]:
        """Every key there is (the resync re-adds them all)."""

    def failed(self, key: K, error: TerminalError) -> None:
        """Record that ``key`` cannot progress (a retry cannot help)."""


class _Passes(Generic[K]):
    """One reconcile pass over a key, its result turned into the key's next due time: the
    plan's ``RequeueAfter``, a ``TemporaryError``'s delay, the per-key backoff after any other
    error, or none (a success, or a ``TerminalError`` recorded by the reconciler's hook)."""

    def __init__(
        self, reconciler: Reconciler[K], queue: WorkQueue[K], policy: Backoff, name: str
    ) -> None:
        self._reconciler = reconciler
        self._queue = queue
        self._policy = policy
        self._name = name
        self._failures: dict[K, int] = {}

    def _retry(self, key: K) -> float:
        self._failures[key] = self._failures.get(key, 0) + 1
        delay = self._policy.after(self._failures[key])
        self._queue.add(key, delay)
        return delay

    async def one(self, key: K) -> str:
        """Reconcile ``key`` once; the pass's result, as the metrics count it."""
        name, queue = self._name, self._queue
        try:
            after = await self._reconciler.reconcile(key)
        except TemporaryError as exc:
            log.info("%s %s: %s; again in %.2f s", name, key, exc.message, exc.delay)
            queue.add(key, exc.delay)
            return "temporary_error"
        except TerminalError as exc:
            log.warning("%s %s failed: %s", name, key, exc.message)
            self._failures.pop(key, None)
            self._reconciler.failed(key, exc)
            return "terminal_error"
        except PodwardenError as exc:  # e.g. Conflict: another writer won; plan again soon
            delay = self._retry(key)
            log.warning("%s %s: %s; again in %.1f s", name, key, exc.message, delay)
            return "error"
        except Exception:  # a bug in one object's reconcile must not stop the others
            delay = self._retry(key)
            log.exception("%s %s failed; again in %.1f s", name, key, delay)
            return "error"
        self._failures.pop(key, None)
        if after is None:
            return "success"
        queue.add(key, after)
        return "requeue_after"


async def drive(
    reconciler: Reconciler[K],
    queue: WorkQueue[K],
    *,
    workers: int = 4,
    resync: float = 30.0,
    backoff: Backoff | None = None,
    name: str = "reconciler",
) -> None:
    """Reconcile keys from ``queue`` with ``workers`` workers, re-adding every key each
    ``resync`` seconds, until cancelled."""
    passes = _Passes(reconciler, queue, backoff or Backoff(), name)
    recorder = metrics.current()  # passes and queue depth, by ``name``
    recorder.watch_queue(name, queue)

    async def worker() -> None:
        while True:
            key = await queue.get()
            started = time.perf_counter()
            try:
                result = await passes.one(key)
            finally:
                queue.done(key)
            recorder.reconciled(name, result, time.perf_counter() - started)

    async def resyncs() -> None:
        while True:
            for key in reconciler.all_keys():
                queue.add(key)
            await asyncio.sleep(resync)

    async with asyncio.TaskGroup() as group:
        group.create_task(resyncs())
        for _ in range(max(1, workers)):
            group.create_task(worker())
