"""Local instances: each HyperPod instance is a kwok-managed Node on the target cluster.

Launching an instance creates its Node (kwok makes it Ready and keeps its heartbeat);
terminating deletes it. The instance records themselves live in podwarden's store.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from podwarden.kube.informer import OnEvent, node_informer
from podwarden.kube.nodes import KubeNodes
from podwarden.kube.pods import KubePods
from podwarden.logic.node_spec import registered
from podwarden.model.cluster import DeepCheck
from podwarden.model.errors import NotFound
from podwarden.model.labels import (
    AGENT_TAINT_KEYS,
    CLUSTER_ID,
    DEEP_HEALTH,
    FAULT_DETAILS,
    FAULT_REASONS,
    FAULT_TYPES,
    HEALTH,
    HEALTH_TAINT_EFFECT,
    HEALTH_TAINT_VALUE,
    IMAGE_RELEASE,
    PENDING_REBOOT,
    PENDING_REPLACEMENT,
    SCHEDULABLE,
)

log = logging.getLogger("podwarden.providers.local")

# what the cluster reconciler reads of a node (``operator.instances.observe``): readiness,
# labels, taints. A change to anything else (kwok's heartbeats) wakes nobody.
Seen = tuple[bool, tuple[tuple[str, str], ...], tuple[tuple[str, str, str], ...]]


def seen(node: dict[str, Any]) -> Seen:
    conditions = node.get("status", {}).get("conditions") or []
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    labels = tuple(sorted((node["metadata"].get("labels") or {}).items()))
    taints = tuple(
        (str(t.get("key")), str(t.get("value")), str(t.get("effect")))
        for t in node.get("spec", {}).get("taints") or []
    )
    return ready, labels, taints


class LocalInstances:
    def __init__(self, nodes: KubeNodes) -> None:
        self._nodes = nodes
        self._pods = KubePods(nodes.api)
        self._cache = node_informer(nodes.api, CLUSTER_ID)  # every HyperPod node
        self._seen: dict[str, Seen] = {}
        # told of every event and (re)list of the watch (the simulated health agent, which reads
        # whole nodes from the cache): one watch of the nodes per Kubernetes, however many read it
        self._listeners: list[tuple[OnEvent, Callable[[], None]]] = []

    async def watch(self, changed: Callable[[str | None], None]) -> None:
        """Keep a watched cache of the HyperPod nodes, until cancelled. ``changed(cluster_id)``
        when one of a cluster's nodes appears, goes, or changes what the reconciler reads of it;
        ``changed(None)`` after each (re)list, which may have missed changes of every cluster."""

        def on_event(kind: str, node: dict[str, Any]) -> None:
            for listener, _ in list(self._listeners):
                _tell(listener, kind, node)
            meta = node["metadata"]
            now = None if kind == "DELETED" else seen(node)
            if self._seen.get(meta["name"]) == now:
                return
            if now is None:
                self._seen.pop(meta["name"], None)
            else:
                self._seen[meta["name"]] = now
            changed((meta.get("labels") or {}).get(CLUSTER_ID))

        def on_list() -> None:
            self._seen = {n["metadata"]["name"]: seen(n) for n in self._cache.objects.values()}
            changed(None)
            for _, listener in list(self._listeners):
                _tell(listener)

        await self._cache.run(lambda: None, on_event, on_list)

    def listen(self, on_event: OnEvent, on_list: Callable[[], None]) -> Callable[[], None]:
        """Be told of every event of the node watch (``on_event``) and after each (re)list
        (``on_list``; at once when the watch has listed already), from ``watch``'s task and
        without blocking it; returns the call that stops it (``agent.service.WatchedNodes``)."""
        entry = (on_event, on_list)
        self._listeners.append(entry)
        if self._cache.synced.is_set():
            _tell(on_list)

        def stop() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(entry)

        return stop

    async def drain(self, name: str) -> int:
        """Evict the node's pods (DaemonSet pods stay, as with ``kubectl drain``); returns how
        many evictions were accepted. Best effort: a disruption budget may refuse some."""
        evicted = 0
        for pod in await self._workload(name):
            if await self._pods.evict(pod["metadata"]["namespace"], pod["metadata"]["name"]):
                evicted += 1
        return evicted

    async def _workload(self, name: str) -> list[dict[str, Any]]:
        """The node's pods that a drain evicts: not DaemonSet pods, not those already gone
        (terminating pods count until they are)."""
        return [
            pod
            for pod in await self._pods.on_node(name)
            if not any(
                o.get("kind") == "DaemonSet" for o in pod["metadata"].get("ownerReferences") or []
            )
            and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")
        ]

    async def workload_pods(self, name: str) -> int:
        """How many pods a drain of the node still has to evict."""
        return len(await self._workload(name))

    async def prepare_update(self, name: str) -> None:
        """Take the node out of service for a software update: quarantined as for a reboot
        (the update ends in one), its pods evicted (those a disruption budget keeps now are
        asked again on the next pass)."""
        await self._leaving(name, PENDING_REBOOT)
        await self.drain(name)

    async def reimage(self, name: str, release: str, at: str) -> None:
        """The drained node boots on ``release``: it carries the release and reports NotReady
        until the re-image is done (``booted``)."""
        await self._nodes.patch(name, {"metadata": {"labels": {IMAGE_RELEASE: release}}})
        await self._nodes.patch_status(name, {"status": {"conditions": [_ready(False, at)]}})

    def cached(self) -> list[dict[str, Any]]:
        """Every HyperPod node as the watch last saw it (none before its first list); no I/O."""
        return list(self._cache.objects.values())

    async def nodes_of(self, cluster_id: str) -> list[dict[str, Any]]:
        """The cluster's nodes: from the watched cache once it has listed, else listed now."""
        if self._cache.synced.is_set():
            return [
                n
                for n in self._cache.objects.values()
                if (n["metadata"].get("labels") or {}).get(CLUSTER_ID) == cluster_id
            ]
        return await self._nodes.list(f"{CLUSTER_ID}={cluster_id}")

    async def launch(self, manifest: dict[str, Any]) -> None:
        await self._nodes.create(manifest)

    async def update(self, name: str, patch: dict[str, Any]) -> None:
        await self._nodes.patch(name, patch)

    async def booted(self, name: str, at: str) -> None:
        """The instance is up again: its node reports Ready (kwok keeps the heartbeat) and, back
        from a reboot, gets a clean slate: health label Schedulable, no fault labels, details or
        quarantine taint (a fault that persists is detected again). Until now the quarantine
        kept the scheduler off it, for the whole reboot.

        A node its kubelet has not registered yet (a new instance's, moments after it was
        created) is left to the kubelet, kwok, which makes it Ready when it registers it: a
        Ready posted first would stop kwok from ever registering it (its ``node-initialize``
        stage takes only nodes that are not Ready), and the node would have no address, so the
        apiserver could not reach its kubelet (``kubectl logs``, ``hyp get-logs``). The next
        pass, woken when kwok makes the node Ready, finds it Ready."""
        node = await self._nodes.get(name)
        if not registered(node):
            return
        await self._nodes.patch_status(name, {"status": {"conditions": [_ready(True, at)]}})
        if (node["metadata"].get("labels") or {}).get(HEALTH, SCHEDULABLE) == SCHEDULABLE:
            return
        taints = [
            t for t in node.get("spec", {}).get("taints") or [] if t["key"] not in AGENT_TAINT_KEYS
        ]
        await self._nodes.patch(
            name,
            {
                "metadata": {
                    "labels": {HEALTH: SCHEDULABLE, FAULT_TYPES: None, FAULT_REASONS: None},
                    "annotations": {FAULT_DETAILS: None},
                },
                "spec": {"taints": taints},
            },
        )

    async def _leaving(self, name: str, health: str) -> None:
        """Mark a node as leaving service before its pods are evicted: the recovery label and
        the quarantine taint, as the agent sets them for a fault. A recovery requested through
        the API (BatchReboot/BatchReplaceClusterNodes, or a node removed) then looks to job
        auto-resume exactly like an automatic one, so a job restarts whole rather than one
        evicted pod at a time (docs/sources.md, "Job auto-resume"). A node already labelled
        unschedulable keeps its label."""
        node = await self._nodes.get(name)
        labels = node["metadata"].get("labels") or {}
        if str(labels.get(HEALTH, SCHEDULABLE)).startswith("Unschedulable"):
            return
        taints = [
            t for t in node.get("spec", {}).get("taints") or [] if t["key"] not in AGENT_TAINT_KEYS
        ]
        taints.append({"key": HEALTH, "value": HEALTH_TAINT_VALUE, "effect": HEALTH_TAINT_EFFECT})
        await self._nodes.patch(
            name, {"metadata": {"labels": {HEALTH: health}}, "spec": {"taints": taints}}
        )

    async def reboot(self, name: str, at: str) -> None:
        """Start a reboot: the node is marked PendingReboot (with the quarantine taint), its pods
        are evicted and it reports NotReady. It stays quarantined until it boots (``booted``),
        so no pod lands on it meanwhile, whatever its Ready condition says (kwok's heartbeat
        reports Ready again within moments)."""
        await self._leaving(name, PENDING_REBOOT)
        await self.drain(name)
        await self._nodes.patch_status(name, {"status": {"conditions": [_ready(False, at)]}})

    async def event(self, node: str, reason: str, message: str) -> None:
        """A Warning Event about a node (e.g. why its automatic recovery is paused)."""
        await self._nodes.event(
            node, reason=reason, message=message, warning=True, component="podwarden-recovery"
        )

    async def deep_check_started(self, name: str) -> None:
        await self._set_health(name, HEALTH_TAINT_VALUE, DeepCheck.IN_PROGRESS, tainted=True)

    async def deep_check_finished(self, name: str, passed: bool) -> None:
        if passed:
            await self._set_health(name, SCHEDULABLE, DeepCheck.PASSED, tainted=False)
        else:  # the failure's own labels stay: they ask for the recovery
            await self._nodes.patch(name, {"metadata": {"labels": {DEEP_HEALTH: DeepCheck.FAILED}}})

    async def _set_health(self, name: str, health: str, deep: str, *, tainted: bool) -> None:
        node = await self._nodes.get(name)
        taints = [
            t for t in node.get("spec", {}).get("taints") or [] if t["key"] not in AGENT_TAINT_KEYS
        ]
        if tainted:
            taints.append(
                {"key": HEALTH, "value": HEALTH_TAINT_VALUE, "effect": HEALTH_TAINT_EFFECT}
            )
        await self._nodes.patch(
            name,
            {
                "metadata": {
                    "labels": {HEALTH: health, DEEP_HEALTH: deep},
                    "resourceVersion": node["metadata"]["resourceVersion"],
                },
                "spec": {"taints": taints},
            },
        )

    async def terminate(self, name: str) -> None:
        """Mark the node PendingReplacement (it leaves service: ``_leaving``), evict its pods,
        then delete the node (the instance is gone)."""
        with contextlib.suppress(NotFound):  # already gone: nothing to mark
            await self._leaving(name, PENDING_REPLACEMENT)
        await self.drain(name)
        await self._nodes.delete(name)


def _tell(listener: Callable[..., None], *args: Any) -> None:
    """A listener's failure is its own: the watch goes on for the others."""
    try:
        listener(*args)
    except Exception:
        log.exception("a listener of the node watch failed")


def _ready(ready: bool, at: str) -> dict[str, str]:
    return {
        "type": "Ready",
        "status": "True" if ready else "False",
        "reason": "KubeletReady" if ready else "Rebooting",
        "message": "kubelet is posting ready status" if ready else "the instance is rebooting",
        "lastHeartbeatTime": at,
        "lastTransitionTime": at,
    }
