"""The HyperPod cluster and the training job of a goodput run, made the way a user makes them:
CreateCluster through podwarden's SageMaker API (botocore, SigV4) and a Kubeflow PyTorchJob with
HyperPod's auto-resume annotations, whose simulated trainer takes the scenario's durations
divided by the time scale.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import botocore.session  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]

from podwarden.logic.goodput_breaks import NEVER
from podwarden.model import jobs
from podwarden.model.goodput import Recovery, Scenario
from podwarden.model.labels import GROUP_NAME, HEALTH, SCHEDULABLE
from podwarden.policy.catalog import NEURON_RESOURCE

CLUSTER = "goodput"
GROUP = "workers"
NAMESPACE = "goodput"
JOB = "goodput"
GPU_RESOURCE = "nvidia.com/gpu"
IN_SERVICE_S = 600.0
# a goodput run restarts its job far more often than a user's job would: never give up
MAX_RETRY = 1_000_000
# deep health checks HyperPod runs on new nodes when asked to (the instance group's field):
# InstanceStress alone, whose simulated time is the scenario's deep_check_seconds (the "about
# 2 hours" AWS gives for it), as the analytic model (logic/goodput_breaks.py) counts it; the
# other types would add their share (policy/tables/deep_checks.yaml)
DEEP_CHECKS = ["InstanceStress"]


@dataclass(frozen=True)
class Endpoint:
    """podwarden's API and what its seeded account offers a HyperPod cluster."""

    url: str
    access_key_id: str
    secret_access_key: str
    region: str
    eks_cluster_arn: str
    execution_role_arn: str
    lifecycle_uri: str  # s3://bucket/prefix/ holding on_create.sh


def sagemaker(endpoint: Endpoint) -> Any:
    return botocore.session.get_session().create_client(
        "sagemaker",
        endpoint_url=endpoint.url,
        region_name=endpoint.region,
        aws_access_key_id=endpoint.access_key_id,
        aws_secret_access_key=endpoint.secret_access_key,
        config=Config(retries={"max_attempts": 10, "mode": "standard"}),
    )


def create_request(s: Scenario, endpoint: Endpoint) -> dict[str, Any]:
    group: dict[str, Any] = {
        "InstanceGroupName": GROUP,
        "InstanceType": s.cluster.instance_type,
        "InstanceCount": s.cluster.nodes + s.cluster.spares,
        "ExecutionRole": endpoint.execution_role_arn,
        "LifeCycleConfig": {"SourceS3Uri": endpoint.lifecycle_uri, "OnCreate": "on_create.sh"},
    }
    if s.cluster.deep_checks:
        group["OnStartDeepHealthChecks"] = DEEP_CHECKS
    return {
        "ClusterName": CLUSTER,
        "InstanceGroups": [group],
        "Orchestrator": {"Eks": {"ClusterArn": endpoint.eks_cluster_arn}},
        "NodeRecovery": Recovery(s.cluster.recovery).value,
    }


async def create_cluster(s: Scenario, endpoint: Endpoint) -> None:
    """CreateCluster, then wait for InService (a deadline; Failed says why)."""
    sm = sagemaker(endpoint)
    await asyncio.to_thread(sm.create_cluster, **create_request(s, endpoint))
    deadline = time.monotonic() + IN_SERVICE_S
    status = ""
    while time.monotonic() < deadline:
        found = await asyncio.to_thread(sm.describe_cluster, ClusterName=CLUSTER)
        status = found["ClusterStatus"]
        if status == "InService":
            return
        if status == "Failed":
            raise RuntimeError(f"cluster {CLUSTER} failed: {found.get('FailureMessage', '')}")
        await asyncio.sleep(0.2)
    raise TimeoutError(f"cluster {CLUSTER} not InService after {IN_SERVICE_S:g} s ({status})")


async def repair_by_hand(endpoint: Endpoint, instance_id: str, replace: bool) -> None:
    """What an operator does with NodeRecovery None: BatchReplace or BatchRebootClusterNodes."""
    sm = sagemaker(endpoint)
    call = sm.batch_replace_cluster_nodes if replace else sm.batch_reboot_cluster_nodes
    await asyncio.to_thread(call, ClusterName=CLUSTER, NodeIds=[instance_id])


def job_manifest(s: Scenario) -> dict[str, Any]:
    """A PyTorchJob with a worker per job node, each taking all its node's accelerators, that
    trains forever at the scenario's pace divided by the time scale."""
    scale = s.time_scale
    resource = NEURON_RESOURCE if s.accelerator == "neuron" else GPU_RESOURCE
    env = {
        "PODWARDEN_TRAIN_STEPS": str(NEVER),
        "PODWARDEN_TRAIN_STEP_SECONDS": repr(s.job.step_seconds / scale),
        "PODWARDEN_TRAIN_CHECKPOINT_EVERY": str(s.job.checkpoint_every),
        "PODWARDEN_TRAIN_CHECKPOINT_SECONDS": repr(s.job.checkpoint_seconds / scale),
        "PODWARDEN_TRAIN_RESTART_SECONDS": repr(s.job.restart_seconds / scale),
        "PODWARDEN_TRAIN_LOG_EVERY": str(max(1, s.job.checkpoint_every)),
    }
    container = {
        "name": "pytorch",
        "image": "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
        "command": ["torchrun", "train.py"],
        "resources": {"limits": {resource: str(s.accelerators_per_node)}},
        "env": [{"name": k, "value": v} for k, v in env.items()],
    }
    worker = {
        "replicas": s.cluster.nodes,
        "restartPolicy": "OnFailure",
        "template": {
            "spec": {
                "nodeSelector": {HEALTH: SCHEDULABLE, GROUP_NAME: GROUP},
                "containers": [container],
            }
        },
    }
    return {
        "apiVersion": f"{jobs.KUBEFLOW_GROUP}/{jobs.KUBEFLOW_VERSION}",
        "kind": jobs.PYTORCHJOB_KIND,
        "metadata": {
            "name": JOB,
            "namespace": NAMESPACE,
            "annotations": {jobs.AUTO_RESUME: "true", jobs.MAX_RETRY: str(MAX_RETRY)},
        },
        "spec": {"pytorchReplicaSpecs": {"Worker": worker}},
    }
