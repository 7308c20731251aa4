"""Each EKS cluster's OIDC issuer: its URL (``logic.oidc_issuer``), where it lives in the store
(``control.oidc_issuers``), the documents served under it (``api.oidc_listener.answer``) and the
apiserver flags that make a plane issue with it (``local.planner``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from podwarden.api.oidc_listener import answer
from podwarden.control.oidc_issuers import (
    EMBEDDED_ISSUER,
    issuer_keys,
    keys_at_path,
    listener_base,
    new_cluster_issuer,
    plane_issuer,
    record_listener,
    verify_cluster_token,
)
from podwarden.local.components import Layout, Ports
from podwarden.local.planner import plan
from podwarden.logic import oidc_issuer as oi
from podwarden.logic.web_identity_token import Problem, TokenRejected
from podwarden.model.aws import kinds
from podwarden.model.aws.private import ServiceAccountKeys
from podwarden.store.resources import Record, Resources
from podwarden.store.sql import Store, sqlite_url
from tests.sa_tokens import Signer, install

CLUSTER_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
ID = "0F1E2D3C4B5A69788796A5B4C3D2E1F0"
SCOPE = "000000000000/us-west-2"


@pytest.fixture
def resources(tmp_path: Path) -> Resources:
    return Store(sqlite_url(tmp_path)).resources


def cluster(resources: Resources, name: str, issuer: str, **private: Any) -> None:
    doc = {
        "name": name,
        "status": "ACTIVE",
        "identity": {"oidc": {"issuer": issuer}},
        "_podwarden": {"data_dir": f"eks/{name}-0f1e2d3c", **private},
    }
    resources.put(Record(kinds.EKS_CLUSTER, SCOPE, name, doc, created=0.0))


def test_issuer_urls_have_ekss_path() -> None:
    assert oi.issuer_id(CLUSTER_ID) == ID
    assert (
        oi.eks_issuer("eu-west-1", CLUSTER_ID)
        == f"https://oidc.eks.eu-west-1.amazonaws.com/id/{ID}"
    )
    assert (
        oi.local_issuer("https://127.0.0.1:8643/", CLUSTER_ID) == f"https://127.0.0.1:8643/id/{ID}"
    )
    assert oi.issuer_path(f"https://127.0.0.1:8643/id/{ID}") == f"/id/{ID}"
    assert oi.jwks_uri(f"https://127.0.0.1:8643/id/{ID}") == f"https://127.0.0.1:8643/id/{ID}/keys"
    with pytest.raises(ValueError, match="cluster id"):
        oi.issuer_id("podwarden")


def test_routes_under_an_issuer() -> None:
    assert oi.route(f"/id/{ID}/.well-known/openid-configuration") == (f"/id/{ID}", "discovery")
    assert oi.route(f"/id/{ID}/keys") == (f"/id/{ID}", "keys")
    assert oi.route("/.well-known/openid-configuration") is None
    assert oi.route("/keys") is None
    assert oi.route(f"/id/{ID}") is None


def test_discovery_document_is_ekss() -> None:
    issuer = f"https://127.0.0.1:8643/id/{ID}"
    doc = oi.discovery_document(issuer)
    assert doc["issuer"] == issuer and doc["jwks_uri"] == issuer + "/keys"
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["response_types_supported"] == ["id_token"]
    assert doc["subject_types_supported"] == ["public"]


def test_service_account_subjects() -> None:
    assert oi.service_account_subject("ml", "trainer") == "system:serviceaccount:ml:trainer"
    assert oi.parse_subject("system:serviceaccount:ml:trainer") == ("ml", "trainer")
    for bad in ("system:serviceaccount:ml", "user:ml:trainer", "system:serviceaccount::x", ""):
        assert oi.parse_subject(bad) is None


def test_new_clusters_are_named_under_the_listener(resources: Resources) -> None:
    assert new_cluster_issuer(resources, "us-west-2", CLUSTER_ID) == oi.eks_issuer(
        "us-west-2", CLUSTER_ID
    )
    assert listener_base(resources) is None
    record_listener(resources, port=41234)
    assert listener_base(resources) == "https://127.0.0.1:41234"
    assert new_cluster_issuer(resources, "us-west-2", CLUSTER_ID) == (
        f"https://127.0.0.1:41234/id/{ID}"
    )
    record_listener(resources, **{EMBEDDED_ISSUER: "https://127.0.0.1:41234/id/X"})
    assert listener_base(resources) == "https://127.0.0.1:41234"  # other members kept


def test_a_plane_issues_with_its_clusters_issuer(resources: Resources) -> None:
    cluster(resources, "a", f"https://127.0.0.1:1/id/{ID}")
    assert plane_issuer(resources, "eks/a-0f1e2d3c") == f"https://127.0.0.1:1/id/{ID}"
    assert plane_issuer(resources, "eks/other") is None


def test_recording_signing_keys() -> None:
    doc: dict[str, Any] = {"identity": {"oidc": {"issuer": "https://x/id/A"}}, "_podwarden": {}}
    jwks = {"keys": [{"kty": "RSA", "kid": "k", "n": "AQAB", "e": "AQAB"}]}
    assert oi.record_signing_keys(doc, "https://x/id/A", jwks, adopted=False)
    assert not oi.record_signing_keys(doc, "https://x/id/A", jwks, adopted=False)  # no change
    keys = ServiceAccountKeys.of(doc)
    assert keys is not None and keys.jwks == jwks and keys.issuer == "https://x/id/A"
    # a cluster podwarden started keeps the issuer it was created with ...
    assert oi.record_signing_keys(doc, "https://legacy", jwks, adopted=False)
    assert doc["identity"]["oidc"]["issuer"] == "https://x/id/A"
    # ... an adopted one takes the issuer its plane issues with
    assert oi.record_signing_keys(doc, "https://127.0.0.1:9/id/B", jwks, adopted=True)
    assert doc["identity"]["oidc"]["issuer"] == "https://127.0.0.1:9/id/B"
    # ... whatever it is (a plane started without one of its own)
    assert oi.record_signing_keys(doc, oi.LEGACY_ISSUER, jwks, adopted=True)
    assert doc["identity"]["oidc"]["issuer"] == oi.LEGACY_ISSUER


def test_keys_are_found_by_issuer_and_by_path(resources: Resources) -> None:
    signer = Signer(f"https://127.0.0.1:8643/id/{ID}")
    cluster(resources, "irsa", signer.issuer)
    assert issuer_keys(resources, signer.issuer) is None  # no keys recorded yet
    install(resources, SCOPE, "irsa", signer)
    found = issuer_keys(resources, signer.issuer)
    assert found is not None and (found.scope, found.cluster) == (SCOPE, "irsa")
    assert found.jwks == signer.jwks
    assert issuer_keys(resources, signer.issuer + "/") is None  # exactly the issuer
    moved = keys_at_path(resources, f"/id/{ID}")  # the path alone: whatever port it names
    assert moved is not None and moved.cluster == "irsa"


def test_verify_cluster_token(resources: Resources) -> None:
    signer = Signer(f"https://127.0.0.1:8643/id/{ID}")
    cluster(resources, "irsa", signer.issuer)
    install(resources, SCOPE, "irsa", signer)
    good = signer.token("ml", "trainer", audience="sts.amazonaws.com")
    got = verify_cluster_token(
        resources, good, now=signer.claims()["iat"] + 1, audiences=["sts.amazonaws.com"]
    )
    assert got.service_account == ("ml", "trainer") and (got.scope, got.cluster) == (SCOPE, "irsa")
    with pytest.raises(TokenRejected) as info:
        verify_cluster_token(
            resources, good, now=0, audiences=None, cluster=(SCOPE, "another-cluster")
        )
    assert info.value.problem is Problem.UNKNOWN_ISSUER


def _get(resources: Resources, path: str, method: str = "GET") -> tuple[int, dict[str, Any]]:
    raw = answer(resources, f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    assert b"Connection: close" in head
    return status, json.loads(body) if body else {}


def test_the_listener_serves_each_clusters_documents(resources: Resources) -> None:
    signer = Signer(f"https://127.0.0.1:8643/id/{ID}")
    cluster(resources, "irsa", signer.issuer)
    assert _get(resources, f"/id/{ID}/keys")[0] == 404  # the plane's keys not recorded yet
    install(resources, SCOPE, "irsa", signer)
    status, doc = _get(resources, f"/id/{ID}/.well-known/openid-configuration")
    assert status == 200 and doc == oi.discovery_document(signer.issuer)
    status, keys = _get(resources, f"/id/{ID}/keys?x=1")
    assert status == 200 and keys == signer.jwks
    assert _get(resources, f"/id/{ID}/keys", "HEAD") == (200, {})
    assert _get(resources, f"/id/{ID}/keys", "POST")[0] == 405
    assert _get(resources, "/id/FFFF/keys")[0] == 404
    assert _get(resources, "/")[0] == 404
    assert answer(resources, b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400")


def test_the_listener_serves_public_members_only(resources: Resources) -> None:
    jwks = {"keys": [{"kty": "RSA", "kid": "k", "n": "AQAB", "e": "AQAB", "d": "secret"}]}
    cluster(
        resources,
        "leaky",
        f"https://127.0.0.1:1/id/{ID}",
        service_accounts={"issuer": "x", "jwks": jwks},
    )
    status, keys = _get(resources, f"/id/{ID}/keys")
    assert status == 200 and "d" not in keys["keys"][0]


PORTS = Ports(*range(2379, 2387))


def _apiserver_argv(issuer: str | None) -> list[str]:
    binaries = {
        name: Path(f"/bin/{name}")
        for name in (
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kwok",
            "training-operator",
        )
    }
    the_plan = plan(Layout(Path("/data")), PORTS, binaries, issuer=issuer)
    return list(the_plan.component("kube-apiserver").argv)


def test_a_plane_issues_with_its_issuer_and_accepts_the_old_one() -> None:
    issuer = f"https://127.0.0.1:8643/id/{ID}"
    argv = _apiserver_argv(issuer)
    flags = [a for a in argv if a.startswith(("--service-account-issuer", "--api-audiences"))]
    assert flags == [
        f"--service-account-issuer={issuer}",  # the first issues
        f"--service-account-issuer={oi.LEGACY_ISSUER}",  # tokens issued before stay valid
        f"--api-audiences={oi.LEGACY_ISSUER}",
    ]
    assert f"--service-account-jwks-uri={issuer}/keys" in argv
    old = [a for a in _apiserver_argv(None) if a.startswith("--service-account-issuer")]
    assert old == [f"--service-account-issuer={oi.LEGACY_ISSUER}"]
