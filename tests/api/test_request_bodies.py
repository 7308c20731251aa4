"""Request bodies from the outside (issue #17 items 2, 6, 7), over real sockets to a loopback
server: a request whose declared body never fully arrives runs nothing and stores nothing; a body
over the limit is read to its end and refused in the service's own format (no reset while the
client is still sending); large bodies are handled off the event loop."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from podwarden.api import bulk
from podwarden.api.app import OFFLOAD_BYTES, PodwardenApp
from podwarden.api.body import MAX_BODY
from podwarden.api.bulk import BulkPool
from podwarden.wire.http import HttpResponse
from tests.api.aws_server import AwsServer
from tests.api.signing import FORM_CT, JSON_CT, REGION, Req, parsed_error, sign

EKS_ARN = "arn:aws:eks:us-west-2:000000000000:cluster/podwarden"
ROLE = "arn:aws:iam::000000000000:role/any"


def _raw(url: str, method: str, headers: dict[str, str], body: bytes) -> bytes:
    """Send the request head and ``body`` (whatever Content-Length says), half-close, and read
    what comes back until the server closes (bounded by the socket timeout)."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = {"Host": parts.netloc, **headers}
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in lines.items())
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(head.encode() + b"\r\n" + body)
        time.sleep(0.3)  # let the server hand what arrived to the app before the half-close
        conn.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _create_cluster_body(name: str) -> bytes:
    group = {
        "InstanceGroupName": "g",
        "InstanceType": "ml.c5.xlarge",
        "InstanceCount": 1,
        "ExecutionRole": ROLE,
        "LifeCycleConfig": {"SourceS3Uri": "s3://sagemaker-x/lc/", "OnCreate": "on_create.sh"},
    }
    doc = {
        "ClusterName": name,
        "InstanceGroups": [group],
        "Orchestrator": {"Eks": {"ClusterArn": EKS_ARN}},
    }
    return json.dumps(doc).encode()


def test_a_create_cluster_whose_body_never_arrives_creates_nothing(aws: AwsServer) -> None:
    body = _create_cluster_body("half-sent")
    req = Req(
        "sagemaker",
        "CreateCluster",
        "POST",
        "/",
        body,
        {"X-Amz-Target": "SageMaker.CreateCluster", "Content-Type": JSON_CT},
    )
    url, headers = sign(aws, req)
    headers["Content-Length"] = str(len(body) + 100)  # declared longer than sent
    answer = _raw(url, "POST", headers, body)
    assert b"200 OK" not in answer
    names = [c["ClusterName"] for c in aws.client("sagemaker").list_clusters()["ClusterSummaries"]]
    assert "half-sent" not in names
    # the same request sent whole is created: the test above could have failed
    url, headers = sign(aws, req)
    assert httpx.post(url, headers=headers, content=body).status_code == 200
    aws.client("sagemaker").delete_cluster(ClusterName="half-sent")


def test_an_s3_object_whose_body_never_arrives_is_not_stored(aws: AwsServer) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="half-body", CreateBucketConfiguration={"LocationConstraint": REGION})
    sent = b"x" * 500
    req = Req("s3", "PutObject", "PUT", "/half-body/obj", sent, {"Content-Type": "text/plain"})
    req.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    url, headers = sign(aws, req)
    headers["Content-Length"] = "1000"
    _raw(url, "PUT", headers, sent)
    assert s3.list_objects_v2(Bucket="half-body").get("KeyCount") == 0


def _too_big(aws: AwsServer, req: Req) -> httpx.Response:
    url, headers = sign(aws, req)
    with httpx.Client(timeout=60) as c:  # sends the whole body: a reset mid-send would raise
        return c.request(req.method, url, headers=headers, content=req.body)


def test_a_body_over_the_limit_is_refused_in_each_familys_format(aws: AwsServer) -> None:
    big = b"{" + b" " * MAX_BODY + b"}"
    cases = [
        (
            Req(
                "sagemaker",
                "ListClusters",
                "POST",
                "/",
                big,
                {"X-Amz-Target": "SageMaker.ListClusters", "Content-Type": JSON_CT},
            ),
            (413, "SerializationException"),
        ),
        (
            Req(
                "iam",
                "ListRoles",
                "POST",
                "/",
                urlencode(
                    {"Action": "ListRoles", "Version": "2010-05-08", "P": "x" * MAX_BODY}
                ).encode(),
                {"Content-Type": FORM_CT},
            ),
            (413, "RequestEntityTooLarge"),
        ),
        (
            Req("s3", "PutObject", "PUT", "/any-bucket/big", big, {"Content-Type": "text/plain"}),
            (400, "EntityTooLarge"),
        ),
    ]
    for req, expected in cases:
        resp = _too_big(aws, req)
        assert parsed_error(req.service, req.operation, resp) == expected, req.service


def test_large_bodies_are_handled_off_the_event_loop(tmp_path: Path) -> None:
    """The policy itself: a small request is handled on the loop's thread, a large one on a
    worker thread (what keeps the loop, and every other request, moving)."""
    from tests.api.test_app import make_app  # noqa: PLC0415 (one app builder for in-process tests)

    app: PodwardenApp = make_app(tmp_path)
    seen: list[tuple[int, bool]] = []
    loop_thread: list[threading.Thread] = []

    def handle(routed: Any, notify: object) -> HttpResponse:
        seen.append((len(routed.request.body), threading.current_thread() is loop_thread[0]))
        return HttpResponse(200)

    app._handle = handle  # type: ignore[method-assign]

    async def run() -> None:
        loop_thread.append(threading.current_thread())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1/") as c:
            headers = {"X-Amz-Target": "SageMaker.ListClusters"}
            await c.post("/", content=b"{}", headers=headers)
            await c.post("/", content=b" " * OFFLOAD_BYTES, headers=headers)

    asyncio.run(run())
    assert seen == [(2, True), (OFFLOAD_BYTES, False)]


@pytest.mark.parametrize("declared", ["12", "abc"])
def test_a_content_length_the_body_does_not_match_runs_nothing(
    aws: AwsServer, declared: str
) -> None:
    """httptools refuses a malformed length itself; a short one is an incomplete body."""
    body = b'{"ClusterName": "x"}'
    req = Req(
        "sagemaker",
        "DeleteCluster",
        "POST",
        "/",
        body,
        {"X-Amz-Target": "SageMaker.DeleteCluster", "Content-Type": JSON_CT},
    )
    url, headers = sign(aws, req)
    headers["Content-Length"] = declared
    answer = _raw(url, "POST", headers, body)
    assert b"500" not in answer.split(b"\r\n", 1)[0]


def test_bulk_work_runs_at_a_lower_priority() -> None:
    """The large-request pool's thread yields the cores to the event loop's thread."""
    pool = BulkPool()

    def priority() -> tuple[int, int]:
        me = threading.get_native_id()
        return me, os.getpriority(os.PRIO_PROCESS, me)

    async def run() -> tuple[int, int]:
        return await pool.run(priority)

    try:
        worker, nice = asyncio.run(run())
    finally:
        pool.close()
    assert worker != threading.get_native_id()
    assert nice == os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) + bulk.NICE
