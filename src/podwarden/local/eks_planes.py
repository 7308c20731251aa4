"""EKS clusters of the local account as local control planes (``model.planes.ControlPlanes``).

Each non-adopted EKS cluster is a ``local.ControlPlane`` in ``<data dir>/<key>`` (the record's
``_podwarden.data_dir``, ``eks/<name>-<id8>``) with its own ports and PKI; starting one takes a
few seconds and runs in a thread. The adopted cluster is the embedded control plane of
``podwarden up`` (or the Kubernetes ``podwarden serve`` was pointed at): its endpoint and CA come
from that kubeconfig, and it is never started or stopped here.

``webhook`` gives each started plane its EKS token webhook: the URL of the running API server's
``api.eks_authn`` route for the cluster that owns ``key`` (None: no webhook, certificates only).
"""

from __future__ import annotations

import asyncio
import base64
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from podwarden.local.errors import LocalK8sError
from podwarden.local.runtime import ControlPlane
from podwarden.model.errors import TemporaryError, TerminalError
from podwarden.model.planes import PlaneInfo


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
    ) -> None:
        self.data_root = data_root
        self.embedded = embedded_kubeconfig
        self.webhook = webhook
        self._planes: dict[str, ControlPlane] = {}
        self._known: dict[str, tuple[ControlPlane, PlaneInfo]] = {}  # ``running``'s answers
        self._lock = asyncio.Lock()

    async def ensure(self, key: str, *, adopted: bool) -> PlaneInfo:
        if adopted:
            return plane_info(self.embedded)
        async with self._lock:
            plane = self._planes.get(key)
            if plane is not None:
                try:
                    plane.check()
                    return plane_info(plane.kubeconfig)
                except LocalK8sError:
                    await asyncio.to_thread(plane.stop)
                    del self._planes[key]
            url = await self.webhook(key) if self.webhook is not None else None
            plane = ControlPlane(self.data_root / key, token_webhook=url)
            try:
                await asyncio.to_thread(plane.start)
            except LocalK8sError as exc:
                raise TerminalError(f"the cluster's control plane did not start: {exc}") from exc
            except OSError as exc:
                raise TemporaryError(f"starting the cluster's control plane: {exc}") from exc
            self._planes[key] = plane
            return plane_info(plane.kubeconfig)

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
