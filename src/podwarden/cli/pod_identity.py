"""EKS's credential plumbing for pods, wired for the server (``cli.server.Server``): the pod
identity webhook (``api.pod_identity_webhook``: its HTTPS listener, serving certificate and
what it asks each plane) and the Pod Identity Agent's endpoint (``api.pod_identity_agent``,
mounted on the API's port).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from podwarden.api.pod_identity_agent import PREFIX as AGENT_PREFIX
from podwarden.api.pod_identity_agent import PodIdentityAgent, credentials_url
from podwarden.api.pod_identity_webhook import (
    PlaneServiceAccounts,
    PodIdentityWebhook,
    WebhookServer,
)
from podwarden.local.eks_planes import plane_info
from podwarden.local.pki import ensure_serving_pki
from podwarden.model.aws.private import EksPlane
from podwarden.model.planes import PlaneInfo, RunningPlanes
from podwarden.store.resources import Record
from podwarden.store.sql import Store

PKI_DIR = "pod-identity-webhook"


class PodIdentity:
    """The webhook server and the agent route of one API server.

    ``planes``: the EKS clusters' running planes; ``embedded``: the kubeconfig of the Kubernetes
    the adopted cluster is; ``api``: where the API listens, ``(host, port)`` once bound (the
    agent's URL the webhook injects)."""

    def __init__(
        self,
        store: Store,
        data_root: Path,
        planes: RunningPlanes,
        embedded: Path,
        api: Callable[[], tuple[str, int] | None],
    ) -> None:
        self.planes = planes
        self.embedded = embedded
        self.api = api
        self._embedded_info: PlaneInfo | None = None
        pki = ensure_serving_pki(data_root / PKI_DIR, "podwarden-pod-identity-webhook")
        self.service_accounts = PlaneServiceAccounts(self._plane_of)
        webhook = PodIdentityWebhook(store, self.service_accounts, self._credentials_uri)
        self.server = WebhookServer(webhook, pki.serving_cert, pki.serving_key, pki.ca_cert)
        self.agent = PodIdentityAgent(store)

    @property
    def mount(self) -> tuple[str, PodIdentityAgent]:
        """The agent's route: ``services.mounts[prefix] = agent``."""
        return AGENT_PREFIX, self.agent

    def admission(self, cluster: Record, endpoint: str) -> dict[str, Any] | None:
        """The EKS reconciler's ``admission``: the plane's MutatingWebhookConfiguration."""
        return self.server.configuration(cluster, endpoint)

    async def start(self) -> None:
        await self.server.start()

    async def stop(self) -> None:
        await self.server.stop()
        await self.service_accounts.close()

    def _plane_of(self, cluster: Record) -> PlaneInfo | None:
        plane = EksPlane.of(cluster.key, cluster.doc)
        if not plane.adopted:
            return self.planes.running(plane.key)
        if self._embedded_info is None:
            self._embedded_info = plane_info(self.embedded)
        return self._embedded_info

    def _credentials_uri(self, account: str, region: str, cluster: str) -> str | None:
        where = self.api()
        return credentials_url(*where, account, region, cluster) if where else None
