"""A podwarden API server for tests: in a thread of this process, or as a real subprocess that a
test can SIGKILL. Both serve real HTTP on loopback against the real control plane."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from podwarden.cli.server import Server, ServerSettings
from podwarden.cli.serving import uvicorn_server
from tests.local_endpoint import ThreadedServer, local_client

REGION = "us-west-2"
EKS_ARN = "arn:aws:eks:us-west-2:000000000000:cluster/podwarden"
ROLE_ARN = "arn:aws:iam::000000000000:role/podwarden-hyperpod-execution"  # seeded
LIFECYCLE_URI = "s3://sagemaker-podwarden-000000000000-us-west-2/lifecycle/"  # seeded
LISTEN_S = 120.0  # ``podwarden serve`` listening


def sagemaker(endpoint: str, secret: str | None = None, key: str | None = None) -> Any:
    return local_client(
        "sagemaker",
        endpoint,
        key=key,
        secret=secret,
        retries={"max_attempts": 1, "mode": "standard"},
    )


class ThreadServer(ThreadedServer):
    """``podwarden serve``'s app and uvicorn server, in a background thread."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.composed = Server(settings)  # its work loop, for tests that hold it
        self.app = self.composed.app
        super().__init__(uvicorn_server(self.app, settings), self.composed.store)


class ProcessServer:
    """``podwarden serve`` as a child process (for crash tests)."""

    def __init__(self, kubeconfig: Path, data_dir: Path, *extra: str) -> None:
        self.argv = [
            sys.executable,
            "-m",
            "podwarden.cli.main",
            "serve",
            "--kubeconfig",
            str(kubeconfig),
            "--data-dir",
            str(data_dir),
            "--port",
            "0",
            *extra,
        ]
        self.proc: subprocess.Popen[str] | None = None
        self.endpoint = ""

    def start(self) -> ProcessServer:
        self.proc = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.endpoint = listening(self.proc, LISTEN_S)
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(15)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)


def listening(proc: subprocess.Popen[str], timeout: float) -> str:
    """The endpoint that ``proc`` (``podwarden serve``) prints once listening. Fails if it exits
    first or after ``timeout`` s, with its output. A thread reads its stdout to the end, so that
    the server never blocks on a full pipe."""
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: queue.Queue[str | None] = queue.Queue()
    found = threading.Event()

    def drain() -> None:
        for line in stdout:
            if not found.is_set():
                lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            output = "".join(seen) or "(no output)"
            raise RuntimeError(
                f"podwarden serve not listening after {timeout:g} s; its output:\n{output}"
            ) from None
        if line is None:
            output = "".join(seen) or "(no output)"
            raise RuntimeError(
                f"podwarden serve exited with {proc.wait(15)} before listening:\n{output}"
            )
        seen.append(line)
        m = re.search(r"API at (http://127\.0\.0\.1:\d+)", line)
        if m:
            found.set()
            return m.group(1)
