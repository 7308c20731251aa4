"""One kind of Kubernetes object kept current in memory by list-then-watch (an informer), for
job auto-resume: the nodes, the Kubeflow jobs' pods and the PyTorchJobs.

Each round lists the kind (replacing the whole view: the periodic resync that repairs anything
a watch missed), then watches from the list's resourceVersion until the server ends the watch
after ``timeout`` seconds. Every change, found by the watch or by the next list, is reported
as ``on_change(old, new)`` (``new`` None: deleted). Errors are logged and retried with a
bounded backoff; ``synced`` says whether a list has completed, so nothing plans from a partial
view (a node missing from a partial view would read as replaced). ``keep`` reduces each object
to what its readers use (the nodes: ``logic.node_view.health_view``), as it arrives.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from podwarden.kube.training_jobs import KubeTrainingJobs, WatchExpired
from podwarden.model.errors import PodwardenError

log = logging.getLogger("podwarden.training.auto_resume")

Change = Callable[[dict[str, Any] | None, dict[str, Any] | None], None]
Keep = Callable[[dict[str, Any]], dict[str, Any]]


def key(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


class WatchedSet:
    def __init__(
        self,
        kube: KubeTrainingJobs,
        kind: str,
        on_change: Change,
        *,
        timeout: int = 60,
        backoff: tuple[float, float] = (0.2, 10.0),
        keep: Keep | None = None,
    ) -> None:
        self.kube = kube
        self.keep = keep
        self.kind = kind
        self.on_change = on_change
        self.timeout = timeout
        self.backoff = backoff
        self.objects: dict[str, dict[str, Any]] = {}
        self._by_name: dict[str, dict[str, Any]] = {}  # ``objects`` by name, kept with it
        self.synced = False
        self._last_error = ""

    def by_name(self) -> dict[str, dict[str, Any]]:
        """The objects by name (cluster-scoped kinds: nodes), read-only: kept with ``objects``
        as events arrive, so that a pass per event does not walk every node (a pass per new
        node of a 1,000-node scale-up did, quadratic in the nodes)."""
        return self._by_name

    async def run(self) -> None:
        delay = self.backoff[0]
        while True:
            try:
                listing = await self.kube.listing(self.kind)
                self._replace(listing.items)
                self.synced, delay, self._last_error = True, self.backoff[0], ""
                version = listing.resource_version
                async for kind, obj in self.kube.watch(self.kind, version, self.timeout):
                    if kind != "BOOKMARK":
                        self._apply(kind, obj)
            except WatchExpired:
                continue  # list again at once
            except PodwardenError as exc:
                # the same error again (a plane without the Kubeflow CRDs) is not news
                level = logging.DEBUG if str(exc) == self._last_error else logging.WARNING
                self._last_error = str(exc)
                log.log(level, "auto-resume: %s (again in %.1f s)", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])

    def _replace(self, items: list[dict[str, Any]]) -> None:
        keep = self.keep
        fresh = {key(o): o for o in (map(keep, items) if keep else items)}
        for k, old in list(self.objects.items()):
            if k not in fresh:
                del self.objects[k]
                self._by_name.pop(_name(old), None)
                self.on_change(old, None)
        for k, obj in fresh.items():
            before = self.objects.get(k)
            self.objects[k] = obj
            self._by_name[_name(obj)] = obj
            if before is None or _version(before) != _version(obj):
                self.on_change(before, obj)

    def _apply(self, kind: str, obj: dict[str, Any]) -> None:
        if self.keep is not None:
            obj = self.keep(obj)
        k = key(obj)
        old = self.objects.get(k)
        if kind == "DELETED":
            self.objects.pop(k, None)
            if self._by_name.get(_name(obj)) is (old or obj):
                del self._by_name[_name(obj)]
            self.on_change(old or obj, None)
        else:
            self.objects[k] = obj
            self._by_name[_name(obj)] = obj
            self.on_change(old, obj)


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _version(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))
