"""Benchmark training jobs through faults: GPU fault injected -> the job's pods running again on
healthy nodes, on the real local control plane with ``podwarden serve`` (the simulated health
agent, the HyperPod reconciler, job auto-resume, the real Kubeflow training operator, the
scheduler and kwok).

    .venv/bin/python bench/jobs.py [--faults 30] [--launch-delay 0] [--spares 2]
                                   [--json out.json] [--quick]

Each round injects Xid 79 (replace) on a node running a worker of an auto-resume PyTorchJob and
timestamps, polling the Kubernetes API every 20 ms (which bounds the resolution):

- detected: the agent's verdict is on the node (``fault-types`` label);
- quarantined: ``node-health-status=UnschedulablePendingReplacement`` and the taint;
- restarting: auto-resume recorded the restart on the job (its pods are being replaced);
- running: every worker Running again, new pods, none on the faulted node;
- recovered: the replacement instance's node Ready and Schedulable (the next round starts then).

``--spares N`` healthy nodes beyond the workers: with spares the job restarts at once on them
and the replacement comes later; with ``--spares 0`` the job waits for the replacement, so
``--launch-delay`` (seconds until a new instance's node joins) is in its time, as on HyperPod
where replacement dominates (about 40 minutes per failure, docs/sources.md, "Cost of a failure").
Every wait ends at a deadline or a terminal state (bench/waits.py).
``--quick`` (what tests/bench runs): 2 faults.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from kubernetes import client, config

from api import EKS, LIFECYCLE_URI, ROLE, start_api, stop  # bench/api.py
from api import client as aws_client
from podwarden.agent.inject import inject, signal_for
from podwarden.kube.nodes import KubeNodes
from podwarden.local.runtime import ControlPlane
from podwarden.model import jobs
from podwarden.model.labels import FAULT_TYPES, HEALTH, INSTANCE_TYPE, SCHEDULABLE
from waits import in_service, wait_for  # bench/waits.py

TYPE = "ml.g5.xlarge"  # one GPU: one worker per node
NAMESPACE = "hyperpod-ns-bench"
WORKERS = 2
# HyperPod's safety limit pauses automatic repairs of a group after 10 in 10 minutes
# (policy/tables/remediation.yaml): each group takes at most this many faults, with a job of its own
FAULTS_PER_GROUP = 8
GROUP_LABEL = "sagemaker.amazonaws.com/instance-group-name"
ROUND_S = 300.0  # one fault -> job running again and the node replaced
IN_SERVICE_S = 300.0
POLL_S = 0.02
PHASES = ("detected", "quarantined", "restarting", "running", "recovered")


def start_server(kubeconfig: Path, data: Path, launch_delay: float) -> tuple[Any, str]:
    return start_api(
        [sys.executable, "-m", "podwarden.cli.main", "serve", "--kubeconfig", str(kubeconfig),
         "--data-dir", str(data), "--port", "0", "--launch-delay", str(launch_delay)],
        "podwarden serve",
    )  # fmt: skip


def pytorchjob(
    job: str, group: str, max_retry: int, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """An auto-resume PyTorchJob of WORKERS workers on ``group``; ``env``: the training
    simulator's overrides (by default a run long enough never to finish in a benchmark)."""
    env = env or {"PODWARDEN_TRAIN_STEPS": "10000000"}
    container = {
        "name": "pytorch",
        "image": "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
        "command": ["torchrun", "train.py"],
        "resources": {"limits": {"nvidia.com/gpu": "1"}},
        "env": [{"name": k, "value": v} for k, v in env.items()],
    }
    worker = {
        "replicas": WORKERS,
        "restartPolicy": "OnFailure",
        "template": {
            "spec": {
                "nodeSelector": {HEALTH: SCHEDULABLE, INSTANCE_TYPE: TYPE, GROUP_LABEL: group},
                "containers": [container],
            }
        },
    }
    return {
        "apiVersion": f"{jobs.KUBEFLOW_GROUP}/{jobs.KUBEFLOW_VERSION}",
        "kind": jobs.PYTORCHJOB_KIND,
        "metadata": {
            "name": job,
            "namespace": NAMESPACE,
            "annotations": {jobs.AUTO_RESUME: "true", jobs.MAX_RETRY: str(max_retry)},
        },
        "spec": {"pytorchReplicaSpecs": {"Worker": worker}},
    }


class Cluster:
    """What one round looks at (one group and its job), through the synchronous client."""

    def __init__(self, kubeconfig: Path, job: str = "", group: str = "") -> None:
        self.job, self.group = job, group
        self.api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    def pods(self) -> list[dict[str, Any]]:
        listed = self.core.list_namespaced_pod(
            NAMESPACE, label_selector=f"{jobs.KUBEFLOW_JOB_NAME}={self.job}"
        )
        return list(self.api.sanitize_for_serialization(listed)["items"])

    def nodes(self) -> dict[str, dict[str, Any]]:
        listed = self.api.sanitize_for_serialization(
            self.core.list_node(label_selector=f"{INSTANCE_TYPE}={TYPE},{GROUP_LABEL}={self.group}")
        )
        return {n["metadata"]["name"]: n for n in listed["items"]}

    def restarts(self) -> int:
        job: dict[str, Any] = self.custom.get_namespaced_custom_object(  # type: ignore[assignment]
            jobs.KUBEFLOW_GROUP, jobs.KUBEFLOW_VERSION, NAMESPACE, jobs.PYTORCHJOBS, self.job
        )
        return int((job["metadata"].get("annotations") or {}).get(jobs.AUTO_RESUME_RESTARTS, 0))


def running(pods: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    live = [
        p
        for p in pods
        if not p["metadata"].get("deletionTimestamp") and p["status"].get("phase") == "Running"
    ]
    return live if len(live) == WORKERS == len(pods) else None


def healthy(node: dict[str, Any]) -> bool:
    labels = node["metadata"].get("labels") or {}
    ready = any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in node.get("status", {}).get("conditions") or []
    )
    return ready and labels.get(HEALTH) == SCHEDULABLE


def reached(
    cluster: Cluster, faulted: str, old: set[str], restarts: int, nodes_total: int
) -> list[str]:
    """The phases of a round (PHASES) the cluster is in now."""
    nodes = cluster.nodes()
    node = nodes.get(faulted)
    labels = (node or {}).get("metadata", {}).get("labels") or {}
    live = running(cluster.pods()) or []
    state = {
        "detected": node is None or bool(labels.get(FAULT_TYPES)),
        "quarantined": node is None
        or str(labels.get(HEALTH, "")).startswith("UnschedulablePending"),
        "restarting": cluster.restarts() > restarts,
        "running": bool(live)
        and not {p["metadata"]["uid"] for p in live} & old
        and all(p["spec"]["nodeName"] != faulted for p in live),
        "recovered": faulted not in nodes
        and sum(healthy(n) for n in nodes.values()) == nodes_total,
    }
    return [phase for phase, now in state.items() if now]


def one_round(cluster: Cluster, kubeconfig: Path, nodes_total: int) -> dict[str, float]:
    pods = wait_for("the job's workers Running", cluster.pods, lambda p: bool(running(p)),
                    timeout=ROUND_S, show=lambda p: [(x["metadata"]["name"], x["status"].get("phase")) for x in p])  # fmt: skip
    faulted = pods[0]["spec"]["nodeName"]
    old = {p["metadata"]["uid"] for p in pods}
    restarts = cluster.restarts()

    async def fault() -> None:
        nodes = await KubeNodes.from_kubeconfig(kubeconfig)
        try:
            await inject(nodes, faulted, signal_for(xid=79))
        finally:
            await nodes.close()

    t0 = time.perf_counter()
    asyncio.run(fault())
    seen: dict[str, float] = {}
    deadline = time.monotonic() + ROUND_S
    while len(seen) < len(PHASES):
        now = time.perf_counter() - t0
        for phase in reached(cluster, faulted, old, restarts, nodes_total):
            seen.setdefault(phase, now)
        if time.monotonic() > deadline:
            missing = [p for p in PHASES if p not in seen]
            raise SystemExit(f"round on {faulted}: timed out after {ROUND_S:g} s waiting for {missing}; seen {seen}")  # fmt: skip
        time.sleep(POLL_S)
    return {phase: round(seen[phase], 3) for phase in PHASES}


def summary(rounds: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for phase in PHASES:
        values = sorted(r[phase] for r in rounds)
        p99 = values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]
        out[phase] = {"p50_s": round(statistics.median(values), 3), "p99_s": round(p99, 3)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faults", type=int, default=30)
    parser.add_argument("--launch-delay", type=float, default=0.0)
    parser.add_argument("--spares", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quick", action="store_true", help="seconds: 2 faults")
    args = parser.parse_args()
    if args.quick:
        args.faults = 2
    nodes_total = WORKERS + args.spares
    out: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}",
        "quick": args.quick,
        "faults": args.faults,
        "launch_delay_s": args.launch_delay,
        "nodes": nodes_total,
        "workers": WORKERS,
    }
    with tempfile.TemporaryDirectory(prefix="pw-bench-jobs-") as tmp_name:
        tmp = Path(tmp_name)
        with ControlPlane(tmp / "k8s", fsync=False) as cp:
            pw, url = start_server(cp.kubeconfig, tmp / "pw", args.launch_delay)
            try:
                sm = aws_client(url)
                groups = [f"gpu{g}" for g in range(-(-args.faults // FAULTS_PER_GROUP))]
                lifecycle = {"SourceS3Uri": LIFECYCLE_URI, "OnCreate": "on_create.sh"}
                sm.create_cluster(
                    ClusterName="bench-jobs",
                    InstanceGroups=[
                        {
                            "InstanceGroupName": g,
                            "InstanceType": TYPE,
                            "InstanceCount": nodes_total,
                            "ExecutionRole": ROLE,
                            "LifeCycleConfig": lifecycle,
                        }
                        for g in groups
                    ],
                    Orchestrator={"Eks": {"ClusterArn": EKS}},
                    NodeRecovery="Automatic",
                )
                in_service(sm, "bench-jobs", IN_SERVICE_S)
                admin = Cluster(cp.kubeconfig)
                admin.core.create_namespace(
                    client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE))
                )
                views = []
                for g in groups:
                    job = f"bench-resume-{g}"
                    admin.custom.create_namespaced_custom_object(
                        jobs.KUBEFLOW_GROUP, jobs.KUBEFLOW_VERSION, NAMESPACE, jobs.PYTORCHJOBS,
                        pytorchjob(job, g, max_retry=FAULTS_PER_GROUP + 10),
                    )  # fmt: skip
                    views.append(Cluster(cp.kubeconfig, job, g))
                rounds = []
                for i in range(args.faults):
                    view = views[i // FAULTS_PER_GROUP]
                    rounds.append(one_round(view, cp.kubeconfig, nodes_total))
                    print(f"fault {i + 1}/{args.faults} ({view.group}): {rounds[-1]}", flush=True)
                out["restarts_counted"] = sum(v.restarts() for v in views)
                out["groups"] = len(groups)
                out["phases"] = summary(rounds)
                out["rounds"] = rounds
            finally:
                stop([pw])
    print(json.dumps({k: v for k, v in out.items() if k != "rounds"}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
