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

from collections.abc import Mapping
from typing import Final

from podwarden.wire.cbor_errors import CborErrorCodec
from podwarden.wire.errors import UnknownOperation, WireError
from podwarden.wire.models import protocols_of, service_model
from podwarden.wire.protocols import PROTOCOLS, Codec

# (refusal, family) -> (code, status); "s3" is S3 whatever its protocol, "json" the default row
_TABLE: Final[Mapping[tuple[str, str], tuple[str, int]]] = {
    ("too_large", "s3"): ("EntityTooLarge", 400),
    ("too_large", "query"): ("RequestEntityTooLarge", 413),
    ("too_large", "ec2"): ("RequestEntityTooLarge", 413),
    ("too_large", "json"): ("SerializationException", 413),
    ("incomplete", "s3"): ("IncompleteBody", 400),
    ("incomplete", "query"): ("IncompleteBody", 400),
    ("incomplete", "ec2"): ("IncompleteBody", 400),
    ("incomplete", "json"): ("SerializationException", 400),
    ("unsupported", "s3"): ("NotImplemented", 501),  # S3's answer to what it does not implement
    ("unsupported", "query"): ("InvalidAction", 400),
    ("unsupported", "ec2"): ("InvalidAction", 400),
    ("unsupported", "json"): ("UnknownOperationException", 400),  # nothing to retry
}


def _refusal(
    kind: str, family: str, message: str, fields: Mapping[str, str] | None = None
) -> WireError:
    code, status = _TABLE.get((kind, family)) or _TABLE[(kind, "json")]
    return WireError(code, message, status, fields)


def _family(service: str) -> str:
    """``s3`` for S3, else a served service's botocore ``metadata.protocol``."""
    return "s3" if service == "s3" else str(service_model(service).metadata["protocol"])


def too_large(service: str, received: int, limit: int) -> WireError:
    if service == "s3":
        fields = {"ProposedSize": str(received), "MaxSizeAllowed": str(limit)}
        return _refusal(
            "too_large", "s3", "Your proposed upload exceeds the maximum allowed size", fields
        )
    mib = limit // (1024 * 1024)
    message = f"The request body is larger than podwarden's {mib} MiB limit."
    return _refusal("too_large", _family(service), message)


def incomplete_body(service: str, message: str) -> WireError:
    return _refusal("incomplete", _family(service), message)


def not_implemented(service: str, operation: str, family: str | None = None) -> WireError:
    """An operation of the service's model that podwarden does not serve, in ``family`` (the
    codec's: CloudWatch speaks several) or the service's own."""
    message = f"podwarden does not implement {service} {operation}."
    chosen = "s3" if service == "s3" else family or _family(service)
    return _refusal("unsupported", chosen, message)


def unknown_service(name: str) -> tuple[Codec, WireError]:
    """The codec and error for a request signed for a service podwarden does not serve."""
    message = f"podwarden does not serve the {name[:64]!r} service."
    listed = protocols_of(name)  # botocore speaks every one of these: its client uses the first
    protocol = listed[0] if listed else "json"
    if protocol == CborErrorCodec.family:
        return CborErrorCodec(), UnknownOperation(message)
    if protocol not in PROTOCOLS:
        protocol = "json"
    return PROTOCOLS[protocol], _refusal("unsupported", protocol, message)
