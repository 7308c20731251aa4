"""Which service a request is for, as AWS's endpoints would know from the host name.

All services share one loopback endpoint, so the request itself has to say:

1. ``X-Amz-Target: <prefix>.<Op>`` is an awsJson service (``SageMaker`` → sagemaker);
2. otherwise the SigV4 credential scope's signing name (``.../us-west-2/eks/aws4_request``),
   read without verifying it (verification comes next and checks the same scope);
3. an unsigned request (``--no-auth``): a query-protocol ``Version`` names the API version of
   IAM, STS or EC2; a path EKS routes is EKS; anything else is S3.

S3's virtual-hosted style puts the bucket in the host: ``<bucket>.localhost`` or
``<bucket>.s3.localhost`` (``*.localhost`` resolves to loopback per RFC 6761) are rewritten to
path style, ``/<bucket><path>``, before routing.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from podwarden.wire import rest_routes
from podwarden.wire import sigv4_canonical as canon
from podwarden.wire.http import HttpRequest
from podwarden.wire.models import service_model
from podwarden.wire.protocols import form_params
from podwarden.wire.sigv4_parse import read_claim

QUERY_SERVICES = ("iam", "sts", "ec2")


@dataclass(frozen=True)
class Destination:
    service: str  # botocore's service name
    target: str  # awsJson: the operation; REST: the path to route; query: ""


@functools.cache
def _by_api_version() -> dict[str, str]:
    return {service_model(s).api_version: s for s in QUERY_SERVICES}


def signing_name(request: HttpRequest) -> str | None:
    try:
        return read_claim(
            request.query_string, canon.group_headers(request.headers.items())
        ).service
    except Exception:
        return None


def virtual_host_bucket(host: str) -> str | None:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if not name.endswith(".localhost"):
        return None
    bucket = name.removesuffix(".localhost").removesuffix(".s3")
    return bucket or None


def destination(
    request: HttpRequest, json_targets: Mapping[str, str], signed_for: str | None
) -> Destination | None:
    target = request.headers.get("x-amz-target")
    if target:
        prefix, _, op = target.partition(".")
        service = json_targets.get(prefix)
        return Destination(service, op) if service else None
    service = signed_for or _unsigned_service(request)
    if service == "s3":
        bucket = virtual_host_bucket(request.host)
        return Destination("s3", f"/{bucket}{request.path}" if bucket else request.path)
    if service is None:
        return None
    return Destination(service, request.path if service == "eks" else "")


def _unsigned_service(request: HttpRequest) -> str | None:
    version = form_params(request).get("Version") if request.method in ("GET", "POST") else None
    if version in _by_api_version():
        return _by_api_version()[version]
    if rest_routes.match("eks", request) is not None:
        return "eks"
    return "s3"
