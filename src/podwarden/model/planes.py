"""EKS clusters' control planes as the reconcilers see them: where one answers, and the two
protocols the composition root implements with local processes (``local.eks_planes``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class PlaneNetwork:
    """The IP family of an EKS cluster's control plane and its Service range, from the
    cluster's ``kubernetesNetworkConfig``: ``ipv4`` planes keep the local default range
    (``service_cidr`` None); an ``ipv6`` plane is single-stack IPv6 on ``::1`` with the
    cluster's ``serviceIpv6Cidr`` (R14 in docs/requirements.md)."""

    ip_family: str = "ipv4"
    service_cidr: str | None = None

    @property
    def ipv6(self) -> bool:
        return self.ip_family == "ipv6"


@dataclass(frozen=True)
class SigningKeys:
    """What a plane's apiserver signs service-account tokens with, as it says itself:
    ``issuer`` (the tokens' ``iss``) and ``jwks`` (its ``/openid/v1/jwks``, JSON text)."""

    issuer: str
    jwks: str


@dataclass(frozen=True)
class PlaneInfo:
    endpoint: str  # https://127.0.0.1:<port> (an IPv6 plane: https://[::1]:<port>)
    certificate_authority: str  # base64 PEM, as kubeconfig's certificate-authority-data
    kubeconfig: Path
    # its service-account signing keys (IRSA's issuer keys); None: not known (yet)
    signing: SigningKeys | None = None


class ControlPlanes(Protocol):
    """What the EKS reconciler does with control planes (keys: ``model.aws.private.EksPlane``)."""

    async def ensure(
        self,
        key: str,
        *,
        adopted: bool,
        kubernetes: str | None = None,
        network: PlaneNetwork | None = None,
    ) -> PlaneInfo:
        """The cluster's control plane, started if it is not running (idempotent), on Kubernetes
        ``kubernetes`` (the exact release, ``v1.34.2``; None: the default one) with ``network``
        (None: IPv4). A running plane is left on the release it runs: changing it is
        ``upgrade``'s."""

    async def upgrade(
        self, key: str, *, adopted: bool, kubernetes: str, network: PlaneNetwork | None = None
    ) -> PlaneInfo:
        """The cluster's control plane runs Kubernetes ``kubernetes`` afterwards: one running
        another release has its apiserver, controller manager and scheduler restarted on this
        one's binaries, keeping etcd's data (idempotent). TerminalError when it cannot (the
        plane is left on the release it ran). ``network``: as ``ensure``'s, should it start."""

    async def remove(self, key: str, *, adopted: bool) -> None:
        """Stop the control plane and delete its data (an adopted one is left alone)."""


class RunningPlanes(Protocol):
    """What the providers of HyperPod instances ask: is a plane up, and where."""

    def running(self, key: str) -> PlaneInfo | None:
        """The plane's address if it is running now, else None (never starts one)."""
