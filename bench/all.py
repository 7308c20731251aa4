"""Every benchmark of bench/ in one run, into one dated results file (what ``make bench`` runs).

    .venv/bin/python bench/all.py [--quick] [--only NAME ...] [--out bench/results]

Each benchmark runs as its own process with ``--json`` (and ``--quick`` when asked) under a
deadline; its JSON result, exit code, wall time and the end of its output go into
``<out>/<UTC date and time>[-quick].json``, one file for the whole run. A benchmark that fails
or outlives its deadline is recorded as such and the others still run; the run then exits 1.
The machine is recorded once (cores, memory, Python). ``--quick`` runs each benchmark's quick
mode (seconds each; ``tests/bench/test_quick.py`` runs the same modes one by one in
``make test``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Benchmark:
    script: str
    args: tuple[str, ...] = ()  # the full run's arguments
    quick_args: tuple[str, ...] = ()  # the quick run's, besides --quick
    deadline_s: float = 3600.0  # the full run's; a quick run gets QUICK_DEADLINE_S


QUICK_DEADLINE_S = 600.0
# in the order ``make bench`` has always run them
BENCHMARKS = (
    Benchmark("localk8s.py"),
    Benchmark("api.py", ("--scale", "1000")),
    Benchmark("recovery.py"),
    Benchmark("bigbody.py"),
    Benchmark("jobs.py"),
    Benchmark("software_update.py"),
    Benchmark("goodput.py", deadline_s=7200.0),
    Benchmark("metrics.py"),
    Benchmark("scale.py", deadline_s=5400.0),
    # last: a fresh clone's cold make up (every cache empty, Go modules downloaded again)
    Benchmark("first_run.py", deadline_s=3600.0),
)


def run_one(bench: Benchmark, quick: bool, tmp: Path) -> dict[str, Any]:
    """Run one benchmark; its record (never raises for the benchmark's own failure)."""
    result = tmp / f"{bench.script}.json"
    extra = ("--quick", *bench.quick_args) if quick else bench.args
    argv = [sys.executable, str(BENCH / bench.script), *extra, "--json", str(result)]
    deadline = QUICK_DEADLINE_S if quick else bench.deadline_s
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its servers with it: on a deadline the group is killed
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        output, _ = proc.communicate(timeout=deadline)
        status = "ok" if proc.returncode == 0 else f"failed (exit {proc.returncode})"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=60)
        status = f"did not end within its deadline of {deadline:g} s"
    record: dict[str, Any] = {
        "command": " ".join(["python", f"bench/{bench.script}", *argv[2:]]),
        "status": status,
        "wall_s": round(time.perf_counter() - t0, 1),
    }
    if status == "ok" and result.exists():
        record["result"] = json.loads(result.read_text())
    else:
        record["output_tail"] = output[-4000:]
    return record


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="each benchmark's quick mode")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="e.g. recovery.py jobs.py")
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    args = parser.parse_args()
    chosen = [b for b in BENCHMARKS if not args.only or b.script in args.only]
    unknown = set(args.only or ()) - {b.script for b in BENCHMARKS}
    if unknown:
        parser.error(f"no such benchmark: {', '.join(sorted(unknown))}")
    started = time.gmtime()
    run: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", started),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}",
        "quick": args.quick,
        "benchmarks": {},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H%M%SZ", started) + ("-quick" if args.quick else "")
    path = args.out / f"{stamp}.json"
    with tempfile.TemporaryDirectory(prefix="pw-bench-all-") as tmp:
        for bench in chosen:
            print(f"bench/all: {bench.script} ...", flush=True)
            record = run_one(bench, args.quick, Path(tmp))
            run["benchmarks"][bench.script] = record
            done = f"{record['status']} in {record['wall_s']} s"
            print(f"bench/all: {bench.script}: {done}", flush=True)
            path.write_text(json.dumps(run, indent=2) + "\n")  # what has run so far, kept
    failed = [name for name, r in run["benchmarks"].items() if r["status"] != "ok"]
    print(f"bench/all: results in {path}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
