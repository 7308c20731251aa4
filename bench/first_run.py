"""A new user's first ``make up``, and the second one (issue #14 item 3).

    .venv/bin/python bench/first_run.py [--repo .] [--keep DIR] [--json out.json] [--quick]

Cold: a fresh clone of the repository's committed HEAD, run with ``make up`` and every cache
empty and private to the run: Go's module and build caches (``GOMODCACHE``, ``GOCACHE``),
podwarden's binary cache (``XDG_CACHE_HOME``), uv's and pip's download caches, the data
directory. Measured: seconds until the API answers HTTP (the control plane is ready before it),
each line the run printed with its time, and the longest silence between two lines (what a user
stares at). Then ``make up`` is stopped (Ctrl-C) and run again in the same clone: the warm start,
to a ready control plane (podwarden's own ``ready in`` line) and to a served API.

``--quick`` (what tests/bench runs): the warm half only, ``make up`` in this checkout itself with
its virtual environment taken as made (``make -o .venv/.synced``) and the binaries built (``make
k8s``): once on a fresh data directory, then again on it (the warm start is a restart, as after
the cold run).
Every wait ends on a deadline.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

COLD_DEADLINE_S = 1800.0
WARM_DEADLINE_S = 300.0
READY = re.compile(r"control plane ready in ([\d.]+) s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(port: int) -> bool:
    """Whether something answers HTTP on the port (any status: the API refuses unsigned)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def run_make_up(
    tree: Path, env: dict[str, str], port: int, deadline_s: float, *make: str
) -> dict[str, Any]:
    """``make up`` in tree until the API on port answers; then Ctrl-C and wait for it to end."""
    started = time.monotonic()
    lines: list[tuple[float, str]] = []
    proc = subprocess.Popen(
        ["make", *make, "up", f"UP_ARGS=--port {port}"],
        cwd=tree,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.monotonic() - started, line.rstrip()))
            print(f"  [{lines[-1][0]:6.1f} s] {line.rstrip()}", flush=True)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    served = None
    try:
        while served is None:
            if proc.poll() is not None:
                tail = "\n".join(text for _, text in lines[-30:])
                raise SystemExit(f"make up exited {proc.returncode} before serving:\n{tail}")
            if time.monotonic() - started > deadline_s:
                raise SystemExit(f"make up did not serve the API on :{port} in {deadline_s:g} s")
            if answers(port):
                served = time.monotonic() - started
            else:
                time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C, as a user stops it
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
        reader.join(10)
    times = [0.0] + [t for t, _ in lines if t <= served] + [served]
    gap, after = max((b - a, a) for a, b in itertools.pairwise(times))
    ready = next((float(m.group(1)) for _, text in lines if (m := READY.search(text))), None)
    return {
        "served_s": round(served, 1),
        "plane_ready_s": ready,  # podwarden's own measure: ControlPlane.start
        "longest_silence_s": round(gap, 1),
        "longest_silence_after_s": round(after, 1),
        "lines": [[round(t, 1), text] for t, text in lines if t <= served],
    }


def clone(repo: Path, into: Path) -> Path:
    tree = into / "podwarden"
    subprocess.run(["git", "clone", "-q", str(repo), str(tree)], check=True)
    return tree


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it")
    parser.add_argument("--quick", action="store_true", help="the warm start only (seconds)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="pw-first-run-"))
    root.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "quick": args.quick,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
    }
    try:
        tree = args.repo if args.quick else clone(args.repo, root)
        result["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=tree,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        env = {**os.environ, "PODWARDEN_DATA_DIR": str(root / "data"), "PYTHONUNBUFFERED": "1"}
        env.pop("VIRTUAL_ENV", None)
        make: tuple[str, ...] = ("-o", ".venv/.synced") if args.quick else ()
        if not args.quick:
            for name, sub in (
                ("GOMODCACHE", "gomod"),
                ("GOCACHE", "gocache"),
                ("XDG_CACHE_HOME", "cache"),
                ("UV_CACHE_DIR", "uv"),
            ):
                env[name] = str(root / sub)
            env["PIP_NO_CACHE_DIR"] = "1"
            print(f"first_run: cold make up in {tree} (empty caches under {root})", flush=True)
            result["cold"] = run_make_up(tree, env, free_port(), COLD_DEADLINE_S)
            print(f"first_run: cold: API served in {result['cold']['served_s']} s", flush=True)
        else:  # the data directory's first start, so that the warm one is a restart
            print("first_run: make up on a fresh data directory", flush=True)
            result["fresh"] = run_make_up(tree, env, free_port(), WARM_DEADLINE_S, *make)
        print("first_run: warm make up (caches filled, the same data directory)", flush=True)
        result["warm"] = run_make_up(tree, env, free_port(), WARM_DEADLINE_S, *make)
        warm = result["warm"]
        print(
            f"first_run: warm: control plane ready in {warm['plane_ready_s']} s, "
            f"API served in {warm['served_s']} s",
            flush=True,
        )
    finally:
        if args.keep is None:
            # Go's module cache is read-only
            subprocess.run(["chmod", "-R", "u+w", str(root)], check=False, capture_output=True)
            shutil.rmtree(root, ignore_errors=True)
    brief = {
        k: {kk: vv for kk, vv in v.items() if kk != "lines"} if isinstance(v, dict) else v
        for k, v in result.items()
    }
    print(json.dumps(brief, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
