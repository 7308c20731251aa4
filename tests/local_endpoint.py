"""A podwarden endpoint on loopback for tests: uvicorn serving the app in a thread of this
process, and boto3 clients of it signed with the local account's credentials (or others given).
The API tests (``tests/api/aws_server.py``) and the integration tests
(``tests/integration/hyperpod_server.py``) both build on it."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Self

import boto3  # type: ignore[import-untyped]
import uvicorn
from botocore.config import Config  # type: ignore[import-untyped]

from podwarden.cli.server import local_credentials
from podwarden.cli.serving import bound_port
from podwarden.store.sql import Store

REGION = "us-west-2"


def local_client(
    service: str,
    endpoint: str,
    *,
    key: str | None = None,
    secret: str | None = None,
    token: str | None = None,
    region: str = REGION,
    **config: Any,
) -> Any:
    """A boto3 client of ``endpoint`` that does not retry; ``key`` and ``secret`` default to
    the local account's, ``region`` to the local one; ``config`` goes to botocore's ``Config``
    (``retries`` replaces the single attempt)."""
    cred = local_credentials()[0]
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=cred.access_key_id if key is None else key,
        aws_secret_access_key=cred.secret_access_key if secret is None else secret,
        aws_session_token=token,
        config=Config(**{"retries": {"max_attempts": 1}, **config}),
    )


class ThreadedServer:
    """uvicorn in a background thread, port chosen by the kernel; ``stop`` closes the store."""

    def __init__(self, server: uvicorn.Server, store: Store) -> None:
        self.server = server
        self.store = store
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    def start(self, timeout: float = 60.0) -> Self:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("podwarden server thread died while starting")
            if time.monotonic() > deadline:
                raise RuntimeError(f"podwarden server not started after {timeout:g} s")
            self.thread.join(0.02)
        self.port = bound_port(self.server)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.store.close()

    def client(self, service: str, endpoint: str | None = None, **kwargs: Any) -> Any:
        """:func:`local_client` of this server (or of ``endpoint``, another name for it)."""
        return local_client(service, endpoint or self.endpoint, **kwargs)
