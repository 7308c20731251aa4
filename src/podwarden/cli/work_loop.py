"""podwarden's background work on an event loop of its own, in its own thread, away from the API.

``podwarden serve`` runs two event loops. uvicorn's loop answers the AWS API (``api.app``);
the work loop runs everything else: the reconcilers, the node watches and their agents, the
training services, the EKS clusters' control planes, the OIDC issuers and the pod identity
webhook, and podwarden's own routes that read their state (``/_podwarden/metrics``, the
capacity admin, the dashboard and its event streams, the pod identity agent).

Why: on one loop, a request waits for whatever step holds the loop when it arrives, and during
a scale-up those steps are long: a cluster reconciler's pass over 1,000 instances took 45-450 ms,
a relist of the node watch tens of milliseconds (BENCHMARKS.md, "The API on a loop of its own").
With two threads, CPython hands the interpreter to a waiting thread within its switch interval,
so a request waits at most that long for the work loop's step instead of all of it.

What crosses between the loops, and how:
- a handler's wake-up (``Services.notify``): :meth:`WorkLoop.post`, which runs it on the work loop;
- start and stop (the app's lifespan): :meth:`WorkLoop.call` awaits a coroutine run there;
- an ASGI app of the work loop mounted on the API's server: :meth:`WorkLoop.asgi`, which runs
  it there with ``receive`` and ``send`` carried back to uvicorn's loop.
The store is shared: it is safe across threads (SQLite: a read connection per thread, one writer
at a time). Everything else each loop owns alone.

The work loop is asyncio's own loop, not uvloop (which the API's keeps): 5,000 instances reached
InService in 87.9 s with everything on uvloop and 89.2 s with the work on asyncio's loop, one run
each (BENCHMARKS.md, "5,000 instances, one event loop and two").
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, TypeVar

log = logging.getLogger("podwarden.work_loop")

T = TypeVar("T")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

START_S = 30.0  # the thread's loop running
STOP_S = 30.0  # the thread ended once its loop is told to stop


class WorkLoopError(RuntimeError):
    """The work loop cannot do what was asked: it is not running (not started yet, or
    stopped), or it was started already."""


class WorkLoop:
    """An asyncio event loop running in a daemon thread, from :meth:`start` to :meth:`close`."""

    def __init__(self, name: str = "podwarden-work") -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()

    @property
    def running(self) -> bool:
        return self._loop is not None and self._loop.is_running()

    def start(self) -> None:
        """Start the thread and wait until its loop runs (``WorkLoopError`` after ``START_S``)."""
        if self._thread is not None:
            raise WorkLoopError(f"{self.name} was started already")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        if not self._started.wait(START_S):
            raise WorkLoopError(f"{self.name}: its event loop was not running after {START_S:g} s")

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        loop.call_soon(self._started.set)
        try:
            loop.run_forever()
        finally:
            try:
                _cancel_left(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None or loop.is_closed():
            raise WorkLoopError(f"{self.name} is not running")
        return loop

    async def call(self, fn: Callable[..., Awaitable[T]], /, *args: Any) -> T:
        """``await fn(*args)`` on the work loop, from another loop; cancelling this cancels it."""
        loop = self._running_loop()  # before the coroutine is made: none is left unawaited
        future = asyncio.run_coroutine_threadsafe(_awaited(fn, *args), loop)
        return await asyncio.wrap_future(future)

    def post(self, fn: Callable[..., object], /, *args: Any) -> bool:
        """Run ``fn(*args)`` soon on the work loop, from any thread; False (and nothing runs)
        when the loop is not running."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return False
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # closed between the check and the call
            return False
        return True

    def asgi(self, app: Asgi) -> Asgi:
        """``app``, an ASGI app whose state the work loop owns, served from another loop's
        server: it runs on the work loop; each ``receive`` and ``send`` runs on the caller's."""

        async def on_work_loop(scope: Scope, receive: Receive, send: Send) -> None:
            here = asyncio.get_running_loop()

            async def receive_there() -> Message:
                there = asyncio.run_coroutine_threadsafe(_awaited(receive), here)
                return await asyncio.wrap_future(there)

            async def send_there(message: Message) -> None:
                there = asyncio.run_coroutine_threadsafe(_awaited(send, message), here)
                await asyncio.wrap_future(there)

            await self.call(app, scope, receive_there, send_there)

        return on_work_loop

    def close(self) -> None:
        """Stop the loop (its tasks left are cancelled) and wait for the thread to end.
        Blocking: from a loop, run it in a thread (``asyncio.to_thread``)."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(STOP_S)
        if thread.is_alive():
            log.warning("%s did not end within %g s of being stopped", self.name, STOP_S)


async def _awaited(fn: Callable[..., Awaitable[T]], /, *args: Any) -> T:
    """``fn(*args)`` called and awaited in the loop that runs this coroutine."""
    return await fn(*args)


def _cancel_left(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel the tasks still pending when the loop stops, and let them finish."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
