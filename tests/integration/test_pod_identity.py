"""EKS Pod Identity and IRSA's webhook on the real control plane (R13 in docs/requirements.md):
a process that acts as the pod gets credentials through the unmodified boto3 chain.

The seeded EKS cluster ``podwarden`` (the embedded control plane) has podwarden's pod identity
webhook configured by the EKS reconciler. Pods are created through the real apiserver and read
back mutated (kwok runs no containers: nothing else is needed of them). The token is requested
through the TokenRequest API, bound to the pod, as the kubelet does for the projected volume;
a subprocess with only the environment the webhook injected (the agent's URL, a token file) and
the endpoint puts a checkpoint in S3 with plain boto3. A service account without an
association is refused and gets nothing. The same test shows the IMDS rule: a pod off
hostNetwork that names 169.254.169.254 draws the preflight's warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client import ApiClient

from podwarden.api.pod_identity_agent import credentials_url
from podwarden.local.runtime import ControlPlane
from podwarden.logic import pod_identity_webhook as piw
from podwarden.model.aws import kinds
from podwarden.model.aws.scope import GLOBAL

from .hyperpod_helpers import group, server, wait_active
from .hyperpod_server import EKS_ARN, ThreadServer
from .kube_objects import as_dict, wait_for
from .test_preflight_live import preflight_cli

__all__ = ["server"]  # the module-scoped fixture used below

pytestmark = pytest.mark.integration

ACCOUNT, REGION, CLUSTER = "000000000000", "us-west-2", "podwarden"
NS = "pod-identity"
BUCKET = "pod-identity-checkpoints"
POD_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ],
}
PUT_CHECKPOINT = f"""
import boto3
boto3.client("s3").put_object(Bucket="{BUCKET}", Key="ckpt/step-100", Body=b"weights")
print(boto3.client("sts").get_caller_identity()["Arn"])
"""


def pod(name: str, service_account: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "serviceAccountName": service_account,
            "containers": [{"name": "trainer", "image": "python:3.12"}],
            **spec,
        },
    }


def env_of(obj: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in obj["spec"]["containers"][0].get("env") or []}


def volume(obj: dict[str, Any], name: str) -> dict[str, Any] | None:
    found = [v for v in obj["spec"].get("volumes") or [] if v["name"] == name]
    return found[0]["projected"]["sources"][0]["serviceAccountToken"] if found else None


def create(kube: ApiClient, body: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
    core = client.CoreV1Api(kube)
    made = core.create_namespaced_pod(NS, body, dry_run="All" if dry_run else None)  # type: ignore[arg-type]
    return as_dict(kube, made)


def token_for(kube: ApiClient, service_account: str, bound: dict[str, Any]) -> str:
    """What the kubelet asks for the pod's projected volume: a token of the pod's service
    account for ``pods.eks.amazonaws.com``, bound to the pod."""
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(
            audiences=[piw.POD_IDENTITY.audience],
            expiration_seconds=3600,
            bound_object_ref=client.V1BoundObjectReference(
                api_version="v1",
                kind="Pod",
                name=bound["metadata"]["name"],
                uid=bound["metadata"]["uid"],
            ),
        )
    )
    made = client.CoreV1Api(kube).create_namespaced_service_account_token(
        service_account, NS, request
    )
    assert made.status is not None, "TokenRequest answered no token"
    return str(made.status.token)


def as_the_pod(srv: ThreadServer, made: dict[str, Any], token: str, home: Path) -> Any:
    """Plain boto3 in its own process with the pod's injected environment (the token where the
    projected volume would have it: a file) and the endpoint; no keys, no ~/.aws."""
    token_file = home / "eks-pod-identity-token"
    token_file.write_text(token)
    env = env_of(made)
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "PYTHONPATH")}
    run_env = {
        **keep,
        **{k: v for k, v in env.items() if k != "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"},
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file),
        "AWS_ENDPOINT_URL": srv.endpoint,
        "HOME": str(home),
    }
    return subprocess.run(  # the test's own interpreter and script
        [sys.executable, "-c", PUT_CHECKPOINT],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def namespace(server: ThreadServer, kube: ApiClient) -> Any:
    wait_active(server.client("eks"), CLUSTER, timeout=120)
    core = client.CoreV1Api(kube)
    core.create_namespace({"metadata": {"name": NS}})  # type: ignore[arg-type]
    irsa = {piw.ROLE_ARN: f"arn:aws:iam::{ACCOUNT}:role/irsa-reader"}
    for name, notes in (("writer", {}), ("stranger", {}), ("irsa-reader", irsa)):
        body = {"metadata": {"name": name, "annotations": notes}}
        core.create_namespaced_service_account(NS, body)  # type: ignore[arg-type]
    yield NS
    core.delete_namespace(NS)


def test_pods_get_credentials_from_their_association(
    server: ThreadServer, kube: ApiClient, namespace: str, tmp_path: Path
) -> None:
    eks, iam, s3 = server.client("eks"), server.client("iam"), server.client("s3")
    role = iam.create_role(
        RoleName="checkpoint-writer", AssumeRolePolicyDocument=json.dumps(POD_TRUST)
    )
    eks.create_pod_identity_association(
        clusterName=CLUSTER, namespace=NS, serviceAccount="writer", roleArn=role["Role"]["Arn"]
    )
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})

    # the reconciler applied the webhook's configuration; the apiserver calls it once it has
    # picked the configuration up: a dry-run pod comes back mutated then
    wait_for(
        "the pod identity webhook to mutate a dry-run pod",
        lambda: (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI"
            in env_of(create(kube, pod("probe", "writer"), True))
        ),
        timeout=60,
    )
    writer = create(kube, pod("writer-0", "writer"))
    env = env_of(writer)
    agent = credentials_url("127.0.0.1", server.port, ACCOUNT, REGION, CLUSTER)
    assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == agent
    assert env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] == (
        "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token"
    )
    assert (env["AWS_REGION"], env["AWS_DEFAULT_REGION"]) == (REGION, REGION)
    assert "AWS_ROLE_ARN" not in env
    token_volume = volume(writer, "eks-pod-identity-token")
    assert token_volume is not None and token_volume["audience"] == "pods.eks.amazonaws.com"
    assert 79200 <= token_volume["expirationSeconds"] <= 86400  # EKS's jitter
    assert writer["metadata"]["labels"] == {piw.POD_IDENTITY_LABEL: "enabled"}

    # the process that acts as the pod: its token through TokenRequest, then plain boto3
    sessions = len(server.store.resources.list(kinds.STS_SESSION, GLOBAL))
    run = as_the_pod(server, writer, token_for(kube, "writer", writer), tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/checkpoint-writer/eks-{CLUSTER}-writer-0-"
    )
    got = s3.get_object(Bucket=BUCKET, Key="ckpt/step-100")
    assert got["Body"].read() == b"weights"
    made = server.store.resources.list(kinds.STS_SESSION, GLOBAL)[sessions:]
    assert [s.doc["Tags"]["kubernetes-pod-uid"] for s in made] == [writer["metadata"]["uid"]]

    # a service account without an association: no environment, and its token gets nothing
    stranger = create(kube, pod("stranger-0", "stranger"))
    assert env_of(stranger) == {} and volume(stranger, "eks-pod-identity-token") is None
    stranger["spec"]["containers"][0]["env"] = [
        {"name": k, "value": v} for k, v in env.items()
    ]  # as if it had been mutated: the agent still refuses its token
    s3.delete_object(Bucket=BUCKET, Key="ckpt/step-100")
    sessions = len(server.store.resources.list(kinds.STS_SESSION, GLOBAL))
    refused = as_the_pod(server, stranger, token_for(kube, "stranger", stranger), tmp_path)
    assert refused.returncode != 0
    assert "ResourceNotFoundException" in refused.stderr, refused.stderr
    assert len(server.store.resources.list(kinds.STS_SESSION, GLOBAL)) == sessions
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_irsa_service_account_gets_the_web_identity_environment(
    server: ThreadServer, kube: ApiClient, namespace: str
) -> None:
    wait_for(
        "the pod identity webhook to mutate a dry-run pod",
        lambda: "AWS_ROLE_ARN" in env_of(create(kube, pod("probe", "irsa-reader"), True)),
        timeout=60,
    )
    reader = create(kube, pod("irsa-reader-0", "irsa-reader"))
    env = env_of(reader)
    assert env == {
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/irsa-reader",
        "AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token",
    }
    assert volume(reader, "aws-iam-token") == {
        "audience": "sts.amazonaws.com",
        "expirationSeconds": 86400,
        "path": "token",
    }
    mounts = reader["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "aws-iam-token", "mountPath": piw.IRSA.mount_path, "readOnly": True} in mounts


def test_a_pod_relying_on_imds_off_host_network_draws_a_warning(
    server: ThreadServer, kube: ApiClient, namespace: str, control_plane: ControlPlane
) -> None:
    curl = ["curl", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"]
    for name, host_network in (("imds-reader", False), ("imds-host", True)):
        body = pod(name, "stranger", hostNetwork=host_network)
        body["spec"]["containers"][0]["command"] = curl
        create(kube, body)
    request = {
        "ClusterName": "imds-check",
        "Orchestrator": {"Eks": {"ClusterArn": EKS_ARN}},
        "InstanceGroups": [group("w", "ml.c5.large", 1)],
        "NodeRecovery": "Automatic",
    }
    result = preflight_cli(server, control_plane, request)
    report = json.loads(result.stdout)
    [finding] = [f for f in report["findings"] if f["rule"] == "workload-aws-credentials"]
    assert finding["status"] == "warn", finding
    named = [e for e in finding["evidence"] if "instance metadata service" in e]
    assert named == [
        f"Pod {NS}/imds-reader names the instance metadata service (169.254.169.254) off "
        "hostNetwork: on HyperPod nodes only hostNetwork pods reach IMDS"
    ]
