"""The real ``hyp`` (PyPI ``sagemaker-hyperpod``) for integration tests, in an environment of its
own, and the environment a user gives it against ``podwarden up``.

Why its own environment: ``hyp`` pins ``click==8.1.7``, ``pytest==8.3.2`` and ``ruff==0.6.2``,
which the project's dev group cannot share; it is heavy and test-only, so it stays out of the
runtime dependencies. ``tests/hyp/requirements.lock`` pins it with hashes (tests/hyp/README.md);
``hyp_bin()`` builds ``${XDG_CACHE_HOME:-~/.cache}/podwarden/hyp-venv-<digest>`` from it once per
machine (the project's pinned ``uv``: ``uv venv`` + ``uv pip install --require-hashes``) and
reuses it after. A build that cannot finish fails the test session: it never skips.

Telemetry: every ``hyp`` job command (and ``describe cluster``) ends with
``common/telemetry/telemetry_logging._send_telemetry_request``, which runs ``kubectl config
current-context`` for a region and then ``requests.get("https://sm-pysdk-t-<region>.s3.<region>
.amazonaws.com/telemetry?...", 2)``; the 2 is ``params``, not a timeout, so an unreachable
internet can hang it. Nothing in hyp turns it off, but ``requests`` honours ``HTTPS_PROXY``: the
environment here points it at ``TelemetrySink``, a loopback listener that records the CONNECT and
refuses it (403), so the call fails at once (hyp logs "Request exception" on stderr and carries
on) and reaches nothing. ``NO_PROXY=127.0.0.1,localhost`` keeps botocore and the Kubernetes
client (which reads the proxy variables too) talking straight to podwarden.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from podwarden.cli.server import local_credentials
from podwarden.local.toolchain import cache_root

LOCK = Path(__file__).resolve().parents[1] / "hyp" / "requirements.lock"
HYP_VERSION = "3.12.0"  # tests/hyp/requirements.in
BUILD_S = 1200.0  # 43 s here with an empty uv cache (downloads, five sdists built)
COMPLETE = ".podwarden-complete"  # written last: a venv without it is a broken build


class HypEnvError(RuntimeError):
    """The hyp environment could not be built or does not run."""


def venv_digest(lock: Path = LOCK) -> str:
    """The lock's content and the interpreter the venv is made from: a venv is tied to both."""
    h = hashlib.sha256(lock.read_bytes())
    h.update(f"{sys.implementation.name}-{sys.version}".encode())
    return h.hexdigest()[:16]


def venv_dir(lock: Path = LOCK) -> Path:
    return cache_root().parent / f"hyp-venv-{venv_digest(lock)}"


def project_uv() -> Path:
    """The project's pinned uv (dev group, same version as the Makefile's)."""
    uv = Path(sys.executable).parent / "uv"
    if not uv.exists():
        raise HypEnvError(f"{uv} is missing: run `make venv` (uv is in the dev dependency group)")
    return uv


def _run(argv: list[str], what: str, timeout: float = BUILD_S) -> str:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, check=False, env=env
        )
    except subprocess.TimeoutExpired as exc:
        raise HypEnvError(f"{what}: still running after {timeout:g} s: {' '.join(argv)}") from exc
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-4000:]
        raise HypEnvError(f"{what} failed ({done.returncode}): {' '.join(argv)}\n{tail}")
    return done.stdout + done.stderr


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """One builder per venv on a machine: two test sessions may start together."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def build(target: Path, lock: Path = LOCK) -> None:
    """A fresh venv at ``target`` holding exactly the lock's packages, checked to run."""
    shutil.rmtree(target, ignore_errors=True)
    uv = str(project_uv())
    _run([uv, "venv", "--no-config", "--python", sys.executable, str(target)], "uv venv")
    python = str(target / "bin" / "python")
    install = [uv, "pip", "install", "--no-config", "--require-hashes", "--python", python]
    _run([*install, "-r", str(lock)], f"installing {lock.name} into {target}")
    version = _run([str(target / "bin" / "hyp"), "--version"], "hyp --version", timeout=120)
    if HYP_VERSION not in version:
        raise HypEnvError(f"hyp --version printed no {HYP_VERSION}:\n{version[-2000:]}")
    (target / COMPLETE).write_text(venv_digest(lock) + "\n")


def hyp_bin(lock: Path = LOCK) -> Path:
    """The ``hyp`` executable of the locked environment, built first if this machine has none."""
    target = venv_dir(lock)
    marker = target / COMPLETE
    with _exclusive(target.with_name(target.name + ".lock")):
        if not marker.exists() or marker.read_text().strip() != venv_digest(lock):
            build(target, lock)
    return target / "bin" / "hyp"


class TelemetrySink:
    """A loopback HTTPS proxy that refuses every tunnel: hyp's telemetry GET ends here at once,
    and ``hosts`` says where it tried to go."""

    def __init__(self) -> None:
        self.hosts: list[str] = []
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return  # closed
            with conn:
                conn.settimeout(5)
                try:
                    head = conn.recv(4096).decode("latin-1")
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    continue
                words = head.split(" ", 2)
                if len(words) > 1:
                    self.hosts.append(words[1])

    def close(self) -> None:
        self._sock.close()


def hyp_environment(
    hyp: Path,
    endpoint: str,
    home: Path,
    sink: TelemetrySink,
    *,
    region: str,
    kubectl: Path | None = None,
) -> dict[str, str]:
    """What a user of ``podwarden up`` exports (the seeded account's key, one endpoint for every
    service), with the project's AWS CLI first on PATH (``hyp`` runs ``aws eks
    update-kubeconfig``; the kubeconfig's exec plugin runs ``aws eks get-token``), ``hyp``'s own
    directory after it, and a HOME and kubeconfig of the test's own."""
    cred = local_credentials()[0]
    path = [str(Path(sys.executable).parent), str(hyp.parent)]
    if kubectl is not None:
        path.append(str(kubectl.parent))
    no_proxy = "127.0.0.1,localhost"
    return {
        "PATH": os.pathsep.join([*path, "/usr/bin", "/bin"]),
        "HOME": str(home),
        "KUBECONFIG": str(home / ".kube" / "config"),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": cred.access_key_id,
        "AWS_SECRET_ACCESS_KEY": cred.secret_access_key,
        "AWS_DEFAULT_REGION": region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "HTTPS_PROXY": sink.url,
        "https_proxy": sink.url,
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
        "PYTHONWARNINGS": "ignore",  # hyp's imports warn about escapes and urllib3 on stderr
        "PYTHONIOENCODING": "utf-8",  # hyp prints emoji
        "LC_ALL": "C.UTF-8",
    }
