"""What bench/scale.py does with its largest cluster once it is InService (issue #14 item 1).

Fault burst: an Xid 79 injected (as bench/recovery.py does) into many GPU nodes at once; the
seconds until every one is quarantined, and until every one is repaired as the fault policy
(policy/tables/fault_policy.yaml) and NodeRecovery Automatic decide: Xid 79 (the GPU fell off
the bus) asks for Replace, so each faulted instance is terminated and a new one (a new instance
id and node, the same NodeLogicalId) launched in its place. Repaired: ListClusterNodes lists the
cluster's full count, every instance Running and none of the faulted ones, and every node of the
cluster is schedulable again.

Scale-down: UpdateCluster to fewer instances, each group reduced in proportion (at least one
each); done when ListClusterNodes lists exactly that many, per group, and the cluster is
InService; then the ``hyperpod-i-…`` Kubernetes nodes left are counted.

The Kubernetes side is read from one list-then-watch of the cluster's nodes by its label
selector (podwarden's own informer), never a GET per node; ListClusterNodes is paged through
only once the watched nodes say that the wait may be over. Every wait has a deadline that grows
with the size (bench/waits.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podwarden.agent.inject import inject, signal_for
from podwarden.kube.informer import node_informer
from podwarden.kube.nodes import KubeNodes
from podwarden.logic.node_spec import registered
from podwarden.model.ids import node_name
from podwarden.model.labels import CLUSTER_NAME, HEALTH, SCHEDULABLE
from podwarden.policy.fault_policy import Action, load_policy
from recovery import node_state, quarantined  # bench/recovery.py
from waits import WaitFailed, await_for  # bench/waits.py

CLUSTER = "scale"
SELECTOR = f"{CLUSTER_NAME}={CLUSTER}"
XID = 79
# deadlines: a base plus so much per node concerned (generous: a loaded 2-core machine)
WATCH_SYNC_S = (60.0, 0.02)  # per node of the cluster
QUARANTINE_S = (60.0, 0.5)  # per faulted node
REPAIR_S = (120.0, 1.0)  # per faulted node, plus REPAIR_LISTING_S per node of the cluster
REPAIR_LISTING_S = 0.06
SCALE_DOWN_S = (120.0, 0.1)  # per instance removed


@dataclass(frozen=True)
class Largest:
    """The largest size's extra steps: the fault burst's size and the scale-down's target."""

    burst: int
    down_to: int


def deadline(limits: tuple[float, float], nodes: int) -> float:
    return limits[0] + limits[1] * nodes


def poll_interval(nodes: int) -> float:
    """Seconds between looks at the watched cache: each scans every node, so a large cluster
    is looked at less often (the bench shares the cores with what it measures)."""
    return max(0.2, nodes / 10_000)


def list_instances(sm: Any) -> list[dict[str, Any]]:
    """Every ClusterNodeSummary of the cluster, page by page."""
    pages = sm.get_paginator("list_cluster_nodes").paginate(ClusterName=CLUSTER)
    return [s for page in pages for s in page["ClusterNodeSummaries"]]


def xid79_repair() -> str:
    """What the shipped fault policy does with Xid 79 under NodeRecovery Automatic, in words.
    The burst's measurement assumes Replace (a reboot would keep the instance ids)."""
    rule = load_policy().for_xid(XID)
    if rule is None or rule.action != Action.REPLACE:
        raise SystemExit(
            f"bench/scale.py measures Xid {XID}'s replacement, but the fault policy says "
            f"{rule.action if rule else 'nothing'}: update the benchmark"
        )
    return (
        f"Xid {XID} -> rule {rule.id} ({rule.reason}): {rule.severity}, action {rule.action} "
        "(policy/tables/fault_policy.yaml); with NodeRecovery Automatic each faulted instance "
        "is terminated and a new one (new instance id and node, same NodeLogicalId) launched"
    )


def pick_burst(summaries: list[dict[str, Any]], gpu_groups: list[str], count: int) -> list[str]:
    """``count`` instances of the GPU groups, taken from each group in turn."""
    by_group = [
        sorted(s["InstanceId"] for s in summaries if s["InstanceGroupName"] == g)
        for g in gpu_groups
    ]
    taken = [i for batch in itertools.zip_longest(*by_group) for i in batch if i is not None]
    if count > len(taken):
        raise SystemExit(f"a burst of {count} needs as many GPU instances; there are {len(taken)}")
    return taken[:count]


def shrink(counts: list[int], target: int) -> list[int]:
    """``counts`` scaled to sum to exactly ``target``, each at least 1 (largest remainders
    first)."""
    if not len(counts) <= target <= sum(counts):
        raise SystemExit(f"cannot scale {counts} down to {target} with at least 1 a group")
    total = sum(counts)
    shares = [c * target / total for c in counts]
    out = [max(1, int(s)) for s in shares]
    by_remainder = sorted(range(len(counts)), key=lambda i: shares[i] - int(shares[i]))
    while sum(out) < target:
        out[by_remainder.pop()] += 1
    while sum(out) > target:  # only when a group was lifted to 1
        out[max(range(len(out)), key=lambda i: out[i])] -= 1
    return out


def schedulable(node: dict[str, Any]) -> bool:
    labels = node["metadata"].get("labels") or {}
    taints = node.get("spec", {}).get("taints") or []
    ready = any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in node.get("status", {}).get("conditions") or []
    )
    return (
        ready
        and not node.get("spec", {}).get("unschedulable")
        and labels.get(HEALTH) == SCHEDULABLE
        and not any(t["key"] == HEALTH for t in taints)
    )


def why_not(node: dict[str, Any]) -> str:
    """What keeps a node from being schedulable, for a wait's message."""
    ready: dict[str, Any] = next(
        (c for c in node.get("status", {}).get("conditions") or [] if c["type"] == "Ready"), {}
    )
    said = f"Ready={ready.get('status')} ({ready.get('reason')})" if ready else "no Ready"
    kubelet = "registered" if registered(node) else "not registered by its kubelet"
    return f"{said}, {kubelet}, {node_state(node)}"


class NodeWatch:
    """The cluster's Kubernetes nodes by its label selector, kept by one list-then-watch; it
    also notes when each node it is told to watch is first seen quarantined (a replacement
    may delete a quarantined node before the next look at the cache)."""

    def __init__(self, nodes: KubeNodes) -> None:
        self.nodes = nodes
        self.informer = node_informer(nodes.api, SELECTOR)
        self.watched: frozenset[str] = frozenset()
        self.quarantined_at: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self, cluster_nodes: int) -> None:
        self._task = asyncio.create_task(self.informer.run(lambda: None, self._event))

        async def synced() -> bool:
            return self.informer.synced.is_set()

        await await_for(
            f"the watch of the nodes {SELECTOR} to list them",
            synced,
            bool,
            show=lambda _: "not listed yet",
            timeout=deadline(WATCH_SYNC_S, cluster_nodes),
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _event(self, kind: str, node: dict[str, Any]) -> None:
        if kind != "DELETED":
            self._note(node)

    def _note(self, node: dict[str, Any]) -> None:
        name = node["metadata"]["name"]
        if name in self.watched and name not in self.quarantined_at and quarantined(node):
            self.quarantined_at[name] = time.perf_counter()

    def by_name(self) -> dict[str, dict[str, Any]]:
        """The cached nodes by name (a relisted node that is quarantined is noted too)."""
        nodes = {n["metadata"]["name"]: n for n in self.informer.objects.values()}
        for node in nodes.values():
            self._note(node)
        return nodes


async def quarantine(watch: NodeWatch, ids: list[str], t0: float) -> list[float]:
    """Inject Xid 79 into ``ids`` at once; each one's seconds from ``t0`` to its quarantine."""
    wanted = frozenset(node_name(i) for i in ids)
    watch.watched = wanted
    await asyncio.gather(*(inject(watch.nodes, i, signal_for(xid=XID)) for i in ids))

    async def seen() -> set[str]:
        watch.by_name()
        return set(watch.quarantined_at)

    def show(names: set[str]) -> str:
        cached = watch.by_name()
        waiting = sorted(wanted - names)
        sample = cached.get(waiting[0]) if waiting else None
        return f"{len(names)} of {len(wanted)} quarantined" + (
            f"; {waiting[0]}: {node_state(sample)}" if sample else ""
        )

    await await_for(
        f"all {len(wanted)} nodes of the fault burst quarantined (watch of {SELECTOR})",
        seen,
        lambda names: names >= wanted,
        show=show,
        timeout=deadline(QUARANTINE_S, len(wanted)),
        interval=0.05,
    )
    return sorted(watch.quarantined_at[n] - t0 for n in wanted)


async def repair(sm: Any, watch: NodeWatch, ids: list[str], n: int, t0: float) -> dict[str, float]:
    """Wait until the burst is repaired; seconds from ``t0`` until the nodes were (first seen
    all schedulable, none of the faulted left) and until ListClusterNodes agreed too."""
    faulted_ids = frozenset(ids)
    faulted = frozenset(node_name(i) for i in ids)
    nodes_done: list[float] = []

    async def missing() -> str:
        """What the repair still lacks ("" when done)."""
        nodes = watch.by_name()
        left = faulted & nodes.keys()
        if left:  # the cheap test first: most of the wait ends here
            return f"{len(left)} of the {len(faulted)} faulted nodes still there"
        waiting = [name for name, node in nodes.items() if not schedulable(node)]
        if waiting or len(nodes) != n:
            first = f" ({waiting[0]}: {why_not(nodes[waiting[0]])})" if waiting else ""
            return f"{len(nodes)} nodes (want {n}), {len(waiting)} not schedulable{first}"
        if not nodes_done:
            nodes_done.append(time.perf_counter() - t0)
        summaries = await asyncio.to_thread(list_instances, sm)
        listed = {s["InstanceId"] for s in summaries}
        running = [s for s in summaries if s["InstanceStatus"]["Status"] == "Running"]
        if len(running) != n or listed & faulted_ids:
            return (
                f"ListClusterNodes: {len(running)} of {len(summaries)} instances Running "
                f"(want {n}), {len(listed & faulted_ids)} faulted still listed"
            )
        if {node_name(i) for i in listed} != watch.by_name().keys():
            return "ListClusterNodes' instances and the nodes differ"
        return ""

    await await_for(
        f"the {len(ids)} faulted instances replaced: all {n} Running in ListClusterNodes and "
        "their nodes schedulable",
        missing,
        lambda what: not what,
        show=str,
        timeout=deadline(REPAIR_S, len(ids)) + REPAIR_LISTING_S * n,
        interval=poll_interval(n),
    )
    return {
        "nodes_schedulable_s": round(nodes_done[0], 3),
        "repaired_all_s": round(time.perf_counter() - t0, 3),
    }


async def fault_burst(
    sm: Any,
    watch: NodeWatch,
    ids: list[str],
    *,
    n: int,
    memory: Callable[[], dict[str, Any]],
    about: dict[str, Any],
) -> dict[str, Any]:
    """Inject, await the quarantine and the repair; ``about``: what the record says first."""
    t0 = time.perf_counter()
    times = await quarantine(watch, ids, t0)
    repaired = await repair(sm, watch, ids, n, t0)
    return {
        "nodes": len(ids),
        **about,
        "repair_limits": "off (podwarden serve --no-repair-limits; policy/tables/"
        "remediation.yaml would pause a group's automatic repairs after 10 in 600 s)",
        "quarantined": len(times),
        "quarantined_p50_s": round(statistics.median(times), 3),
        "quarantined_all_s": round(times[-1], 3),
        **repaired,
        "instances_running": n,
        **memory(),
    }


async def scale_down(
    sm: Any,
    watch: NodeWatch,
    specs: list[dict[str, Any]],
    target: int,
    memory: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    start = sum(g["InstanceCount"] for g in specs)
    counts = shrink([g["InstanceCount"] for g in specs], target)
    want = {g["InstanceGroupName"]: c for g, c in zip(specs, counts, strict=True)}
    groups = [{**g, "InstanceCount": want[g["InstanceGroupName"]]} for g in specs]
    t0 = time.perf_counter()
    await asyncio.to_thread(sm.update_cluster, ClusterName=CLUSTER, InstanceGroups=groups)

    async def missing() -> str:
        """What the scale-down still lacks ("" when done)."""
        cached = len(watch.by_name())
        if cached != target:
            return f"{cached} nodes of the cluster (want {target})"
        described = await asyncio.to_thread(sm.describe_cluster, ClusterName=CLUSTER)
        if described["ClusterStatus"] == "Failed":
            raise WaitFailed(f"cluster {CLUSTER} is Failed: {described.get('FailureMessage')}")
        if described["ClusterStatus"] != "InService":
            return f"cluster {described['ClusterStatus']}"
        summaries = await asyncio.to_thread(list_instances, sm)
        listed = dict.fromkeys(want, 0)
        for s in summaries:
            listed[s["InstanceGroupName"]] = listed.get(s["InstanceGroupName"], 0) + 1
        return "" if listed == want else f"ListClusterNodes lists {listed} (want {want})"

    await await_for(
        f"cluster {CLUSTER} scaled down to {target} instances {want} and InService",
        missing,
        lambda what: not what,
        show=str,
        timeout=deadline(SCALE_DOWN_S, start - target),
        interval=poll_interval(start),
    )
    seconds = time.perf_counter() - t0
    every = await watch.nodes.list("")  # once: every node, whatever its labels
    left = [n for n in every if n["metadata"]["name"].startswith(node_name("i-"))]
    return {
        "from": start,
        "to": target,
        "groups": want,
        "seconds": round(seconds, 2),
        "instances_listed": len(await asyncio.to_thread(list_instances, sm)),
        "kubernetes_nodes": len(left),
        **memory(),
    }


def after_in_service(
    sm: Any,
    kubeconfig: Path,
    *,
    specs: list[dict[str, Any]],
    summaries: list[dict[str, Any]],
    gpu_groups: list[str],
    largest: Largest,
    memory: Callable[[], dict[str, Any]],
) -> dict[str, Any]:
    """The fault burst, then the scale-down, of the InService cluster ``scale`` of ``specs``
    (``summaries``: its ListClusterNodes)."""
    n = sum(g["InstanceCount"] for g in specs)
    repair_text = xid79_repair()  # before anything: the policy must still say Replace
    ids = pick_burst(summaries, gpu_groups, largest.burst)
    burst_groups = dict.fromkeys(gpu_groups, 0)
    for s in summaries:
        if s["InstanceId"] in ids:
            burst_groups[s["InstanceGroupName"]] += 1

    async def run() -> dict[str, Any]:
        watch = NodeWatch(await KubeNodes.from_kubeconfig(kubeconfig))
        try:
            await watch.start(n)
            about = {"groups": burst_groups, "fault": f"Xid {XID}", "repair": repair_text}
            burst = await fault_burst(sm, watch, ids, n=n, memory=memory, about=about)
            down = await scale_down(sm, watch, specs, largest.down_to, memory)
        finally:
            await watch.stop()
            await watch.nodes.close()
        return {"fault_burst": burst, "scale_down": down}

    return asyncio.run(run())
