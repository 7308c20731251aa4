"""The token webhook of the local account's EKS clusters: podwarden as their aws-iam-authenticator.

Each EKS control plane podwarden runs has ``--authentication-token-webhook-config-file`` pointing
at ``http://<podwarden>/podwarden/eks/authenticate/<account>/<region>/<cluster>`` (see
``local.planner``); client certificates (the admin kubeconfig) keep working beside it. For
a bearer token no other authenticator knows, the apiserver POSTs a ``TokenReview``
(``authentication.k8s.io/v1``) there and this module answers it as EKS's authenticator does
(kubernetes-sigs/aws-iam-authenticator ``pkg/server``):

1. the token must be ``aws eks get-token``'s (``wire.eks_token.verify_token``): a presigned STS
   ``GetCallerIdentity`` whose signed ``x-k8s-aws-id`` is this cluster's name, signed by a key
   podwarden knows (the static local keys and live STS session keys, the lookup the API uses;
   a session key's token must be the session's, as for API calls);
2. the signer is who GetCallerIdentity would say (``control.sts.caller``), and
   ``logic.eks_identity.identify`` maps it to a username and groups through the cluster's access
   entries (the module docstring there says what is mapped and what is not yet);
3. anything else is ``authenticated: false`` (the apiserver then answers 401 Unauthorized).

The answer is always HTTP 200 with the TokenReview (the Kubernetes webhook contract;
aws-iam-authenticator uses 403 for denials, which the apiserver treats the same). Why a token
was refused is logged at INFO, never returned to the client.

``EksAuthn.port`` tells :func:`cluster_webhook_url` where podwarden listens once uvicorn has
bound (``cli.serving.uvicorn_server`` sets it), so control planes started for EKS clusters created
through the API point at the running server even with ``--port 0``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from podwarden.control.context import Context
from podwarden.control.sts import caller as sts_caller
from podwarden.control.sts import session_credential
from podwarden.logic.eks_identity import Caller, identify
from podwarden.model.aws import kinds
from podwarden.model.aws.private import EksPlane
from podwarden.store.resources import Resources
from podwarden.store.sql import Store
from podwarden.wire.asgi import Receive, Scope, Send, cluster_post, reply_json
from podwarden.wire.eks_token import TokenError, verify_token
from podwarden.wire.sigv4 import AuthFailure, Credential

log = logging.getLogger("podwarden.eks.authn")

PREFIX = "/podwarden/eks/authenticate/"
API_VERSION = "authentication.k8s.io/v1"
MAX_REVIEW_BYTES = 64 * 1024


def webhook_url(host: str, port: int, account: str, region: str, cluster: str) -> str:
    """The URL a cluster's apiserver sends TokenReviews to (a wildcard listen address is
    reached on loopback)."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - a listen address, not a bind
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{PREFIX}{account}/{region}/{cluster}"


def cluster_webhook_url(resources: Resources, host: str, port: int, key: str) -> str | None:
    """The webhook URL of the EKS cluster whose control plane lives in ``key`` (its
    ``_podwarden.data_dir``, what ``operator.eks`` hands the control planes), or None."""
    for rec in resources.list(kinds.EKS_CLUSTER):
        if EksPlane.of(rec.key, rec.doc).key == key:
            account, region = rec.scope.split("/", 1)
            return webhook_url(host, port, account, region, rec.key)
    return None


class _NoInstanceTypes:
    def problem(self, name: str) -> str | None:
        return None


class EksAuthn:
    """The ASGI route under :data:`PREFIX` (``api.app`` dispatches to it)."""

    def __init__(
        self,
        store: Store,
        lookup: Callable[[str], Credential | None],
        now: Callable[[], float],
    ) -> None:
        self.store = store
        self.lookup = lookup
        self.now = now
        self.port: Callable[[], int | None] = lambda: None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        posted = await cluster_post(scope, receive, send, PREFIX, MAX_REVIEW_BYTES)
        if posted is None:
            return
        (account, region, cluster), body = posted
        try:
            review = json.loads(body) if body is not None else None
            token = review["spec"]["token"] if isinstance(review, dict) else None
        except (ValueError, KeyError, TypeError):
            token = None
        if not isinstance(token, str):
            await reply_json(send, 400, {"message": "expected a request body to be a TokenReview"})
            return
        status = self.review(account, region, cluster, token)
        await reply_json(
            send, 200, {"apiVersion": API_VERSION, "kind": "TokenReview", "status": status}
        )

    def review(self, account: str, region: str, cluster: str, token: str) -> dict[str, Any]:
        """The TokenReview ``status`` for ``token`` on the cluster."""
        where = f"{account}/{region}"
        rec = self.store.resources.get(kinds.EKS_CLUSTER, where, cluster)
        if rec is None or rec.doc.get("status") in ("DELETING", "FAILED"):
            return _deny(cluster, f"no live EKS cluster {cluster} in {where}")
        try:
            verified = verify_token(token, cluster, self.lookup, datetime.now(UTC))
        except (TokenError, AuthFailure) as exc:
            return _deny(cluster, str(exc))
        cred = verified.credential
        session = session_credential(self.store, cred.access_key_id, self.now())
        if session is not None and verified.session_token != session.session_token:
            return _deny(cluster, "the session token is not the access key's")
        who = sts_caller(
            Context(
                account=cred.account_id,
                region=verified.region,
                store=self.store,
                instance_types=_NoInstanceTypes(),
                notify=lambda _change: None,
                now=self.now,
                access_key_id=cred.access_key_id,
                principal_arn=cred.principal_arn,
            )
        )
        signer = Caller(who.arn, who.account, who.user_id, cred.access_key_id)
        entries = [r.doc for r in self.store.resources.list(kinds.EKS_ACCESS_ENTRY, where, cluster)]
        user = identify(signer, rec.doc, entries)
        if user is None:
            return _deny(cluster, f"ARN {signer.canonical_arn} is not mapped")
        log.info("EKS cluster %s: %s authenticated as %s", cluster, signer.arn, user.username)
        return {"authenticated": True, "user": user.to_doc()}


def _deny(cluster: str, why: str) -> dict[str, Any]:
    log.info("EKS cluster %s: access denied: %s", cluster, why)
    return {"authenticated": False, "user": {}}
