"""A podwarden API server for tests: in a thread of this process, or as a real subprocess that a
test can SIGKILL. Both serve real HTTP on loopback against the real control plane."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import uvicorn
from botocore.config import Config  # type: ignore[import-untyped]

from podwarden.cli.server import (
    ServerSettings,
    assemble,
    bound_port,
    local_credentials,
    uvicorn_server,
)

REGION = "us-west-2"
EKS_ARN = "arn:aws:eks:us-west-2:000000000000:cluster/podwarden"
ROLE_ARN = "arn:aws:iam::000000000000:role/podwarden-hyperpod-execution"  # seeded
LIFECYCLE_URI = "s3://sagemaker-podwarden-000000000000-us-west-2/lifecycle/"  # seeded


def sagemaker(endpoint: str, secret: str | None = None, key: str | None = None) -> Any:
    cred = local_credentials()[0]
    return boto3.client(
        "sagemaker",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key or cred.access_key_id,
        aws_secret_access_key=secret or cred.secret_access_key,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


class ThreadServer:
    """uvicorn in a background thread, port chosen by the kernel."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.port = 0
        self.app, self.store = assemble(settings)
        self.server: uvicorn.Server = uvicorn_server(self.app, settings)
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.run(self.server.serve())

    def start(self) -> ThreadServer:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("podwarden server thread died while starting")
            self.thread.join(0.02)
        self.port = bound_port(self.server)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.store.close()


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
