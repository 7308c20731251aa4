"""EKS Pod Identity associations: CreatePodIdentityAssociation, DescribePodIdentityAssociation,
ListPodIdentityAssociations, UpdatePodIdentityAssociation and DeletePodIdentityAssociation.

An association gives the pods of one service account (``namespace``/``serviceAccount``) the
credentials of an IAM role through the eks-pod-identity-agent (R13 in docs/requirements.md:
pods off hostNetwork cannot reach IMDS). Records are ``kinds.EKS_POD_IDENTITY``, keyed
``<cluster>/<associationId>`` under the cluster, and go with it
(``operator.eks.forget_cluster``). Add-ons make theirs with :func:`add_association`
(``ownerArn`` the add-on's ARN) and drop them when they go (``operator.eks.forget_addon``).

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
import secrets
import string
import uuid
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.eks import records
from podwarden.control.iam import records as iam_records
from podwarden.logic.iam_evaluation import as_list, statements_of
from podwarden.logic.iam_patterns import action_matches
from podwarden.model.aws import arns, kinds, scope
from podwarden.model.errors import Conflict, InUse, Invalid, NotFound
from podwarden.store.resources import Record

SERVICE = "pods.eks.amazonaws.com"
ID_LENGTH = 19
_ID_CHARS = string.ascii_lowercase + string.digits
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
    statements = statements_of(json.loads(trust_policy))

    def for_pods(st: dict[str, Any]) -> bool:
        principal = st.get("Principal")
        if principal == "*":
            return True
        return isinstance(principal, dict) and SERVICE in as_list(principal.get("Service"))

    def allowed(action: str) -> bool:
        hits = [
            st["Effect"]
            for st in statements
            if for_pods(st) and any(action_matches(a, action) for a in as_list(st.get("Action")))
        ]
        return "Allow" in hits and "Deny" not in hits

    needed = ["sts:assumerole", "sts:tagsession"] if tag_session else ["sts:assumerole"]
    return all(allowed(a) for a in needed)


def check_role(ctx: Context, arn: str, *, tag_session: bool = True) -> None:
    """The association's role exists (in IAM's records of its account) and trusts Pod
    Identity."""
    role = arns.parse_role(arn)
    rec = (
        None
        if role is None
        else ctx.store.resources.get(
            kinds.IAM_ROLE, scope.account_wide(role.account), iam_records.key(role.name)
        )
    )
    if rec is None or rec.doc["Arn"] != arn:
        raise NotFound(reason="role-not-found")
    if not trusts_pods(rec.doc["AssumeRolePolicyDocument"], tag_session=tag_session):
        raise Invalid(reason="role-not-trusted")


def taken(ctx: Context, cluster: str, namespace: str, service_account: str) -> Record | None:
    """The association of ``namespace``/``service_account`` in ``cluster``, if any."""
    for rec in records.children(ctx, kinds.EKS_POD_IDENTITY, cluster):
        if (rec.doc["namespace"], rec.doc["serviceAccount"]) == (namespace, service_account):
            return rec
    return None


def refuse_taken(ctx: Context, cluster: str, namespace: str, service_account: str) -> None:
    found = taken(ctx, cluster, namespace, service_account)
    if found is not None:
        raise InUse(reason="association-exists", associationId=found.doc["associationId"])


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
        "associationArn": arns.eks_child(
            ctx.region, ctx.account, "podidentityassociation", cluster, association_id
        ),
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
    key = kinds.child_key(cluster, association_id)
    # the same id drawn twice: astronomically unlikely
    taken = InUse(reason="association-exists", associationId=association_id)
    return records.create(
        ctx, kinds.EKS_POD_IDENTITY, key, doc, created=now, parent=cluster, taken=taken
    )


def get_association(ctx: Context, cluster: str, association_id: str) -> Record:
    records.get_cluster(ctx, cluster)
    if len(association_id) != ID_LENGTH:
        raise Invalid(reason="invalid-association-id", length=ID_LENGTH)
    key = kinds.child_key(cluster, association_id)
    rec = ctx.store.resources.get(kinds.EKS_POD_IDENTITY, ctx.scope, key)
    if rec is None:
        raise NotFound(
            reason="association-not-found", associationId=association_id, clusterName=cluster
        )
    return rec


def _not_owned(rec: Record, doing: str) -> None:
    owner = rec.doc.get("ownerArn")
    if owner:
        raise Conflict(
            reason="association-owned",
            doing=doing,
            associationId=rec.doc["associationId"],
            owner=owner,
            clusterName=rec.doc["clusterName"],
        )


# ---------------------------------------------------------------- handlers


def create_association(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster = params["clusterName"]
    records.require_live(records.get_cluster(ctx, cluster))
    tag_session = not params.get("disableSessionTags", False)
    check_role(ctx, params["roleArn"], tag_session=tag_session)
    extra: dict[str, Any] = {"tags": dict(params.get("tags") or {})}
    extra |= {m: params[m] for m in UPDATABLE[1:] if params.get(m) is not None}
    rec = add_association(
        ctx, cluster, params["namespace"], params["serviceAccount"], params["roleArn"], extra=extra
    )
    return {"association": records.public(rec.doc)}


def describe_association(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = get_association(ctx, params["clusterName"], params["associationId"])
    return {"association": records.public(rec.doc)}


def list_associations(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster = params["clusterName"]
    records.get_cluster(ctx, cluster)
    found = [
        summary(r.doc)
        for r in records.children(ctx, kinds.EKS_POD_IDENTITY, cluster)
        if params.get("namespace") in (None, r.doc["namespace"])
        and params.get("serviceAccount") in (None, r.doc["serviceAccount"])
    ]
    return records.page("associations", found, params)


def update_association(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = get_association(ctx, params["clusterName"], params["associationId"])
    _not_owned(rec, "update")
    changes = {m: params[m] for m in UPDATABLE if params.get(m) is not None}
    if not changes:
        raise Invalid(reason="nothing-to-update", clusterName=rec.doc["clusterName"])
    doc = {**rec.doc, **changes}
    if "roleArn" in changes or "disableSessionTags" in changes:
        check_role(ctx, doc["roleArn"], tag_session=not doc.get("disableSessionTags"))
    if changes.get("targetRoleArn") and changes["targetRoleArn"] != rec.doc.get("targetRoleArn"):
        doc["externalId"] = str(uuid.uuid4())
    doc["modifiedAt"] = ctx.now()
    rec.doc = doc
    ctx.store.resources.save(rec)
    return {"association": records.public(doc)}


def delete_association(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = get_association(ctx, params["clusterName"], params["associationId"])
    _not_owned(rec, "delete")
    ctx.store.resources.delete(kinds.EKS_POD_IDENTITY, rec.scope, rec.key)
    return {"association": records.public(rec.doc)}


OPERATIONS: Operations = {
    "CreatePodIdentityAssociation": create_association,
    "DescribePodIdentityAssociation": describe_association,
    "ListPodIdentityAssociations": list_associations,
    "UpdatePodIdentityAssociation": update_association,
    "DeletePodIdentityAssociation": delete_association,
}
