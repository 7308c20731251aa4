"""The processes of one control plane, supervised by PID: start, await ready, stop.

``runtime.ControlPlane`` decides what runs when (its start, upgrade and tunnel steps); this
module only runs processes. Each child logs to its component's log file, dies with this process
(``PR_SET_PDEATHSIG``, if podwarden dies without cleaning up) and is stopped with SIGTERM, then
SIGKILL. A component that exits while starting, or is not ready in time, raises ComponentFailed
naming it with the tail of its log.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from podwarden.local.admin_client import ssl_context
from podwarden.local.components import Component
from podwarden.local.errors import ComponentFailed
from podwarden.local.pki import PkiPaths

LOG_TAIL_LINES = 40
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            data = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


class Processes:
    """The running components of one plane by name, in start order, started in ``cwd``."""

    def __init__(self, cwd: Path) -> None:
        self._cwd = cwd
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    @property
    def pids(self) -> dict[str, int]:
        return {name: p.pid for name, p in self._procs.items()}

    def exited(self) -> Iterator[tuple[str, int]]:
        """Each started component that has exited, with its exit code, in start order."""
        for name, proc in self._procs.items():
            code = proc.poll()
            if code is not None:
                yield name, code

    def spawn(self, comp: Component) -> None:
        log = comp.log.open("ab")
        log.write(f"\n=== podwarden: starting {comp.name} at {time.ctime()} ===\n".encode())
        log.flush()
        self._logs.append(log)
        env = {**dict(comp.env), **os.environ} if comp.env else None
        self._procs[comp.name] = subprocess.Popen(
            comp.argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self._cwd,
            start_new_session=True,  # Ctrl-C reaches podwarden, which stops them in order
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - Linux prctl only, no locks taken
        )

    def await_ready(
        self, comp: Component, deadline: float, pki: PkiPaths, ready_timeout: float
    ) -> None:
        """GET the component's probe until it answers 200; ComponentFailed if it exits first
        or is still not ready at ``deadline`` (the message names ``ready_timeout``)."""
        proc = self._procs[comp.name]
        context = ssl_context(comp.probe, pki)
        last_error = "no answer yet"
        while True:
            code = proc.poll()
            if code is not None:
                raise ComponentFailed(
                    comp.name, f"exited with code {code} while starting", log_tail(comp.log)
                )
            try:
                # probe URLs are built by planner.plan: loopback only (127.0.0.1 or [::1])
                with urllib.request.urlopen(comp.probe.url, context=context, timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        return
                    last_error = f"HTTP {r.status}"
            except urllib.error.HTTPError as e:
                last_error = f"HTTP {e.code}: {e.read()[:300].decode('utf-8', 'replace')}"
            except (OSError, ssl.SSLError) as e:
                last_error = str(e)
            if time.monotonic() > deadline:
                raise ComponentFailed(
                    comp.name,
                    f"not ready after {ready_timeout:.0f} s ({comp.probe.url}: {last_error})",
                    log_tail(comp.log),
                )
            time.sleep(0.1)

    def stop(self, name: str, timeout: float = 15.0) -> None:
        """Stop one component (SIGTERM, then SIGKILL); its entry stays for ``spawn`` to
        replace, so the plane still stops in start order reversed."""
        proc = self._procs.get(name)
        if proc is None or proc.poll() is not None:
            return
        _terminate(proc, timeout)

    def stop_all(self, timeout: float = 15.0) -> None:
        """Stop every started process, in reverse start order, and forget them."""
        for proc in reversed(list(self._procs.values())):
            if proc.poll() is None:
                _terminate(proc, timeout)
        self._procs.clear()

    def close_logs(self) -> None:
        for f in self._logs:
            f.close()
        self._logs.clear()


def _terminate(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, then SIGKILL if it is still running after ``timeout`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
