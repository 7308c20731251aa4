"""The ASGI app in-process (httpx's ASGI transport): routing, auth and every error path answer
in AWS's format, and nothing a client sends produces an HTTP 500."""

from __future__ import annotations

import json
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

from podwarden.api.app import ApiSettings, PodwardenApp, Services, build_app
from podwarden.api.body import MAX_BODY
from podwarden.cli.server import CatalogInstanceTypes, local_credentials
from podwarden.policy.catalog import load_catalog
from podwarden.store.sql import Store, sqlite_url

pytestmark = pytest.mark.anyio

URL = "http://127.0.0.1:8600/"
CRED = local_credentials()[0]
EKS = "arn:aws:eks:us-west-2:000000000000:cluster/podwarden"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_app(tmp_path: Path, auth: bool = True) -> PodwardenApp:
    services = Services(
        store=Store(sqlite_url(tmp_path)),
        instance_types=CatalogInstanceTypes(load_catalog()),
        notify=lambda _change: None,
        now=time.time,
    )
    return build_app(ApiSettings(credentials=local_credentials(), auth=auth), services)


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url=URL) as c:
        yield c


def signed(target: str, body: bytes, secret: str | None = None) -> dict[str, str]:
    req = AWSRequest(
        method="POST",
        url=URL,
        data=body,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"},
    )
    creds = Credentials(CRED.access_key_id, secret or CRED.secret_access_key)
    SigV4Auth(creds, "sagemaker", "us-west-2").add_auth(req)
    return dict(req.headers.items())


async def call(http: httpx.AsyncClient, op: str, body: bytes | dict[str, Any]) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await http.post("/", content=raw, headers=signed(f"SageMaker.{op}", raw))


def error(resp: httpx.Response) -> tuple[int, str]:
    doc = resp.json()
    assert resp.headers["x-amzn-requestid"]
    return resp.status_code, doc["__type"]


async def test_happy_path_and_content_type(http: httpx.AsyncClient) -> None:
    resp = await call(http, "ListClusters", {})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/x-amz-json-1.1"
    assert resp.json() == {"ClusterSummaries": []}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "SerializationException"),
        (b"[1, 2]", "SerializationException"),
        (b'{"ClusterName": 12}', "SerializationException"),
        (b'{"ClusterName": {"a": 1}}', "SerializationException"),
        (b'{"ClusterName": "bad name"}', "ValidationException"),
        (b"{}", "ValidationException"),
        (b"\xff\xfe\x00", "SerializationException"),
    ],
)
async def test_malformed_bodies_are_4xx(http: httpx.AsyncClient, body: bytes, code: str) -> None:
    assert error(await call(http, "DescribeCluster", body)) == (400, code)


async def test_unknown_operations(http: httpx.AsyncClient) -> None:
    assert error(await call(http, "CreateTrainingJob", {})) == (400, "UnknownOperationException")
    raw = b"{}"
    resp = await http.post("/", content=raw, headers=signed("Nope.Thing", raw))
    assert error(resp) == (400, "UnknownOperationException")


async def test_auth_errors(http: httpx.AsyncClient) -> None:
    raw = b"{}"
    unsigned = await http.post("/", content=raw, headers={"X-Amz-Target": "SageMaker.ListClusters"})
    assert error(unsigned)[1] == "MissingAuthenticationTokenException"
    bad = await http.post("/", content=raw, headers=signed("SageMaker.ListClusters", raw, "x" * 40))
    assert error(bad) == (400, "InvalidSignatureException")
    tampered = signed("SageMaker.ListClusters", raw)
    resp = await http.post("/", content=b'{"MaxResults": 1}', headers=tampered)
    assert error(resp) == (400, "InvalidSignatureException")


async def test_huge_body_is_refused_not_crashed(http: httpx.AsyncClient) -> None:
    raw = b'{"ClusterName": "' + b"a" * (MAX_BODY + 1) + b'"}'
    resp = await http.post("/", content=raw, headers={"X-Amz-Target": "SageMaker.DescribeCluster"})
    assert resp.status_code == 413
    assert resp.json()["__type"] == "SerializationException"


async def test_no_auth_mode_is_explicit(tmp_path: Path) -> None:
    transport = httpx.ASGITransport(app=make_app(tmp_path, auth=False))
    async with httpx.AsyncClient(transport=transport, base_url=URL) as c:
        resp = await c.post("/", content=b"{}", headers={"X-Amz-Target": "SageMaker.ListClusters"})
    assert resp.status_code == 200


async def test_random_inputs_never_yield_500(http: httpx.AsyncClient) -> None:
    rng = random.Random(1234)
    atoms: list[Any] = [None, True, 0, -1, 2**63, 1.5, "", "x" * 300, "ml.c5.large", [], {}]

    def value(depth: int) -> Any:
        if depth > 3 or rng.random() < 0.4:
            return rng.choice(atoms)
        if rng.random() < 0.5:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        keys = [
            "ClusterName",
            "InstanceGroups",
            "InstanceCount",
            "InstanceType",
            "Orchestrator",
            "Eks",
            "ClusterArn",
            "KubernetesConfig",
            "Labels",
            "Taints",
            "NextToken",
            "junk",
        ]
        return {rng.choice(keys): value(depth + 1) for _ in range(rng.randint(0, 4))}

    ops = [
        "CreateCluster",
        "UpdateCluster",
        "DescribeCluster",
        "ListClusters",
        "ListClusterNodes",
        "DescribeClusterNode",
        "BatchDeleteClusterNodes",
        "DeleteCluster",
    ]
    for _ in range(300):
        body = value(0)
        if not isinstance(body, dict) and rng.random() < 0.5:
            body = {"ClusterName": body}
        resp = await call(http, rng.choice(ops), json.dumps(body).encode())
        assert resp.status_code < 500, resp.text


async def test_create_and_describe_in_process(http: httpx.AsyncClient) -> None:
    group = {
        "InstanceGroupName": "g",
        "InstanceType": "ml.c5.large",
        "InstanceCount": 1,
        "ExecutionRole": "arn:aws:iam::000000000000:role/r",
    }
    created = await call(
        http,
        "CreateCluster",
        {
            "ClusterName": "c1",
            "InstanceGroups": [group],
            "Orchestrator": {"Eks": {"ClusterArn": EKS}},
        },
    )
    assert created.status_code == 200, created.text
    arn = created.json()["ClusterArn"]
    described = (await call(http, "DescribeCluster", {"ClusterName": arn})).json()
    assert described["ClusterStatus"] == "Creating"
    assert isinstance(described["CreationTime"], int | float)
    assert described["InstanceGroups"][0]["TargetCount"] == 1
