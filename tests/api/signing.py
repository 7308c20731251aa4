"""Signed requests built by hand for the endpoint tests: one request per protocol family, SigV4
signing with botocore's own signers (optionally for another service, region or key), sending
over real HTTP, and reading an error back with botocore's own parser for the service."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
from botocore.auth import S3SigV4Auth, SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]
from botocore.parsers import create_parser  # type: ignore[import-untyped]

from podwarden.cli.server import local_credentials
from podwarden.wire.models import service_model
from tests.api.aws_server import AwsServer

CRED = local_credentials()[0]
REGION = "us-west-2"
JSON_CT = "application/x-amz-json-1.1"
FORM_CT = "application/x-www-form-urlencoded; charset=utf-8"


class Req:
    """One request of a service: method, path, query, headers and body, before signing."""

    def __init__(  # noqa: PLR0917 (an HTTP request's parts, in their order)
        self,
        service: str,
        operation: str,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.service = service
        self.operation = operation
        self.method = method
        self.path = path
        self.body = body
        self.headers = dict(headers or {})


# one read-only operation per protocol family, as its client would send it
def sagemaker_list() -> Req:
    return Req(
        "sagemaker",
        "ListClusters",
        "POST",
        "/",
        b"{}",
        {"X-Amz-Target": "SageMaker.ListClusters", "Content-Type": JSON_CT},
    )


def form(service: str, action: str, version: str, **params: str) -> Req:
    body = urlencode({"Action": action, "Version": version, **params}).encode()
    return Req(service, action, "POST", "/", body, {"Content-Type": FORM_CT})


FAMILIES: dict[str, Any] = {
    "sagemaker": sagemaker_list,
    "eks": lambda: Req("eks", "ListClusters", "GET", "/clusters"),
    "iam": lambda: form("iam", "ListRoles", "2010-05-08"),
    "sts": lambda: form("sts", "GetCallerIdentity", "2011-06-15"),
    "ec2": lambda: form("ec2", "DescribeVpcs", "2016-11-15"),
    "s3": lambda: Req("s3", "ListBuckets", "GET", "/"),
}


def sign(
    server: AwsServer,
    req: Req,
    *,
    scope_service: str | None = None,
    region: str = REGION,
    key: str | None = None,
    secret: str | None = None,
    token: str | None = None,
    extra: dict[str, str] | None = None,
) -> tuple[str, dict[str, str]]:
    """The URL and headers of ``req`` signed with SigV4 for ``scope_service`` (default: its
    own); ``extra`` headers are added after signing, so the signature does not cover them."""
    url = server.endpoint + req.path
    aws_req = AWSRequest(method=req.method, url=url, data=req.body, headers=dict(req.headers))
    creds = Credentials(key or CRED.access_key_id, secret or CRED.secret_access_key, token)
    name = scope_service or req.service
    auth = S3SigV4Auth if name == "s3" else SigV4Auth
    auth(creds, name, region).add_auth(aws_req)
    headers = dict(aws_req.headers.items())
    headers.update(extra or {})
    return url, headers


def send(url: str, headers: dict[str, str], body: bytes, method: str = "POST") -> httpx.Response:
    with httpx.Client(timeout=30) as c:
        return c.request(method, url, headers=headers, content=body)


def parsed_error(service: str, operation: str, resp: httpx.Response) -> tuple[int, str]:
    """The status and error code as botocore's own parser for the service reads them."""
    model = service_model(service)
    op = model.operation_model(operation)
    parser = create_parser(model.metadata.get("protocols", [model.metadata["protocol"]])[0])
    parsed = parser.parse(
        {"status_code": resp.status_code, "headers": dict(resp.headers), "body": resp.content},
        op.output_shape,
    )
    assert resp.status_code >= 400, resp.text
    assert resp.status_code < 500, resp.text
    return resp.status_code, parsed["Error"]["Code"]
