"""The work queue and the loop every reconciler runs under (``operator.queue``): keys queued once,
never reconciled twice at once, requeued as the reconcile or its error says."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest

from podwarden.model.errors import Conflict, TemporaryError, TerminalError
from podwarden.operator.queue import Backoff, WorkQueue, drive


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_queued_once_at_its_earliest_time() -> None:
    clock = Clock()
    queue: WorkQueue[str] = WorkQueue(clock)
    queue.add("a", 5)
    queue.add("a", 1)  # sooner wins
    queue.add("a", 9)  # later is ignored
    assert len(queue) == 1
    assert queue._pop_due() == pytest.approx(1.0)
    clock.now += 1
    assert queue._pop_due() == ("a",)
    assert queue._pop_due() is None


def test_due_keys_come_out_in_time_order() -> None:
    clock = Clock()
    queue: WorkQueue[str] = WorkQueue(clock)
    queue.add("late", 2)
    queue.add("soon", 1)
    queue.add("now")
    clock.now += 5
    assert [queue._pop_due() for _ in range(3)] == [("now",), ("soon",), ("late",)]


def test_a_key_added_while_in_progress_waits_until_done() -> None:
    clock = Clock()
    queue: WorkQueue[str] = WorkQueue(clock)
    queue.add("a")
    assert queue._pop_due() == ("a",)
    queue.add("a")  # woken while being reconciled
    assert queue._pop_due() is None  # not handed to a second worker
    queue.done("a")
    assert queue._pop_due() == ("a",)
    queue.done("a")
    assert queue._pop_due() is None


def test_backoff_doubles_to_its_limit() -> None:
    policy = Backoff(first=0.5, limit=4.0)
    assert [policy.after(n) for n in (1, 2, 3, 4, 5, 9)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


class Scripted:
    """A reconciler whose passes answer from a script, one list per key."""

    def __init__(self, script: dict[str, list[object]]) -> None:
        self.script = script
        self.calls: list[str] = []
        self.failures: list[tuple[str, str]] = []
        self.running: set[str] = set()
        self.overlap = False
        self.finished = asyncio.Event()

    async def reconcile(self, key: str) -> float | None:
        if key in self.running:
            self.overlap = True
        self.running.add(key)
        self.calls.append(key)
        await asyncio.sleep(0.001)
        self.running.discard(key)
        steps = self.script[key]
        step = steps.pop(0) if steps else None
        if not any(self.script.values()):
            self.finished.set()
        if isinstance(step, BaseException):
            raise step
        return step if isinstance(step, float) else None

    def all_keys(self) -> Iterable[str]:
        return list(self.script)

    def failed(self, key: str, error: TerminalError) -> None:
        self.failures.append((key, error.message))


async def run_until_finished(reconciler: Scripted, backoff: Backoff | None = None) -> None:
    queue: WorkQueue[str] = WorkQueue()
    task = asyncio.create_task(
        drive(reconciler, queue, workers=3, resync=3600, backoff=backoff, name="test")
    )
    try:
        async with asyncio.timeout(10):
            await reconciler.finished.wait()
        await asyncio.sleep(0.05)  # nothing more is due: the script is used up
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_requeue_after_temporary_delay_and_backoff_drive_more_passes() -> None:
    asyncio.run(_requeue_after_temporary_delay_and_backoff_drive_more_passes())


async def _requeue_after_temporary_delay_and_backoff_drive_more_passes() -> None:
    reconciler = Scripted(
        {
            "requeues": [0.01, 0.01, None],
            "temporary": [TemporaryError("not yet", delay=0.01), None],
            "conflict": [Conflict("lost a race"), RuntimeError("bug"), None],
            "done": [None],
        }
    )
    await run_until_finished(reconciler, Backoff(first=0.01, limit=0.02))
    assert reconciler.calls.count("requeues") == 3
    assert reconciler.calls.count("temporary") == 2
    assert reconciler.calls.count("conflict") == 3
    assert reconciler.calls.count("done") == 1
    assert not reconciler.overlap
    assert reconciler.failures == []


def test_a_terminal_error_is_recorded_once_and_not_retried() -> None:
    asyncio.run(_a_terminal_error_is_recorded_once_and_not_retried())


async def _a_terminal_error_is_recorded_once_and_not_retried() -> None:
    reconciler = Scripted({"broken": [TerminalError("cannot")], "fine": [None]})
    await run_until_finished(reconciler)
    assert reconciler.failures == [("broken", "cannot")]
    assert reconciler.calls.count("broken") == 1


def test_a_key_woken_while_reconciling_runs_again_but_never_twice_at_once() -> None:
    asyncio.run(_a_key_woken_while_reconciling_runs_again_but_never_twice_at_once())


async def _a_key_woken_while_reconciling_runs_again_but_never_twice_at_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    started = asyncio.Event()
    release = asyncio.Event()
    calls: list[str] = []

    class Slow:
        async def reconcile(self, key: str) -> float | None:
            calls.append(key)
            started.set()
            await release.wait()
            return None

        def all_keys(self) -> Iterable[str]:
            return ["k"]

        def failed(self, key: str, error: TerminalError) -> None:
            raise AssertionError(key)

    task = asyncio.create_task(drive(Slow(), queue, workers=4, resync=3600))
    try:
        async with asyncio.timeout(5):
            await started.wait()
        queue.add("k")
        queue.add("k")
        await asyncio.sleep(0.02)
        assert calls == ["k"]  # the other three workers did not take it
        release.set()
        async with asyncio.timeout(5):
            while len(calls) < 2:  # noqa: ASYNC110 - polls a plain list the reconciler appends to
                await asyncio.sleep(0.005)
        await asyncio.sleep(0.02)
        assert calls == ["k", "k"]  # the two wake-ups made one more pass
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
