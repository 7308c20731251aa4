"""How podwarden and the embedded control plane grow with the cluster (issue #14 item 1): one
HyperPod cluster of N instances in mixed GPU and CPU groups, from CreateCluster to InService,
for each N of ``--sizes``, each on a fresh control plane and ``podwarden serve``.

    .venv/bin/python bench/scale.py [--sizes 100 1000 5000] [--burst N] [--down-to N]
        [--json out.json] [--quick]

For each size: seconds to InService, podwarden's RSS, the control plane's RSS (etcd,
kube-apiserver, kube-controller-manager, kube-scheduler, kwok, training operator: each and in
all), ListClusterNodes paginated through every node (pages and seconds), how many of the
cluster's nodes their kubelet (kwok) has registered (with an address and ``nodeInfo``: all of
them, unless a node was made Ready before kwok took it), and the growth from the previous size (time and memory per instance added). The largest size then goes on
(bench/scale_largest.py): a fault burst (Xid 79 in ``--burst`` GPU nodes at once, default a
tenth of them, at most 500) until all are quarantined and until all are replaced, then a
scale-down to ``--down-to`` instances (default 100) with UpdateCluster; seconds and RSS after
each. podwarden runs with ``--no-repair-limits`` at every size, so that the burst's repairs are
not paced by the safety limits. Every wait has a deadline (bench/waits.py). ``--quick`` (what
tests/bench runs): sizes 10 and 30, a burst of 3 and a scale-down to 5 at 30.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from api import EKS, LIFECYCLE_URI, ROLE, client, start_api, stop  # bench/api.py
from podwarden.kube.nodes import KubeNodes
from podwarden.local.runtime import ControlPlane
from podwarden.logic.node_spec import registered
from podwarden.model.labels import CLUSTER_NAME
from podwarden.policy.catalog import load_catalog
from scale_largest import CLUSTER, Largest, after_in_service  # bench/scale_largest.py
from waits import in_service  # bench/waits.py

# the mix of a training cluster: mostly GPU workers, a few CPU nodes for system pods
GROUPS = (
    ("gpu-p5", "ml.p5.48xlarge", 0.5),
    ("gpu-g5", "ml.g5.8xlarge", 0.4),
    ("cpu", "ml.c5.2xlarge", 0.1),
)
IN_SERVICE_PER_1000_S = 240.0  # the deadline grows with the size
GPU_GROUPS = [name for name, itype, _ in GROUPS if not load_catalog().get(itype).is_cpu_only]


def groups(n: int) -> list[dict[str, Any]]:
    counts = [max(1, round(n * share)) for _, _, share in GROUPS]
    counts[0] += n - sum(counts)  # exactly n in all
    return [
        {
            "InstanceGroupName": name,
            "InstanceType": itype,
            "InstanceCount": count,
            "ExecutionRole": ROLE,
            "LifeCycleConfig": {"SourceS3Uri": LIFECYCLE_URI, "OnCreate": "on_create.sh"},
        }
        for (name, itype, _), count in zip(GROUPS, counts, strict=True)
    ]


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / 2**20


def memory(podwarden: int, cp: ControlPlane) -> dict[str, Any]:
    """RSS now: podwarden serve's (pid ``podwarden``) and the control plane's, each and all."""
    plane = {name: round(rss_mb(pid)) for name, pid in cp.pids.items()}
    return {
        "podwarden_rss_mb": round(rss_mb(podwarden)),
        "control_plane_rss_mb": plane,
        "control_plane_rss_total_mb": sum(plane.values()),
    }


def kubelet_registered(kubeconfig: Path) -> int:
    """How many of the cluster's nodes their kubelet (kwok) has registered."""

    async def count() -> int:
        nodes = await KubeNodes.from_kubeconfig(kubeconfig)
        try:
            return sum(registered(n) for n in await nodes.list(f"{CLUSTER_NAME}={CLUSTER}"))
        finally:
            await nodes.close()

    return asyncio.run(count())


def one_size(n: int, tmp: Path, largest: Largest | None) -> dict[str, Any]:
    """Cluster ``scale`` of ``n`` instances to InService; with ``largest``, then its fault
    burst and scale-down (bench/scale_largest.py)."""
    with ControlPlane(tmp / f"k8s-{n}", fsync=False) as cp:
        pw, url = start_api(
            [sys.executable, "-m", "podwarden.cli.main", "serve", "--kubeconfig",
             str(cp.kubeconfig), "--data-dir", str(tmp / f"pw-{n}"), "--port", "0",
             "--launch-delay", "0", "--no-repair-limits"],
            "podwarden serve",
        )  # fmt: skip
        try:
            sm = client(url)
            specs = groups(n)
            t0 = time.perf_counter()
            sm.create_cluster(
                ClusterName=CLUSTER,
                InstanceGroups=specs,
                Orchestrator={"Eks": {"ClusterArn": EKS}},
                NodeRecovery="Automatic",
            )
            in_service(sm, CLUSTER, max(120.0, IN_SERVICE_PER_1000_S * n / 1000))
            seconds = time.perf_counter() - t0
            t1 = time.perf_counter()
            pages = sm.get_paginator("list_cluster_nodes").paginate(ClusterName=CLUSTER)
            summaries, page_count = [], 0
            for page in pages:
                page_count += 1
                summaries += page["ClusterNodeSummaries"]
            list_s = time.perf_counter() - t1
            row = {
                "instances": n,
                "in_service_s": round(seconds, 1),
                "nodes_kubelet_registered": kubelet_registered(cp.kubeconfig),
                **memory(pw.pid, cp),
                "list_cluster_nodes": {
                    "nodes": len(summaries),
                    "pages": page_count,
                    "seconds": round(list_s, 2),
                },
            }
            if largest is not None:
                print(json.dumps(row), flush=True)  # what InService cost, before the rest
                row.update(
                    after_in_service(
                        sm,
                        cp.kubeconfig,
                        specs=specs,
                        summaries=summaries,
                        gpu_groups=GPU_GROUPS,
                        largest=largest,
                        memory=lambda: memory(pw.pid, cp),
                    )
                )
            return row
        finally:
            stop([pw])


def growth(rows: list[dict[str, Any]]) -> None:
    """Per instance added since the previous size: seconds and MB (linear growth keeps them
    flat)."""
    for before, after in itertools.pairwise(rows):
        added = after["instances"] - before["instances"]
        after["per_instance_added"] = {
            "in_service_ms": round(
                1000 * (after["in_service_s"] - before["in_service_s"]) / added, 2
            ),
            "podwarden_kb": round(
                1024 * (after["podwarden_rss_mb"] - before["podwarden_rss_mb"]) / added, 1
            ),
            "control_plane_kb": round(
                1024
                * (after["control_plane_rss_total_mb"] - before["control_plane_rss_total_mb"])
                / added,
                1,
            ),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    # 5,000: Kubernetes' documented limit of nodes per cluster ("Considerations for large
    # clusters"), and the local account's quota of instances per cluster
    # (policy/tables/quotas.yaml, podwarden's own figure: AWS publishes no default); a larger
    # size is refused with ResourceLimitExceeded
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument(
        "--burst",
        type=int,
        help="largest size: GPU nodes given an Xid 79 at once (default: a tenth of the "
        "instances, at most 500)",
    )
    parser.add_argument(
        "--down-to", type=int, default=100, help="largest size: instances after the scale-down"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--quick", action="store_true", help="sizes 10 and 30, a burst of 3, down to 5"
    )
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.burst, args.down_to = [10, 30], 3, 5
    top = max(args.sizes)
    burst = min(500, top // 10) if args.burst is None else args.burst
    if burst < 1:
        parser.error(f"a burst of {burst}: the largest size needs at least 10 instances")
    if not len(GROUPS) <= args.down_to < top:
        parser.error(f"--down-to must be from {len(GROUPS)} (a group) to below {top}")
    largest = Largest(burst=burst, down_to=args.down_to)
    out: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}",
        "quick": args.quick,
        "sizes": [],
    }
    with tempfile.TemporaryDirectory(prefix="pw-bench-scale-") as tmp_name:
        for n in sorted(args.sizes):
            row = one_size(n, Path(tmp_name), largest if n == top else None)
            out["sizes"].append(row)
            print(json.dumps(row), flush=True)
    growth(out["sizes"])
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
