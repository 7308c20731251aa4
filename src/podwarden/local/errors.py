"""Errors of the local control plane: each one says what failed and what to do about it."""

from __future__ import annotations


class LocalK8sError(RuntimeError):
    """Base class: the local Kubernetes control plane could not be built, started or used."""


class BinariesNotFound(LocalK8sError):
    """A Kubernetes binary podwarden needs is neither in PODWARDEN_K8S_ASSETS nor in the cache."""


class GoToolchainError(LocalK8sError):
    """Go is missing or too old to build the pinned Kubernetes binaries."""


class ComponentFailed(LocalK8sError):
    """A component of the control plane exited or never became ready."""

    def __init__(self, component: str, reason: str, log_tail: str) -> None:
        self.component = component
        self.reason = reason
        self.log_tail = log_tail
        tail = log_tail.rstrip() or "(log is empty)"
        super().__init__(f"{component} {reason}; last lines of its log:\n{tail}")
