"""cli.work_loop: the background work's event loop in its own thread, and what crosses to it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest

from podwarden.cli.work_loop import WorkLoop, WorkLoopError

WAIT_S = 10.0  # every wait here ends on the event it awaits, or fails after this


@pytest.fixture
def work() -> Iterator[WorkLoop]:
    loop = WorkLoop("test-work")
    loop.start()
    try:
        yield loop
    finally:
        loop.close()


def test_call_runs_the_coroutine_on_the_work_thread_and_returns_its_value(work: WorkLoop) -> None:
    async def where(x: int) -> tuple[int, str]:
        return x + 1, threading.current_thread().name

    assert asyncio.run(work.call(where, 41)) == (42, "test-work")


def test_call_raises_what_the_coroutine_raised(work: WorkLoop) -> None:
    async def fails() -> None:
        raise ValueError("from the work loop")

    with pytest.raises(ValueError, match="from the work loop"):
        asyncio.run(work.call(fails))


def test_post_runs_on_the_work_loop_and_says_when_nothing_can_run() -> None:
    loop = WorkLoop("test-post")
    ran: list[str] = []
    assert loop.post(ran.append, "before start") is False
    loop.start()
    done = threading.Event()

    def record() -> None:
        ran.append(threading.current_thread().name)
        done.set()

    assert loop.post(record) is True
    assert done.wait(WAIT_S)
    loop.close()
    assert loop.post(ran.append, "after close") is False
    assert ran == ["test-post"]


async def until_cancelled(started: threading.Event, cancelled: threading.Event) -> None:
    """Say it started, then wait until cancelled, and say that too."""
    started.set()
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        cancelled.set()
        raise


def test_cancelling_a_call_cancels_its_task_on_the_work_loop(work: WorkLoop) -> None:
    started, cancelled = threading.Event(), threading.Event()

    async def caller() -> None:
        task = asyncio.create_task(work.call(until_cancelled, started, cancelled))
        assert await asyncio.to_thread(started.wait, WAIT_S)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(caller())
    assert cancelled.wait(WAIT_S)


def test_close_cancels_the_tasks_left_and_ends_the_thread() -> None:
    loop = WorkLoop("test-close")
    loop.start()
    started, cancelled = threading.Event(), threading.Event()
    loop.post(lambda: asyncio.ensure_future(until_cancelled(started, cancelled)))
    assert started.wait(WAIT_S)
    loop.close()
    assert cancelled.is_set()
    assert not loop.running
    assert "test-close" not in {t.name for t in threading.enumerate()}

    async def anything() -> None:
        return None

    with pytest.raises(WorkLoopError, match="not running"):
        asyncio.run(loop.call(anything))
    loop.close()  # a second close does nothing


def test_a_work_loop_starts_once(work: WorkLoop) -> None:
    with pytest.raises(WorkLoopError, match="started already"):
        work.start()


def test_an_asgi_app_runs_on_the_work_loop_and_talks_through_the_callers_loop(
    work: WorkLoop,
) -> None:
    """The app (a streamed response of what it received) runs on the work thread; uvicorn's
    ``receive`` and ``send`` run on the loop that called, in order."""
    app_thread: list[str] = []

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        app_thread.append(threading.current_thread().name)
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body[:3], "more_body": True})
        await send({"type": "http.response.body", "body": body[3:]})

    sent: list[tuple[str, Any]] = []
    parts = [b"hel", b"lo, work"]

    async def caller() -> None:
        me = threading.current_thread().name

        async def receive() -> MutableMapping[str, Any]:
            assert threading.current_thread().name == me
            part = parts.pop(0)
            return {"type": "http.request", "body": part, "more_body": bool(parts)}

        async def send(message: MutableMapping[str, Any]) -> None:
            assert threading.current_thread().name == me
            sent.append((message["type"], message.get("body", message.get("status"))))

        await work.asgi(app)({"type": "http", "path": "/"}, receive, send)

    asyncio.run(caller())
    assert app_thread == ["test-work"]
    assert sent == [
        ("http.response.start", 200),
        ("http.response.body", b"hel"),
        ("http.response.body", b"lo, work"),
    ]
