"""The TokenReview route (api.eks_authn) on a real store: records in, TokenReview JSON out."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest

from podwarden.api.eks_authn import PREFIX, EksAuthn, cluster_webhook_url, webhook_url
from podwarden.model.aws.kinds import EKS_ACCESS_ENTRY as ACCESS_ENTRY
from podwarden.model.aws.kinds import EKS_CLUSTER as CLUSTER
from podwarden.store.resources import Record
from podwarden.store.sql import Store, sqlite_url
from podwarden.wire.eks_token import encode_token
from podwarden.wire.sigv4 import Credential

from .test_eks_token import KEY, SECRET, presigned_url

ACCT = "123456789012"
SCOPE = f"{ACCT}/us-west-2"
ALICE = Credential(KEY, SECRET, ACCT, f"arn:aws:iam::{ACCT}:user/alice")


@pytest.fixture
def authn(tmp_path: Path) -> EksAuthn:
    store = Store(sqlite_url(tmp_path))
    doc = {
        "name": "c1",
        "status": "ACTIVE",
        "accessConfig": {"authenticationMode": "API"},
        "_podwarden": {"data_dir": "eks/c1-0000abcd"},
    }
    store.resources.create(Record(CLUSTER, SCOPE, "c1", doc))
    entry = {
        "principalArn": ALICE.principal_arn,
        "username": ALICE.principal_arn,
        "kubernetesGroups": ["devs"],
        "_podwarden": {"associatedAccessPolicies": []},
    }
    store.resources.create(
        Record(ACCESS_ENTRY, SCOPE, f"c1/{ALICE.principal_arn}", entry, parent="c1")
    )
    return EksAuthn(store, lambda key: ALICE if key == KEY else None, time.time)


def post(authn: EksAuthn, path: str, body: bytes, method: str = "POST") -> tuple[int, Any]:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path}
    asyncio.run(authn(scope, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"])


def review(token: str) -> bytes:
    return json.dumps(
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token, "audiences": ["https://kubernetes.default.svc"]},
        }
    ).encode()


def test_known_principal_is_authenticated(authn: EksAuthn) -> None:
    status, doc = post(
        authn, f"{PREFIX}{ACCT}/us-west-2/c1", review(encode_token(presigned_url("c1")))
    )
    assert status == 200
    assert (doc["apiVersion"], doc["kind"]) == ("authentication.k8s.io/v1", "TokenReview")
    user = doc["status"]["user"]
    assert doc["status"]["authenticated"] is True
    assert (user["username"], user["groups"]) == (ALICE.principal_arn, ["devs"])
    assert user["uid"].startswith(f"aws-iam-authenticator:{ACCT}:AIDA")


def test_refusals_are_unauthenticated_reviews(authn: EksAuthn) -> None:
    for path, token in (
        (f"{PREFIX}{ACCT}/us-west-2/c1", encode_token(presigned_url("other"))),
        (f"{PREFIX}{ACCT}/us-west-2/c1", "k8s-aws-v1.garbage"),
        (f"{PREFIX}{ACCT}/us-west-2/c1", encode_token(presigned_url("c1", secret="x"))),
        (f"{PREFIX}{ACCT}/us-west-2/nope", encode_token(presigned_url("nope"))),
        (f"{PREFIX}{ACCT}/eu-west-1/c1", encode_token(presigned_url("c1"))),
    ):
        status, doc = post(authn, path, review(token))
        assert (status, doc["status"]["authenticated"]) == (200, False), path


def test_malformed_requests(authn: EksAuthn) -> None:
    assert post(authn, f"{PREFIX}{ACCT}/c1", review("x"))[0] == 404
    assert post(authn, f"{PREFIX}{ACCT}/us-west-2/c1", b"", method="GET")[0] == 405
    assert post(authn, f"{PREFIX}{ACCT}/us-west-2/c1", b"{not json")[0] == 400
    assert post(authn, f"{PREFIX}{ACCT}/us-west-2/c1", b'{"spec": {}}')[0] == 400


def test_webhook_urls(authn: EksAuthn) -> None:
    assert webhook_url("0.0.0.0", 8600, ACCT, "us-west-2", "c1") == (
        f"http://127.0.0.1:8600{PREFIX}{ACCT}/us-west-2/c1"
    )
    assert webhook_url("::1", 1, "a", "r", "c").startswith("http://[::1]:1/")
    url = cluster_webhook_url(authn.store.resources, "127.0.0.1", 9000, "eks/c1-0000abcd")
    assert url == f"http://127.0.0.1:9000{PREFIX}{ACCT}/us-west-2/c1"
    assert cluster_webhook_url(authn.store.resources, "127.0.0.1", 9000, "eks/gone") is None
