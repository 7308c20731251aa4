"""The EKS reconciler: makes the local account's EKS records true, one cluster at a time.

Level-triggered over ``eks:cluster`` records (``model.aws.kinds``): each pass plans with
``logic.eks_plan`` (the transitions of the documents are ``logic.eks_lifecycle``) and applies
the plan here; passes are driven by ``operator.queue`` (a handler's ``ctx.wake``, the plan's own
requeue for the next reading of live state, a slow resync). What a pass does:

- a cluster that is not ``DELETING`` or ``FAILED`` has a running control plane (started on
  ``CREATING``, and started again after podwarden restarts); a ``CREATING`` one turns ``ACTIVE``
  with the real ``endpoint``, ``certificateAuthority`` and the apiserver's version;
- a pending update is carried out and the update marked ``Successful``; a ``VersionUpdate``
  first moves the control plane to the target release for real (``ControlPlanes.upgrade``:
  apiserver, controller manager and scheduler restarted on that release's binaries, etcd's data
  and the nodes kept) and checks the apiserver reports the target minor; if not, the update is
  ``Failed`` and the cluster ``ACTIVE`` on the release it ran;
- add-ons: a ``CREATING`` or updating add-on's workloads are applied to the cluster (server-side
  apply, so repeating is harmless), then it turns ``ACTIVE``; a ``DELETING`` one's workloads are
  removed (unless ``preserve``) and its record forgotten;
- ``DELETING``: the control plane is stopped, its data directory removed, the records forgotten
  (:func:`forget_cluster`; a deleted add-on's: :func:`forget_addon`);
- an ``ACTIVE`` cluster's live state is read every few seconds and stored as ``eks:observed``
  (a ``KubeSnapshot``), the live-cluster facts of the preflight: ``Workloads.snapshot`` reads
  caches that watch the plane (``kube.inspect.LiveSnapshot``), not a LIST of every pod, and the
  record is written when the snapshot differs from the one stored last;
- with ``admission`` (the pod identity webhook, ``api.pod_identity_webhook``), ensuring the plane
  also applies its MutatingWebhookConfiguration, once per plane start and webhook address (a
  failure is logged and tried again on the next pass).
- what the plane's apiserver signs service-account tokens with (``PlaneInfo.signing``) is kept in
  the cluster's private state, and an adopted cluster's issuer is its plane's
  (``logic.oidc_issuer.record_signing_keys``): STS verifies IRSA tokens with it.

The default cluster ``podwarden up`` seeds is *adopted*: it is the embedded control plane that
already runs, so nothing is started or stopped for it. Control planes are behind the
``ControlPlanes`` protocol (``model.planes``; ``local.eks_planes`` provides local ones),
Kubernetes objects behind ``Workloads``; a failing start marks the cluster ``FAILED`` with the
reason as a health issue.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from podwarden.logic import eks_lifecycle as lifecycle
from podwarden.logic import eks_plan as ep
from podwarden.logic.addon_objects import workload_object
from podwarden.logic.kube_snapshot import KubeSnapshot
from podwarden.logic.oidc_issuer import record_signing_keys
from podwarden.model.aws import kinds
from podwarden.model.aws.private import EksPlane
from podwarden.model.aws.scope import Region
from podwarden.model.changes import Change
from podwarden.model.errors import Conflict, PodwardenError, TerminalError
from podwarden.model.planes import ControlPlanes, PlaneInfo
from podwarden.operator.queue import WorkQueue, drive
from podwarden.policy.eks_catalog import addon_workloads
from podwarden.store.resources import Record, Resources

log = logging.getLogger("podwarden.eks")

# a safety net: wake-ups and each plan's requeue drive the passes
RESYNC_SECONDS = 30.0
# how often an ACTIVE cluster's live state is read for the preflight (``eks:observed``)
OBSERVE_SECONDS = 5.0
WORKERS = 4
Key = tuple[str, str]  # (scope, cluster name)


class Workloads(Protocol):
    async def version(self) -> str: ...

    async def snapshot(self) -> KubeSnapshot: ...

    async def apply(self, obj: dict[str, Any]) -> None: ...

    async def delete(self, kind: str, namespace: str, name: str) -> None: ...

    async def close(self) -> None: ...


WorkloadsFactory = Callable[[Path], Awaitable[Workloads]]
# the MutatingWebhookConfiguration a cluster's plane (at its endpoint) gets, or None
Admission = Callable[[Record, str], dict[str, Any] | None]


@dataclass
class _Pass:
    """What one pass over a cluster has read and reached."""

    cluster: Record
    addons: dict[str, Record]
    updates: dict[str, Record]
    plane: EksPlane
    info: PlaneInfo | None = None
    client: Workloads | None = None

    @property
    def region(self) -> str:
        return Region.of_scope(self.cluster.scope).region

    def target(self, addon: str | None) -> Record:
        return self.cluster if addon is None else self.addons[addon]


class EksReconciler:
    def __init__(
        self,
        resources: Resources,
        planes: ControlPlanes,
        workloads: WorkloadsFactory,
        clock: Callable[[], float] = time.time,
        admission: Admission | None = None,
    ) -> None:
        self.resources = resources
        self.planes = planes
        self.workloads = workloads
        self.clock = clock
        self.admission = admission
        self._admitted: dict[str, str] = {}  # plane key -> what was applied there, and where
        self.queue: WorkQueue[Key] = WorkQueue()
        self._clients: dict[str, Workloads] = {}
        self._observed_at: dict[str, float] = {}
        self._stored: dict[str, KubeSnapshot] = {}  # plane key -> the eks:observed it wrote

    def wake(self, change: Change | None = None) -> None:
        """An EKS record changed (``change.key``: its cluster's name); None: every cluster."""
        if change is None:
            for key in self.all_keys():
                self.queue.add(key)
        else:
            self.queue.add((change.scope, change.key))

    def all_keys(self) -> list[Key]:
        return [(r.scope, r.key) for r in self.resources.list(kinds.EKS_CLUSTER)]

    def failed(self, key: Key, error: TerminalError) -> None:
        rec = self.resources.get(kinds.EKS_CLUSTER, *key)
        if rec is not None:
            self._fail(rec, error.message)

    async def run(self) -> None:
        await drive(self, self.queue, workers=WORKERS, resync=RESYNC_SECONDS, name="EKS cluster")

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()

    async def reconcile(self, key: Key) -> float | None:
        """One pass over the cluster ``key``; seconds until it wants the next."""
        scope, name = key
        rec = self.resources.get(kinds.EKS_CLUSTER, scope, name)
        if rec is None:
            return None
        addons = self.resources.list(kinds.EKS_ADDON, scope, parent=name)
        updates = self.resources.list(kinds.EKS_UPDATE, scope, parent=name)
        state = _Pass(
            rec,
            {a.doc["addonName"]: a for a in addons},
            {u.doc["id"]: u for u in updates},
            EksPlane.of(name, rec.doc),
        )
        plan = ep.plan_eks_cluster(
            rec.doc,
            [a.doc for a in addons],
            {i: u.doc for i, u in state.updates.items()},
            observed_at=self._observed_at.get(state.plane.key),
            now=self.clock(),
            observe_every=OBSERVE_SECONDS,
        )
        for action in plan.actions:
            if not await self._apply(state, action):
                return None
        return plan.requeue_after

    async def _apply(self, state: _Pass, action: ep.Action) -> bool:
        """Carry out one action; False ends the pass (the plane could not start)."""
        match action:
            case ep.Step.ENSURE_PLANE:
                return await self._ensure(state)
            case ep.Step.STOP_PLANE:
                await self._drop_client(state.plane.key)
                await self.planes.remove(state.plane.key, adopted=state.plane.adopted)
            case ep.Step.FORGET_CLUSTER:
                forget_cluster(self.resources, state.cluster.scope, state.cluster.key)
                self.resources.delete(kinds.EKS_OBSERVED, state.cluster.scope, state.cluster.key)
                self._observed_at.pop(state.plane.key, None)
                self._stored.pop(state.plane.key, None)
            case ep.Step.ACTIVATE_CLUSTER:
                await self._activate(state)
            case ep.Step.OBSERVE:
                await self._observe(state)
            case ep.UpgradePlane(kubernetes, update_id):
                return await self._upgrade(state, kubernetes, update_id)
            case ep.FinishUpdate(addon, update_id):
                self._finish_update(state, addon, update_id)
            case ep.Addon():
                await self._addon(state, action)
        return True

    def _finish_update(self, state: _Pass, addon: str | None, update_id: str | None) -> None:
        target = state.target(addon)
        if update_id is None:
            lifecycle.forget_update(target.doc)
        else:
            update = state.updates[update_id]
            lifecycle.finish_update(target.doc, update.doc, self.clock())
            self.resources.save(update)
        self.resources.save(target)

    async def _addon(self, state: _Pass, action: ep.Addon) -> None:
        client = state.client
        assert client is not None, "add-on actions come after ENSURE_PLANE"
        name, version = action.name, action.version
        match action.step:
            case ep.AddonStep.APPLY:
                for w in addon_workloads(name, version, state.region):
                    await client.apply(workload_object(w, name))
            case ep.AddonStep.REMOVE:
                for w in addon_workloads(name, version, state.region):
                    await client.delete(w["kind"], w["namespace"], w["name"])
            case ep.AddonStep.FORGET:
                forget_addon(self.resources, state.cluster.scope, state.cluster.key, name)
            case ep.AddonStep.ACTIVATE:
                addon = state.addons[name]
                lifecycle.activate_addon(addon.doc, self.clock())
                self.resources.save(addon)

    async def _upgrade(self, state: _Pass, kubernetes: str, update_id: str) -> bool:
        """Move the plane to ``kubernetes`` for the update ``update_id``; False (the update
        failed, the pass ends) when the plane cannot or its apiserver reports another minor."""
        plane, name = state.plane, state.cluster.key
        log.info("EKS cluster %s: control plane to Kubernetes %s (%s)", name, kubernetes, update_id)
        try:
            state.info = await self.planes.upgrade(
                plane.key, adopted=plane.adopted, kubernetes=kubernetes, network=plane.network
            )
            assert state.client is not None, "UpgradePlane comes after ENSURE_PLANE"
            running = await state.client.version()
        except TerminalError as exc:
            reason = exc.message
        else:
            if lifecycle.same_minor(running, kubernetes):
                log.info("EKS cluster %s: control plane runs Kubernetes %s", name, running)
                return True
            reason = f"the control plane reports Kubernetes {running}, not {kubernetes}"
        log.warning("EKS cluster %s: version update %s failed: %s", name, update_id, reason)
        update = state.updates[update_id]
        lifecycle.fail_update(state.cluster.doc, update.doc, self.clock(), "Unknown", reason)
        self.resources.save(update)
        self.resources.save(state.cluster)
        return False

    async def _ensure(self, state: _Pass) -> bool:
        try:
            plane = state.plane
            state.info = await self.planes.ensure(
                plane.key, adopted=plane.adopted, kubernetes=plane.kubernetes, network=plane.network
            )
        except PodwardenError as exc:
            self._fail(state.cluster, str(exc))
            return False
        state.client = await self._client(state.plane.key, state.info)
        self._record_signing(state)
        await self._admit(state)
        return True

    def _record_signing(self, state: _Pass) -> None:
        """Keep the plane's service-account signing keys (and an adopted cluster's issuer) in
        the cluster's document, where STS verifies IRSA tokens (``control.oidc_issuers``)."""
        signing = state.info.signing if state.info is not None else None
        if signing is None:
            return
        jwks = json.loads(signing.jwks)
        doc = state.cluster.doc
        if record_signing_keys(doc, signing.issuer, jwks, adopted=state.plane.adopted):
            self.resources.save(state.cluster)

    async def _admit(self, state: _Pass) -> None:
        """Apply the plane's admission webhook configuration unless this plane, at this
        endpoint, has it already."""
        assert state.info is not None and state.client is not None
        obj = self.admission(state.cluster, state.info.endpoint) if self.admission else None
        if obj is None:
            return
        mark = state.info.endpoint + json.dumps(obj, sort_keys=True)
        if self._admitted.get(state.plane.key) == mark:
            return
        try:
            await state.client.apply(obj)
        except PodwardenError as exc:
            log.warning("EKS cluster %s: admission webhook not applied: %s", state.cluster.key, exc)
            return
        self._admitted[state.plane.key] = mark

    async def _activate(self, state: _Pass) -> None:
        assert state.info is not None and state.client is not None
        lifecycle.activate_cluster(
            state.cluster.doc,
            endpoint=state.info.endpoint,
            certificate_authority=state.info.certificate_authority,
            kubernetes_version=await state.client.version(),
        )
        self.resources.save(state.cluster)

    async def _observe(self, state: _Pass) -> None:
        """Store the cluster's live state (DaemonSets, Deployments, Pods, ServiceAccounts
        reduced to a ``KubeSnapshot``) for the preflight, unless it is what this reconciler
        stored last (``observed_at``: when the stored state was first seen)."""
        assert state.client is not None, "OBSERVE comes after ENSURE_PLANE"
        now, key = self.clock(), state.plane.key
        snap = await state.client.snapshot()
        if self._stored.get(key) != snap:
            doc = {**snap.to_doc(), "observed_at": now}
            rec = state.cluster
            self.resources.put(Record(kinds.EKS_OBSERVED, rec.scope, rec.key, doc, created=now))
            self._stored[key] = snap
        self._observed_at[key] = now

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
        self._admitted.pop(key, None)
        client = self._clients.pop(key, None)
        if client is not None:
            await client.close()


def forget_addon(resources: Resources, scope: str, cluster: str, addon: str) -> None:
    """A ``DELETING`` add-on is gone: drop its record, its updates and the Pod Identity
    associations it owns (their ``ownerArn`` is the add-on's ARN)."""
    key = kinds.child_key(cluster, addon)
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
