"""The EKS Pod Identity Agent's credentials endpoint, served by podwarden on its API port.

On EKS the agent (aws/eks-pod-identity-agent, a DaemonSet on the host network) listens on the
link-local ``169.254.170.23`` (``fd00:ec2::23``) port 80 of every node, and the pod identity
webhook sets ``AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.23/v1/credentials``. That
address cannot exist on this machine without root and a link per node, so podwarden serves the
same contract on loopback: ``http://127.0.0.1:<port>/_podwarden/eks-pod-identity/<account>/
<region>/<cluster>/v1/credentials`` (:func:`credentials_url`; a path no S3 path-style request can
address, bucket names having no ``_``), which is what podwarden's webhook injects. botocore's
``ContainerProvider`` accepts any loopback address for ``AWS_CONTAINER_CREDENTIALS_FULL_URI``
over plain HTTP, so the unmodified credential chain works
(docs/sources.md, "EKS Pod Identity Agent").

The contract is the agent's (``pkg/handlers/eks_credential_handler.go``,
``internal/validation/request.go``, ``pkg/errors/errors.go``): a GET with the pod's projected
token, as read from ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE``, as the ``Authorization`` header.

* The agent runs only where the cluster has the ``eks-pod-identity-agent`` add-on (EKS: its
  DaemonSet); without it nothing answers on 169.254.170.23, and here the route answers 503
  "EKS Pod Identity Agent is not running on cluster <name>: ..." (podwarden's wording).
* The address called must be the agent's (here: a loopback host), else 403 "Access Denied.
  Called agent through invalid address, ...".
* An empty token is 400 "Service account token cannot be empty"; one that does not parse as a
  JWT 400 "Service account token cannot be parsed: ..."; one whose times are already wrong 400
  "Service account token failed basic claim validations: ...". Nothing is asked of EKS Auth.
* Otherwise AssumeRoleForPodIdentity runs in-process (``control.eks_auth``, the same handler
  boto3's ``eks-auth`` client reaches) for the agent's cluster; its refusal is answered with
  its HTTP status and ``[<request id>]: (<code>): <message>, fault: client``, as the agent passes
  EKS Auth's errors on; its credentials as the container-credentials JSON: ``AccessKeyId``,
  ``SecretAccessKey``, ``Token``, ``AccountId``, ``Expiration`` (RFC 3339).

Differences: no cache (the agent caches credentials per pod and renews them; every call here is
a fresh AssumeRoleForPodIdentity), no rate limit.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from podwarden.api.operations import OPERATIONS
from podwarden.control.context import Context
from podwarden.logic.web_identity_token import TokenRejected, parse
from podwarden.model.aws import arns, kinds
from podwarden.model.errors import PodwardenError
from podwarden.store.sql import Store
from podwarden.wire.errors import wire_error

log = logging.getLogger("podwarden.eks.pod_identity_agent")

PREFIX = "/_podwarden/eks-pod-identity"
CREDENTIALS_PATH = "/v1/credentials"
SERVICE, OPERATION = "eks-auth", "AssumeRoleForPodIdentity"
ADDON = "eks-pod-identity-agent"  # the EKS add-on whose DaemonSet is the agent
RUNNING = ("ACTIVE", "UPDATING", "DEGRADED")  # an add-on whose workloads are applied

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def credentials_url(host: str, port: int, account: str, region: str, cluster: str) -> str:
    """``AWS_CONTAINER_CREDENTIALS_FULL_URI`` of a cluster's pods (a wildcard listen address is
    reached on loopback)."""
    if host in ("", "0.0.0.0", "::", "localhost"):  # noqa: S104 - a listen address, not a bind
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{PREFIX}/{account}/{region}/{cluster}{CREDENTIALS_PATH}"


class AgentRefusal(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _NoInstanceTypes:
    def problem(self, name: str) -> str | None:
        return None


def _loopback(host_header: str) -> bool:
    host = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_token(token: str, now: float) -> None:
    """The agent's own checks before it asks EKS Auth (``validateToken``)."""
    if not token:
        raise AgentRefusal(400, "Service account token cannot be empty")
    try:
        jwt = parse(token)
    except TokenRejected as exc:
        raise AgentRefusal(
            400, f"Service account token cannot be parsed: token is malformed: {exc.message}"
        ) from None
    claims = jwt.claims
    for name, later, message in (
        ("exp", False, "token is expired"),
        ("nbf", True, "token is not valid yet"),
        ("iat", True, "token used before issued"),
    ):
        at = claims.get(name)
        if at is not None and ((float(at) > now) if later else (float(at) <= now)):
            raise AgentRefusal(
                400,
                "Service account token failed basic claim validations: token has invalid "
                f"claims: {message}",
            )


class PodIdentityAgent:
    """The ASGI route under :data:`PREFIX` (mounted by the composition root)."""

    def __init__(self, store: Store, now: Callable[[], float] = time.time) -> None:
        self.store = store
        self.now = now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        parts = scope["path"].removeprefix(PREFIX).strip("/").split("/")
        if len(parts) != 5 or "/".join(parts[3:]) != CREDENTIALS_PATH.strip("/"):
            await _text(send, 404, "404 page not found")
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        account, region, cluster = parts[:3]
        try:
            doc = self.credentials(account, region, cluster, headers)
        except AgentRefusal as refusal:
            log.info("EKS cluster %s: credentials refused: %s", cluster, refusal.message)
            await _text(send, refusal.status, refusal.message)
            return
        body = json.dumps(doc).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def credentials(
        self, account: str, region: str, cluster: str, headers: dict[str, str]
    ) -> dict[str, Any]:
        """The container-credentials document for the request, or :class:`AgentRefusal`."""
        addon = self.store.resources.get(
            kinds.EKS_ADDON, f"{account}/{region}", kinds.child_key(cluster, ADDON)
        )
        if addon is None or addon.doc.get("status") not in RUNNING:
            raise AgentRefusal(
                503,
                f"EKS Pod Identity Agent is not running on cluster {cluster}: install the "
                f"{ADDON} add-on (aws eks create-addon --cluster-name {cluster} --addon-name "
                f"{ADDON})",
            )
        host = headers.get("host", "")
        if not _loopback(host):
            raise AgentRefusal(
                403,
                "Access Denied. Called agent through invalid address, please use either "
                f"[127.0.0.1 ::1] address not {host.rsplit(':', 1)[0]}",
            )
        token = headers.get("authorization", "")
        _check_token(token, self.now())
        ctx = Context(
            account=account,
            region=region,
            store=self.store,
            instance_types=_NoInstanceTypes(),
            notify=lambda _change: None,
            now=self.now,
        )
        try:
            out = OPERATIONS[SERVICE][OPERATION](ctx, {"clusterName": cluster, "token": token})
        except PodwardenError as err:
            wire = wire_error(SERVICE, err)
            fault = "server" if wire.status >= 500 else "client"
            raise AgentRefusal(
                wire.status, f"[{uuid.uuid4()}]: ({wire.code}): {wire.message}, fault: {fault}"
            ) from err
        creds = out["credentials"]
        assumed = arns.parse(out["assumedRoleUser"]["arn"])
        return {
            "AccessKeyId": creds["accessKeyId"],
            "SecretAccessKey": creds["secretAccessKey"],
            "Token": creds["sessionToken"],
            "AccountId": assumed.account if assumed is not None else account,
            "Expiration": creds["expiration"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


async def _text(send: Send, status: int, message: str) -> None:
    """An answer as Go's ``http.Error`` writes it (the agent's refusals)."""
    body = (message + "\n").encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"x-content-type-options", b"nosniff"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
