"""EKS clusters' control planes as the reconcilers see them: where one answers, and the two
protocols the composition root implements with local processes (``local.eks_planes``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class PlaneInfo:
    endpoint: str  # https://127.0.0.1:<port>
    certificate_authority: str  # base64 PEM, as kubeconfig's certificate-authority-data
    kubeconfig: Path


class ControlPlanes(Protocol):
    """What the EKS reconciler does with control planes (keys: ``model.aws.private.EksPlane``)."""

    async def ensure(self, key: str, *, adopted: bool, kubernetes: str | None = None) -> PlaneInfo:
        """The cluster's control plane, started if it is not running (idempotent), on Kubernetes
        ``kubernetes`` (the exact release, ``v1.34.2``; None: the default one). A running plane
        is left on the release it runs: changing it is ``upgrade``'s."""

    async def upgrade(self, key: str, *, adopted: bool, kubernetes: str) -> PlaneInfo:
        """The cluster's control plane runs Kubernetes ``kubernetes`` afterwards: one running
        another release has its apiserver, controller manager and scheduler restarted on this
        one's binaries, keeping etcd's data (idempotent). TerminalError when it cannot (the
        plane is left on the release it ran)."""

    async def remove(self, key: str, *, adopted: bool) -> None:
        """Stop the control plane and delete its data (an adopted one is left alone)."""


class RunningPlanes(Protocol):
    """What the providers of HyperPod instances ask: is a plane up, and where."""

    def running(self, key: str) -> PlaneInfo | None:
        """The plane's address if it is running now, else None (never starts one)."""
