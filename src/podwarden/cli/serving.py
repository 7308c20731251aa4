"""Run the composed API server (``cli.server.Server``) under uvicorn: bind, serve, stop."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import uvicorn
import uvloop

from podwarden.api.app import PodwardenApp
from podwarden.cli.server import Server, ServerSettings
from podwarden.store.sql import Store

T = TypeVar("T")


def assemble(settings: ServerSettings) -> tuple[PodwardenApp, Store]:
    server = Server(settings)
    return server.app, server.store


def uvicorn_server(app: PodwardenApp, settings: ServerSettings) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http="httptools",
        loop="uvloop",
        lifespan="on",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    # where EKS control planes started from now on send TokenReviews (known once bound)
    app.eks_authn.port = lambda: bound_port(server) if server.started else None
    app.stopping = lambda: server.should_exit
    return server


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run the server's coroutine on uvloop, the loop its uvicorn config names: uvicorn sets its
    configured loop up only when it runs the loop itself, and ``serve`` runs uvicorn inside a
    loop of its own (the health watch, the started hook). Measured: a DescribeCluster answered
    from the read cache over HTTP costs about 0.05 ms less on uvloop than on asyncio's own loop
    (BENCHMARKS.md, "The API at its floor")."""
    return uvloop.run(main)


def bound_port(server: uvicorn.Server) -> int:
    """The port a started server listens on (useful with port 0)."""
    for srv in server.servers:
        for sock in srv.sockets:
            return int(sock.getsockname()[1])
    raise RuntimeError("server is not listening")


async def serve(
    settings: ServerSettings,
    started: Callable[[int], Awaitable[None]] | None = None,
    health_check: Callable[[], None] | None = None,
) -> None:
    """Serve until a signal stops uvicorn, or until ``health_check`` raises (a component of the
    embedded control plane died): then shut down cleanly and raise that error.

    uvicorn binds the address itself: handing it a pre-bound socket loses TCP_NODELAY on the
    accepted connections under uvloop, and every response then waits ~40 ms for the client's
    delayed ACK (measured: 50 ms vs 3 ms per DescribeCluster; tests check the option)."""
    app, store = assemble(settings)
    server = uvicorn_server(app, settings)
    failure: list[BaseException] = []

    async def watch() -> None:
        while health_check is not None:
            await asyncio.sleep(1.0)
            try:
                health_check()
            except Exception as exc:
                failure.append(exc)
                server.should_exit = True
                return

    watcher = asyncio.create_task(watch())
    try:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.02)
        if server.started:
            # everything loaded so far (botocore models, the Kubernetes client's models, the
            # catalog) lives for the whole run: keep the collector from rescanning it
            gc.collect()
            gc.freeze()
        if started is not None and server.started:
            await started(bound_port(server))
        await task
    finally:
        watcher.cancel()
        store.close()
    if failure:
        raise failure[0]
