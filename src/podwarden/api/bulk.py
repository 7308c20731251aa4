"""Where large requests are handled: one worker thread at a lower CPU priority.

A 15 MiB PutObject costs the server tens of milliseconds of CPU (SHA-256 of the payload, MD5 for
the ETag, the checksum, the store's write), most of it outside the GIL. Run on the event loop it
would hold every other request and the reconcilers sharing the loop; run on a thread it still
competes with the loop's thread for the machine's cores. So bulk work gets its own pool of
:data:`WORKERS` thread (more only queue for the same cores and the store's single writer) that
runs at ``nice`` :data:`NICE` (Linux sets priority per thread), and the scheduler gives the
loop's thread the core when both want it. Where lowering the priority is not allowed the thread
runs at the process's priority.

Measured with ``bench/bigbody.py --no-kubernetes`` (DescribeCluster p99 under 4 clients' 15 MiB
PutObjects over idle p99, 2-core machine, BENCHMARKS.md): the default thread pool (6 threads)
5.0-7.4x; this pool with 2 threads 3.5-3.6x, with 1 thread 2.97x (2.67x at nice +19) at ~12 %
fewer uploads.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

WORKERS = 1
NICE = 10


def _lower_priority() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not permitted, or not Linux
        me = threading.get_native_id()  # a new thread starts at its creator's niceness
        os.setpriority(os.PRIO_PROCESS, me, min(19, os.getpriority(os.PRIO_PROCESS, me) + NICE))


class BulkPool:
    """A lazily started pool; :meth:`close` at shutdown."""

    def __init__(self, workers: int = WORKERS) -> None:
        self._workers = workers
        self._executor: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                self._workers, thread_name_prefix="podwarden-bulk", initializer=_lower_priority
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
