"""EKS Pod Identity associations: CreatePodIdentityAssociation, DescribePodIdentityAssociation,
ListPodIdentityAssociations, UpdatePodIdentityAssociation and DeletePodIdentityAssociation.

An association gives the pods of one service account (``namespace``/``serviceAccount``) the
credentials of an IAM role through the eks-pod-identity-agent (seed R13: pods off hostNetwork
cannot reach IMDS). Records are ``eks:pod-identity`` (``eks_common``), keyed
``<cluster>/<associationId>`` under the cluster, and go with it (``forget_cluster``). Add-ons
make theirs with :func:`add_association` (``ownerArn`` the add-on's ARN) and drop them when they
go (``forget_addon``).

As EKS (botocore's model and docs, and the errors users report):

* ``associationId`` is ``a-`` and 17 lowercase letters and digits (``a-dt1bedfjc72dlwp5n``,
  awslabs/crossplane-on-eks#168); any other length is InvalidParameterException "The parameter
  associationId should be 19 characters long." (aws-samples/eks-workshop-v2#882). The ARN is
  ``arn:aws:eks:<region>:<account>:podidentityassociation/<cluster>/<id>``.
* One association per service account: a second is ResourceInUseException "Association already
  exists: <id>" (409, aws/eks-hybrid#679, eksctl-io/eksctl#7753).
* The role must exist: InvalidParameterException "Role provided in the request does not exist"
  (hashicorp/terraform-provider-aws#34717); and trust ``pods.eks.amazonaws.com`` with
  ``sts:AssumeRole`` and ``sts:TagSession`` (EKS user guide, "Create IAM role with trust policy
  required by EKS Pod Identity"), else InvalidParameterException "Trust policy of the role
  provided is invalid. Follow the official documentation to resolve the issue."
  (hashicorp/terraform-provider-aws#41483). Conditions are not evaluated.
* UpdatePodIdentityAssociation changes the role, the target role, ``disableSessionTags`` or the
  session policy, "at least one of these" (its doc); namespace and service account never move.

Decisions (podwarden's, not documented by AWS):

* ``disableSessionTags: true`` makes ``sts:TagSession`` unnecessary in the trust policy (the
  agent then tags no session).
* An association an add-on owns is changed through the add-on (UpdateAddon, DeleteAddon):
  UpdatePodIdentityAssociation and DeletePodIdentityAssociation on it are
  InvalidRequestException.
* ``targetRoleArn`` is recorded as given (cross-account roles are not looked up) with a new
  ``externalId``; messages not quoted above are podwarden's.
"""

from __future__ import annotations

import json
import re
import secrets
import string
import uuid
from collections.abc import Callable
from typing import Any

from podwarden.control.aws import iam_common
from podwarden.control.aws import iam_policy_doc as pdoc
from podwarden.control.aws.eks_common import (
    POD_IDENTITY,
    child_key,
    children,
    get_cluster,
    in_use,
    invalid_parameter,
    invalid_request,
    listing,
    not_found,
    paged,
    public,
    require_live,
    scope,
)
from podwarden.control.context import Context
from podwarden.logic.iam_patterns import action_matches
from podwarden.store.resources import Duplicate, Record

SERVICE = "pods.eks.amazonaws.com"
ID_LENGTH = 19
_ID_CHARS = string.ascii_lowercase + string.digits
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::(?P<account>[0-9]{12}):role/(?:.*/)?(?P<name>[^/]+)")
# UpdatePodIdentityAssociation members that change the association, as given
UPDATABLE = ("roleArn", "targetRoleArn", "disableSessionTags", "policy")


def new_id() -> str:
    """``a-`` and 17 lowercase letters and digits, as EKS's association ids."""
    return "a-" + "".join(secrets.choice(_ID_CHARS) for _ in range(ID_LENGTH - 2))


def summary(doc: dict[str, Any]) -> dict[str, Any]:
    """The ``PodIdentityAssociationSummary`` ListPodIdentityAssociations returns."""
    members = ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId")
    out = {m: doc[m] for m in members}
    if doc.get("ownerArn"):
        out["ownerArn"] = doc["ownerArn"]
    return out


# ---------------------------------------------------------------- checks


def trusts_pods(trust_policy: str, *, tag_session: bool = True) -> bool:
    """Whether a role's trust policy lets EKS Pod Identity (``pods.eks.amazonaws.com``) assume
    it: ``sts:AssumeRole`` and, unless ``tag_session`` is false, ``sts:TagSession`` allowed to
    that service and not denied (conditions not evaluated)."""
    statements = pdoc.statements_of(json.loads(trust_policy))

    def for_pods(st: dict[str, Any]) -> bool:
        principal = st.get("Principal")
        if principal == "*":
            return True
        return isinstance(principal, dict) and SERVICE in pdoc.as_list(principal.get("Service"))

    def allowed(action: str) -> bool:
        hits = [
            st["Effect"]
            for st in statements
            if for_pods(st)
            and any(action_matches(a, action) for a in pdoc.as_list(st.get("Action")))
        ]
        return "Allow" in hits and "Deny" not in hits

    needed = ["sts:assumerole", "sts:tagsession"] if tag_session else ["sts:assumerole"]
    return all(allowed(a) for a in needed)


def check_role(ctx: Context, arn: str, *, tag_session: bool = True) -> None:
    """The association's role exists (in IAM's records of its account) and trusts Pod
    Identity."""
    m = _ROLE_ARN.fullmatch(arn)
    rec = (
        None
        if m is None
        else ctx.store.resources.get(iam_common.ROLE, m["account"], iam_common.key(m["name"]))
    )
    if rec is None or rec.doc["Arn"] != arn:
        raise invalid_parameter("Role provided in the request does not exist")
    if not trusts_pods(rec.doc["AssumeRolePolicyDocument"], tag_session=tag_session):
        raise invalid_parameter(
            "Trust policy of the role provided is invalid. Follow the official documentation "
            "to resolve the issue."
        )


def taken(ctx: Context, cluster: str, namespace: str, service_account: str) -> Record | None:
    """The association of ``namespace``/``service_account`` in ``cluster``, if any."""
    for rec in children(ctx, POD_IDENTITY, cluster):
        if (rec.doc["namespace"], rec.doc["serviceAccount"]) == (namespace, service_account):
            return rec
    return None


def refuse_taken(ctx: Context, cluster: str, namespace: str, service_account: str) -> None:
    found = taken(ctx, cluster, namespace, service_account)
    if found is not None:
        raise in_use(f"Association already exists: {found.doc['associationId']}")


# ---------------------------------------------------------------- records


def add_association(
    ctx: Context,
    cluster: str,
    namespace: str,
    service_account: str,
    role_arn: str,
    *,
    owner: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Record:
    """Store a new association (the caller has checked the cluster and the role)."""
    refuse_taken(ctx, cluster, namespace, service_account)
    now = ctx.now()
    association_id = new_id()
    doc: dict[str, Any] = {
        "clusterName": cluster,
        "namespace": namespace,
        "serviceAccount": service_account,
        "roleArn": role_arn,
        "associationArn": f"arn:aws:eks:{ctx.region}:{ctx.account}:podidentityassociation/"
        f"{cluster}/{association_id}",
        "associationId": association_id,
        "tags": {},
        "createdAt": now,
        "modifiedAt": now,
        "disableSessionTags": False,
        **(extra or {}),
    }
    if owner:
        doc["ownerArn"] = owner
    if doc.get("targetRoleArn"):
        doc["externalId"] = str(uuid.uuid4())
    rec = Record(POD_IDENTITY, scope(ctx), child_key(cluster, association_id), doc, parent=cluster)
    rec.created = now
    try:
        return ctx.store.resources.create(rec)
    except Duplicate:  # the same id drawn twice: astronomically unlikely
        raise in_use(f"Association already exists: {association_id}") from None


def get_association(ctx: Context, cluster: str, association_id: str) -> Record:
    get_cluster(ctx, cluster)
    if len(association_id) != ID_LENGTH:
        raise invalid_parameter(
            f"The parameter associationId should be {ID_LENGTH} characters long."
        )
    rec = ctx.store.resources.get(POD_IDENTITY, scope(ctx), child_key(cluster, association_id))
    if rec is None:
        raise not_found(
            f"No Pod Identity Association found with id {association_id} in cluster {cluster}.",
            clusterName=cluster,
        )
    return rec


def _not_owned(rec: Record, doing: str) -> None:
    owner = rec.doc.get("ownerArn")
    if owner:
        raise invalid_request(
            f"Cannot {doing} Pod Identity Association {rec.doc['associationId']}: it is owned "
            f"by the add-on {owner}; change it with UpdateAddon or DeleteAddon.",
            clusterName=rec.doc["clusterName"],
        )


# ---------------------------------------------------------------- handlers


def create_association(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster = params["clusterName"]
    require_live(get_cluster(ctx, cluster))
    tag_session = not params.get("disableSessionTags", False)
    check_role(ctx, params["roleArn"], tag_session=tag_session)
    extra: dict[str, Any] = {"tags": dict(params.get("tags") or {})}
    extra |= {m: params[m] for m in UPDATABLE[1:] if params.get(m) is not None}
    rec = add_association(
        ctx, cluster, params["namespace"], params["serviceAccount"], params["roleArn"], extra=extra
    )
    return {"association": public(rec.doc)}


def describe_association(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = get_association(ctx, params["clusterName"], params["associationId"])
    return {"association": public(rec.doc)}


def list_associations(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster = params["clusterName"]
    get_cluster(ctx, cluster)
    found = [
        summary(r.doc)
        for r in children(ctx, POD_IDENTITY, cluster)
        if params.get("namespace") in (None, r.doc["namespace"])
        and params.get("serviceAccount") in (None, r.doc["serviceAccount"])
    ]
    items, token = paged(found, params)
    return listing("associations", items, token)


def update_association(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = get_association(ctx, params["clusterName"], params["associationId"])
    _not_owned(rec, "update")
    changes = {m: params[m] for m in UPDATABLE if params.get(m) is not None}
    if not changes:
        raise invalid_parameter(
            "Specify at least one of roleArn, targetRoleArn, disableSessionTags or policy.",
            clusterName=rec.doc["clusterName"],
        )
    doc = {**rec.doc, **changes}
    if "roleArn" in changes or "disableSessionTags" in changes:
        check_role(ctx, doc["roleArn"], tag_session=not doc.get("disableSessionTags"))
    if changes.get("targetRoleArn") and changes["targetRoleArn"] != rec.doc.get("targetRoleArn"):
        doc["externalId"] = str(uuid.uuid4())
    doc["modifiedAt"] = ctx.now()
    rec.doc = doc
    ctx.store.resources.save(rec)
    return {"association": public(doc)}


def delete_association(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = get_association(ctx, params["clusterName"], params["associationId"])
    _not_owned(rec, "delete")
    ctx.store.resources.delete(POD_IDENTITY, rec.scope, rec.key)
    return {"association": public(rec.doc)}


HANDLERS: dict[str, Callable[[Context, dict[str, Any]], dict[str, Any]]] = {
    "CreatePodIdentityAssociation": create_association,
    "DescribePodIdentityAssociation": describe_association,
    "ListPodIdentityAssociations": list_associations,
    "UpdatePodIdentityAssociation": update_association,
    "DeletePodIdentityAssociation": delete_association,
}
