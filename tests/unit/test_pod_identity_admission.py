"""The pod identity webhook around its decision: what it reads (the store's associations, the
plane's service account), what it answers when reading fails, which planes get its
configuration, and the EKS reconciler applying that configuration once per plane start."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from podwarden.api.pod_identity_webhook import PodIdentityWebhook, WebhookServer, is_loopback
from podwarden.control.context import Context
from podwarden.control.eks import OPERATIONS as EKS
from podwarden.control.iam import OPERATIONS as IAM
from podwarden.local.pki import ensure_serving_pki
from podwarden.logic import pod_identity_webhook as piw
from podwarden.model.aws import kinds
from podwarden.model.errors import PodwardenError
from podwarden.operator.eks import EksReconciler, Workloads
from podwarden.store.resources import Record
from tests.aws_helpers import ACCOUNT, POD_TRUST, REGION, make_context
from tests.unit.test_eks_reconciler import Objects, Planes

SCOPE = f"{ACCOUNT}/{REGION}"
AGENT = "http://127.0.0.1:1/_podwarden/eks-pod-identity/x/v1/credentials"


class Accounts:
    """The plane's service accounts: name -> annotations; ``broken``: the plane is down."""

    def __init__(self, found: dict[str, dict[str, str]]) -> None:
        self.found = found
        self.broken = False
        self.asked: list[tuple[str, str, str]] = []

    async def annotations(
        self, cluster: Record, namespace: str, name: str
    ) -> Mapping[str, str] | None:
        self.asked.append((cluster.key, namespace, name))
        if self.broken:
            raise PodwardenError("the control plane of EKS cluster c1 is not running")
        return self.found.get(f"{namespace}/{name}")


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    c = make_context(tmp_path)
    EKS["CreateCluster"](
        c,
        {
            "name": "c1",
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
            "resourcesVpcConfig": {"subnetIds": ["subnet-a", "subnet-b"]},
        },
    )
    arn = IAM["CreateRole"](
        c, {"RoleName": "app", "AssumeRolePolicyDocument": json.dumps(POD_TRUST)}
    )["Role"]["Arn"]
    params = {"clusterName": "c1", "namespace": "ml", "serviceAccount": "trainer", "roleArn": arn}
    EKS["CreatePodIdentityAssociation"](c, params)
    return c


def request(sa: str, namespace: str = "ml", operation: str = "CREATE") -> dict[str, Any]:
    pod = {
        "metadata": {"name": "p"},
        "spec": {"serviceAccountName": sa, "containers": [{"name": "c", "image": "i"}]},
    }
    return {"uid": "u", "operation": operation, "namespace": namespace, "object": pod}


def env(patch: list[dict[str, Any]] | None) -> dict[str, str]:
    assert patch is not None
    [containers] = [op for op in patch if op["path"] == "/spec/containers"]
    return {e["name"]: e["value"] for e in containers["value"][0]["env"]}


def webhook(ctx: Context, accounts: Accounts) -> PodIdentityWebhook:
    return PodIdentityWebhook(ctx.store, accounts, lambda a, r, c: AGENT, jitter=lambda lo, hi: hi)


def test_association_from_the_store_and_role_from_the_plane(ctx: Context) -> None:
    irsa = {"ml/reader": {piw.ROLE_ARN: f"arn:aws:iam::{ACCOUNT}:role/reader"}}
    hook = webhook(ctx, Accounts(irsa))
    found = asyncio.run(hook.patch(ACCOUNT, REGION, "c1", request("trainer")))
    assert env(found)["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == AGENT
    assert env(found)["AWS_REGION"] == REGION
    found = asyncio.run(hook.patch(ACCOUNT, REGION, "c1", request("reader")))
    assert env(found)["AWS_ROLE_ARN"] == f"arn:aws:iam::{ACCOUNT}:role/reader"
    for req in (request("default"), request("trainer", namespace="other")):
        assert asyncio.run(hook.patch(ACCOUNT, REGION, "c1", req)) is None
    # another cluster, or an UPDATE, is none of the webhook's business
    assert asyncio.run(hook.patch(ACCOUNT, REGION, "c2", request("trainer"))) is None
    assert (
        asyncio.run(hook.patch(ACCOUNT, REGION, "c1", request("trainer", operation="UPDATE")))
        is None
    )


def test_a_plane_that_cannot_be_asked_still_gets_pod_identity(ctx: Context) -> None:
    accounts = Accounts({"ml/reader": {piw.ROLE_ARN: "arn:aws:iam::1:role/r"}})
    accounts.broken = True
    hook = webhook(ctx, accounts)
    # the association is the store's; only the annotation needed the plane
    assert "AWS_CONTAINER_CREDENTIALS_FULL_URI" in env(
        asyncio.run(hook.patch(ACCOUNT, REGION, "c1", request("trainer")))
    )
    assert asyncio.run(hook.patch(ACCOUNT, REGION, "c1", request("reader"))) is None


def test_only_loopback_planes_get_the_configuration() -> None:
    assert is_loopback("https://127.0.0.1:6443") and is_loopback("https://[::1]:6443")
    assert is_loopback("https://localhost:6443")
    assert not is_loopback("https://10.0.0.5:6443")
    assert not is_loopback("https://ABC.gr7.us-west-2.eks.amazonaws.com")


def test_the_reconciler_applies_the_configuration_once_per_plane_and_address(
    ctx: Context, tmp_path: Path
) -> None:
    planes, objects = Planes(tmp_path), Objects()
    urls = ["https://127.0.0.1:1/mutate/a/r/c1"]

    def admission(cluster: Record, endpoint: str) -> dict[str, Any] | None:
        assert cluster.key == "c1" and endpoint == planes.info.endpoint
        return piw.webhook_configuration(urls[0], b"CA")

    async def workloads(_kubeconfig: Path) -> Workloads:
        return objects

    eks = EksReconciler(ctx.store.resources, planes, workloads, clock=ctx.now, admission=admission)

    def passes(n: int) -> list[str]:
        for _ in range(n):
            asyncio.run(eks.reconcile((SCOPE, "c1")))
        return [a for a in objects.applied if a.startswith("MutatingWebhookConfiguration")]

    assert passes(3) == ["MutatingWebhookConfiguration/pod-identity-webhook"]
    urls[0] = "https://127.0.0.1:2/mutate/a/r/c1"  # podwarden restarted on another port
    assert len(passes(2)) == 2
    assert ctx.store.resources.get(kinds.EKS_CLUSTER, SCOPE, "c1") is not None


def test_the_server_names_no_configuration_before_it_listens(tmp_path: Path) -> None:
    hook = PodIdentityWebhook(None, Accounts({}), lambda a, r, c: None)  # type: ignore[arg-type]
    server = WebhookServer(hook, tmp_path / "c", tmp_path / "k", tmp_path / "ca")
    rec = Record(kinds.EKS_CLUSTER, SCOPE, "c1", {}, created=0.0)
    assert server.configuration(rec, "https://127.0.0.1:6443") is None


def asgi(app: Any, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "http", "method": method, "path": path}, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"])


def test_admission_reviews_over_asgi(ctx: Context) -> None:
    accounts = Accounts({})
    hook = webhook(ctx, accounts)
    review = {"apiVersion": "admission.k8s.io/v1", "request": request("trainer")}
    status, answer = asgi(
        hook, "POST", f"/mutate/{ACCOUNT}/{REGION}/c1", json.dumps(review).encode()
    )
    assert status == 200 and answer["response"]["allowed"] and answer["response"]["patch"]
    assert answer["response"]["uid"] == "u"
    assert asgi(hook, "POST", "/mutate/x", b"{}")[0] == 404
    assert asgi(hook, "GET", f"/mutate/{ACCOUNT}/{REGION}/c1", b"")[0] == 405
    assert asgi(hook, "POST", f"/mutate/{ACCOUNT}/{REGION}/c1", b"not json")[0] == 400
    # a failure inside never blocks the pod: allowed, unchanged
    hook.credentials_uri = lambda a, r, c: 1 / 0  # type: ignore[assignment,return-value]
    status, answer = asgi(
        hook, "POST", f"/mutate/{ACCOUNT}/{REGION}/c1", json.dumps(review).encode()
    )
    assert status == 200 and answer["response"] == {"uid": "u", "allowed": True}


def test_the_webhook_certificate_is_its_cas_and_names_loopback(tmp_path: Path) -> None:
    paths = ensure_serving_pki(tmp_path / "pki", "podwarden-pod-identity-webhook")
    cert = x509.load_pem_x509_certificate(paths.serving_cert.read_bytes())
    ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    again = ensure_serving_pki(tmp_path / "pki", "podwarden-pod-identity-webhook")
    assert again.serving_cert.read_bytes() == paths.serving_cert.read_bytes()  # kept
