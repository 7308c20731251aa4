"""Service-linked roles: CreateServiceLinkedRole, DeleteServiceLinkedRole and the deletion status.

A service-linked role belongs to one AWS service: IAM names it (``AWSServiceRoleFor<...>``),
files it under ``/aws-service-role/<service principal>/``, writes its trust policy (that service
may assume it) and attaches the service's permissions policy. The table below holds what AWS
does for the services HyperPod on EKS touches; names, paths and policies are those seen in real
accounts (IAM's docs and account dumps):

- ``hyperpod.sagemaker.amazonaws.com``: ``AWSServiceRoleForSageMakerHyperPod`` with
  ``AmazonSageMakerHyperPodServiceRolePolicy`` (SageMaker's HyperPod managed-policy docs);
- ``sagemaker.amazonaws.com``: ``AWSServiceRoleForAmazonSageMakerNotebooks`` with
  ``AmazonSageMakerNotebooksServiceRolePolicy`` and the description "AWS SageMaker Notebooks
  Service Linked Role" (the role SageMaker's own principal gets; there is no
  ``AWSServiceRoleForAmazonSageMaker``);
- ``eks.amazonaws.com``: ``AWSServiceRoleForAmazonEKS`` with ``AmazonEKSServiceRolePolicy``.

A second create answers IAM's ``InvalidInput`` "Service role name ... has been taken in this
account, please try a different suffix."; a ``CustomSuffix`` for a service that takes none answers
"Custom suffix is not allowed for <service>". A service not in the table is refused with
``InvalidInput`` too (podwarden's message: it cannot know the role such a service would get).
Deletion is immediate; its task id has IAM's documented form
``task/aws-service-role/<service>/<role>/<uuid>`` and its status is ``SUCCEEDED``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.iam import records
from podwarden.control.iam.records import key
from podwarden.control.iam.roles import get_role, new_role, role_out
from podwarden.model.aws import arns, kinds
from podwarden.model.errors import InUse, Invalid, NotFound, Unsupported
from podwarden.store.resources import Record


def _service_role_policy(name: str) -> str:
    """An AWS-managed policy of service-linked roles (``.../policy/aws-service-role/<name>``)."""
    return arns.iam("aws", "policy", name, "/aws-service-role/")


@dataclass(frozen=True)
class LinkedService:
    role_name: str
    policy_arn: str
    description: str | None = None
    custom_suffix: bool = False


SERVICES = {
    "hyperpod.sagemaker.amazonaws.com": LinkedService(
        "AWSServiceRoleForSageMakerHyperPod",
        _service_role_policy("AmazonSageMakerHyperPodServiceRolePolicy"),
    ),
    "sagemaker.amazonaws.com": LinkedService(
        "AWSServiceRoleForAmazonSageMakerNotebooks",
        _service_role_policy("AmazonSageMakerNotebooksServiceRolePolicy"),
        "AWS SageMaker Notebooks Service Linked Role",
    ),
    "eks.amazonaws.com": LinkedService(
        "AWSServiceRoleForAmazonEKS",
        _service_role_policy("AmazonEKSServiceRolePolicy"),
        "Allows Amazon EKS to call AWS services on your behalf.",
    ),
}


def trust_policy(service: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, separators=(",", ":"))


def _linked(service: str, suffix: str | None) -> LinkedService:
    linked = SERVICES.get(service)
    if linked is None:
        raise Unsupported(reason="unknown-linked-service", service=service, known=sorted(SERVICES))
    if suffix and not linked.custom_suffix:
        raise Invalid(reason="custom-suffix-not-allowed", service=service)
    return linked


def create_service_linked_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    service, suffix = params["AWSServiceName"], params.get("CustomSuffix")
    linked = _linked(service, suffix)
    name = linked.role_name + (f"_{suffix}" if suffix else "")
    description = params.get("Description") or linked.description
    role = {
        "RoleName": name,
        "Path": f"/aws-service-role/{service}/",
        "AssumeRolePolicyDocument": trust_policy(service),
        "Description": description,
    }
    try:
        doc = new_role(ctx, role, ServiceName=service, Attached=[linked.policy_arn])
    except InUse as exc:
        if exc.reason != "role-exists":
            raise
        raise InUse(reason="service-role-name-taken", name=name) from None
    return {"Role": role_out(doc, "create")}


def delete_service_linked_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    doc = get_role(ctx, params["RoleName"]).doc
    service = doc.get("ServiceName")
    if not service:
        raise Invalid(reason="not-service-linked", name=doc["RoleName"])
    records.delete(ctx, kinds.IAM_ROLE, key(doc["RoleName"]))
    task = f"task/aws-service-role/{service}/{doc['RoleName']}/{uuid.uuid4()}"
    record = Record(
        kind=kinds.IAM_SLR_DELETION,
        scope=records.scope_of(ctx),
        key=task,
        doc={},
        created=ctx.now(),
    )
    ctx.store.resources.create(record)
    return {"DeletionTaskId": task}


def get_service_linked_role_deletion_status(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    task = params["DeletionTaskId"]
    if records.get(ctx, kinds.IAM_SLR_DELETION, task) is None:
        raise NotFound(reason="deletion-task-not-found", task=task)
    return {"Status": "SUCCEEDED"}


OPERATIONS: Operations = {
    "CreateServiceLinkedRole": create_service_linked_role,
    "DeleteServiceLinkedRole": delete_service_linked_role,
    "GetServiceLinkedRoleDeletionStatus": get_service_linked_role_deletion_status,
}
