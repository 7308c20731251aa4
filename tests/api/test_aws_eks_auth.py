"""EKS Pod Identity over real HTTP without Kubernetes: boto3's ``eks-auth`` client calling
AssumeRoleForPodIdentity, and the Pod Identity Agent's credentials endpoint read by botocore's
own ContainerProvider and, in a separate process, by plain boto3 configured by the environment
alone (R13 in docs/requirements.md). Tokens are signed with a key the cluster record carries, as
the EKS reconciler stores a running plane's (``tests/sa_tokens.py``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from botocore.credentials import ContainerProvider  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from podwarden.api.pod_identity_agent import PREFIX, PodIdentityAgent, credentials_url
from podwarden.model.aws import kinds
from podwarden.model.aws.scope import GLOBAL
from tests.api.aws_server import AwsServer
from tests.api.test_aws_eks import ACCOUNT, create, error, make_network, message
from tests.sa_tokens import Signer, install

REGION = "us-west-2"
SCOPE = f"{ACCOUNT}/{REGION}"
ISSUER = "https://127.0.0.1:1/id/00112233445566778899AABBCCDDEEFF"
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


@pytest.fixture(scope="module")
def signer(aws: AwsServer) -> Signer:
    """The cluster ``pods`` with an association for ml/trainer, its tokens signed by this."""
    aws.app.services.mounts[PREFIX] = PodIdentityAgent(aws.store)
    network = make_network(aws, "10.72")
    eks, iam = aws.client("eks"), aws.client("iam")
    create(eks, "pods", network["subnets"])
    key = Signer(ISSUER)
    install(aws.store.resources, SCOPE, "pods", key)
    arn = iam.create_role(RoleName="pods-trainer", AssumeRolePolicyDocument=json.dumps(POD_TRUST))
    eks.create_pod_identity_association(
        clusterName="pods", namespace="ml", serviceAccount="trainer", roleArn=arn["Role"]["Arn"]
    )
    aws.client("s3").create_bucket(
        Bucket="pods-checkpoints", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    eks.create_addon(clusterName="pods", addonName="eks-pod-identity-agent")
    addon_status(aws, "ACTIVE")  # as the EKS reconciler leaves it once its DaemonSet is applied
    return key


def addon_status(aws: AwsServer, status: str) -> None:
    rec = aws.store.resources.get(kinds.EKS_ADDON, SCOPE, "pods/eks-pod-identity-agent")
    assert rec is not None
    rec.doc["status"] = status
    aws.store.resources.save(rec)


def sessions(aws: AwsServer) -> int:
    return len(aws.store.resources.list(kinds.STS_SESSION, GLOBAL))


def agent_url(aws: AwsServer, cluster: str = "pods") -> str:
    return credentials_url("127.0.0.1", aws.port, ACCOUNT, REGION, cluster)


def test_boto3_eks_auth_client(aws: AwsServer, signer: Signer) -> None:
    auth = aws.client("eks-auth")
    out = auth.assume_role_for_pod_identity(clusterName="pods", token=signer.token())
    assert out["subject"] == {"namespace": "ml", "serviceAccount": "trainer"}
    assert out["audience"] == "pods.eks.amazonaws.com"
    assert out["assumedRoleUser"]["arn"].startswith(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/pods-trainer/eks-pods-trainer-0-"
    )
    creds = out["credentials"]
    s3 = aws.client(
        "s3",
        key=creds["accessKeyId"],
        secret=creds["secretAccessKey"],
        token=creds["sessionToken"],
    )
    s3.put_object(Bucket="pods-checkpoints", Key="boto3/step-1", Body=b"ok")
    who = aws.client(
        "sts",
        key=creds["accessKeyId"],
        secret=creds["secretAccessKey"],
        token=creds["sessionToken"],
    ).get_caller_identity()
    assert who["Arn"] == out["assumedRoleUser"]["arn"]

    before = sessions(aws)
    for token, cluster, status, code in [
        (signer.token(audience="sts.amazonaws.com"), "pods", 400, "InvalidTokenException"),
        (signer.token(lifetime=-60), "pods", 400, "ExpiredTokenException"),
        (signer.token("ml", "nobody"), "pods", 404, "ResourceNotFoundException"),
        (signer.token(), "nope", 404, "ResourceNotFoundException"),
    ]:
        with pytest.raises(ClientError) as err:
            auth.assume_role_for_pod_identity(clusterName=cluster, token=token)
        assert error(err) == (status, code), message(err)
    with pytest.raises(ClientError) as err:  # the model's pattern, checked by the server
        auth.assume_role_for_pod_identity(clusterName="pods", token="not-a-jwt")
    assert error(err) == (400, "InvalidParameterException")
    assert sessions(aws) == before


def test_container_provider_reads_the_agent(aws: AwsServer, signer: Signer, tmp_path: Path) -> None:
    token_file = tmp_path / "eks-pod-identity-token"
    token_file.write_text(signer.token())
    provider = ContainerProvider(
        environ={
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": agent_url(aws),
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file),
        }
    )
    creds = provider.load()
    assert creds is not None and creds.method == "container-role"
    frozen = creds.get_frozen_credentials()
    assert frozen.access_key.startswith("ASIA") and frozen.token
    rec = aws.store.resources.get(kinds.STS_SESSION, GLOBAL, frozen.access_key)
    assert rec is not None and rec.doc["Tags"]["kubernetes-service-account"] == "trainer"


def _get(url: str, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_agent_refusals_are_the_agents(aws: AwsServer, signer: Signer) -> None:
    url, before = agent_url(aws), sessions(aws)
    assert _get(url, {}) == (400, "Service account token cannot be empty\n")
    status, body = _get(url, {"Authorization": "Bearer x"})
    assert status == 400 and body.startswith("Service account token cannot be parsed: ")
    status, body = _get(url, {"Authorization": signer.token(lifetime=-60)})
    assert (status, body) == (
        400,
        "Service account token failed basic claim validations: token has invalid claims: "
        "token is expired\n",
    )
    status, body = _get(url, {"Authorization": signer.token("ml", "nobody")})
    assert status == 404
    assert body.startswith("[") and "]: (ResourceNotFoundException): No EKS Pod Identity" in body
    assert body.endswith(", fault: client\n")
    status, body = _get(url, {"Authorization": signer.token(), "Host": "169.254.170.23"})
    assert status == 403 and body.startswith("Access Denied. Called agent through invalid address")
    status, _ = _get(agent_url(aws, "nope"), {"Authorization": signer.token()})
    assert status == 503  # no such cluster: no agent
    addon_status(aws, "DELETING")  # no agent without its add-on
    try:
        assert _get(url, {"Authorization": signer.token()}) == (
            503,
            "EKS Pod Identity Agent is not running on cluster pods: install the "
            "eks-pod-identity-agent add-on (aws eks create-addon --cluster-name pods --addon-name "
            "eks-pod-identity-agent)\n",
        )
    finally:
        addon_status(aws, "ACTIVE")
    assert sessions(aws) == before


PUT_CHECKPOINT = """
import boto3
s3 = boto3.client("s3")
s3.put_object(Bucket="pods-checkpoints", Key="ckpt/step-100", Body=b"weights")
print(boto3.client("sts").get_caller_identity()["Arn"])
"""


def pod_env(aws: AwsServer, token_file: Path, home: Path) -> dict[str, str]:
    """A pod's environment as the webhook makes it, plus the endpoint: no keys at all."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "PYTHONPATH")}
    return {
        **keep,
        "HOME": str(home),  # no ~/.aws of this machine
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
        "AWS_ENDPOINT_URL": aws.endpoint,
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": agent_url(aws),
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(token_file),
    }


def test_plain_boto3_in_a_process_puts_a_checkpoint(
    aws: AwsServer, signer: Signer, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(signer.token())
    run = subprocess.run(
        [sys.executable, "-c", PUT_CHECKPOINT],
        env=pod_env(aws, token_file, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/pods-trainer/eks-pods-")
    got = aws.client("s3").get_object(Bucket="pods-checkpoints", Key="ckpt/step-100")
    assert got["Body"].read() == b"weights"
