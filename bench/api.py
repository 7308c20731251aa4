"""Benchmark the HyperPod API: podwarden vs moto's server vs a bare HTTP server, one run.

    .venv/bin/uv sync --locked --all-groups   # moto is a benchmark-only dependency
    .venv/bin/python bench/api.py [--calls 300] [--rounds 5] [--scale 1000] [--json out.json]

Latency: the same boto3 client code calls DescribeCluster and ListClusterNodes (a cluster of 100
nodes, MaxResults 100) on each server, interleaved in rounds so drift hits all alike. The bare
server answers with podwarden's own response bodies and does nothing else: its numbers are the
floor that the client and HTTP stack cost. Each server runs in its own process.
Scale (``--scale N``): one instance group of N instances from CreateCluster to InService with
every node Ready on the real local control plane, and podwarden's resident memory then.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import psutil
from botocore.config import Config  # type: ignore[import-untyped]

from podwarden.cli.server import local_credentials
from podwarden.local.runtime import ControlPlane

EKS = "arn:aws:eks:us-west-2:000000000000:cluster/bench"
ROLE = "arn:aws:iam::000000000000:role/bench"
HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client(endpoint: str) -> Any:
    cred = local_credentials()[0]
    return boto3.client(
        "sagemaker",
        endpoint_url=endpoint,
        region_name="us-west-2",
        aws_access_key_id=cred.access_key_id,
        aws_secret_access_key=cred.secret_access_key,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=300),
    )


def wait_port(port: int, proc: subprocess.Popen[Any]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("server did not listen")


def start_podwarden(kubeconfig: Path, data: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "podwarden.cli.main",
            "serve",
            "--kubeconfig",
            str(kubeconfig),
            "--data-dir",
            str(data),
            "--port",
            "0",
            "--launch-delay",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.search(r"API at (http://127\.0\.0\.1:\d+)", line)
        if m:
            return proc, m.group(1)
    raise RuntimeError("podwarden serve did not start")


def group(count: int) -> dict[str, Any]:
    return {
        "InstanceGroupName": "workers",
        "InstanceType": "ml.c5.large",
        "InstanceCount": count,
        "ThreadsPerCore": 1,  # moto raises KeyError (HTTP 500) without it
        "ExecutionRole": ROLE,
        "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-bench/lc/", "OnCreate": "on_create.sh"},
    }


def create_and_wait(sm: Any, name: str, count: int, timeout: float = 600) -> float:
    t0 = time.monotonic()
    sm.create_cluster(
        ClusterName=name, InstanceGroups=[group(count)], Orchestrator={"Eks": {"ClusterArn": EKS}}
    )
    while time.monotonic() - t0 < timeout:
        if sm.describe_cluster(ClusterName=name)["ClusterStatus"] == "InService":
            return time.monotonic() - t0
        time.sleep(0.2)
    raise RuntimeError(f"{name} not InService after {timeout} s")


def operations(sm: Any) -> dict[str, Callable[[], Any]]:
    return {
        "DescribeCluster": lambda: sm.describe_cluster(ClusterName="bench"),
        "ListClusterNodes": lambda: sm.list_cluster_nodes(ClusterName="bench", MaxResults=100),
    }


def sample(call: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency(args: argparse.Namespace, cp: ControlPlane, tmp: Path) -> dict[str, Any]:
    pw, pw_url = start_podwarden(cp.kubeconfig, tmp / "pw")
    moto_port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    procs: list[subprocess.Popen[Any]] = [pw, moto]
    try:
        wait_port(moto_port, moto)
        clients = {"podwarden": client(pw_url), "moto": client(f"http://127.0.0.1:{moto_port}")}
        for sm in clients.values():
            sm.create_cluster(
                ClusterName="bench",
                InstanceGroups=[group(100)],
                Orchestrator={"Eks": {"ClusterArn": EKS}},
            )
        create_wait = time.monotonic()
        while (
            clients["podwarden"].describe_cluster(ClusterName="bench")["ClusterStatus"]
            != "InService"
        ):
            if time.monotonic() - create_wait > 300:
                raise RuntimeError("podwarden bench cluster not InService")
            time.sleep(0.2)
        # the floor answers with podwarden's own bodies
        bodies = tmp / "bodies"
        bodies.mkdir()
        describe_raw = clients["podwarden"].describe_cluster(ClusterName="bench")
        describe_raw.pop("ResponseMetadata")
        (bodies / "describe.json").write_text(
            json.dumps(describe_raw, default=lambda d: d.timestamp())
        )
        nodes_raw = clients["podwarden"].list_cluster_nodes(ClusterName="bench", MaxResults=100)
        nodes_raw.pop("ResponseMetadata")
        (bodies / "nodes.json").write_text(json.dumps(nodes_raw, default=lambda d: d.timestamp()))
        floors = {}
        for op in ("describe", "nodes"):
            port = free_port()
            proc = subprocess.Popen(
                [
                    sys.executable,
                    str(HERE / "bare_server.py"),
                    str(port),
                    str(bodies / f"{op}.json"),
                ]
            )
            procs.append(proc)
            wait_port(port, proc)
            floors[op] = client(f"http://127.0.0.1:{port}")
        assert (
            len(
                clients["podwarden"].list_cluster_nodes(ClusterName="bench", MaxResults=100)[
                    "ClusterNodeSummaries"
                ]
            )
            == 100
        )
        assert (
            len(
                clients["moto"].list_cluster_nodes(ClusterName="bench", MaxResults=100)[
                    "ClusterNodeSummaries"
                ]
            )
            == 100
        )

        bare = {
            **operations(floors["describe"]),
            "ListClusterNodes": operations(floors["nodes"])["ListClusterNodes"],
        }
        targets: dict[str, dict[str, Callable[[], Any]]] = {"bare": bare}
        for name, sm in clients.items():
            targets[name] = operations(sm)
        samples: dict[str, dict[str, list[float]]] = {
            t: {op: [] for op in ops} for t, ops in targets.items()
        }
        per_round = max(1, args.calls // args.rounds)
        for ops in targets.values():  # warm-up
            for call in ops.values():
                sample(call, 20)
        for _ in range(args.rounds):
            for t, ops in targets.items():
                for op, call in ops.items():
                    samples[t][op] += sample(call, per_round)
        result: dict[str, Any] = {}
        for t, measured in samples.items():
            for op, values in measured.items():
                result.setdefault(op, {})[t] = {
                    "p50_ms": round(statistics.median(values), 3),
                    "p99_ms": round(pct(values, 0.99), 3),
                    "n": len(values),
                }
        for row in result.values():
            row["podwarden_over_bare"] = round(
                row["podwarden"]["p50_ms"] / row["bare"]["p50_ms"], 2
            )
            row["moto_over_podwarden"] = round(
                row["moto"]["p50_ms"] / row["podwarden"]["p50_ms"], 2
            )
        return result
    finally:
        for p in procs:
            p.terminate()
            p.wait(15)


def scale(n: int, cp: ControlPlane, tmp: Path) -> dict[str, Any]:
    pw, url = start_podwarden(cp.kubeconfig, tmp / "pw-scale")
    try:
        sm = client(url)
        seconds = create_and_wait(sm, "scale", n, timeout=900)
        rss = psutil.Process(pw.pid).memory_info().rss
        return {
            "instances": n,
            "in_service_s": round(seconds, 1),
            "podwarden_rss_mb": round(rss / 2**20),
        }
    finally:
        pw.terminate()
        pw.wait(15)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scale", type=int, default=0, help="also time N instances to InService")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}",
    }
    with tempfile.TemporaryDirectory(prefix="pw-bench-api-") as tmp_name:
        tmp = Path(tmp_name)
        with ControlPlane(tmp / "k8s", fsync=False) as cp:
            out["latency"] = latency(args, cp, tmp)
            print(json.dumps(out["latency"], indent=2))
            if args.scale:
                out["scale"] = scale(args.scale, cp, tmp)
                print(json.dumps(out["scale"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
