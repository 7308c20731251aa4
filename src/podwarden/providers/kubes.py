"""The HyperPod reconciler's providers (``operator.providers.Providers``): each HyperPod cluster's
instances are kwok nodes on the Kubernetes behind the EKS cluster its
``Orchestrator.Eks.ClusterArn`` names (``providers.eks_target``).

One ``KubeNodes`` client, one ``LocalInstances`` (with the one watch of the HyperPod nodes),
(with the in-server agent on) one ``LocalHealthAgent`` that follows that watch and one task per
``KubeService`` per Kubernetes that hosts HyperPod nodes: the one podwarden was started with
from ``start()`` on (as before EKS clusters had planes of their own), an EKS cluster's control
plane from the first time a HyperPod cluster needs it. The EKS reconciler owns the
planes (``local.eks_planes.LocalControlPlanes.ensure``); here they are only looked up
(``running``): a plane
that is not up yet makes the pass retry (``TemporaryError``), and a plane that stopped (its
EKS cluster deleted) or came back at another address loses its client, agent and services
within ``prune_every`` seconds. ``close()`` stops every agent and service and closes every
client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from podwarden.kube.nodes import KubeNodes
from podwarden.model.cluster import Cluster
from podwarden.model.errors import TemporaryError
from podwarden.model.planes import RunningPlanes
from podwarden.providers.eks_target import eks_target
from podwarden.providers.local import LocalInstances
from podwarden.store.resources import Resources

log = logging.getLogger("podwarden.providers")

# the key of the Kubernetes podwarden was started with (plane keys are ``eks/<name>-<id8>``)
EMBEDDED = ""


class Runs(Protocol):
    async def run(self) -> None:
        """Run until cancelled."""


# the health agent for one Kubernetes (``agent.service.LocalHealthAgent``): given its client and
# the node watch of its ``LocalInstances``, which it follows instead of watching the nodes again
AgentFactory = Callable[[KubeNodes, LocalInstances], Runs]
# A service run against each Kubernetes that hosts HyperPod nodes besides the agent (the training
# simulator, job auto-resume, the HyperPod training operator): given the plane's key and its admin
# kubeconfig, a coroutine that runs until cancelled (and closes what it opened).
KubeService = Callable[[str, Path], Coroutine[Any, Any, None]]


@dataclass
class Kube:
    """One Kubernetes that hosts HyperPod nodes, with what podwarden runs against it."""

    kubeconfig: Path
    endpoint: str  # "" for the embedded one (its address never changes under us)
    nodes: KubeNodes
    instances: LocalInstances
    agent: asyncio.Task[None] | None
    services: list[asyncio.Task[None]]


class KubeProviders:
    def __init__(
        self,
        resources: Resources,
        planes: RunningPlanes,
        embedded: Path,
        agent: AgentFactory | None = None,
        *,
        services: Sequence[KubeService] = (),
        prune_every: float = 0.5,
    ) -> None:
        self.resources = resources
        self.planes = planes
        self.embedded = embedded
        self.agent = agent
        self.services = tuple(services)
        self.prune_every = prune_every
        self._kubes: dict[str, Kube] = {}
        # told which HyperPod cluster's nodes changed (None: any); the reconciler's ``wake``
        self.nodes_changed: Callable[[str | None], None] = lambda _cluster_id: None
        self._lock = asyncio.Lock()
        self._pruner: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect to the Kubernetes podwarden was started with (and start its agent)."""
        self._kubes[EMBEDDED] = await self._connect(EMBEDDED, self.embedded, "")
        self._pruner = asyncio.create_task(self._prune_loop(), name="providers-prune")

    def kube(self, key: str = EMBEDDED) -> Kube | None:
        """The connection for a plane key (EMBEDDED: the Kubernetes podwarden started with)."""
        return self._kubes.get(key)

    def cached_nodes(self) -> Iterator[dict[str, Any]]:
        """Every HyperPod node on every Kubernetes, from the node watches' caches (no I/O)."""
        for kube in list(self._kubes.values()):
            yield from kube.instances.cached()

    async def provider_for(self, cluster: Cluster) -> LocalInstances:
        target = eks_target(self.resources, cluster)
        if target is None or target.adopted:
            embedded = self._kubes.get(EMBEDDED)
            if embedded is None:
                raise RuntimeError("KubeProviders.start() was not called")
            return embedded.instances
        info = self.planes.running(target.key)
        if info is None:
            raise TemporaryError(
                f"the control plane of EKS cluster {target.name} ({target.status}) is not running"
            )
        async with self._lock:
            kube = self._kubes.get(target.key)
            if kube is not None and kube.endpoint != info.endpoint:
                await self._disconnect(target.key)
                kube = None
            if kube is None:
                kube = await self._connect(target.key, info.kubeconfig, info.endpoint)
                self._kubes[target.key] = kube
        return kube.instances

    async def prune(self) -> None:
        """Drop the connections to planes that stopped or moved (the next lookup reconnects)."""
        async with self._lock:
            for key, kube in list(self._kubes.items()):
                if key == EMBEDDED:
                    continue
                info = self.planes.running(key)
                if info is None or info.endpoint != kube.endpoint:
                    await self._disconnect(key)

    async def close(self) -> None:
        if self._pruner is not None:
            self._pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pruner
            self._pruner = None
        async with self._lock:
            for key in list(self._kubes):
                await self._disconnect(key)

    async def _prune_loop(self) -> None:
        while True:
            await asyncio.sleep(self.prune_every)
            try:
                await self.prune()
            except Exception:  # keep pruning; a failed close must not stop the others
                log.exception("pruning Kubernetes connections failed")

    def _nodes_changed(self, cluster_id: str | None) -> None:
        self.nodes_changed(cluster_id)  # looked up at each call: set after the connections

    async def _connect(self, key: str, kubeconfig: Path, endpoint: str) -> Kube:
        nodes = await KubeNodes.from_kubeconfig(kubeconfig)
        instances = LocalInstances(nodes)
        task = None
        if self.agent is not None:
            name = "health-agent" + (f" {key}" if key else "")
            task = asyncio.create_task(self.agent(nodes, instances).run(), name=name)
        suffix = f" {key}" if key else ""
        services = [
            asyncio.create_task(
                instances.watch(self._nodes_changed),
                name=f"node-watch{suffix}",
            ),
            *(
                asyncio.create_task(service(key, kubeconfig), name=f"kube-service{suffix}")
                for service in self.services
            ),
        ]
        if key:
            log.info("HyperPod nodes on %s (%s)", key, endpoint)
        return Kube(kubeconfig, endpoint, nodes, instances, task, services)

    async def _disconnect(self, key: str) -> None:
        kube = self._kubes.pop(key, None)
        if kube is None:
            return
        for task in (kube.agent, *kube.services):
            if task is None:
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # it may have died
                await task
        await kube.nodes.close()
