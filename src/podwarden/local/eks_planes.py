"""EKS clusters of the local account as local control planes (``model.planes.ControlPlanes``).

Each non-adopted EKS cluster is a ``local.ControlPlane`` in ``<data dir>/<key>`` (the record's
``_podwarden.data_dir``, ``eks/<name>-<id8>``) with its own ports and PKI; starting one takes a
few seconds and runs in a thread. The adopted cluster is the embedded control plane of
``podwarden up`` (or the Kubernetes ``podwarden serve`` was pointed at): its endpoint and CA come
from that kubeconfig, and it is never started or stopped here.

``webhook`` gives each started plane its EKS token webhook: the URL of the running API server's
``api.eks_authn`` route for the cluster that owns ``key`` (None: no webhook, certificates only).

Each plane runs the Kubernetes release its cluster records (``local.releases``: a further minor
is built on first use, outside the lock, so other clusters' planes are not held up). ``upgrade``
moves a running plane to another release in place (``ControlPlane.upgrade``: apiserver,
controller manager, scheduler restarted on the new binaries; etcd, kwok and the training
operator keep running), and back to the release it ran if the new one does not come up.

``issuer`` gives each started plane its cluster's OIDC issuer (the record's
``identity.oidc.issuer``: ``local.planner``), and every ``PlaneInfo`` carries the plane's
service-account signing keys as its apiserver reports them (``local.signing_keys``), the
adopted plane's included, for the EKS reconciler to record (IRSA, R13).

``network`` is the cluster's IP family (``model.planes.PlaneNetwork``): an IPv6 cluster's plane
is single-stack IPv6 on ``::1`` (``local.planner``), so its endpoint is ``https://[::1]:port``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from podwarden.local.errors import LocalK8sError
from podwarden.local.releases import release_binaries, release_of
from podwarden.local.runtime import ControlPlane
from podwarden.local.signing_keys import read_signing_keys
from podwarden.model.errors import TemporaryError, TerminalError
from podwarden.model.planes import PlaneInfo, PlaneNetwork, SigningKeys


def plane_info(kubeconfig: Path) -> PlaneInfo:
    """Endpoint and CA (base64 PEM) of the current context's cluster in a kubeconfig."""
    doc: dict[str, Any] = yaml.safe_load(kubeconfig.read_text())
    current = doc.get("current-context")
    context = next(
        (c["context"] for c in doc["contexts"] if c["name"] == current),
        doc["contexts"][0]["context"],
    )
    cluster = next(c["cluster"] for c in doc["clusters"] if c["name"] == context["cluster"])
    ca = cluster.get("certificate-authority-data")
    if ca is None and cluster.get("certificate-authority"):
        ca = base64.b64encode(Path(cluster["certificate-authority"]).read_bytes()).decode()
    return PlaneInfo(
        endpoint=cluster["server"], certificate_authority=ca or "", kubeconfig=kubeconfig
    )


class LocalControlPlanes:
    def __init__(
        self,
        data_root: Path,
        embedded_kubeconfig: Path,
        webhook: Callable[[str], Awaitable[str | None]] | None = None,
        issuer: Callable[[str], str | None] | None = None,
    ) -> None:
        self.data_root = data_root
        self.embedded = embedded_kubeconfig
        self.webhook = webhook
        self.issuer = issuer
        # each plane's signing keys, read once per start (``_signed``): key -> (plane, keys)
        self._signing: dict[str, tuple[object, SigningKeys]] = {}
        self._planes: dict[str, ControlPlane] = {}
        self._releases: dict[str, str] = {}  # the Kubernetes release each started plane runs
        self._known: dict[str, tuple[ControlPlane, PlaneInfo]] = {}  # ``running``'s answers
        self._lock = asyncio.Lock()

    async def ensure(
        self,
        key: str,
        *,
        adopted: bool,
        kubernetes: str | None = None,
        network: PlaneNetwork | None = None,
    ) -> PlaneInfo:
        if adopted:
            return await self._signed(key, plane_info(self.embedded), self.embedded)
        async with self._lock:
            if (running := await self._healthy(key)) is not None:
                return await self._signed(key, plane_info(running.kubeconfig), running)
        binaries = await self._binaries(kubernetes, "start")  # maybe a build: minutes
        async with self._lock:
            plane = await self._healthy(key)
            if plane is not None:  # another pass started it meanwhile
                return await self._signed(key, plane_info(plane.kubeconfig), plane)
            url = await self.webhook(key) if self.webhook is not None else None
            plane = ControlPlane(
                self.data_root / key,
                binaries=binaries,
                token_webhook=url,
                network=network,
                issuer=self.issuer(key) if self.issuer is not None else None,
            )
            try:
                await asyncio.to_thread(plane.start)
            except LocalK8sError as exc:
                raise TerminalError(f"the cluster's control plane did not start: {exc}") from exc
            except OSError as exc:
                raise TemporaryError(f"starting the cluster's control plane: {exc}") from exc
            self._planes[key] = plane
            self._releases[key] = release_of(kubernetes)
            return await self._signed(key, plane_info(plane.kubeconfig), plane)

    async def upgrade(
        self, key: str, *, adopted: bool, kubernetes: str, network: PlaneNetwork | None = None
    ) -> PlaneInfo:
        if adopted:
            raise TerminalError(
                "the embedded control plane of `podwarden up` runs the default Kubernetes "
                "release and cannot be upgraded in place; create an EKS cluster (CreateCluster) "
                "to upgrade one"
            )
        info = await self.ensure(key, adopted=False, kubernetes=kubernetes, network=network)
        target = release_of(kubernetes)
        if self._releases.get(key) == target:
            return info
        binaries = await self._binaries(target, "upgrade")
        async with self._lock:
            plane = self._planes.get(key)
            if plane is None:
                raise TemporaryError("the cluster's control plane stopped during its upgrade")
            before = plane.plan_binaries()
            try:
                await asyncio.to_thread(plane.upgrade, binaries)
            except LocalK8sError as exc:
                with contextlib.suppress(LocalK8sError):  # back to the release it ran
                    await asyncio.to_thread(plane.upgrade, before)
                raise TerminalError(
                    f"the cluster's control plane did not come up on Kubernetes {target}: {exc}"
                ) from exc
            self._releases[key] = target
            self._signing.pop(key, None)  # a new apiserver: ask it again
            return await self._signed(key, plane_info(plane.kubeconfig), plane)

    async def _signed(self, key: str, info: PlaneInfo, owner: object) -> PlaneInfo:
        """``info`` with the plane's service-account signing keys (``local.signing_keys``), read
        from its apiserver once per start of the plane (``owner``: the ``ControlPlane``, or the
        embedded kubeconfig for the adopted plane); without them when it does not say (yet)."""
        known = self._signing.get(key)
        if known is None or known[0] is not owner:
            data_dir = info.kubeconfig.parent
            keys = await asyncio.to_thread(read_signing_keys, data_dir, info.endpoint)
            if keys is None:
                return info
            known = self._signing[key] = (owner, keys)
        return replace(info, signing=known[1])

    async def _healthy(self, key: str) -> ControlPlane | None:
        """The started plane of ``key`` if all its processes run; a broken one is stopped and
        forgotten (None). Call under the lock."""
        plane = self._planes.get(key)
        if plane is None:
            return None
        try:
            plane.check()
            return plane
        except LocalK8sError:
            await asyncio.to_thread(plane.stop)
            del self._planes[key]
            return None

    async def _binaries(self, kubernetes: str | None, doing: str) -> dict[str, Path]:
        """The binaries of a plane of ``kubernetes``, built first if a further minor's are not
        (in a thread; minutes)."""
        try:
            return await asyncio.to_thread(release_binaries, kubernetes)
        except LocalK8sError as exc:
            raise TerminalError(
                f"the cluster's control plane could not {doing} on Kubernetes "
                f"{kubernetes or 'default'}: {exc}"
            ) from exc

    def running(self, key: str) -> PlaneInfo | None:
        """The plane of ``key`` if ``ensure`` started it and it was not stopped since (a
        lookup for the HyperPod side, which never starts planes: the EKS reconciler owns
        them); None otherwise. Whether its processes are still alive is ``ensure``'s check."""
        plane = self._planes.get(key)
        if plane is None:
            return None
        known = self._known.get(key)
        if known is None or known[0] is not plane:  # read its kubeconfig once per start
            known = self._known[key] = (plane, plane_info(plane.kubeconfig))
        return known[1]

    async def remove(self, key: str, *, adopted: bool) -> None:
        if adopted:
            return
        async with self._lock:
            plane = self._planes.pop(key, None)
            self._releases.pop(key, None)
            self._signing.pop(key, None)
            if plane is not None:
                await asyncio.to_thread(plane.stop)
            target = (self.data_root / key).resolve()
            if target.is_relative_to(self.data_root.resolve()) and target != self.data_root:
                await asyncio.to_thread(shutil.rmtree, target, True)

    async def stop_all(self) -> None:
        """Stop every started plane, keeping its data (podwarden shuts down; they restart)."""
        async with self._lock:
            for plane in self._planes.values():
                await asyncio.to_thread(plane.stop)
            self._planes.clear()
