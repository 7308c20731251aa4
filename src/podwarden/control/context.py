"""What every handler is given: who is calling, where, and the services it may use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from podwarden.policy.quotas import Quotas, load_quotas
from podwarden.store.sql import Store


class InstanceTypes(Protocol):
    def problem(self, name: str) -> str | None:
        """Why podwarden cannot run this instance type, or None if it can."""


# HyperPod preflight (podwarden.checks.enforce.make_preflight): refuses a Create/UpdateCluster
# request (Invalid) or returns warnings for the cluster's events; None: no preflight
Preflight = Callable[["Context", dict[str, Any]], list[str]]


@dataclass(frozen=True)
class Context:
    account: str
    region: str
    store: Store
    instance_types: InstanceTypes
    wake: Callable[[], None]  # tell the reconciler desired state changed
    now: Callable[[], float]
    quotas: Quotas = field(default_factory=load_quotas)
    # who signed the request (STS GetCallerIdentity): access key and principal ARN
    access_key_id: str = ""
    principal_arn: str = ""
    preflight: Preflight | None = None
