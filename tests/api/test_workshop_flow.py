"""AWS's HyperPod-on-EKS workshop steps, typed with the AWS CLI against the local account, then
the cluster reconciled (issue #17: the workshop's bucket was refused at the API).

The workshop creates a lifecycle bucket ``hyperpod-eks-bucket-<account>-<region>``, uploads the
scripts, gives the execution role an inline policy allowing ``s3:ListBucket`` / ``s3:GetObject``
on it, and runs ``aws sagemaker create-cluster --cli-input-json file://cluster-config.json``.
The API accepts any bucket; whether the instances can read it is the role's policies' question,
answered at launch: with the policy the cluster reaches InService, without it the cluster fails
with HyperPod's message for a role that cannot read the bucket.

The reconciler runs here with an in-memory node provider (nodes are Ready as soon as they are
created): the decision under test is the operator's, not Kubernetes'.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podwarden.model.cluster import Cluster, ClusterStatus
from podwarden.operator.clusters import ClusterReconciler, ReconcilerSettings
from podwarden.operator.providers import OneProvider
from podwarden.store.sql import Store, sqlite_url
from tests.api.aws_server import REGION, AwsServer
from tests.api.test_aws_cli import Cli, cli, failed, ok
from tests.aws_helpers import SAGEMAKER_TRUST_POLICY as TRUST

ACCOUNT = "000000000000"
BUCKET = f"hyperpod-eks-bucket-{ACCOUNT}-{REGION}"
ROLE = "HyperPodEksWorkshopRole"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
__all__ = ["cli"]  # the AWS CLI fixture, used by this module's tests too

EKS = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/hyperpod-eks"
S3_READ: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        }
    ],
}
NO_READ = (
    'failed to provision with the following error: "Execution role provided does not have '
    f"permissions to access the bucket s3://{BUCKET}. Please ensure that the role has minimum "
    'permissions to read the bucket (s3:ListBucket, s3:GetObject)." Note that multiple '
    "instances may be impacted."
)
DEADLINE = 30.0  # seconds for a cluster to settle; nodes are Ready at once


class MemoryNodes:
    """Nodes as plain dicts, registered by their kubelet and Ready when created: enough of
    Kubernetes for the reconciler."""

    def __init__(self) -> None:
        self.nodes: dict[str, dict[str, Any]] = {}

    async def nodes_of(self, cluster_id: str) -> list[dict[str, Any]]:
        return list(self.nodes.values())

    async def launch(self, manifest: dict[str, Any]) -> None:
        ready = {
            "conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {"kubeletVersion": "kwok-v0.7.0"},
        }
        self.nodes[manifest["metadata"]["name"]] = {**manifest, "status": ready}

    async def terminate(self, name: str) -> None:
        self.nodes.pop(name, None)

    async def drain(self, name: str) -> int:
        return 0

    async def update(self, name: str, patch: dict[str, Any]) -> None: ...
    async def booted(self, name: str, at: str) -> None: ...
    async def reboot(self, name: str, at: str) -> None: ...
    async def event(self, node: str, reason: str, message: str) -> None: ...
    async def deep_check_started(self, name: str) -> None: ...
    async def deep_check_finished(self, name: str, passed: bool) -> None: ...
    async def workload_pods(self, name: str) -> int:
        return 0

    async def prepare_update(self, name: str) -> None: ...
    async def reimage(self, name: str, release: str, at: str) -> None: ...


NODES = MemoryNodes()  # the module's nodes, kept across reconciler runs as Kubernetes keeps them


def settle(data_dir: Path, name: str) -> Cluster:
    """Run the reconciler until cluster ``name`` is InService or Failed (or fail at the
    deadline, saying where it stood)."""
    store = Store(sqlite_url(data_dir))
    settings = ReconcilerSettings(launch_delay=0.0, resync=0.05)
    reconciler = ClusterReconciler(store, OneProvider(NODES), lambda *_: {}, settings)

    async def drive() -> Cluster:
        task = asyncio.create_task(reconciler.run())
        try:
            deadline = time.monotonic() + DEADLINE
            status = "unknown"
            while time.monotonic() < deadline:
                cluster = store.get_cluster(ACCOUNT, REGION, name=name)
                assert cluster is not None, f"cluster {name} vanished"
                if cluster.status in (ClusterStatus.IN_SERVICE, ClusterStatus.FAILED):
                    return cluster
                status = cluster.status
                await asyncio.sleep(0.05)
            raise AssertionError(f"cluster {name} still {status} after {DEADLINE} s")
        finally:
            task.cancel()

    try:
        return asyncio.run(drive())
    finally:
        store.close()


@pytest.fixture(scope="module")
def workshop(aws: AwsServer, cli: Cli, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The workshop's account setup, step by step as its pages type it; yields a folder with
    its JSON files."""
    files = tmp_path_factory.mktemp("workshop")
    (files / "trust.json").write_text(json.dumps(TRUST))
    (files / "s3.json").write_text(json.dumps(S3_READ))
    script = files / "on_create.sh"
    script.write_text("#!/bin/bash\necho workshop on-create\n")
    for step in (("s3", "mb", f"s3://{BUCKET}"), ("s3", "cp", str(script), f"s3://{BUCKET}/")):
        proc = cli(*step)  # the high-level s3 commands print text, not JSON
        assert proc.returncode == 0, (step, proc.stderr)
    ok(
        cli(
            "iam",
            "create-role",
            "--role-name",
            ROLE,
            "--assume-role-policy-document",
            f"file://{files / 'trust.json'}",
        )
    )
    policy = "arn:aws:iam::aws:policy/AmazonSageMakerClusterInstanceRolePolicy"
    ok(cli("iam", "attach-role-policy", "--role-name", ROLE, "--policy-arn", policy))
    yield files


def put_role_policy(cli: Cli, name: str, document: Path) -> Any:
    """``aws iam put-role-policy`` on the execution role, the document read from a file."""
    return cli(
        "iam",
        "put-role-policy",
        *("--role-name", ROLE, "--policy-name", name),
        *("--policy-document", f"file://{document}"),
    )


def put_read_policy(cli: Cli, files: Path) -> None:
    ok(put_role_policy(cli, "s3-lifecycle", files / "s3.json"))


def create_cluster(cli: Cli, files: Path, name: str) -> str:
    config = {
        "ClusterName": name,
        "Orchestrator": {"Eks": {"ClusterArn": EKS}},
        "InstanceGroups": [
            {
                "InstanceGroupName": "worker-group-1",
                "InstanceType": "ml.m5.2xlarge",
                "InstanceCount": 2,
                "LifeCycleConfig": {"SourceS3Uri": f"s3://{BUCKET}", "OnCreate": "on_create.sh"},
                "ExecutionRole": ROLE_ARN,
                "ThreadsPerCore": 1,
            }
        ],
        "NodeRecovery": "Automatic",
    }
    path = files / f"{name}.json"
    path.write_text(json.dumps(config, indent=2))
    created = ok(cli("sagemaker", "create-cluster", "--cli-input-json", f"file://{path}"))
    return str(created["ClusterArn"])


def test_workshop_cluster_reaches_in_service(aws: AwsServer, cli: Cli, workshop: Path) -> None:
    put_read_policy(cli, workshop)
    arn = create_cluster(cli, workshop, "ml-cluster")
    assert arn.endswith("/" + arn.rsplit("/", 1)[-1]) and ":cluster/" in arn
    cluster = settle(aws.data_dir, "ml-cluster")
    assert cluster.status == ClusterStatus.IN_SERVICE, cluster.failure_message
    nodes = ok(cli("sagemaker", "list-cluster-nodes", "--cluster-name", "ml-cluster"))
    assert len(nodes["ClusterNodeSummaries"]) == 2


def test_without_the_s3_policy_the_cluster_fails_at_launch(
    aws: AwsServer, cli: Cli, workshop: Path
) -> None:
    ok(cli("iam", "delete-role-policy", "--role-name", ROLE, "--policy-name", "s3-lifecycle"))
    create_cluster(cli, workshop, "no-read")  # accepted: the API does not judge the bucket
    cluster = settle(aws.data_dir, "no-read")
    assert cluster.status == ClusterStatus.FAILED
    described = ok(cli("sagemaker", "describe-cluster", "--cluster-name", "no-read"))
    assert described["ClusterStatus"] == "Failed"
    assert described["FailureMessage"].startswith("Instance i-")
    assert described["FailureMessage"].endswith(NO_READ), described["FailureMessage"]


def test_an_explicit_deny_beats_the_allow(aws: AwsServer, cli: Cli, workshop: Path) -> None:
    put_read_policy(cli, workshop)
    guard = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::sagemaker-*"}
        ],
    }
    (workshop / "guard.json").write_text(json.dumps(guard))
    ok(put_role_policy(cli, "guard", workshop / "guard.json"))
    create_cluster(cli, workshop, "denied")
    assert settle(aws.data_dir, "denied").status == ClusterStatus.FAILED
    ok(cli("iam", "delete-role-policy", "--role-name", ROLE, "--policy-name", "guard"))


def test_a_policy_iam_rejects_is_refused(cli: Cli, workshop: Path) -> None:
    bad = {**S3_READ, "Statement": [{**S3_READ["Statement"][0], "Resource": "arn:error:s3:::b"}]}
    (workshop / "bad.json").write_text(json.dumps(bad))
    stderr = failed(
        put_role_policy(cli, "bad", workshop / "bad.json"),
        "MalformedPolicyDocument",
        "PutRolePolicy",
    )
    assert 'Partition "error" is not valid for resource "arn:error:s3:::b".' in stderr
