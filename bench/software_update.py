"""Benchmark a rolling platform-software update (UpdateClusterSoftware) of a large instance
group while a training job with auto-resume runs on it, on the real local control plane with
``podwarden serve`` (the HyperPod reconciler, the simulated health agent, job auto-resume, the
real Kubeflow training operator, the training simulator, the scheduler and kwok).

    .venv/bin/python bench/software_update.py [--nodes 100] [--batch-percent 10]
                                              [--json out.json] [--quick]

The group goes from an older HyperPod AMI release to the newest in batches of
``--batch-percent`` of its nodes. Every 100 ms the benchmark counts the group's schedulable
nodes through the Kubernetes API: Ready, ``node-health-status=Schedulable``, no quarantine
taint, not cordoned. It reports the lowest and the mean schedulable fraction over the update,
its duration, the job's auto-resume restarts and whether the job completed (the issue's target:
at least 90 % schedulable throughout with batches of 10 %, and the job completes).
Every wait ends at a deadline or a terminal state (bench/waits.py). ``--quick`` (what
tests/bench runs): 10 nodes, batches of 20 %.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from kubernetes import client, config

from api import EKS, LIFECYCLE_URI, ROLE, start_api, stop  # bench/api.py
from api import client as aws_client
from jobs import NAMESPACE, pytorchjob  # bench/jobs.py
from podwarden.local.runtime import ControlPlane
from podwarden.model import jobs
from podwarden.model.labels import HEALTH, SCHEDULABLE
from waits import in_service, wait_for  # bench/waits.py

TYPE = "ml.g5.xlarge"  # one GPU: one worker per node
GROUP = "gpu"
OLD = "1.2.0"  # an older release for Kubernetes 1.32 (policy/tables/hyperpod_images.yaml)
JOB = "bench-update-job"
GROUP_LABEL = "sagemaker.amazonaws.com/instance-group-name"
IN_SERVICE_S = 600.0
UPDATE_S = 1200.0  # the whole update
JOB_S = 900.0  # the job complete after the update
POLL_S = 0.1
TERMINAL = {"Succeeded", "Failed", "RollbackComplete"}


def start_server(kubeconfig: Path, data: Path) -> tuple[Any, str]:
    return start_api(
        [sys.executable, "-m", "podwarden.cli.main", "serve", "--kubeconfig", str(kubeconfig),
         "--data-dir", str(data), "--port", "0", "--launch-delay", "0.5",
         "--reimage-delay", "2", "--update-settle", "1"],
        "podwarden serve",
    )  # fmt: skip


def training_env(steps: int) -> dict[str, str]:
    """A simulated run of about ``steps`` seconds, checkpointing every 10 steps."""
    return {
        "PODWARDEN_TRAIN_STEPS": str(steps),
        "PODWARDEN_TRAIN_STEP_SECONDS": "1",
        "PODWARDEN_TRAIN_CHECKPOINT_EVERY": "10",
        "PODWARDEN_TRAIN_CHECKPOINT_SECONDS": "0.5",
        "PODWARDEN_TRAIN_RESTART_SECONDS": "2",
    }


class Kube:
    def __init__(self, kubeconfig: Path) -> None:
        self.api = config.new_client_from_config(config_file=str(kubeconfig))  # type: ignore[no-untyped-call]
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    def schedulable(self) -> tuple[int, int]:
        """(schedulable nodes, nodes) of the group."""
        listed = self.api.sanitize_for_serialization(
            self.core.list_node(label_selector=f"{GROUP_LABEL}={GROUP}")
        )["items"]
        return sum(schedulable(n) for n in listed), len(listed)

    def job(self) -> dict[str, Any]:
        found: dict[str, Any] = self.custom.get_namespaced_custom_object(  # type: ignore[assignment]
            jobs.KUBEFLOW_GROUP, jobs.KUBEFLOW_VERSION, NAMESPACE, jobs.PYTORCHJOBS, JOB
        )
        return found

    def job_state(self) -> str:
        conditions = self.job().get("status", {}).get("conditions") or []
        done = [c["type"] for c in conditions if c.get("status") == "True"]
        return done[-1] if done else "Created"

    def restarts(self) -> int:
        annotations = self.job()["metadata"].get("annotations") or {}
        return int(annotations.get(jobs.AUTO_RESUME_RESTARTS, 0))


def schedulable(node: dict[str, Any]) -> bool:
    labels = node["metadata"].get("labels") or {}
    spec = node.get("spec") or {}
    ready = any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in node.get("status", {}).get("conditions") or []
    )
    quarantined = any(t["key"] == HEALTH for t in spec.get("taints") or [])
    return (
        ready
        and labels.get(HEALTH) == SCHEDULABLE
        and not quarantined
        and not spec.get("unschedulable")
    )


def update(sm: Any, kube: Kube, nodes: int, percent: int) -> dict[str, Any]:
    sm.update_cluster_software(
        ClusterName="bench-update",
        InstanceGroups=[{"InstanceGroupName": GROUP}],
        DeploymentConfig={
            "RollingUpdatePolicy": {
                "MaximumBatchSize": {"Type": "CAPACITY_PERCENTAGE", "Value": percent}
            },
            "WaitIntervalInSeconds": 0,
        },
    )
    t0 = time.perf_counter()
    fractions: list[float] = []
    deadline = time.monotonic() + UPDATE_S
    while True:
        ok, total = kube.schedulable()
        fractions.append(ok / max(1, total))
        (g,) = sm.describe_cluster(ClusterName="bench-update")["InstanceGroups"]
        status = g.get("SoftwareUpdateStatus", "")
        if status in TERMINAL:
            break
        if time.monotonic() > deadline:
            raise SystemExit(
                f"the update did not end in {UPDATE_S:g} s: SoftwareUpdateStatus {status}, "
                f"{ok}/{total} nodes schedulable"
            )
        time.sleep(POLL_S)
    return {
        "nodes": nodes,
        "batch_percent": percent,
        "update_status": status,
        "target_release": g.get("CurrentImageReleaseVersion"),
        "update_s": round(time.perf_counter() - t0, 1),
        "min_schedulable_fraction": round(min(fractions), 3),
        "mean_schedulable_fraction": round(sum(fractions) / len(fractions), 3),
        "samples": len(fractions),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--batch-percent", type=int, default=10)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quick", action="store_true", help="10 nodes, batches of 20 %%")
    args = parser.parse_args()
    if args.quick:
        args.nodes, args.batch_percent = 10, 20
    out: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}",
        "quick": args.quick,
    }
    with tempfile.TemporaryDirectory(prefix="pw-bench-update-") as tmp_name:
        tmp = Path(tmp_name)
        with ControlPlane(tmp / "k8s", fsync=False) as cp:
            pw, url = start_server(cp.kubeconfig, tmp / "pw")
            try:
                sm = aws_client(url)
                sm.create_cluster(
                    ClusterName="bench-update",
                    InstanceGroups=[
                        {
                            "InstanceGroupName": GROUP,
                            "InstanceType": TYPE,
                            "InstanceCount": args.nodes,
                            "ExecutionRole": ROLE,
                            "LifeCycleConfig": {
                                "SourceS3Uri": LIFECYCLE_URI,
                                "OnCreate": "on_create.sh",
                            },
                            "ImageReleaseVersion": OLD,
                        }
                    ],
                    Orchestrator={"Eks": {"ClusterArn": EKS}},
                    NodeRecovery="Automatic",
                )
                in_service(sm, "bench-update", IN_SERVICE_S)
                kube = Kube(cp.kubeconfig)
                kube.core.create_namespace(
                    client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE))
                )
                # long enough to span the update: every node, the job's included, is updated
                # while it runs
                steps = 40 if args.quick else 3 * args.nodes
                kube.custom.create_namespaced_custom_object(
                    jobs.KUBEFLOW_GROUP, jobs.KUBEFLOW_VERSION, NAMESPACE, jobs.PYTORCHJOBS,
                    pytorchjob(JOB, GROUP, max_retry=100, env=training_env(steps)),
                )  # fmt: skip
                wait_for("the job Running", kube.job_state, lambda s: s == "Running",
                         timeout=300, show=lambda s: s)  # fmt: skip
                out.update(update(sm, kube, args.nodes, args.batch_percent))
                final = wait_for(
                    "the job to end",
                    kube.job_state,
                    lambda s: s in ("Succeeded", "Failed"),
                    timeout=JOB_S,
                    show=lambda s: s,
                )
                out["job"] = {"state": final, "steps": steps, "restarts": kube.restarts()}
            finally:
                stop([pw])
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
