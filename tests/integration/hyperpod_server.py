"""A podwarden API server for tests: in a thread of this process, or as a real subprocess that a
test can SIGKILL. Both serve real HTTP on loopback against the real control plane."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from podwarden.cli.server import ServerSettings, assemble, uvicorn_server
from tests.local_endpoint import ThreadedServer, local_client

REGION = "us-west-2"
EKS_ARN = "arn:aws:eks:us-west-2:000000000000:cluster/podwarden"
ROLE_ARN = "arn:aws:iam::000000000000:role/podwarden-hyperpod-execution"  # seeded
LIFECYCLE_URI = "s3://sagemaker-podwarden-000000000000-us-west-2/lifecycle/"  # seeded


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
        self.app, store = assemble(settings)
        super().__init__(uvicorn_server(self.app, settings), store)


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
        assert self.proc.stdout is not None
        lines = []
        for line in self.proc.stdout:
            lines.append(line)
            m = re.search(r"API at (http://127\.0\.0\.1:\d+)", line)
            if m:
                self.endpoint = m.group(1)
                return self
        raise RuntimeError("podwarden serve exited before listening:\n" + "".join(lines))

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)
