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

from podwarden.control.aws.iam_common import ROLE, fail, get_role, key
from podwarden.control.aws.iam_roles import new_role, role_out
from podwarden.control.context import Context
from podwarden.model.errors import ServiceError
from podwarden.store.resources import Record

DELETION = "iam:slr-deletion"
_POLICY = "arn:aws:iam::aws:policy/aws-service-role/"


@dataclass(frozen=True)
class LinkedService:
    role_name: str
    policy_arn: str
    description: str | None = None
    custom_suffix: bool = False


SERVICES = {
    "hyperpod.sagemaker.amazonaws.com": LinkedService(
        "AWSServiceRoleForSageMakerHyperPod", _POLICY + "AmazonSageMakerHyperPodServiceRolePolicy"
    ),
    "sagemaker.amazonaws.com": LinkedService(
        "AWSServiceRoleForAmazonSageMakerNotebooks",
        _POLICY + "AmazonSageMakerNotebooksServiceRolePolicy",
        "AWS SageMaker Notebooks Service Linked Role",
    ),
    "eks.amazonaws.com": LinkedService(
        "AWSServiceRoleForAmazonEKS",
        _POLICY + "AmazonEKSServiceRolePolicy",
        "Allows Amazon EKS to call AWS services on your behalf.",
    ),
}


def trust_policy(service: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, separators=(",", ":"))


def _linked(service: str, suffix: str | None) -> LinkedService:
    linked = SERVICES.get(service)
    if linked is None:
        known = ", ".join(sorted(SERVICES))
        fail(
            "InvalidInput",
            f"Service {service} has no service-linked role in podwarden's IAM (known: {known}).",
        )
    if suffix and not linked.custom_suffix:
        fail("InvalidInput", f"Custom suffix is not allowed for {service}")
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
    except ServiceError as exc:
        if exc.code != "EntityAlreadyExists":
            raise
        fail(
            "InvalidInput",
            f"Service role name {name} has been taken in this account, please try a different "
            "suffix.",
        )
    return {"Role": role_out(doc, "create")}


def delete_service_linked_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    doc = get_role(ctx, params["RoleName"]).doc
    service = doc.get("ServiceName")
    if not service:
        fail("InvalidInput", f"Role {doc['RoleName']} is not a service-linked role.")
    ctx.store.resources.delete(ROLE, ctx.account, key(doc["RoleName"]))
    task = f"task/aws-service-role/{service}/{doc['RoleName']}/{uuid.uuid4()}"
    record = Record(kind=DELETION, scope=ctx.account, key=task, doc={}, created=ctx.now())
    ctx.store.resources.create(record)
    return {"DeletionTaskId": task}


def get_service_linked_role_deletion_status(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    task = params["DeletionTaskId"]
    if ctx.store.resources.get(DELETION, ctx.account, task) is None:
        fail("NoSuchEntity", f"Deletion task {task} cannot be found.")
    return {"Status": "SUCCEEDED"}


HANDLERS = {
    "CreateServiceLinkedRole": create_service_linked_role,
    "DeleteServiceLinkedRole": delete_service_linked_role,
    "GetServiceLinkedRoleDeletionStatus": get_service_linked_role_deletion_status,
}
