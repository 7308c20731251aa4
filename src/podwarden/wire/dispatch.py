"""Which service a request is for, as AWS's endpoints would know from the host name.

All services share one loopback endpoint, so the request itself has to say:

1. ``X-Amz-Target: <prefix>.<Op>`` is an awsJson service (``SageMaker`` → sagemaker);
   ``Smithy-Protocol: rpc-v2-cbor`` with a ``/service/<name>/operation/<Op>`` path is the
   Smithy RPC v2 CBOR service whose ``targetPrefix`` is ``<name>`` (CloudWatch's
   ``GraniteServiceVersion20100801``);
2. otherwise the SigV4 credential scope's signing name (``.../us-west-2/eks/aws4_request``),
   read without verifying it (verification comes next and checks the same scope); a served
   service whose signing name differs from its botocore name is found by it (``monitoring`` is
   CloudWatch);
3. an unsigned request (``--no-auth``): a query-protocol ``Version`` names the API version of
   IAM, STS, EC2 or CloudWatch; a path EKS routes is EKS; anything else is S3.

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

from podwarden.wire import cbor_protocol, rest_routes
from podwarden.wire import sigv4_canonical as canon
from podwarden.wire.errors import WireError
from podwarden.wire.http import HttpRequest
from podwarden.wire.models import protocols_of, service_model
from podwarden.wire.sigv4_parse import read_claim

QUERY_SERVICES = ("iam", "sts", "ec2", "cloudwatch")


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
    rpc_service = _rpc_v2_service(request, served)
    if rpc_service is not None:
        return Destination(rpc_service, request.path)
    query_service = _query_service(request)
    if query_service is not None:
        return Destination(query_service, "")
    if signed_for:
        signed_for = _by_signing_name(frozenset(served)).get(signed_for, signed_for)
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
    if len(listed) > 1:  # CloudWatch: a client speaks one of them, and the request shows which
        return any(_speaks(p, request) for p in listed)
    if listed[0] != "json" and service in served:  # a service podwarden speaks: its own errors
        return True
    # a JSON client that sent no X-Amz-Target (what it reads: JSON); a foreign Query or CBOR
    # client; a foreign REST service (False: the path's own service answers)
    return _speaks(listed[0], request)


@functools.cache
def _by_signing_name(served: frozenset[str]) -> dict[str, str]:
    """Served services whose signing name is not their name: ``monitoring`` -> cloudwatch."""
    named = {service_model(s).signing_name: s for s in served if protocols_of(s)}
    return {signing: s for signing, s in named.items() if signing != s}


@functools.cache
def _rpc_v2_targets(served: frozenset[str]) -> dict[str, str]:
    """The ``targetPrefix`` of each served Smithy RPC v2 CBOR service -> its name."""
    return {
        str(service_model(s).metadata["targetPrefix"]): s
        for s in served
        if protocols_of(s)[:1] == ("smithy-rpc-v2-cbor",)
    }


def _rpc_v2_service(request: HttpRequest, served: Collection[str]) -> str | None:
    """The served service an RPC v2 CBOR request's path names (its shape name, or an absolute
    shape id with ``.`` for ``#``), or None."""
    if not cbor_protocol.announced(request.headers):
        return None
    found = cbor_protocol.route(request.path)
    if found is None:
        return None
    targets = _rpc_v2_targets(frozenset(served))
    return targets.get(found.service) or targets.get(found.service.rsplit(".", 1)[-1])


def _speaks(protocol: str, request: HttpRequest) -> bool:
    """Whether the request has the shape of ``protocol`` (for a service that speaks several)."""
    if protocol == "json":
        return "json" in request.headers.get("content-type", "")
    if protocol == "smithy-rpc-v2-cbor":
        return cbor_protocol.announced(request.headers)
    if protocol in ("query", "ec2"):
        return _form_param(request, "Action") is not None
    return False


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
