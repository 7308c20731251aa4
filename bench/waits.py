"""Every wait of the benchmarks: it ends when the awaited state is reached, at once when a terminal
state rules it out, or at a deadline, each with a message naming what was awaited and the last
state seen. A benchmark that cannot finish says why instead of hanging.

:func:`wait_for` polls a ``read`` of the state; :func:`await_for` is the same for a coroutine;
:func:`in_service` is the HyperPod cluster's wait (``Failed`` stops it with the FailureMessage);
:func:`read_lines` reads a child process's output lines until one matches, with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import re
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

S = TypeVar("S")


class WaitFailed(RuntimeError):
    """The awaited state was not reached: a deadline passed or a terminal state was seen."""


def never(_: object) -> str | None:
    return None


def _timed_out(what: str, timeout: float, seen: str) -> WaitFailed:
    return WaitFailed(f"timed out after {timeout:g} s waiting for {what}; last seen: {seen}")


def _failed(what: str, reason: str) -> WaitFailed:
    return WaitFailed(f"gave up waiting for {what}: {reason}")


def wait_for(
    what: str,
    read: Callable[[], S],
    done: Callable[[S], bool],
    *,
    timeout: float,
    interval: float = 0.2,
    failed: Callable[[S], str | None] = never,
    show: Callable[[S], object] = repr,
) -> S:
    """Poll ``read()`` every ``interval`` s until ``done`` of it; the state then. Raise
    :class:`WaitFailed` when ``failed`` of a state names a reason (a terminal state) or after
    ``timeout`` s, naming ``what`` and the last state (as ``show`` renders it)."""
    deadline = time.monotonic() + timeout
    while True:
        state = read()
        if done(state):
            return state
        reason = failed(state)
        if reason is not None:
            raise _failed(what, reason)
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout, str(show(state))[:300])
        time.sleep(interval)


async def await_for(
    what: str,
    read: Callable[[], Awaitable[S]],
    done: Callable[[S], bool],
    *,
    timeout: float,  # noqa: ASYNC109 - not asyncio.timeout: the message names the last state seen
    interval: float = 0.2,
    show: Callable[[S], object] = repr,
) -> S:
    """:func:`wait_for` with an asynchronous ``read``."""
    deadline = time.monotonic() + timeout
    while True:
        state = await read()
        if done(state):
            return state
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout, str(show(state))[:300])
        await asyncio.sleep(interval)


def in_service(
    sm: Any,
    name: str,
    timeout: float,
    *,
    read: Callable[[], Any] | None = None,
    interval: float = 0.2,
    what: str = "",
) -> dict[str, Any]:
    """The HyperPod cluster ``name``'s description once InService; a cluster that goes Failed
    ends the wait at once with its FailureMessage. ``read``: how the description is read (by
    default DescribeCluster), e.g. with work done between reads."""
    description: dict[str, Any] = wait_for(
        f"cluster {name}{what} to be InService",
        read or (lambda: sm.describe_cluster(ClusterName=name)),
        lambda d: d["ClusterStatus"] == "InService",
        failed=lambda d: (
            f"cluster {name} is Failed: {d.get('FailureMessage', '(no FailureMessage)')}"
            if d["ClusterStatus"] == "Failed"
            else None
        ),
        show=lambda d: d["ClusterStatus"],
        timeout=timeout,
        interval=interval,
    )
    return description


def read_lines(
    proc: subprocess.Popen[str], pattern: str, what: str, timeout: float
) -> re.Match[str]:
    """The first line of ``proc``'s stdout matching ``pattern``. Raise :class:`WaitFailed` if the
    process exits first or ``timeout`` s pass, with its output so far. A thread goes on draining
    stdout afterwards, so that a chatty child never blocks on a full pipe; with
    ``PODWARDEN_BENCH_LOG=<file>`` it appends that output there (a server's tracebacks)."""
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: queue.Queue[str | None] = queue.Queue()
    found = threading.Event()

    keep = os.environ.get("PODWARDEN_BENCH_LOG")  # a file for the servers' later output

    def drain() -> None:
        with contextlib.ExitStack() as stack:
            log = stack.enter_context(Path(keep).open("a")) if keep else None
            for line in stdout:
                if not found.is_set():
                    lines.put(line)
                elif log is not None:  # afterwards dropped, unless it is to be kept
                    log.write(line)
                    log.flush()
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise _timed_out(what, timeout, "".join(seen[-20:]) or "(no output)") from None
        if line is None:
            tail = "".join(seen[-20:]) or "(no output)"
            raise _failed(what, f"the process exited with {proc.wait(15)}; its output:\n{tail}")
        seen.append(line)
        m = re.search(pattern, line)
        if m:
            found.set()
            return m
