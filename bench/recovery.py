"""Benchmark fault handling: fault injected -> node quarantined, a burst of faulted nodes, and
fault -> replacement, on the real local control plane with podwarden's simulated agent.

    .venv/bin/python bench/recovery.py [--faults 100] [--burst 150] [--json out.json]

Quarantined = the node carries node-health-status UnschedulablePendingReplacement and the
NoSchedule taint (polled every 10 ms through the Kubernetes API, which bounds the resolution).
Anchors (resilience-anchors.md): NVSentinel quarantines in 1.8 s and a burst of 150 nodes in
28.5 s; EKS/Karpenter wait 10 minutes before repairing.
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

from api import EKS, ROLE, client, start_podwarden  # bench/api.py
from podwarden.agent.inject import inject, signal_for
from podwarden.kube.nodes import KubeNodes
from podwarden.local.runtime import ControlPlane

HEALTH = "sagemaker.amazonaws.com/node-health-status"


def gpu_group(count: int) -> dict[str, Any]:
    return {
        "InstanceGroupName": "gpu",
        "InstanceType": "ml.g5.xlarge",
        "InstanceCount": count,
        "ExecutionRole": ROLE,
        "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-bench/lc/", "OnCreate": "on_create.sh"},
    }


def create(sm: Any, name: str, count: int, recovery: str) -> list[str]:
    sm.create_cluster(
        ClusterName=name,
        InstanceGroups=[gpu_group(count)],
        Orchestrator={"Eks": {"ClusterArn": EKS}},
        NodeRecovery=recovery,
    )
    while sm.describe_cluster(ClusterName=name)["ClusterStatus"] != "InService":
        time.sleep(0.2)
    pages = sm.get_paginator("list_cluster_nodes").paginate(ClusterName=name)
    return [s["InstanceId"] for p in pages for s in p["ClusterNodeSummaries"]]


def quarantined(node: dict[str, Any]) -> bool:
    labels = node["metadata"].get("labels") or {}
    taints = node.get("spec", {}).get("taints") or []
    return labels.get(HEALTH) == "UnschedulablePendingReplacement" and any(
        t["key"] == HEALTH for t in taints
    )


async def one_fault(nodes: KubeNodes, instance_id: str) -> float:
    t0 = time.perf_counter()
    await inject(nodes, instance_id, signal_for(xid=79))
    while not quarantined(await nodes.get(f"hyperpod-{instance_id}")):  # noqa: ASYNC110 - polling the API is the measurement
        await asyncio.sleep(0.01)
    return time.perf_counter() - t0


async def burst(nodes: KubeNodes, ids: list[str]) -> float:
    t0 = time.perf_counter()
    await asyncio.gather(*(inject(nodes, i, signal_for(xid=79)) for i in ids))
    wanted = {f"hyperpod-{i}" for i in ids}
    while True:
        found = await nodes.list("sagemaker.amazonaws.com/cluster-name=bench-burst")
        if {n["metadata"]["name"] for n in found if quarantined(n)} >= wanted:
            return time.perf_counter() - t0
        await asyncio.sleep(0.05)


def replacement(sm: Any, cp: ControlPlane, instance_id: str) -> dict[str, float]:
    async def fault() -> None:
        nodes = await KubeNodes.from_kubeconfig(cp.kubeconfig)
        await inject(nodes, instance_id, signal_for(xid=79))
        await nodes.close()

    t0 = time.perf_counter()
    asyncio.run(fault())
    started = None
    while True:
        summaries = sm.list_cluster_nodes(ClusterName="bench-replace")["ClusterNodeSummaries"]
        others = [s for s in summaries if s["InstanceId"] != instance_id]
        if others and started is None:
            started = time.perf_counter() - t0  # the replacement instance exists
        if others and others[0]["InstanceStatus"]["Status"] == "Running":
            return {
                "repair_started_s": round(started or 0.0, 3),
                "replacement_running_s": round(time.perf_counter() - t0, 3),
            }
        time.sleep(0.02)


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
    args = parser.parse_args()
    out: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}",
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
                pw.terminate()
                pw.wait(15)
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
