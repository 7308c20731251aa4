"""Benchmark fault handling: fault injected -> node quarantined, a burst of faulted nodes, and
fault -> replacement, on the real local control plane with podwarden's simulated agent.

    .venv/bin/python bench/recovery.py [--faults 100] [--burst 150] [--json out.json] [--quick]

Quarantined = the node carries node-health-status UnschedulablePendingReplacement and the
NoSchedule taint (polled every 10 ms through the Kubernetes API, which bounds the resolution).
Anchors (docs/sources.md, "Detection and repair times"): NVSentinel quarantines in 1.8 s and a
burst of 150 nodes in 28.5 s; EKS/Karpenter wait 10 minutes before repairing.
Every wait ends at a deadline or a terminal state (bench/waits.py): a cluster that goes Failed
stops the run with its FailureMessage. ``--quick`` (seconds, what ``tests/bench`` runs): 2 faults
and a burst of 3.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from api import EKS, LIFECYCLE_URI, ROLE, client, start_podwarden, stop  # bench/api.py
from podwarden.agent.inject import inject, signal_for
from podwarden.kube.nodes import KubeNodes
from podwarden.local.runtime import ControlPlane
from waits import await_for, in_service, wait_for  # bench/waits.py

HEALTH = "sagemaker.amazonaws.com/node-health-status"
IN_SERVICE_S = 600.0  # a cluster of --burst nodes InService
QUARANTINE_S = 60.0  # one faulted node quarantined
BURST_S = 300.0  # every node of the burst quarantined
REPLACEMENT_S = 300.0  # the replacement instance Running


def gpu_group(count: int) -> dict[str, Any]:
    return {
        "InstanceGroupName": "gpu",
        "InstanceType": "ml.g5.xlarge",
        "InstanceCount": count,
        "ExecutionRole": ROLE,
        "LifeCycleConfig": {"SourceS3Uri": LIFECYCLE_URI, "OnCreate": "on_create.sh"},
    }


def create(sm: Any, name: str, count: int, recovery: str) -> list[str]:
    sm.create_cluster(
        ClusterName=name,
        InstanceGroups=[gpu_group(count)],
        Orchestrator={"Eks": {"ClusterArn": EKS}},
        NodeRecovery=recovery,
    )
    in_service(sm, name, IN_SERVICE_S)
    pages = sm.get_paginator("list_cluster_nodes").paginate(ClusterName=name)
    return [s["InstanceId"] for p in pages for s in p["ClusterNodeSummaries"]]


def quarantined(node: dict[str, Any]) -> bool:
    labels = node["metadata"].get("labels") or {}
    taints = node.get("spec", {}).get("taints") or []
    return labels.get(HEALTH) == "UnschedulablePendingReplacement" and any(
        t["key"] == HEALTH for t in taints
    )


def node_state(node: dict[str, Any]) -> str:
    labels = node["metadata"].get("labels") or {}
    taints = [t["key"] for t in node.get("spec", {}).get("taints") or []]
    return f"{HEALTH}={labels.get(HEALTH)}, taints {taints}"


async def one_fault(nodes: KubeNodes, instance_id: str) -> float:
    t0 = time.perf_counter()
    await inject(nodes, instance_id, signal_for(xid=79))
    name = f"hyperpod-{instance_id}"
    # polling the API every 10 ms is the measurement
    await await_for(
        f"node {name} quarantined",
        lambda: nodes.get(name),
        quarantined,
        show=node_state,
        timeout=QUARANTINE_S,
        interval=0.01,
    )
    return time.perf_counter() - t0


async def burst(nodes: KubeNodes, ids: list[str]) -> float:
    t0 = time.perf_counter()
    await asyncio.gather(*(inject(nodes, i, signal_for(xid=79)) for i in ids))
    wanted = {f"hyperpod-{i}" for i in ids}

    async def quarantined_names() -> set[str]:
        found = await nodes.list("sagemaker.amazonaws.com/cluster-name=bench-burst")
        return {n["metadata"]["name"] for n in found if quarantined(n)}

    await await_for(
        f"all {len(wanted)} nodes of the burst quarantined",
        quarantined_names,
        lambda names: names >= wanted,
        show=lambda names: f"{len(names & wanted)} of {len(wanted)} quarantined",
        timeout=BURST_S,
        interval=0.05,
    )
    return time.perf_counter() - t0


def replacement(sm: Any, cp: ControlPlane, instance_id: str) -> dict[str, float]:
    async def fault() -> None:
        nodes = await KubeNodes.from_kubeconfig(cp.kubeconfig)
        await inject(nodes, instance_id, signal_for(xid=79))
        await nodes.close()

    t0 = time.perf_counter()
    asyncio.run(fault())
    started: list[float] = []

    def replacements() -> list[dict[str, Any]]:
        summaries = sm.list_cluster_nodes(ClusterName="bench-replace")["ClusterNodeSummaries"]
        others = [s for s in summaries if s["InstanceId"] != instance_id]
        if others and not started:
            started.append(time.perf_counter() - t0)  # the replacement instance exists
        return others

    wait_for(
        f"a replacement of {instance_id} Running",
        replacements,
        lambda others: bool(others) and others[0]["InstanceStatus"]["Status"] == "Running",
        show=lambda others: (
            [(s["InstanceId"], s["InstanceStatus"]["Status"]) for s in others]
            or "no replacement instance"
        ),
        timeout=REPLACEMENT_S,
        interval=0.02,
    )
    return {
        "repair_started_s": round(started[0], 3),
        "replacement_running_s": round(time.perf_counter() - t0, 3),
    }


async def measure(cp: ControlPlane, faults: list[str], burst_ids: list[str]) -> dict[str, Any]:
    nodes = await KubeNodes.from_kubeconfig(cp.kubeconfig)
    try:
        latencies = [await one_fault(nodes, i) for i in faults]
        burst_s = await burst(nodes, burst_ids)
    finally:
        await nodes.close()
    ordered = sorted(latencies)
    return {
        "quarantine_p50_s": round(statistics.median(latencies), 3),
        "quarantine_p99_s": round(
            ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))], 3
        ),
        "faults": len(latencies),
        "burst_nodes": len(burst_ids),
        "burst_all_quarantined_s": round(burst_s, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faults", type=int, default=100)
    parser.add_argument("--burst", type=int, default=150)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quick", action="store_true", help="seconds: 2 faults, a burst of 3")
    args = parser.parse_args()
    if args.quick:
        args.faults, args.burst = 2, 3
    out: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}",
        "quick": args.quick,
    }
    with tempfile.TemporaryDirectory(prefix="pw-bench-recovery-") as tmp_name:
        tmp = Path(tmp_name)
        with ControlPlane(tmp / "k8s", fsync=False) as cp:
            pw, url = start_podwarden(cp.kubeconfig, tmp / "pw")
            try:
                sm = client(url)
                latency_ids = create(sm, "bench-latency", args.faults, "None")
                burst_ids = create(sm, "bench-burst", args.burst, "None")
                (one,) = create(sm, "bench-replace", 1, "Automatic")
                out.update(asyncio.run(measure(cp, latency_ids, burst_ids)))
                out.update(replacement(sm, cp, one))
            finally:
                stop([pw])
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
