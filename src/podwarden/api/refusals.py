"""Refusals the app makes before any handler runs, each in the format the client will parse.

A client parses errors with its own service's protocol, so a refusal has to be worded per
protocol family: awsJson (SageMaker), rest-json (EKS), query (IAM, STS), ec2, and S3's rest-xml.
The codes are AWS's where AWS's are known and otherwise podwarden's own (documented here):

* **Too large** (podwarden's limit is :data:`podwarden.api.body.MAX_BODY`): S3 answers
  ``EntityTooLarge`` 400 "Your proposed upload exceeds the maximum allowed size" with
  ``ProposedSize`` and ``MaxSizeAllowed`` (S3's documented error, for its own 5 GiB limit); the
  other families answer 413 ``RequestEntityTooLarge`` (query, ec2: the code AWS's front ends use)
  or ``SerializationException`` (awsJson, rest-json: the code those services give a body they
  cannot take). The exact AWS answers for SageMaker, EKS, IAM, STS and EC2 are not public.
* **Incomplete body** (a ``Content-Length`` the body does not match): S3's ``IncompleteBody``
  400; ``IncompleteBody``/``SerializationException`` elsewhere (podwarden's choice).
* **A service podwarden does not serve** (a credential scope naming ``acm-pca``, a made-up name):
  answered in the protocol that service's client uses (the first its botocore model lists:
  Smithy RPC v2 CBOR included, :mod:`podwarden.wire.cbor_errors`), awsJson for a name botocore
  does not know; ``UnknownOperationException`` (JSON families),
  ``InvalidAction`` (query, ec2), ``NotImplemented`` 501 (rest-xml, which botocore does not
  retry).
"""

from __future__ import annotations

from podwarden.wire.cbor_errors import CborErrorCodec
from podwarden.wire.errors import UnknownOperation, WireError
from podwarden.wire.models import protocols_of, service_model
from podwarden.wire.protocols import PROTOCOLS, Codec


def family(service: str) -> str:
    """The protocol family of a served service: its botocore ``metadata.protocol``."""
    return str(service_model(service).metadata["protocol"])


def too_large(service: str, received: int, limit: int) -> WireError:
    mib = limit // (1024 * 1024)
    message = f"The request body is larger than podwarden's {mib} MiB limit."
    if service == "s3":
        return WireError(
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
            400,
            {"ProposedSize": str(received), "MaxSizeAllowed": str(limit)},
        )
    if family(service) in ("query", "ec2"):
        return WireError("RequestEntityTooLarge", message, 413)
    return WireError("SerializationException", message, 413)


def incomplete_body(service: str, message: str) -> WireError:
    if service == "s3" or family(service) in ("query", "ec2"):
        return WireError("IncompleteBody", message, 400)
    return WireError("SerializationException", message, 400)


def not_implemented(service: str, operation: str) -> WireError:
    """An operation of the service's model that podwarden does not serve. Never a 5xx that
    botocore would retry: S3 answers 501 NotImplemented (not retried), others a 400."""
    message = f"podwarden does not implement {service} {operation}."
    return _unsupported(service, family(service), message)


def unknown_service(name: str) -> tuple[Codec, WireError]:
    """The codec and error for a request signed for a service podwarden does not serve."""
    message = f"podwarden does not serve the {name[:64]!r} service."
    listed = protocols_of(name)  # botocore speaks every one of these: its client uses the first
    protocol = listed[0] if listed else "json"
    if protocol == CborErrorCodec.family:
        return CborErrorCodec(), UnknownOperation(message)
    if protocol not in PROTOCOLS:
        protocol = "json"
    return PROTOCOLS[protocol], _unsupported(name, protocol, message)


def _unsupported(service: str, protocol: str, message: str) -> WireError:
    if service == "s3":  # S3's own answer to functionality it does not implement
        return WireError("NotImplemented", message, 501)
    if protocol in ("query", "ec2"):
        return WireError("InvalidAction", message)
    return UnknownOperation(message)  # 400: nothing a client should retry
