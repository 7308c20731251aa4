"""Benchmark the local control plane: time to ready with warm binaries, and idle memory.

    .venv/bin/python bench/localk8s.py [--runs 3] [--idle 60] [--json out.json] [--quick]

For each run, a fresh data directory: time from ``start()`` to the apiserver's /readyz, and to
every component ready. Then one control plane idles ``--idle`` seconds and the resident memory
(RSS) of each component is read. Targets (issue #2): ready <= 10 s, whole plane <= 800 MB idle.
``--quick`` (seconds, what ``tests/bench`` runs): one fresh run, the restart, 1 s idle.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from podwarden.local.runtime import ControlPlane
from podwarden.local.toolchain import load_toolchain


def timed_start(data_dir: Path, fsync: bool) -> tuple[float, float, ControlPlane]:
    """Seconds to the apiserver's /readyz and to every component ready."""
    cp = ControlPlane(data_dir, fsync=fsync).start()
    return cp.ready_after["kube-apiserver"], max(cp.ready_after.values()), cp


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=60.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quick", action="store_true", help="seconds: one run, 1 s idle")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.idle = 1, 1.0

    tc = load_toolchain()
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}",
        "versions": {c.name: c.version for c in tc.components},
        "quick": args.quick,
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="pw-bench-") as tmp:
        for i in range(args.runs):
            readyz, everything, cp = timed_start(Path(tmp) / f"run{i}", fsync=True)
            cp.stop()
            result["runs"].append({"fresh": True, "readyz_s": readyz, "all_ready_s": everything})
            print(f"run {i}: fresh data dir: /readyz {readyz:.2f} s, all ready {everything:.2f} s")
        # restart on an existing data directory (PKI and etcd reused)
        readyz, everything, cp = timed_start(Path(tmp) / "run0", fsync=True)
        result["runs"].append({"fresh": False, "readyz_s": readyz, "all_ready_s": everything})
        print(f"restart: existing data dir: /readyz {readyz:.2f} s, all ready {everything:.2f} s")
        try:
            time.sleep(args.idle)
            rss = {name: psutil.Process(pid).memory_info().rss for name, pid in cp.pids.items()}
        finally:
            cp.stop()
    fresh = [r["readyz_s"] for r in result["runs"] if r["fresh"]]
    result["readyz_median_s"] = statistics.median(fresh)
    result["idle_s"] = args.idle
    result["rss_mb"] = {k: round(v / 2**20) for k, v in rss.items()}
    result["rss_total_mb"] = round(sum(rss.values()) / 2**20)
    print(f"median /readyz (fresh): {result['readyz_median_s']:.2f} s")
    print(
        f"RSS after {args.idle:.0f} s idle (MB): {result['rss_mb']}, total {result['rss_total_mb']}"
    )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
