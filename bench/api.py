"""Benchmark the HyperPod API: podwarden vs moto's server vs a bare HTTP server, one run.

    .venv/bin/uv sync --locked --all-groups   # moto is a benchmark-only dependency
    .venv/bin/python bench/api.py [--calls 300] [--interleave call|round] [--rounds 5]
        [--scale 1000] [--json out.json] [--suites inprocess,account,hyperpod] [--idle-cpu SECONDS]
        [--during-scale N] [--quick]

Latency (suite ``hyperpod``): the same boto3 client code calls DescribeCluster and
ListClusterNodes (a cluster of 100 nodes, MaxResults 100) on each server. The calls are
interleaved so that drift hits all alike: by default call by call (one call of each server's each
operation in turn, the order rotating each turn); ``--interleave round`` samples blocks of
``calls / rounds`` calls instead. On a 2-vCPU virtual machine a call's latency is bimodal (whether
client and server share a vCPU, or one wakes the other's: about 0.2 ms apart) and which mode a
block of calls lands in drifts over seconds, so rounds moved the p50 ratios by up to a fifth
between runs where turns did not (BENCHMARKS.md, "The API at its floor"). The bare server answers
with podwarden's own response bodies and does nothing else: its numbers are the floor that the
client and HTTP stack cost. Each server runs in its own process.
The local AWS account (suite ``account``, no Kubernetes): EKS DescribeCluster, EC2
DescribeSubnets (the three subnets of a HyperPod VPC), IAM GetRole, STS GetCallerIdentity and S3
GetObject (an 81-byte lifecycle script), with SageMaker DescribeCluster as the reference, on
podwarden and on moto's server, measured the same way. podwarden runs the app ``podwarden
serve`` runs, under serve's uvicorn settings, without the Kubernetes side (no control plane, no
reconciler: ``--serve-account``), so its HyperPod cluster stays Creating with no instances;
moto's has its 100. The floor is one uvicorn process per operation replaying podwarden's
recorded response (status, headers, body: ``bare_server.py --replay``).
Idle (``--idle-cpu S``, hyperpod suite): podwarden serve's CPU time over S seconds while it holds
the InService cluster and nobody calls it: its standing load.
During a scale-up (``--during-scale N``, hyperpod suite): on the same ``podwarden serve``, one
client samples DescribeCluster and ListClusterNodes of the 100-node cluster, one call of each in
turn: ``--calls`` times idle, then from CreateCluster of a second cluster (one group of N
instances) until it is InService (every node Ready), polling its status between samples (the
polls are not timed). p50/p99 of both phases and their ratio (issue #14's target: DescribeCluster
p99 during a 1,000-node scale-up within 2x the idle p99) and the seconds of the scale-up.
Scale (``--scale N``): one instance group of N instances from CreateCluster to InService with
every node Ready on the real local control plane, and podwarden's resident memory then.
In-process (suite ``inprocess``, ``bench/api_inprocess.py``): the account suite's reads replayed
straight into the app's coroutine (no socket, no event loop), with the read cache and with a
cache that keeps nothing: microseconds of podwarden's own code a request, below the HTTP noise.
Quick (``--quick``, seconds: what ``tests/bench`` runs so that the benchmark cannot rot): the same
suites with a few calls, a cluster of 3 nodes, latency sampled during a scale-up of 5, and no
moto (the ``bench`` dependency group is not needed); the output says the comparison was skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import importlib.util
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
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import psutil
from botocore.config import Config  # type: ignore[import-untyped]

from api_inprocess import account_app, in_process  # bench/api_inprocess.py
from podwarden.cli import serving
from podwarden.cli.server import ServerSettings, local_credentials
from podwarden.cli.serving import bound_port, uvicorn_server
from podwarden.local.runtime import ControlPlane
from podwarden.store.sql import Store, sqlite_url
from waits import WaitFailed, in_service, read_lines, wait_for  # bench/waits.py

# what ``podwarden serve`` seeds in the local account (its EKS cluster is the local control
# plane): a HyperPod cluster's nodes join the EKS cluster it names, so it must be that one
EKS = "arn:aws:eks:us-west-2:000000000000:cluster/podwarden"
ROLE = "arn:aws:iam::000000000000:role/podwarden-hyperpod-execution"
LIFECYCLE_URI = "s3://sagemaker-podwarden-000000000000-us-west-2/lifecycle/"
HERE = Path(__file__).resolve().parent
NODES = 100  # the hyperpod suite's cluster (--quick: QUICK_NODES)
QUICK_NODES = 3
STARTUP_S = 120.0  # a server listening
IN_SERVICE_S = 300.0  # the hyperpod suite's cluster InService
QUICK_SCALE_UP = 5  # --quick's --during-scale
SCALE_UP_PER_INSTANCE_S = 0.9  # the deadline of --during-scale's scale-up grows with N
POLL_S = 0.2  # how often the scale-up's status is read between samples


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client(endpoint: str, service: str = "sagemaker", **config: Any) -> Any:
    cred = local_credentials()[0]
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-west-2",
        aws_access_key_id=cred.access_key_id,
        aws_secret_access_key=cred.secret_access_key,
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=300, **config
        ),
    )


def wait_port(port: int, proc: subprocess.Popen[Any], what: str) -> None:
    def connects() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    wait_for(
        f"{what} to listen on port {port}",
        connects,
        bool,
        failed=lambda _: None if proc.poll() is None else f"it exited with {proc.returncode}",
        show=lambda _: "not listening",
        timeout=STARTUP_S,
        interval=0.05,
    )


def start_api(argv: list[str], what: str) -> tuple[subprocess.Popen[str], str]:
    """Run ``argv`` (a server that prints ``API at <url>`` once listening): the process and
    the URL."""
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        m = read_lines(proc, r"API at (http://127\.0\.0\.1:\d+)", f"{what} to listen", STARTUP_S)
    except WaitFailed:
        proc.kill()
        proc.wait(15)
        raise
    return proc, m.group(1)


def start_podwarden(kubeconfig: Path, data: Path) -> tuple[subprocess.Popen[str], str]:
    return start_api(
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
            # latency of the API, not of the preflight (moto checks nothing at CreateCluster)
            "--no-preflight",
        ],
        "podwarden serve",
    )


def group(count: int) -> dict[str, Any]:
    return {
        "InstanceGroupName": "workers",
        "InstanceType": "ml.c5.large",
        "InstanceCount": count,
        "ThreadsPerCore": 1,  # moto raises KeyError (HTTP 500) without it
        "ExecutionRole": ROLE,
        "LifeCycleConfig": {"SourceS3Uri": LIFECYCLE_URI, "OnCreate": "on_create.sh"},
    }


def create_and_wait(sm: Any, name: str, count: int, timeout: float = 600) -> float:
    t0 = time.monotonic()
    sm.create_cluster(
        ClusterName=name, InstanceGroups=[group(count)], Orchestrator={"Eks": {"ClusterArn": EKS}}
    )
    in_service(sm, name, timeout)
    return time.monotonic() - t0


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


def start_moto(procs: list[subprocess.Popen[Any]]) -> str:
    """moto's server (the ``bench`` dependency group), its URL; the process joins ``procs``."""
    if importlib.util.find_spec("moto") is None:
        raise SystemExit(
            "moto is not installed: run `.venv/bin/uv sync --locked --all-groups`, "
            "or --quick to skip the comparison"
        )
    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    procs.append(moto)
    wait_port(port, moto, "moto's server")
    return f"http://127.0.0.1:{port}"


def start_floors(
    ops: dict[str, Callable[[], Any]], tmp: Path, procs: list[subprocess.Popen[Any]]
) -> dict[str, Any]:
    """Per operation, a bare server answering podwarden's response to it to every request (all
    started together): a client of each."""
    ports: dict[str, tuple[int, subprocess.Popen[Any]]] = {}
    for i, (op, call) in enumerate(ops.items()):
        body = call()
        body.pop("ResponseMetadata")
        file = tmp / f"body-{i}.json"
        file.write_text(json.dumps(body, default=lambda d: d.timestamp()))
        port = free_port()
        argv = [sys.executable, str(HERE / "bare_server.py"), str(port), str(file)]
        ports[op] = (port, subprocess.Popen(argv))
        procs.append(ports[op][1])
    for op, (port, proc) in ports.items():
        wait_port(port, proc, f"the bare server of {op}")
    return {op: client(f"http://127.0.0.1:{port}") for op, (port, _) in ports.items()}


def latency(args: argparse.Namespace, cp: ControlPlane, tmp: Path) -> dict[str, Any]:
    pw, pw_url = start_podwarden(cp.kubeconfig, tmp / "pw")
    procs: list[subprocess.Popen[Any]] = [pw]
    nodes = QUICK_NODES if args.quick else NODES
    try:
        clients = {"podwarden": client(pw_url)}
        if not args.quick:
            clients["moto"] = client(start_moto(procs))
        for sm in clients.values():
            sm.create_cluster(
                ClusterName="bench",
                InstanceGroups=[group(nodes)],
                Orchestrator={"Eks": {"ClusterArn": EKS}},
            )
        in_service(clients["podwarden"], "bench", IN_SERVICE_S)
        if args.idle_cpu:
            args.idle = idle_cpu(pw.pid, args.idle_cpu)
        for name, sm in clients.items():
            listed = sm.list_cluster_nodes(ClusterName="bench", MaxResults=100)
            assert len(listed["ClusterNodeSummaries"]) == nodes, name
        # the floor answers with podwarden's own bodies
        floors = start_floors(operations(clients["podwarden"]), tmp, procs)
        targets: dict[str, dict[str, Callable[[], Any]]] = {
            "bare": {op: operations(floor)[op] for op, floor in floors.items()}
        }
        for name, sm in clients.items():
            targets[name] = operations(sm)
        result = summarize(measure(targets, args))
        args.read_cache = read_cache_counts(pw_url)
        for row in result.values():
            row["podwarden_over_bare"] = round(
                row["podwarden"]["p50_ms"] / row["bare"]["p50_ms"], 2
            )
            if "moto" in row:
                row["moto_over_podwarden"] = round(
                    row["moto"]["p50_ms"] / row["podwarden"]["p50_ms"], 2
                )
        if args.during_scale:  # last: the second cluster stays
            args.during = during_scale(pw_url, args, targets["bare"])
        return result
    finally:
        stop(procs)


def read_cache_counts(url: str) -> dict[str, int]:
    """How the server's read cache answered so far (``/_podwarden/metrics``): hits and misses.
    A hit skips the handler: the numbers say which of the two the latencies mostly measured."""
    with urllib.request.urlopen(f"{url}/_podwarden/metrics", timeout=30) as response:
        text = response.read().decode()
    counts = {"hit": 0, "miss": 0}
    for m in re.finditer(r'^podwarden_api_read_cache_total\{result="(\w+)"\} (\S+)$', text, re.M):
        counts[m.group(1)] = int(float(m.group(2)))
    return counts


def idle_cpu(pid: int, seconds: float) -> dict[str, float]:
    """CPU time ``podwarden serve`` (``pid``) spends holding its InService cluster, nothing
    asked of it: its standing load (watches, reconciler passes, the agent)."""
    proc = psutil.Process(pid)
    time.sleep(min(5.0, seconds))  # the last InService writes settle
    before, start = proc.cpu_times(), time.monotonic()
    time.sleep(seconds)
    after, wall = proc.cpu_times(), time.monotonic() - start
    used = (after.user - before.user) + (after.system - before.system)
    return {"wall_s": round(wall, 1), "cpu_s": round(used, 2), "cpu_share": round(used / wall, 4)}


def one_each(ops: dict[str, Callable[[], Any]], samples: dict[str, list[float]]) -> None:
    """One call of each operation, in turn, its latency added to ``samples``."""
    for op, call in ops.items():
        samples[op] += sample(call, 1)


def sampled_scale_up(
    ops: dict[str, Callable[[], Any]], sm: Any, n: int, samples: dict[str, list[float]]
) -> float:
    """Create cluster ``bench-scale-up`` (one group of ``n``) with ``sm`` and sample ``ops``
    until it is InService (its status read every POLL_S s between samples, untimed; Failed
    ends the wait): the seconds from CreateCluster to InService."""
    name = "bench-scale-up"

    def sampled_then_read() -> dict[str, Any]:
        due = time.monotonic() + POLL_S
        one_each(ops, samples)  # at least once, however soon it is InService
        while time.monotonic() < due:
            one_each(ops, samples)
        description: dict[str, Any] = sm.describe_cluster(ClusterName=name)
        return description

    t0 = time.monotonic()
    sm.create_cluster(
        ClusterName=name, InstanceGroups=[group(n)], Orchestrator={"Eks": {"ClusterArn": EKS}}
    )
    in_service(
        sm,
        name,
        max(IN_SERVICE_S, SCALE_UP_PER_INSTANCE_S * n),
        read=sampled_then_read,
        interval=0,
        what=f" ({n} instances, latency sampled meanwhile)",
    )
    seconds = time.monotonic() - t0
    pages = sm.get_paginator("list_cluster_nodes").paginate(ClusterName=name)
    running = [
        s
        for page in pages
        for s in page["ClusterNodeSummaries"]
        if s["InstanceStatus"]["Status"] == "Running"
    ]
    assert len(running) == n, f"{len(running)} of {n} instances Running once InService"
    return seconds


def during_scale(
    url: str, args: argparse.Namespace, floors: dict[str, Callable[[], Any]]
) -> dict[str, Any]:
    """DescribeCluster and ListClusterNodes of the 100-node cluster (one client, one call of
    each in turn): ``args.calls`` rounds idle, then every round during a scale-up of
    ``args.during_scale`` instances in a second cluster (another client creates and polls it).
    The floors (the bare servers' same calls) are sampled in the same rounds: what the machine
    itself, busy with the scale-up, does to any server's latency."""
    ops = {**operations(client(url)), **{f"floor {op}": call for op, call in floors.items()}}
    for call in ops.values():  # warm-up
        sample(call, args.warmup)
    idle: dict[str, list[float]] = {op: [] for op in ops}
    for _ in range(args.calls):
        one_each(ops, idle)
    during: dict[str, list[float]] = {op: [] for op in ops}
    seconds = sampled_scale_up(ops, client(url), args.during_scale, during)
    rows = summarize({"idle": idle, "during": during})
    for row in rows.values():
        for q in ("p50", "p99"):
            row[f"{q}_ratio"] = round(row["during"][f"{q}_ms"] / row["idle"][f"{q}_ms"], 2)
    return {"instances": args.during_scale, "scale_up_s": round(seconds, 1), "operations": rows}


def during_scale_table(result: dict[str, Any]) -> str:
    lines = [
        f"latency during a scale-up of {result['instances']} instances "
        f"(CreateCluster to InService: {result['scale_up_s']} s)",
        f"{'operation':<18} {'idle p50/p99 ms (n)':>26} {'during p50/p99 ms (n)':>26} "
        f"{'during/idle p50, p99':>21}",
    ]
    for op, row in result["operations"].items():
        idle, during = (
            f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f} ({r['n']})"
            for r in (row["idle"], row["during"])
        )
        lines.append(
            f"{op:<18} {idle:>26} {during:>26} {row['p50_ratio']:>10}, {row['p99_ratio']:>8}"
        )
    return "\n".join(lines)


def stop(procs: list[subprocess.Popen[Any]]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(15)


# ---------------------------------------------------------------- the local AWS account

ACCOUNT_ROLE = "bench-execution"
BUCKET = "sagemaker-bench-lifecycle"
SCRIPT = b"#!/bin/bash\n# HyperPod lifecycle script of the bench\nset -ex\necho on-create done\n"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
ACCOUNT_SERVICES = ("sagemaker", "eks", "ec2", "iam", "sts", "s3")


def serve_account(data: Path) -> None:
    """podwarden's app without Kubernetes (no reconciler, no control plane), under
    ``podwarden serve``'s uvicorn server; prints ``API at <url>`` once listening, as serve
    does."""
    data.mkdir(parents=True, exist_ok=True)
    store = Store(sqlite_url(data))
    app = account_app(store)
    # serve's own uvicorn settings; the kubeconfig is never read (no startup hooks here)
    settings = ServerSettings(kubeconfig=data / "none", database_url=sqlite_url(data), port=0)
    server = uvicorn_server(app, settings)

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn has no event
            await asyncio.sleep(0.02)
        if server.started:
            gc.collect()
            gc.freeze()  # as podwarden serve does
            print(f"API at http://127.0.0.1:{bound_port(server)}", flush=True)
        await task

    try:
        serving.run(run())  # as podwarden serve runs its loop
    finally:
        store.close()


def start_account(data: Path) -> tuple[subprocess.Popen[str], str]:
    return start_api(
        [sys.executable, str(Path(__file__).resolve()), "--serve-account", str(data)],
        "the account server",
    )


def account_clients(endpoint: str, services: tuple[str, ...] = ACCOUNT_SERVICES) -> dict[str, Any]:
    return {
        service: client(
            endpoint, service, **({"s3": {"addressing_style": "path"}} if service == "s3" else {})
        )
        for service in services
    }


def seed_account(c: dict[str, Any]) -> dict[str, str]:
    """The same resources on each server: a HyperPod VPC's three subnets, an EKS cluster on two
    of them, the execution role, the lifecycle bucket with its script, a HyperPod cluster."""
    ec2 = c["ec2"]
    vpc = ec2.create_vpc(CidrBlock="10.192.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for cidr, zone in (
            ("10.192.10.0/24", "us-west-2a"),
            ("10.192.64.0/18", "us-west-2a"),
            ("10.192.128.0/18", "us-west-2b"),
        )
    ]
    eks = c["eks"].create_cluster(
        name="bench-eks",
        roleArn="arn:aws:iam::000000000000:role/bench-eks",
        resourcesVpcConfig={"subnetIds": subnets[1:]},
    )["cluster"]
    c["iam"].create_role(RoleName=ACCOUNT_ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    c["s3"].create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    c["s3"].put_object(Bucket=BUCKET, Key="lc/on_create.sh", Body=SCRIPT)
    c["sagemaker"].create_cluster(
        ClusterName="bench",
        InstanceGroups=[group(NODES)],
        Orchestrator={"Eks": {"ClusterArn": eks["arn"]}},
    )
    return {"vpc": vpc}


def account_operations(c: dict[str, Any], seeded: dict[str, str]) -> dict[str, Callable[[], Any]]:
    by_vpc = [{"Name": "vpc-id", "Values": [seeded["vpc"]]}]

    def get_script() -> bytes:  # the body too: a GetObject is done once it is read
        body: bytes = c["s3"].get_object(Bucket=BUCKET, Key="lc/on_create.sh")["Body"].read()
        return body

    def caller_identity() -> Any:  # c["sts"] when called: a floor has one service's client
        return c["sts"].get_caller_identity()

    return {
        "SageMaker DescribeCluster": lambda: c["sagemaker"].describe_cluster(ClusterName="bench"),
        "EKS DescribeCluster": lambda: c["eks"].describe_cluster(name="bench-eks"),
        "EC2 DescribeSubnets": lambda: c["ec2"].describe_subnets(Filters=by_vpc),
        "IAM GetRole": lambda: c["iam"].get_role(RoleName=ACCOUNT_ROLE),
        "STS GetCallerIdentity": caller_identity,
        "S3 GetObject": get_script,
    }


def check_answers(ops: dict[str, Callable[[], Any]], target: str) -> None:
    """Each call answers what was seeded (a benchmark of error responses would be worthless)."""
    assert len(ops["EC2 DescribeSubnets"]()["Subnets"]) == 3, target
    assert ops["EKS DescribeCluster"]()["cluster"]["name"] == "bench-eks", target
    assert ops["IAM GetRole"]()["Role"]["RoleName"] == ACCOUNT_ROLE, target
    assert re.fullmatch(r"[0-9]{12}", ops["STS GetCallerIdentity"]()["Account"]), target
    assert ops["S3 GetObject"]() == SCRIPT, target
    assert ops["SageMaker DescribeCluster"]()["ClusterName"] == "bench", target


# Response headers the replay floor does not repeat: the server sets its own.
HOP_HEADERS = frozenset({"content-length", "date", "server", "connection", "transfer-encoding"})


def recorded(c: dict[str, Any], call: Callable[[], Any]) -> dict[str, Any]:
    """The raw HTTP response podwarden gave ``call``: status, headers, body. A streaming body
    (S3 GetObject) is left to the call to read, and is what the call returns."""
    seen: list[dict[str, Any]] = []

    def keep(http_response: Any, model: Any, **_: Any) -> None:
        streaming = model.has_streaming_output
        seen.append(
            {
                "status": http_response.status_code,
                "headers": [
                    [k, v] for k, v in http_response.headers.items() if k.lower() not in HOP_HEADERS
                ],
                "body": None if streaming else base64.b64encode(http_response.content).decode(),
            }
        )

    for cl in c.values():
        cl.meta.events.register("after-call", keep)
    try:
        answer = call()
    finally:
        for cl in c.values():
            cl.meta.events.unregister("after-call", keep)
    assert len(seen) == 1, len(seen)
    if seen[0]["body"] is None:
        assert isinstance(answer, bytes)
        seen[0]["body"] = base64.b64encode(answer).decode()
    return seen[0]


def start_replays(
    c: dict[str, Any], seeded: dict[str, str], tmp: Path, procs: list[subprocess.Popen[Any]]
) -> dict[str, Callable[[], Any]]:
    """One replay server per operation, each with podwarden's response to it; the same call
    code against each."""
    ops = account_operations(c, seeded)
    ports: dict[str, tuple[int, subprocess.Popen[Any]]] = {}
    for i, (op, call) in enumerate(ops.items()):
        file = tmp / f"replay-{i}.json"
        file.write_text(json.dumps(recorded(c, call)))
        port = free_port()
        argv = [sys.executable, str(HERE / "bare_server.py"), "--replay", str(port), str(file)]
        ports[op] = (port, subprocess.Popen(argv))
        procs.append(ports[op][1])
    floor: dict[str, Callable[[], Any]] = {}
    for op, (port, proc) in ports.items():  # started together, awaited in turn
        wait_port(port, proc, f"the replay server of {op}")
        service = op.split()[0].lower()  # "S3 GetObject": s3
        clients = account_clients(f"http://127.0.0.1:{port}", (service,))
        floor[op] = account_operations(clients, seeded)[op]
    return floor


def account_latency(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    pw, pw_url = start_account(tmp / "pw-account")
    procs: list[subprocess.Popen[Any]] = [pw]
    try:
        servers = {"podwarden": pw_url}
        if not args.quick:
            servers["moto"] = start_moto(procs)
        targets: dict[str, dict[str, Callable[[], Any]]] = {}
        for name, url in servers.items():
            c = account_clients(url)
            seeded = seed_account(c)
            targets[name] = account_operations(c, seeded)
            check_answers(targets[name], name)
            if name == "podwarden":
                targets["bare"] = start_replays(c, seeded, tmp, procs)
                check_answers(targets["bare"], "bare")
        result = summarize(measure(targets, args))
        reference = result["SageMaker DescribeCluster"]["podwarden"]["p50_ms"]
        for row in result.values():
            pw_p50 = row["podwarden"]["p50_ms"]
            row["podwarden_over_bare"] = round(pw_p50 / row["bare"]["p50_ms"], 2)
            if "moto" in row:
                row["moto_over_podwarden"] = round(row["moto"]["p50_ms"] / pw_p50, 2)
            row["podwarden_over_sagemaker"] = round(pw_p50 / reference, 2)
        return result
    finally:
        stop(procs)


def measure(
    targets: dict[str, dict[str, Callable[[], Any]]], args: argparse.Namespace
) -> dict[str, dict[str, list[float]]]:
    """Warm every call up, then sample every (target, operation) ``args.calls`` times,
    interleaved: call by call (``--interleave call``: one call of each in turn, the order
    rotating each turn) or in ``args.rounds`` rounds of a block of calls each (``round``)."""
    samples: dict[str, dict[str, list[float]]] = {
        t: {op: [] for op in ops} for t, ops in targets.items()
    }
    for ops in targets.values():  # warm-up
        for call in ops.values():
            sample(call, args.warmup)
    pairs = [(t, op, call) for t, ops in targets.items() for op, call in ops.items()]
    if args.interleave == "call":
        for i in range(args.calls):
            turn = i % len(pairs)
            for t, op, call in pairs[turn:] + pairs[:turn]:
                samples[t][op] += sample(call, 1)
        return samples
    per_round = max(1, args.calls // args.rounds)
    for _ in range(args.rounds):
        for t, op, call in pairs:
            samples[t][op] += sample(call, per_round)
    return samples


def summarize(samples: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    """``{operation: {target: {p50_ms, p99_ms, n}}}``."""
    result: dict[str, Any] = {}
    for t, measured in samples.items():
        for op, values in measured.items():
            result.setdefault(op, {})[t] = {
                "p50_ms": round(statistics.median(values), 3),
                "p99_ms": round(pct(values, 0.99), 3),
                "n": len(values),
            }
    return result


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
        stop([pw])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument(
        "--interleave",
        choices=("call", "round"),
        default="call",
        help="call: one call of each (server, operation) in turn (the default); round: "
        "--rounds rounds of a block of calls each",
    )
    parser.add_argument("--rounds", type=int, default=5, help="with --interleave round")
    parser.add_argument("--scale", type=int, default=0, help="also time N instances to InService")
    parser.add_argument(
        "--suites",
        default="inprocess,account,hyperpod",
        help="comma-separated: account (the local AWS account, no Kubernetes), hyperpod "
        "(the HyperPod API on the local control plane), inprocess (the account's reads in "
        "the app itself, no socket: bench/api_inprocess.py)",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--idle-cpu",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="hyperpod suite: also measure podwarden serve's CPU time while it holds the "
        "InService cluster idle for SECONDS (its standing load)",
    )
    parser.add_argument(
        "--during-scale",
        type=int,
        default=0,
        metavar="N",
        help="hyperpod suite: also sample DescribeCluster and ListClusterNodes of its cluster "
        "idle and while a second cluster of N instances goes from CreateCluster to InService",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="seconds, not minutes: a few calls, a 3-node cluster, a scale-up of "
        f"{QUICK_SCALE_UP} sampled, no moto comparison",
    )
    parser.add_argument("--serve-account", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_account:
        serve_account(args.serve_account)
        return
    suites = set(args.suites.split(","))
    known = {"account", "hyperpod", "inprocess"}
    if suites - known:
        parser.error(f"unknown suites: {', '.join(sorted(suites - known))}")
    if args.during_scale and "hyperpod" not in suites:
        parser.error("--during-scale samples the hyperpod suite's cluster: add it to --suites")
    args.warmup = 20
    if args.quick:
        args.calls, args.rounds, args.warmup = 10, 2, 2
        args.idle_cpu = min(args.idle_cpu, 1.0)
        args.during_scale = QUICK_SCALE_UP
        print("quick mode: a few calls, no moto comparison (skipped)", flush=True)
    out: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}",
        "quick": args.quick,
    }
    with tempfile.TemporaryDirectory(prefix="pw-bench-api-") as tmp_name:
        tmp = Path(tmp_name)
        if "inprocess" in suites:
            out["inprocess"] = in_process(
                account_clients, lambda c: account_operations(c, seed_account(c)), args.calls
            )
            print(json.dumps({"inprocess": out["inprocess"]}, indent=2))
        if "account" in suites:  # first, while no control plane shares the cores
            out["account"] = account_latency(args, tmp)
            print(json.dumps(out["account"], indent=2))
        if "hyperpod" in suites or args.scale:
            with ControlPlane(tmp / "k8s", fsync=False) as cp:
                if "hyperpod" in suites:
                    args.idle = args.during = None
                    out["latency"] = latency(args, cp, tmp)
                    out["read_cache"] = args.read_cache
                    print(json.dumps(out["latency"], indent=2))
                    print(json.dumps({"read_cache": args.read_cache}))
                    if args.idle is not None:
                        out["idle"] = args.idle
                        print(json.dumps({"idle": args.idle}, indent=2))
                    if args.during is not None:
                        out["during_scale"] = args.during
                        print(json.dumps({"during_scale": args.during}, indent=2))
                        print(during_scale_table(args.during))
                if args.scale:
                    out["scale"] = scale(args.scale, cp, tmp)
                    print(json.dumps(out["scale"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
