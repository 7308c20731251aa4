"""The EKS reconciler: makes the local account's EKS records true.

Level-triggered over ``eks:cluster`` records (``model.aws.kinds``; the transitions of their
documents are ``logic.eks_lifecycle``):

- a cluster that is not ``DELETING`` or ``FAILED`` has a running control plane (started on
  ``CREATING``, and started again after podwarden restarts); a ``CREATING`` one turns ``ACTIVE``
  with the real ``endpoint``, ``certificateAuthority`` and the apiserver's version;
- a pending update (authentication mode) is carried out and the update marked ``Successful``;
- add-ons: a ``CREATING`` or updating add-on's workloads are applied to the cluster (server-side
  apply, so repeating is harmless), then it turns ``ACTIVE``; a ``DELETING`` one's workloads are
  removed (unless ``preserve``) and its record forgotten;
- ``DELETING``: the control plane is stopped, its data directory removed, the records forgotten
  (:func:`forget_cluster`; a deleted add-on's: :func:`forget_addon`);
- an ``ACTIVE`` cluster's live state is read every few seconds and stored as ``eks:observed``
  (a ``KubeSnapshot``), the live-cluster facts of the preflight.

The default cluster ``podwarden up`` seeds is *adopted*: it is the embedded control plane that
already runs, so nothing is started or stopped for it. Control planes are behind the
``ControlPlanes`` protocol (the CLI layer provides local ones), Kubernetes objects behind
``Workloads``; a failing start marks the cluster ``FAILED`` with the reason as a health issue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from podwarden.control.eks.records import child_key
from podwarden.logic import eks_lifecycle as lifecycle
from podwarden.logic.addon_objects import workload_object
from podwarden.logic.kube_snapshot import KubeSnapshot
from podwarden.model.aws import kinds
from podwarden.model.aws.private import EksPlane, peek
from podwarden.model.errors import Conflict, PodwardenError
from podwarden.policy.eks_catalog import addon_workloads
from podwarden.store.resources import Record, Resources

log = logging.getLogger("podwarden.eks")

RESYNC_SECONDS = 2.0
# how often an ACTIVE cluster's live state is read for the preflight (``eks:observed``)
OBSERVE_SECONDS = 5.0


@dataclass(frozen=True)
class PlaneInfo:
    endpoint: str  # https://127.0.0.1:<port>
    certificate_authority: str  # base64 PEM, as kubeconfig's certificate-authority-data
    kubeconfig: Path


class ControlPlanes(Protocol):
    async def ensure(self, key: str, *, adopted: bool) -> PlaneInfo:
        """The cluster's control plane, started if it is not running (idempotent)."""

    async def remove(self, key: str, *, adopted: bool) -> None:
        """Stop the control plane and delete its data (an adopted one is left alone)."""


class Workloads(Protocol):
    async def version(self) -> str: ...

    async def snapshot(self) -> KubeSnapshot: ...

    async def apply(self, obj: dict[str, Any]) -> None: ...

    async def delete(self, kind: str, namespace: str, name: str) -> None: ...

    async def close(self) -> None: ...


WorkloadsFactory = Callable[[Path], Awaitable[Workloads]]


class EksReconciler:
    def __init__(
        self,
        resources: Resources,
        planes: ControlPlanes,
        workloads: WorkloadsFactory,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.resources = resources
        self.planes = planes
        self.workloads = workloads
        self.clock = clock
        self._wake = asyncio.Event()
        self._clients: dict[str, Workloads] = {}
        self._observed_at: dict[str, float] = {}

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            await self.reconcile_all()
            with contextlib.suppress(TimeoutError):  # not wait_for: it can lose a cancel on 3.11
                async with asyncio.timeout(RESYNC_SECONDS):
                    await self._wake.wait()

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()

    async def reconcile_all(self) -> None:
        for rec in self.resources.list(kinds.EKS_CLUSTER):
            try:
                await self.reconcile(rec)
            except Conflict:
                pass  # a handler wrote the record meanwhile: next pass
            except PodwardenError as exc:
                log.warning("EKS cluster %s: %s", rec.key, exc)
            except Exception:  # a bug must not stop the other clusters
                log.exception("EKS cluster %s failed", rec.key)

    async def reconcile(self, rec: Record) -> None:
        doc = rec.doc
        plane = EksPlane.of(rec.key, doc)
        key, adopted = plane.key, plane.adopted
        status = doc["status"]
        if status == "DELETING":
            await self._drop_client(key)
            await self.planes.remove(key, adopted=adopted)
            forget_cluster(self.resources, rec.scope, rec.key)
            self.resources.delete(kinds.EKS_OBSERVED, rec.scope, rec.key)
            self._observed_at.pop(key, None)
            return
        if status == "FAILED":
            return
        try:
            info = await self.planes.ensure(key, adopted=adopted)
        except PodwardenError as exc:
            self._fail(rec, str(exc))
            return
        client = await self._client(key, info)
        if status == "CREATING":
            lifecycle.activate_cluster(
                doc,
                endpoint=info.endpoint,
                certificate_authority=info.certificate_authority,
                kubernetes_version=await client.version(),
            )
            self.resources.save(rec)
        self._finish_update(rec)
        for addon in self.resources.list(kinds.EKS_ADDON, rec.scope, parent=rec.key):
            await self._addon(rec, addon, client)
        await self._observe(rec, key, client)

    async def _observe(self, rec: Record, key: str, client: Workloads) -> None:
        """Store the cluster's live state (DaemonSets, Deployments, Pods, ServiceAccounts
        reduced to a ``KubeSnapshot``) for the preflight, at most every ``OBSERVE_SECONDS``."""
        now = self.clock()
        if now - self._observed_at.get(key, 0.0) < OBSERVE_SECONDS:
            return
        snap = await client.snapshot()
        doc = {**snap.to_doc(), "observed_at": now}
        observed = Record(kinds.EKS_OBSERVED, rec.scope, rec.key, doc, parent="", created=now)
        self.resources.put(observed)
        self._observed_at[key] = now

    def _finish_update(self, target: Record) -> None:
        """Carry out a pending update that needs no I/O here (authentication mode, version
        within what the running apiserver is)."""
        pending = lifecycle.pending_update(target.doc)
        if not pending:
            return
        cluster = target.parent or target.key
        update = self.resources.get(kinds.EKS_UPDATE, target.scope, child_key(cluster, pending))
        if update is None:
            lifecycle.forget_update(target.doc)
        else:
            lifecycle.finish_update(target.doc, update.doc, self.clock())
            self.resources.save(update)
        self.resources.save(target)

    async def _addon(self, cluster: Record, addon: Record, client: Workloads) -> None:
        doc = addon.doc
        name = doc["addonName"]
        status = doc["status"]
        if status == "DELETING":
            if not peek(doc).get("preserve"):
                for w in addon_workloads(name, doc["addonVersion"], cluster.scope.split("/")[1]):
                    await client.delete(w["kind"], w["namespace"], w["name"])
            forget_addon(self.resources, addon.scope, cluster.key, name)
            return
        pending = lifecycle.pending_update(doc)
        if status != "CREATING" and not pending:
            return
        version = doc["addonVersion"]
        if pending:
            update = self.resources.get(
                kinds.EKS_UPDATE, addon.scope, child_key(cluster.key, pending)
            )
            if update is not None:
                version = lifecycle.pending_changes(update.doc).get("addonVersion", version)
        for w in addon_workloads(name, version, cluster.scope.split("/")[1]):
            await client.apply(workload_object(w, name))
        if pending:
            self._finish_update(addon)
        else:
            lifecycle.activate_addon(doc, self.clock())
            self.resources.save(addon)

    def _fail(self, rec: Record, reason: str) -> None:
        log.warning("EKS cluster %s failed: %s", rec.key, reason)
        lifecycle.fail_cluster(rec.doc, reason)
        with contextlib.suppress(Conflict):
            self.resources.save(rec)

    async def _client(self, key: str, info: PlaneInfo) -> Workloads:
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = await self.workloads(info.kubeconfig)
        return client

    async def _drop_client(self, key: str) -> None:
        client = self._clients.pop(key, None)
        if client is not None:
            await client.close()


def forget_addon(resources: Resources, scope: str, cluster: str, addon: str) -> None:
    """A ``DELETING`` add-on is gone: drop its record, its updates and the Pod Identity
    associations it owns (their ``ownerArn`` is the add-on's ARN)."""
    key = child_key(cluster, addon)
    rec = resources.get(kinds.EKS_ADDON, scope, key)
    if rec is not None:
        for owned in resources.list(kinds.EKS_POD_IDENTITY, scope, parent=cluster):
            if owned.doc.get("ownerArn") == rec.doc["addonArn"]:
                resources.delete(kinds.EKS_POD_IDENTITY, scope, owned.key)
    resources.delete(kinds.EKS_ADDON, scope, key)
    for update in resources.list(kinds.EKS_UPDATE, scope, parent=cluster):
        if lifecycle.updated_addon(update.doc) == addon:
            resources.delete(kinds.EKS_UPDATE, scope, update.key)


def forget_cluster(resources: Resources, scope: str, cluster: str) -> None:
    """A ``DELETING`` cluster is gone: drop it with its add-ons, access entries, updates and
    Pod Identity associations (EKS deletes add-ons, access entries and associations with the
    cluster)."""
    for kind in kinds.EKS_CHILDREN:
        for rec in resources.list(kind, scope, parent=cluster):
            resources.delete(kind, scope, rec.key)
    resources.delete(kinds.EKS_CLUSTER, scope, cluster)
