"""What every handler is given: who is calling, where, and the services it may use."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from podwarden.model.aws.scope import regional
from podwarden.model.changes import Change
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
    notify: Callable[[Change], None]  # tell the owning reconciler desired state changed
    now: Callable[[], float]
    quotas: Quotas = field(default_factory=load_quotas)
    # who signed the request (STS GetCallerIdentity): access key and principal ARN
    access_key_id: str = ""
    principal_arn: str = ""
    preflight: Preflight | None = None

    @property
    def scope(self) -> str:
        """The scope of the caller's regional records (EKS, EC2)."""
        return regional(self.account, self.region)

    def wake(self, kind: str, key: str) -> None:
        """Desired state of ``key`` (a record of ``kind`` in this region) changed: the reconciler
        that owns ``kind`` re-reads it now rather than at its next resync. The one way a handler
        wakes a reconciler; a kind nobody reconciles is ignored."""
        self.notify(Change(kind, self.scope, key))


# A handler: the operation's validated input (botocore member names) -> its output shape
Handler = Callable[[Context, dict[str, Any]], dict[str, Any]]
# A service's operations: operation name -> handler. Every ``podwarden.control.<service>``
# package exports one as ``OPERATIONS``, merged from its modules' (``podwarden.control.registry``)
Operations = Mapping[str, Handler]
