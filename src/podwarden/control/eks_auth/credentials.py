"""AssumeRoleForPodIdentity: EKS Pod Identity's exchange of a pod's service-account token for
the credentials of its association's role (R13 in docs/requirements.md).

The EKS Pod Identity Agent calls it (SigV4, ``eks-auth``, the node role on AWS; here any
credential the API accepts) with the token projected into the pod, and hands the credentials to
the pod's AWS SDK (``api.pod_identity_agent`` is podwarden's agent). As EKS Auth does
(botocore's ``eks-auth`` model and docs; docs/sources.md, "EKS Pod Identity"), in this order,
and with nothing issued unless every check passes:

1. the cluster exists in the caller's Region (``ResourceNotFoundException``);
2. the token is that cluster's (``control.oidc_issuers.verify_cluster_token``: signed by the
   cluster's service-account key, its issuer), unexpired (``ExpiredTokenException``) and for the
   audience ``pods.eks.amazonaws.com`` (``InvalidTokenException``); it must be bound to a pod,
   as the token the kubelet projects is (podwarden's rule: the session tags and name need the
   pod);
3. the service account has an association (``ResourceNotFoundException``);
4. the association's role exists and its trust policy allows ``pods.eks.amazonaws.com``
   ``sts:AssumeRole`` and, unless ``disableSessionTags``, ``sts:TagSession``
   (``AccessDeniedException``);
5. an STS session of the role (``control.sts.issue_session``) named
   ``eks-<cluster>-<pod>-<uuid>`` (cut at STS's 64 characters) with EKS's six session tags
   (``eks-cluster-arn``, ``eks-cluster-name``, ``kubernetes-namespace``,
   ``kubernetes-service-account``, ``kubernetes-pod-name``, ``kubernetes-pod-uid``) unless the
   association disables them. With a ``targetRoleArn`` EKS assumes that role next, from the
   first role's session (its trust policy must allow that role); the credentials are the
   target's.

Decisions (podwarden's, as EKS does not say): the session lasts 6 hours or the role's
``MaxSessionDuration`` if shorter; the caller's own IAM permission
(``eks-auth:AssumeRoleForPodIdentity``) is not evaluated; conditions in trust policies are not
evaluated (as for AssumeRole); a token of a pod deleted since stays good until it expires (the
check is offline, from the signature).
"""

from __future__ import annotations

import uuid
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.eks import pod_identity
from podwarden.control.iam import records as iam_records
from podwarden.control.oidc_issuers import verify_cluster_token
from podwarden.control.sts.assume_role import issue_session, role_record, trusts
from podwarden.control.sts.identity import Caller
from podwarden.logic.web_identity_token import Problem, TokenRejected
from podwarden.model.aws import arns, kinds
from podwarden.model.errors import Denied, Invalid, NotFound
from podwarden.store.resources import Record

AUDIENCE = pod_identity.SERVICE  # pods.eks.amazonaws.com
SESSION_SECONDS = 6 * 3600
SESSION_NAME_MAX = 64  # STS's RoleSessionName limit


def _cluster(ctx: Context, name: str) -> Record:
    rec = ctx.store.resources.get(kinds.EKS_CLUSTER, ctx.scope, name)
    if rec is None or rec.doc.get("status") == "DELETING":
        raise NotFound(reason="cluster-not-found", clusterName=name)
    return rec


def _iso(epoch: float) -> str:
    return iam_records.when(epoch).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rejected(exc: TokenRejected, cluster: str, now: float) -> Exception:
    if exc.problem is Problem.EXPIRED:
        expiration = _iso(float(exc.claims.get("exp", 0)))
        return Invalid(reason="token-expired", now=_iso(now), expiration=expiration)
    if exc.problem is Problem.WRONG_AUDIENCE:
        return Invalid(reason="token-wrong-audience")
    if exc.problem in (Problem.UNKNOWN_ISSUER, Problem.NO_KEY):
        return Invalid(reason="token-other-cluster", clusterName=cluster)
    return Invalid(reason="token-invalid", why=exc.message)


def _pod(claims: Any) -> dict[str, str]:
    """Namespace, service account, pod name and uid from the token's ``kubernetes.io`` claim."""
    k8s = claims.get("kubernetes.io") if hasattr(claims, "get") else None
    k8s = k8s if isinstance(k8s, dict) else {}
    sa, pod = k8s.get("serviceaccount") or {}, k8s.get("pod") or {}
    found = {
        "namespace": k8s.get("namespace"),
        "serviceAccount": sa.get("name") if isinstance(sa, dict) else None,
        "pod": pod.get("name") if isinstance(pod, dict) else None,
        "podUid": pod.get("uid") if isinstance(pod, dict) else None,
    }
    if not all(isinstance(v, str) and v for v in found.values()):
        raise Invalid(reason="token-not-bound")
    return {k: str(v) for k, v in found.items()}


def _role(ctx: Context, arn: str) -> Record:
    rec = role_record(ctx, arn)
    if rec is None:
        raise Denied(reason="role-not-assumable", roleArn=arn, why="the role does not exist")
    return rec


def _session_tags(cluster: Record, pod: dict[str, str]) -> dict[str, str]:
    return {
        "eks-cluster-arn": str(cluster.doc["arn"]),
        "eks-cluster-name": cluster.key,
        "kubernetes-namespace": pod["namespace"],
        "kubernetes-service-account": pod["serviceAccount"],
        "kubernetes-pod-name": pod["pod"],
        "kubernetes-pod-uid": pod["podUid"],
    }


def _seconds(role: Record) -> int:
    return int(min(SESSION_SECONDS, role.doc.get("MaxSessionDuration") or SESSION_SECONDS))


def _target(ctx: Context, association: dict[str, Any], first: Record, session: str) -> Record:
    """The association's target role, which must trust the first role's session."""
    target = _role(ctx, str(association["targetRoleArn"]))
    account = first.scope
    who = Caller(
        arns.assumed_role(account, first.doc["RoleName"], session), account, "", first.doc["Arn"]
    )
    if not trusts(target.doc["AssumeRolePolicyDocument"], who):
        raise Denied(
            reason="role-not-assumable",
            roleArn=target.doc["Arn"],
            why=f"its trust policy does not allow {first.doc['Arn']} sts:AssumeRole",
        )
    return target


def assume_role_for_pod_identity(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster = _cluster(ctx, params["clusterName"])
    now = ctx.now()
    try:
        token = verify_cluster_token(
            ctx.store.resources,
            params["token"],
            now=now,
            audiences=[AUDIENCE],
            cluster=(cluster.scope, cluster.key),
        )
    except TokenRejected as exc:
        raise _rejected(exc, cluster.key, now) from None
    pod = _pod(token.claims)
    found = pod_identity.taken(ctx, cluster.key, pod["namespace"], pod["serviceAccount"])
    if found is None:
        raise NotFound(
            reason="association-not-found",
            clusterName=cluster.key,
            namespace=pod["namespace"],
            serviceAccount=pod["serviceAccount"],
        )
    association = found.doc
    tagged = not association.get("disableSessionTags")
    role = _role(ctx, str(association["roleArn"]))
    if not pod_identity.trusts_pods(role.doc["AssumeRolePolicyDocument"], tag_session=tagged):
        needs = "sts:AssumeRole and sts:TagSession" if tagged else "sts:AssumeRole"
        raise Denied(
            reason="role-not-assumable",
            roleArn=role.doc["Arn"],
            why=f"its trust policy does not allow {AUDIENCE} {needs}",
        )
    session = f"eks-{cluster.key}-{pod['pod']}-{uuid.uuid4()}"[:SESSION_NAME_MAX]
    if association.get("targetRoleArn"):
        role = _target(ctx, association, role, session)
    tags = _session_tags(cluster, pod) if tagged else None
    issued = issue_session(ctx, role, session, _seconds(role), AUDIENCE, tags=tags)
    creds, user = issued["Credentials"], issued["AssumedRoleUser"]
    return {
        "subject": {"namespace": pod["namespace"], "serviceAccount": pod["serviceAccount"]},
        "audience": AUDIENCE,
        "podIdentityAssociation": {
            "associationArn": association["associationArn"],
            "associationId": association["associationId"],
        },
        "assumedRoleUser": {"arn": user["Arn"], "assumeRoleId": user["AssumedRoleId"]},
        "credentials": {
            "sessionToken": creds["SessionToken"],
            "secretAccessKey": creds["SecretAccessKey"],
            "accessKeyId": creds["AccessKeyId"],
            "expiration": creds["Expiration"],
        },
    }


OPERATIONS: Operations = {"AssumeRoleForPodIdentity": assume_role_for_pod_identity}
