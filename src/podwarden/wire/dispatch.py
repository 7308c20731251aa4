"""Which service a request is for, as AWS's endpoints would know from the host name.

All services share one loopback endpoint, so the request itself has to say:

1. ``X-Amz-Target: <prefix>.<Op>`` is an awsJson service (``SageMaker`` → sagemaker);
2. otherwise the SigV4 credential scope's signing name (``.../us-west-2/eks/aws4_request``),
   read without verifying it (verification comes next and checks the same scope);
3. an unsigned request (``--no-auth``): a query-protocol ``Version`` names the API version of
   IAM, STS or EC2; a path EKS routes is EKS; anything else is S3.

A Query request's ``Version`` wins over the scope (:func:`destination`): the request's shape is
what its client will parse the answer with, so a scope for another service is refused in that
shape's format rather than routed elsewhere.

S3's virtual-hosted style puts the bucket in the host: ``<bucket>.localhost`` or
``<bucket>.s3.localhost`` (``*.localhost`` resolves to loopback per RFC 6761) are rewritten to
path style, ``/<bucket><path>``, before routing.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from podwarden.wire import rest_routes
from podwarden.wire import sigv4_canonical as canon
from podwarden.wire.errors import WireError
from podwarden.wire.http import HttpRequest
from podwarden.wire.models import protocols_of, service_model
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
    request: HttpRequest,
    json_targets: Mapping[str, str],
    signed_for: str | None,
    served: Collection[str],
) -> Destination | None:
    """The service the request is for, by its shape first, as its client will read the answer:
    ``X-Amz-Target`` (awsJson); a Query ``Version`` of IAM, STS or EC2; else the scope's
    signing name when the request has the shape of that service's protocol (:func:`_fits`: EKS
    and S3 share REST paths, so there the scope decides); else an EKS route, else S3. A scope
    that does not fit is ignored here and refused by the binding check in the format of the
    service the shape names."""
    target = request.headers.get("x-amz-target")
    if target is not None:
        prefix, _, op = target.partition(".")
        service = json_targets.get(prefix)
        return Destination(service, op) if service else None
    query_service = _query_service(request)
    if query_service is not None:
        return Destination(query_service, "")
    service = signed_for if signed_for and _fits(signed_for, request, served) else None
    if service is None:  # REST by path: EKS's routes, or a JSON body (S3 takes XML or bytes)
        json_body = request.headers.get("content-type", "").startswith("application/json")
        eks = json_body or rest_routes.match("eks", request) is not None
        service = "eks" if eks else "s3"
    if service == "s3":
        bucket = virtual_host_bucket(request.host)
        return Destination("s3", f"/{bucket}{request.path}" if bucket else request.path)
    return Destination(service, request.path if service == "eks" else "")


def _fits(service: str, request: HttpRequest, served: Collection[str]) -> bool:
    """Whether the request has the shape of ``service``'s protocol (its client's first)."""
    listed = protocols_of(service)
    if not listed:  # not a botocore service: JSON, if anything
        return "json" in request.headers.get("content-type", "")
    protocol = listed[0]
    if protocol == "json":  # a JSON client that sent no X-Amz-Target (what it reads: JSON)
        return "json" in request.headers.get("content-type", "")
    if service in served:  # a service podwarden speaks: its own errors say why
        return True
    if protocol in ("query", "ec2"):
        return _form_param(request, "Action") is not None
    if protocol == "smithy-rpc-v2-cbor":
        return request.headers.get("smithy-protocol") == "rpc-v2-cbor"
    return False  # a foreign REST service: the path's own service answers


def _form_param(request: HttpRequest, name: str) -> str | None:
    if request.method not in ("GET", "POST"):
        return None
    try:
        return request.form.get(name)
    except WireError:  # a body that is not a form
        return None


def _query_service(request: HttpRequest) -> str | None:
    """IAM, STS or EC2, when the request is a Query call with that API's ``Version``."""
    if request.path not in ("", "/"):  # Query APIs are called at the root; REST paths are not
        return None
    return _by_api_version().get(_form_param(request, "Version") or "")
