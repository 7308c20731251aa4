"""Benchmark whether large requests stall the API (issue #17, item 7): SageMaker DescribeCluster
latency idle, then while ``--clients`` clients each send ``--mib`` MiB S3 PutObjects in a loop.

    .venv/bin/python bench/bigbody.py [--calls 300] [--clients 4] [--mib 15] [--seconds 20]
        [--no-kubernetes] [--pin-uploaders CPU] [--json out.json] [--quick]

The server is ``podwarden serve`` on the real local control plane (its reconcilers share the
event loop with the API), or with ``--no-kubernetes`` the same app without Kubernetes (bench/
api.py's account server). One boto3 client samples DescribeCluster of a one-node cluster
back to back: ``--calls`` times idle, then for ``--seconds`` while every uploader (a process of
bench/put_loop.py: raw SigV4-signed HTTP on loopback, at most ``--max-puts`` puts each) keeps a
PutObject in flight. Each upload must answer 200 and each object must then be whole. Prints p50
and p99 of both phases and their ratio (issue #17's target: loaded p99 within 2x idle p99).
``--quick`` (seconds, what ``tests/bench`` runs): 20 calls, 2 s of load, 10 puts a client.
Sampling under load stops when the first uploader is done, so every sample saw the full load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from api import (  # bench/api.py
    HERE,
    STARTUP_S,
    account_clients,
    client,
    create_and_wait,
    pct,
    sample,
    seed_account,
    start_account,
    start_podwarden,
    stop,
)
from podwarden.cli.server import local_credentials
from podwarden.local.runtime import ControlPlane
from waits import read_lines  # bench/waits.py

BUCKET = "bench-bigbody"
CLUSTER = "bench"
FINISH_S = 300.0  # the uploads in flight at the end of the load finishing


@contextmanager
def podwarden(no_kubernetes: bool, tmp: Path) -> Iterator[str]:
    """The API's URL, with the cluster ``bench`` created (InService on Kubernetes)."""
    if no_kubernetes:
        pw, url = start_account(tmp / "pw")
        try:
            seed_account(account_clients(url))  # its HyperPod cluster "bench" stays Creating
            yield url
        finally:
            stop([pw])
        return
    with ControlPlane(tmp / "k8s", fsync=False) as cp:
        pw, url = start_podwarden(cp.kubeconfig, tmp / "pw")
        try:
            create_and_wait(client(url), CLUSTER, 1)
            yield url
        finally:
            stop([pw])


def latency(values: list[float]) -> dict[str, Any]:
    return {
        "p50_ms": round(statistics.median(values), 3),
        "p99_ms": round(pct(values, 0.99), 3),
        "max_ms": round(max(values), 3),
        "n": len(values),
    }


def start_uploaders(args: argparse.Namespace, url: str, tmp: Path) -> list[subprocess.Popen[str]]:
    """The uploader processes, each ready (its body made) and waiting for the go."""
    cred = local_credentials()[0]
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": cred.access_key_id,
        "AWS_SECRET_ACCESS_KEY": cred.secret_access_key,
    }
    procs = []
    pin = ["taskset", "-c", str(args.pin_uploaders)] if args.pin_uploaders is not None else []
    for i in range(args.clients):
        argv = [
            *pin,
            sys.executable,
            str(HERE / "put_loop.py"),
            url,
            BUCKET,
            f"bigbody/{i}",
            str(args.mib),
            str(args.max_puts),
            str(tmp / f"puts-{i}.json"),
        ]
        procs.append(
            subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
            )
        )
    try:
        for i, proc in enumerate(procs):
            read_lines(proc, r"^ready$", f"uploader {i} ready", STARTUP_S)
    except BaseException:
        stop(procs)
        raise
    return procs


def under_load(
    args: argparse.Namespace, url: str, describe: Callable[[], Any], tmp: Path
) -> tuple[list[float], list[float], float, float]:
    """DescribeCluster latencies (ms) while the uploads run, every upload's seconds, the seconds
    sampled and the seconds from the go to the last upload's end."""
    procs = start_uploaders(args, url, tmp)
    try:
        started = time.time()
        until = started + 0.2 + args.seconds
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write(f"{until}\n")
            proc.stdin.close()
        time.sleep(0.2)  # every uploader has a PutObject in flight
        loaded: list[float] = []
        # bounded: ends at `until`, or as soon as one uploader is done (the load is no longer full)
        while time.time() < until and all(proc.poll() is None for proc in procs):
            loaded += sample(describe, 1)
        sampled_s = time.time() - started - 0.2
        puts: list[float] = []
        for i, proc in enumerate(procs):
            code = proc.wait(FINISH_S)
            if code != 0:
                raise RuntimeError(f"uploader {i} exited with {code} (its error is above)")
            puts += json.loads((tmp / f"puts-{i}.json").read_text())["put_s"]
        load_s = time.time() - started
    finally:
        stop(procs)
    return loaded, puts, sampled_s, load_s


def check_objects(url: str, args: argparse.Namespace) -> None:
    """Every uploaded object is whole (a benchmark of failed uploads would be worthless)."""
    s3 = client(url, "s3", s3={"addressing_style": "path"})
    for i in range(args.clients):
        size = s3.head_object(Bucket=BUCKET, Key=f"bigbody/{i}")["ContentLength"]
        assert size == int(args.mib * 2**20), (i, size)


def run(args: argparse.Namespace, url: str, tmp: Path) -> dict[str, Any]:
    sm = client(url)

    def describe() -> None:
        assert sm.describe_cluster(ClusterName=CLUSTER)["ClusterName"] == CLUSTER

    s3 = client(url, "s3", s3={"addressing_style": "path"})
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    sample(describe, args.warmup)
    idle = latency(sample(describe, args.calls))
    print(f"idle DescribeCluster: p50 {idle['p50_ms']} ms, p99 {idle['p99_ms']} ms, n {idle['n']}")
    loaded_ms, puts, sampled_s, load_s = under_load(args, url, describe, tmp)
    check_objects(url, args)
    loaded = latency(loaded_ms)
    load = {
        "clients": args.clients,
        "mib": args.mib,
        "seconds": args.seconds,
        "sampled_s": round(sampled_s, 2),
        "puts": len(puts),
        "put_p50_s": round(statistics.median(puts), 3) if puts else None,
        "put_mib_per_s": round(len(puts) * args.mib / load_s, 1),
    }
    print(
        f"DescribeCluster under {args.clients} x {args.mib:g} MiB PutObject "
        f"({len(puts)} puts in {load_s:.1f} s, sampled {sampled_s:.1f} s): p50 {loaded['p50_ms']} ms, "
        f"p99 {loaded['p99_ms']} ms, n {loaded['n']}"
    )
    ratio = round(loaded["p99_ms"] / idle["p99_ms"], 2)
    print(f"p99 under load / p99 idle: {ratio} (target <= 2)")
    return {"idle": idle, "under_load": loaded, "load": load, "p99_ratio": ratio}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300, help="idle DescribeCluster samples")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--mib", type=float, default=15.0, help="each PutObject's body")
    parser.add_argument("--seconds", type=float, default=20.0, help="of load")
    parser.add_argument("--max-puts", type=int, default=1000, help="a client, at most")
    parser.add_argument("--no-kubernetes", action="store_true", help="the app without Kubernetes")
    parser.add_argument(
        "--pin-uploaders",
        type=int,
        metavar="CPU",
        help="run the uploaders on this CPU alone and everything else (server, control plane,"
        " sampler) on the others: the server's share of the p99 without its load generator",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quick", action="store_true", help="seconds: 20 calls, 2 s of load")
    args = parser.parse_args()
    args.warmup = 20
    if args.quick:
        args.calls, args.warmup, args.seconds, args.max_puts = 20, 5, 2.0, 10
    out: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}",
        "server": "app without Kubernetes" if args.no_kubernetes else "podwarden serve",
        "quick": args.quick,
    }
    if args.pin_uploaders is not None:  # before the server starts: it inherits the rest
        others = os.sched_getaffinity(0) - {args.pin_uploaders}
        if not others:
            parser.error(f"--pin-uploaders {args.pin_uploaders} leaves no CPU for the server")
        os.sched_setaffinity(0, others)
        out["pinned"] = f"uploaders on CPU {args.pin_uploaders}, the rest on {sorted(others)}"
    with (
        tempfile.TemporaryDirectory(prefix="pw-bench-bigbody-") as tmp_name,
        podwarden(args.no_kubernetes, Path(tmp_name)) as url,
    ):
        out.update(run(args, url, Path(tmp_name)))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
