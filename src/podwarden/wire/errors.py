"""Errors as they go on the wire, and the table from domain errors to ``(__type, HTTP status)``.

``WireError`` is what a codec raises for a request it cannot accept (``SerializationException``,
``ValidationException``, ``UnknownOperationException``) and what ``wire_error`` turns a domain
error into. The API layer renders it with the protocol's ``encode_error``.

The mapping is data: one ``Family`` per service family (``SAGEMAKER`` here, the local account's
in ``errors_eks``, ``errors_ec2``, ``errors_iam``, ``errors_sts``, ``errors_s3``,
``errors_cloudwatch``), consulted by
the error's ``reason`` first, then its class hierarchy (most specific class first), then
``COMMON``; anything else is ``InternalFailure`` (500). ``COMMON`` holds the codes AWS documents
for every service ("Common Errors" in each API reference): ``ValidationException`` (400) and
``ServiceUnavailable`` (503, "a temporary failure of the server"). SageMaker's four modeled
exceptions are HTTP 400 (the model gives them no ``httpStatusCode``); ``ValidationException`` is
not modeled in SageMaker's ``service-2.json``, which is expected: it is one of the common errors.
"""

from __future__ import annotations

from collections.abc import Mapping

from podwarden.model.errors import (
    Conflict,
    InUse,
    Invalid,
    LimitExceeded,
    NotFound,
    PodwardenError,
    TemporaryError,
)
from podwarden.wire import (
    errors_cloudwatch,
    errors_ec2,
    errors_eks,
    errors_eks_auth,
    errors_iam,
    errors_s3,
    errors_sts,
)
from podwarden.wire.error_table import Code, Family


class WireError(Exception):
    """An error response: ``code`` becomes ``__type``, ``message`` the body's message."""

    def __init__(
        self, code: str, message: str, status: int = 400, fields: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields: Mapping[str, object] = fields or {}


class UnknownOperation(WireError):
    """The service has no such operation (or there is no such service)."""

    def __init__(self, message: str) -> None:
        super().__init__("UnknownOperationException", message, 400)


INTERNAL_FAILURE = Code("InternalFailure", 500)

COMMON = Family(
    {
        Invalid: Code("ValidationException", 400),
        TemporaryError: Code("ServiceUnavailable", 503),
    }
)


def _validation(message: str) -> Code:
    return Code("ValidationException", 400, message)


SAGEMAKER = Family(
    {
        NotFound: Code("ResourceNotFound", 400),
        InUse: Code("ResourceInUse", 400),
        Conflict: Code("ConflictException", 400),
        LimitExceeded: Code("ResourceLimitExceeded", 400),
        Invalid: Code("ValidationException", 400),
        # ---- tags (control.sagemaker.tags): AddTags, ListTags and DeleteTags model no error, so
        # every refusal is the common ValidationException; the messages are podwarden's
        "tagged-resource-not-found": _validation('Could not find resource "{arn}".'),
        "too-many-tags": _validation(
            "The resource would have {count} tags; a resource can have at most {limit} tags."
        ),
        "reserved-tag-keys": _validation(
            "Tag keys starting with 'aws:' are reserved for AWS use: {keys}."
        ),
        "duplicate-tag-keys": _validation(
            "Tag keys must be unique per resource; repeated: {keys}."
        ),
        # ---- BatchAddClusterNodes (control.sagemaker.node_additions): the model gives it only
        # ResourceNotFound and ResourceLimitExceeded, so a request refused whole is the common
        # ValidationException; the messages are podwarden's
        "node-addition-not-continuous": _validation(
            "BatchAddClusterNodes is supported only for clusters whose NodeProvisioningMode is "
            "Continuous; cluster {cluster} does not use it."
        ),
        "node-addition-cluster-status": _validation(
            "Cluster {cluster} is {status}; nodes can be added while it is InService or Updating."
        ),
        "node-addition-repeated-group": _validation(
            "Each instance group may appear once in NodesToAdd; repeated: {groups}."
        ),
        "node-addition-too-many": _validation(
            "A request can add at most {limit} nodes across its instance groups; this one adds "
            "{count}."
        ),
        "node-addition-token-reused": _validation(
            "Client token {token} was already used with different parameters for "
            "BatchAddClusterNodes on cluster {cluster}."
        ),
    }
)

FAMILIES: Mapping[str, Family] = {
    "sagemaker": SAGEMAKER,
    "eks": errors_eks.EKS,
    "eks-auth": errors_eks_auth.EKS_AUTH,
    "ec2": errors_ec2.EC2,
    "iam": errors_iam.IAM,
    "sts": errors_sts.STS,
    "s3": errors_s3.S3,
    "cloudwatch": errors_cloudwatch.CLOUDWATCH,
}


def wire_error(service: str, error: PodwardenError) -> WireError:
    """The wire form of a domain error raised while serving ``service`` (e.g. "sagemaker"):
    the family's entry for the error's reason, else for its class, else the common errors'."""
    family = FAMILIES.get(service)
    found = (family.code_for(error) if family else None) or COMMON.code_for(error)
    code = found or INTERNAL_FAILURE
    details = error.details
    template = code.message
    ids = details.get("ids")
    if code.many and isinstance(ids, list | tuple) and len(ids) != 1:
        template = code.many
    if template is None:
        message = error.message
    else:
        values = {
            k: ", ".join(map(str, v)) if isinstance(v, list | tuple) else v
            for k, v in details.items()
        }
        message = template.format(**values)
    members = family.members if family else frozenset()
    fields = {k: v for k, v in details.items() if k in members}
    return WireError(code.code, message, code.status, fields)
