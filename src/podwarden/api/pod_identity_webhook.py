"""EKS's pod identity webhook, served by podwarden to every EKS cluster's control plane.

On EKS a mutating admission webhook (aws/amazon-eks-pod-identity-webhook) gives the pods of a
service account with an IAM role their credentials' environment: IRSA's projected web identity
token and ``AWS_ROLE_ARN``, or EKS Pod Identity's container credentials. podwarden serves the
same webhook over HTTPS on 127.0.0.1 (its own port; a serving certificate from a CA of its own
made by ``local.pki.ensure_serving_pki``, the CA as ``caBundle``), at
``https://127.0.0.1:<port>/mutate/<account>/<region>/<cluster>``, and the EKS reconciler applies
each loopback control plane's MutatingWebhookConfiguration
(``logic.pod_identity_webhook.webhook_configuration``: ``failurePolicy: Ignore`` as EKS's, so a
pod created while podwarden is down is created unmutated, as on EKS while the webhook is down).

For each pod CREATE the apiserver sends an AdmissionReview; the answer is decided by
``logic.pod_identity_webhook`` from the pod, its service account's annotations (read from that
apiserver at once: EKS's webhook reads them from an informer's cache) and whether the cluster
has a Pod Identity association for the service account (the store's records, as EKS's
control plane hands them to its webhook). The container-credentials URL is podwarden's
loopback agent (``api.pod_identity_agent``), since 169.254.170.23 cannot exist here. Anything
unexpected answers "allowed, unchanged" and is logged: the webhook never blocks a pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import random
import ssl
from collections.abc import Callable, Generator, Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import uvicorn

from podwarden.kube.workloads import KubeWorkloads
from podwarden.logic import pod_identity_webhook as piw
from podwarden.model.aws import kinds
from podwarden.model.errors import PodwardenError
from podwarden.model.planes import PlaneInfo
from podwarden.store.resources import Record
from podwarden.store.sql import Store
from podwarden.wire.asgi import Receive, Scope, Send, cluster_post, reply_json

log = logging.getLogger("podwarden.eks.pod_identity_webhook")

PREFIX = "/mutate/"
MAX_REVIEW_BYTES = 8 * 1024 * 1024


def mutate_url(port: int, account: str, region: str, cluster: str) -> str:
    return f"https://127.0.0.1:{port}{PREFIX}{account}/{region}/{cluster}"


class ServiceAccounts(Protocol):
    async def annotations(
        self, cluster: Record, namespace: str, name: str
    ) -> Mapping[str, str] | None:
        """The annotations of a service account on the cluster's control plane; None when it
        does not exist. Raises ``PodwardenError`` when the plane cannot be asked."""


class PlaneServiceAccounts:
    """Service accounts read from each cluster's apiserver, one client per plane
    (``plane_of``: where the cluster record's plane runs, None while it runs nowhere); a plane
    that moved to another endpoint (restarted on other ports) gets a new client."""

    def __init__(self, plane_of: Callable[[Record], PlaneInfo | None]) -> None:
        self.plane_of = plane_of
        self._clients: dict[Path, tuple[str, KubeWorkloads]] = {}

    async def annotations(
        self, cluster: Record, namespace: str, name: str
    ) -> Mapping[str, str] | None:
        plane = self.plane_of(cluster)
        if plane is None:
            raise PodwardenError(f"the control plane of EKS cluster {cluster.key} is not running")
        client = await self._client(plane)
        sa = await client.get("ServiceAccount", namespace, name)
        if sa is None:
            return None
        return dict(sa.get("metadata", {}).get("annotations") or {})

    async def _client(self, plane: PlaneInfo) -> KubeWorkloads:
        known = self._clients.get(plane.kubeconfig)
        if known is not None and known[0] == plane.endpoint:
            return known[1]
        if known is not None:
            await known[1].close()
        client = await KubeWorkloads.from_kubeconfig(plane.kubeconfig)
        self._clients[plane.kubeconfig] = (plane.endpoint, client)
        return client

    async def close(self) -> None:
        for _, client in self._clients.values():
            await client.close()
        self._clients.clear()


class PodIdentityWebhook:
    """The ASGI app of the webhook server (:class:`WebhookServer`)."""

    def __init__(
        self,
        store: Store,
        service_accounts: ServiceAccounts,
        credentials_uri: Callable[[str, str, str], str | None],
        jitter: Callable[[int, int], int] = random.randint,
    ) -> None:
        self.store = store
        self.service_accounts = service_accounts
        self.credentials_uri = credentials_uri  # (account, region, cluster) -> the agent's URL
        self.jitter = jitter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        posted = await cluster_post(scope, receive, send, PREFIX, MAX_REVIEW_BYTES)
        if posted is None:
            return
        (account, region, cluster), body = posted
        try:
            review = json.loads(body) if body is not None else None
        except ValueError:
            review = None
        if not isinstance(review, dict) or not isinstance(review.get("request"), dict):
            await reply_json(send, 400, {"message": "expected an AdmissionReview"})
            return
        try:
            patch = await self.patch(account, region, cluster, review["request"])
        except Exception:  # never block a pod: allowed, unchanged (as failurePolicy Ignore)
            log.exception("EKS cluster %s: pod left unmutated", cluster)
            patch = None
        await reply_json(send, 200, piw.admission_response(review, patch))

    async def patch(
        self, account: str, region: str, cluster: str, request: Mapping[str, Any]
    ) -> list[dict[str, Any]] | None:
        """The JSON patch for the pod of an AdmissionReview ``request``, or None."""
        pod = request.get("object")
        rec = self.store.resources.get(kinds.EKS_CLUSTER, f"{account}/{region}", cluster)
        if not isinstance(pod, dict) or rec is None or request.get("operation") != "CREATE":
            return None
        namespace = request.get("namespace") or pod.get("metadata", {}).get("namespace") or ""
        account_name = pod.get("spec", {}).get("serviceAccountName") or "default"
        associated = any(
            (r.doc["namespace"], r.doc["serviceAccount"]) == (namespace, account_name)
            for r in self.store.resources.list(kinds.EKS_POD_IDENTITY, rec.scope, parent=cluster)
        )
        try:
            annotations = await self.service_accounts.annotations(rec, namespace, account_name)
        except PodwardenError as exc:  # as EKS's webhook with a service account not in its cache
            log.warning(
                "EKS cluster %s: service account %s/%s: %s", cluster, namespace, account_name, exc
            )
            annotations = None
        uri = self.credentials_uri(account, region, cluster) or piw.EKS_CREDENTIALS_URI
        settings = piw.WebhookSettings(region=region, credentials_uri=uri)
        config = piw.patch_config(pod, annotations, associated, settings, self.jitter)
        if config is None:
            return None
        patch, changed = piw.pod_patch(pod, config, region)
        name = pod.get("metadata", {}).get("name") or pod.get("metadata", {}).get("generateName")
        how = "Pod Identity" if config.credentials_uri else f"IRSA role {config.role_arn}"
        log.info(
            "EKS cluster %s: pod %s/%s: %s%s",
            cluster,
            namespace,
            name,
            how,
            "" if changed else " (already set)",
        )
        return patch


def is_loopback(endpoint: str) -> bool:
    """Whether an apiserver endpoint is on this machine's loopback, where it can reach the
    webhook (a Kubernetes elsewhere, ``podwarden serve --kubeconfig``, is left alone)."""
    host = urlsplit(endpoint).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(uvicorn.Server):
    """uvicorn without signal handlers: the API server's own uvicorn owns SIGINT and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class WebhookServer:
    """The webhook's HTTPS listener on 127.0.0.1 (a free port), in the server's event loop."""

    def __init__(self, app: PodIdentityWebhook, cert: Path, key: Path, ca: Path) -> None:
        self.app = app
        self.ca = ca
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            ssl_certfile=str(cert),
            ssl_keyfile=str(key),
            ssl_version=ssl.PROTOCOL_TLS_SERVER,
            lifespan="off",
            log_level="warning",
            access_log=False,
        )
        self._server = _Server(config)
        self._task: Any = None
        self.port: int | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(), name="pod-identity-webhook")
        while not self._server.started and not self._task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()  # raises why it could not start
        for srv in self._server.servers:
            for sock in srv.sockets:
                self.port = int(sock.getsockname()[1])
                return

    def configuration(self, cluster: Record, endpoint: str) -> dict[str, Any] | None:
        """The MutatingWebhookConfiguration of ``cluster``'s plane, whose apiserver is at
        ``endpoint`` (None: not on loopback, or the server has not started)."""
        if self.port is None or not is_loopback(endpoint):
            return None
        account, region = cluster.scope.split("/", 1)
        url = mutate_url(self.port, account, region, cluster.key)
        return piw.webhook_configuration(url, self.ca.read_bytes())

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(Exception):
            await self._task
        self._task = None


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
