"""IAM roles for service accounts (IRSA, R13 in docs/requirements.md) on real control planes.

An EKS cluster created through the API is its own plane whose apiserver issues service-account
tokens with the cluster's issuer (DescribeCluster's ``identity.oidc.issuer``, on podwarden's TLS
listener); the discovery document and JWKS there are fetchable with podwarden's OIDC CA and are
the apiserver's own keys. A process that acts as the pod gets its token through the TokenRequest
API (as the kubelet would) and puts a checkpoint in S3 with boto3's unmodified credential chain;
another service account's token, and a token for another audience, get nothing. A plane that ran
with the old shared issuer, restarted with its cluster's, issues with the new one and still
accepts the tokens it issued before. ``podwarden up`` gives the seeded cluster, its embedded
plane, an issuer of its own too.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client import ApiClient

from podwarden.cli.oidc import ca_file
from podwarden.control.oidc_issuers import listener_base
from podwarden.local.admin_client import AdminClient
from podwarden.local.runtime import ControlPlane
from podwarden.logic.oidc_issuer import DISCOVERY, LEGACY_ISSUER
from podwarden.model.aws import kinds
from tests.irsa_pod import PUT_CHECKPOINT, run_as_pod
from tests.local_endpoint import local_client

from .conftest import api_client
from .hyperpod_helpers import server, wait_active
from .hyperpod_server import ThreadServer
from .kube_objects import wait_for
from .test_hyp_cli import PodwardenUp
from .test_local_account import server_data

__all__ = ["server"]  # the module-scoped fixture used below

pytestmark = pytest.mark.integration

ACCOUNT, REGION = "000000000000", "us-west-2"
CLUSTER, NS = "irsa", "ml"
STS_AUD = "sts.amazonaws.com"
BUCKET = "irsa-checkpoints"
ROLE_NAME = "irsa-trainer"


def fetch(url: str, ca: Path) -> dict[str, Any] | None:
    """GET a JSON document over TLS trusting only ``ca``; None unless 200."""
    context = ssl.create_default_context(cafile=str(ca))
    try:
        with urllib.request.urlopen(url, context=context, timeout=10) as r:
            found: dict[str, Any] = json.loads(r.read())
            return found
    except OSError:
        return None


def claims_of(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = token.split(".")

    def part(text: str) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return found

    return part(head), part(body)


def sa_token(kube: ApiClient, name: str, audiences: list[str] | None) -> str:
    """A token of the service account ``name`` through the TokenRequest API, as the kubelet
    asks for a projected volume (``audiences`` None: the apiserver's own audience)."""
    spec = client.V1TokenRequestSpec(audiences=audiences or [], expiration_seconds=3600)
    made = client.CoreV1Api(kube).create_namespaced_service_account_token(
        name, NS, client.AuthenticationV1TokenRequest(spec=spec)
    )
    assert made.status is not None, "TokenRequest answered no token"
    return str(made.status.token)


@pytest.fixture(scope="module")
def cluster(server: ThreadServer) -> Iterator[dict[str, Any]]:
    """The EKS cluster ``irsa`` (its own plane), ACTIVE, its namespace ``ml`` with the service
    accounts ``trainer`` and ``intruder``; its plane's admin client."""
    ec2, eks = server.client("ec2"), server.client("eks")
    subnets = [
        s["SubnetId"]
        for s in ec2.describe_subnets(
            Filters=[{"Name": "tag:Name", "Values": ["podwarden-private-*"]}]
        )["Subnets"]
    ]
    eks.create_cluster(
        name=CLUSTER,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/podwarden-eks-cluster",
        resourcesVpcConfig={"subnetIds": subnets},
        accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"},
    )
    described = wait_active(eks, CLUSTER, timeout=180)
    (kubeconfig,) = (Path(server_data(server)) / "eks-planes").glob(f"eks/{CLUSTER}-*/kubeconfig")
    with api_client(kubeconfig) as kube:
        core = client.CoreV1Api(kube)
        core.create_namespace({"metadata": {"name": NS}})  # type: ignore[arg-type]
        for name in ("trainer", "intruder"):
            core.create_namespaced_service_account(NS, {"metadata": {"name": name}})  # type: ignore[arg-type]
        yield {"described": described, "kube": kube, "kubeconfig": kubeconfig}


def test_the_issuer_is_the_clusters_own_and_fetchable(
    server: ThreadServer, cluster: dict[str, Any]
) -> None:
    issuer: str = cluster["described"]["identity"]["oidc"]["issuer"]
    base = listener_base(server.store.resources)
    assert base is not None and issuer.startswith(base + "/id/")
    assert re.fullmatch(r"https://127\.0\.0\.1:\d+/id/[0-9A-F]{32}", issuer)
    ca = ca_file(Path(server_data(server)))
    discovery = wait_for(
        f"the discovery document at {issuer}",
        lambda: fetch(issuer + DISCOVERY, ca),
        timeout=60,
    )
    assert discovery["issuer"] == issuer and discovery["jwks_uri"] == issuer + "/keys"
    jwks = fetch(discovery["jwks_uri"], ca)
    assert jwks is not None and jwks["keys"], "the plane's keys"
    # the apiserver issues with it, signed by a key the JWKS lists under the same kid
    header, body = claims_of(sa_token(cluster["kube"], "trainer", [STS_AUD]))
    assert body["iss"] == issuer and body["aud"] == [STS_AUD]
    assert body["sub"] == f"system:serviceaccount:{NS}:trainer"
    assert header["kid"] in {k["kid"] for k in jwks["keys"]}


def _setup_role(server: ThreadServer, issuer: str) -> str:
    iam = server.client("iam")
    provider = iam.create_open_id_connect_provider(Url=issuer, ClientIDList=[STS_AUD])
    host_path = issuer.removeprefix("https://")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider["OpenIDConnectProviderArn"]},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{host_path}:sub": f"system:serviceaccount:{NS}:trainer",
                        f"{host_path}:aud": STS_AUD,
                    }
                },
            }
        ],
    }
    role = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
    server.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    return str(role["Role"]["Arn"])


def test_a_pod_puts_a_checkpoint_with_its_service_accounts_role(
    server: ThreadServer, cluster: dict[str, Any], tmp_path: Path
) -> None:
    issuer = cluster["described"]["identity"]["oidc"]["issuer"]
    role_arn = _setup_role(server, issuer)
    kube = cluster["kube"]
    script = PUT_CHECKPOINT.format(bucket=BUCKET, key="trainer/step-100.pt", body=b"weights")

    def sessions() -> int:
        return len(server.store.resources.list(kinds.STS_SESSION))

    before = sessions()
    done = run_as_pod(
        server.endpoint, role_arn, sa_token(kube, "trainer", [STS_AUD]), tmp_path, script
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE_NAME}/")
    got = server.client("s3").get_object(Bucket=BUCKET, Key="trainer/step-100.pt")
    assert got["Body"].read() == b"weights"
    assert sessions() == before + 1

    # another service account's token: the trust policy's sub condition refuses it
    (tmp_path / "intruder").mkdir()
    done = run_as_pod(
        server.endpoint,
        role_arn,
        sa_token(kube, "intruder", [STS_AUD]),
        tmp_path / "intruder",
        script,
    )
    assert done.returncode != 0
    assert "AccessDenied" in done.stderr and "AssumeRoleWithWebIdentity" in done.stderr
    # the trainer's token for the apiserver's own audience: not a client ID of the provider
    (tmp_path / "audience").mkdir()
    done = run_as_pod(
        server.endpoint, role_arn, sa_token(kube, "trainer", None), tmp_path / "audience", script
    )
    assert done.returncode != 0 and "Incorrect token audience" in done.stderr
    assert sessions() == before + 1, "no credentials for a refused token"


def test_a_plane_restarted_with_its_issuer_keeps_its_old_tokens(tmp_path: Path) -> None:
    """The convergence of a plane that ran before issuers were per cluster: restarted with its
    cluster's issuer, its apiserver issues with that one and still authenticates a token it
    issued with the old shared issuer (``--service-account-issuer`` given twice)."""
    issuer = "https://127.0.0.1:1/id/0123456789ABCDEF0123456789ABCDEF"
    plane = ControlPlane(tmp_path / "plane", fsync=False)
    with plane, api_client(plane.kubeconfig) as kube:
        core = client.CoreV1Api(kube)
        core.create_namespace({"metadata": {"name": NS}})  # type: ignore[arg-type]
        core.create_namespaced_service_account(NS, {"metadata": {"name": "trainer"}})  # type: ignore[arg-type]
        old = sa_token(kube, "trainer", None)
    assert claims_of(old)[1]["iss"] == LEGACY_ISSUER
    plane = ControlPlane(tmp_path / "plane", fsync=False, issuer=issuer)
    with plane, api_client(plane.kubeconfig) as kube:
        assert claims_of(sa_token(kube, "trainer", [STS_AUD]))[1]["iss"] == issuer
        admin = AdminClient(plane.url, plane.layout.pki)
        url = f"{plane.url}/.well-known/openid-configuration"
        with urllib.request.urlopen(url, context=admin.context, timeout=10) as r:
            assert json.loads(r.read())["issuer"] == issuer
        review = client.AuthenticationV1Api(kube).create_token_review(
            client.V1TokenReview(spec=client.V1TokenReviewSpec(token=old))
        )
        assert review.status is not None and review.status.authenticated, review.status
        assert review.status.user is not None
        assert review.status.user.username == f"system:serviceaccount:{NS}:trainer"


WHO_AM_I = 'import boto3; print(boto3.client("sts").get_caller_identity()["Arn"])'


def test_podwarden_up_gives_the_seeded_cluster_its_own_issuer(tmp_path: Path) -> None:
    data = tmp_path / "up"
    up = PodwardenUp(data)
    try:
        up.wait_listening()
        eks, iam = local_client("eks", up.endpoint), local_client("iam", up.endpoint)
        issuer = str(wait_active(eks, "podwarden", timeout=60)["identity"]["oidc"]["issuer"])
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+/id/[0-9A-F]{32}", issuer), issuer
        discovery = wait_for(
            f"the seeded cluster's discovery document at {issuer}",
            lambda: fetch(issuer + DISCOVERY, ca_file(data)),
            timeout=60,
        )
        assert discovery["issuer"] == issuer
        with api_client(up.kubeconfig) as kube:
            core = client.CoreV1Api(kube)
            core.create_namespace({"metadata": {"name": NS}})  # type: ignore[arg-type]
            core.create_namespaced_service_account(NS, {"metadata": {"name": "trainer"}})  # type: ignore[arg-type]
            token = sa_token(kube, "trainer", [STS_AUD])
        assert claims_of(token)[1]["iss"] == issuer
        provider = iam.create_open_id_connect_provider(Url=issuer, ClientIDList=[STS_AUD])
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": provider["OpenIDConnectProviderArn"]},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{issuer.removeprefix('https://')}:sub": (
                                f"system:serviceaccount:{NS}:trainer"
                            )
                        }
                    },
                }
            ],
        }
        role = iam.create_role(RoleName="seeded-irsa", AssumeRolePolicyDocument=json.dumps(trust))
        done = run_as_pod(up.endpoint, role["Role"]["Arn"], token, tmp_path, WHO_AM_I)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/seeded-irsa/")
    finally:
        up.stop()
