"""Live updates: which parts of the pages changed, announced to each open page as Server-Sent
Events (htmx's sse extension re-fetches the part named by the event).

Two sources, one per kind of state:

- the nodes: the HyperPod node watch (``providers.local.LocalInstances.watch``) calls
  :meth:`LiveChanges.nodes_changed` with the cluster whose node appeared, went, or changed its
  readiness, labels or taints, the moment its cache has the change: event ``n-<cluster id>``;
- the store: while at least one page listens, the clusters' digests (``store.digests``, a few
  aggregate queries) are compared every ``tick`` seconds: event ``c-<cluster id>`` for each
  cluster whose records changed, and ``clusters`` when any did.

Events are filtered by account: a page hears of its own account's clusters only. A burst of
changes is coalesced into one event per name (``settle``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from podwarden.store.digests import ClusterDigest

log = logging.getLogger("podwarden.dashboard")

CLUSTERS = "clusters"


def nodes_event(cluster_id: str) -> str:
    return f"n-{cluster_id}"


def records_event(cluster_id: str) -> str:
    return f"c-{cluster_id}"


@dataclass(eq=False)
class Listener:
    """One open page's stream: the event names due to it."""

    account: str
    due: set[str] = field(default_factory=set)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def tell(self, name: str) -> None:
        self.due.add(name)
        self.ready.set()

    def take(self) -> list[str]:
        names, self.due = sorted(self.due), set()
        self.ready.clear()
        return names


class LiveChanges:
    def __init__(self, digests: Callable[[], dict[str, ClusterDigest]], tick: float = 0.25) -> None:
        self.digests = digests
        self.tick = tick
        self._listeners: set[Listener] = set()
        self._last: dict[str, ClusterDigest] = {}
        self._poller: asyncio.Task[None] | None = None

    def nodes_changed(self, cluster_id: str | None) -> None:
        """The node watch's callback (None: a relist, any cluster may have changed)."""
        if not self._listeners:
            return
        ids = [cluster_id] if cluster_id else list(self._last)
        for cid in ids:
            digest = self._last.get(cid)
            if digest is not None:  # a cluster not seen yet is announced by the next poll
                self._tell(digest.account, nodes_event(cid))

    def _tell(self, account: str, name: str) -> None:
        for listener in self._listeners:
            if listener.account == account:
                listener.tell(name)

    def compare(self) -> None:
        """One poll of the store: announce what changed since the last one."""
        now = self.digests()
        changed = {cid: d for cid, d in now.items() if self._last.get(cid) != d} | {
            cid: d for cid, d in self._last.items() if cid not in now
        }
        self._last = now
        for cid, digest in changed.items():
            self._tell(digest.account, records_event(cid))
        for account in {d.account for d in changed.values()}:
            self._tell(account, CLUSTERS)

    async def _poll(self) -> None:
        while self._listeners:
            try:
                self.compare()
            except Exception:  # a busy or closing store: try again next tick
                log.exception("reading the clusters' digests failed")
            await asyncio.sleep(self.tick)

    @contextlib.asynccontextmanager
    async def listen(self, account: str) -> AsyncIterator[Listener]:
        """A listener for one page, polled for as long as any page listens."""
        listener = Listener(account)
        if not self._listeners:
            self._last = self.digests()
        self._listeners.add(listener)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(), name="dashboard-live")
        try:
            yield listener
        finally:
            self._listeners.discard(listener)
