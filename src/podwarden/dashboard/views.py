"""What the dashboard shows, as plain records: pure functions of the store's records, the
nodes' objects and the Kubernetes Events and jobs read for a page (``dashboard.sources``).
No I/O here; the templates only lay these records out."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from podwarden.model.cluster import Cluster, ClusterEvent, Instance, InstanceStatus
from podwarden.model.ids import instance_id_of_node, node_name
from podwarden.model.labels import DEEP_HEALTH, FAULT_DETAILS, HEALTH, IMAGE_RELEASE
from podwarden.policy.dashboard import OTHER, CellRule, DashboardTable, EventRule

Node = Mapping[str, Any]


def iso(at: float) -> str:
    """A time as the dashboard prints it (UTC, to the second)."""
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(at))


# --------------------------------------------------------------------------- clusters


@dataclass(frozen=True)
class GroupRow:
    name: str
    instance_type: str
    target: int
    current: int  # Running instances (DescribeCluster's CurrentCount)
    release: str  # the HyperPod AMI release the group runs
    status: str
    paused: str  # why automatic recovery is paused ("" when it is not)
    update: str  # the software update's status ("" for none)


@dataclass(frozen=True)
class ClusterRow:
    cluster_id: str
    name: str
    status: str
    region: str
    created: str
    failure: str
    recovery: str  # NodeRecovery
    groups: tuple[GroupRow, ...]


def cluster_row(cluster: Cluster, instances: Sequence[Instance]) -> ClusterRow:
    running = Counter(i.group for i in instances if i.status == InstanceStatus.RUNNING)
    groups = tuple(
        GroupRow(
            name=g.name,
            instance_type=g.instance_type,
            target=g.target_count,
            current=running.get(g.name, 0),
            release=g.image_release,
            status=g.status,
            paused=g.remediation_paused,
            update=g.software_update.status if g.software_update else "",
        )
        for g in cluster.groups.values()
    )
    return ClusterRow(
        cluster_id=cluster.cluster_id,
        name=cluster.name,
        status=cluster.status,
        region=cluster.region,
        created=iso(cluster.created),
        failure=cluster.failure_message or "",
        recovery=str(cluster.spec.get("NodeRecovery", "")),
        groups=groups,
    )


# --------------------------------------------------------------------------- the node grid


@dataclass(frozen=True)
class Cell:
    instance_id: str
    state: str
    title: str  # the node's name and state, shown on hover


@dataclass(frozen=True)
class GroupGrid:
    group: str
    cells: tuple[Cell, ...]
    counts: tuple[tuple[str, int], ...]  # (state, how many), in legend order


def labels_of(node: Node | None) -> Mapping[str, str]:
    return (node or {}).get("metadata", {}).get("labels") or {}


def is_ready(node: Node) -> bool:
    conditions = node.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _holds(rule: CellRule, instance: Instance, node: Node | None) -> bool:
    labels = labels_of(node)
    if rule.instance and instance.status not in rule.instance:
        return False
    if rule.health and labels.get(HEALTH) not in rule.health:
        return False
    if rule.deep_check and labels.get(DEEP_HEALTH) not in rule.deep_check:
        return False
    if rule.node == "missing":
        return node is None
    if rule.node == "not-ready":
        return node is not None and not is_ready(node)
    return True


def cell_state(table: DashboardTable, instance: Instance, node: Node | None) -> str:
    """The state of the first rule of the table that holds (the last one always does)."""
    return next(r.state for r in table.cells if _holds(r, instance, node))


def grids(
    table: DashboardTable,
    cluster: Cluster,
    instances: Sequence[Instance],
    nodes: Mapping[str, Node],
) -> list[GroupGrid]:
    """One grid per instance group, its cells in NodeLogicalId order (stable across
    replacements); ``nodes`` by node name."""
    by_group: dict[str, list[Instance]] = {name: [] for name in cluster.groups}
    for inst in instances:
        by_group.setdefault(inst.group, []).append(inst)
    out = []
    for group, members in by_group.items():
        cells = []
        for inst in sorted(members, key=lambda i: (i.logical_id, i.instance_id)):
            node = nodes.get(inst.node_name)
            state = cell_state(table, inst, node)
            health = labels_of(node).get(HEALTH, "no node")
            title = f"{inst.node_name}: {table.states[state]} ({inst.status}, {health})"
            cells.append(Cell(inst.instance_id, state, title))
        counted = Counter(c.state for c in cells)
        counts = tuple((s, counted[s]) for s in table.states if counted[s])
        out.append(GroupGrid(group, tuple(cells), counts))
    return out


# --------------------------------------------------------------------------- the timeline


@dataclass(frozen=True)
class Entry:
    at: float
    when: str
    kind: str
    kind_words: str
    level: str  # Info | Warn | Error
    text: str
    instance_id: str
    group: str


def _first(rules: Iterable[EventRule], test: Any) -> str:
    return next((r.kind for r in rules if test(r)), OTHER)


def cluster_event_entry(table: DashboardTable, event: ClusterEvent) -> Entry:
    kind = _first(
        table.cluster_events,
        lambda r: r.pattern is not None and r.pattern.search(event.description),
    )
    return Entry(
        event.time,
        iso(event.time),
        kind,
        table.kinds[kind],
        event.level,
        event.description,
        event.instance_id,
        event.group,
    )


def _event_time(event: Node) -> float:
    stamp = event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp")
    if not isinstance(stamp, str):
        return 0.0
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _matches(rule: EventRule, component: str, reason: str, message: str) -> bool:
    return (
        rule.component == component
        and (rule.reason is None or rule.reason.search(reason) is not None)
        and (rule.message is None or rule.message.search(message) is not None)
    )


def node_event_entry(table: DashboardTable, event: Node) -> Entry | None:
    """A Kubernetes Event on a node as a timeline entry; None for one no rule picks (the
    timeline shows only the components the table names)."""
    component = str((event.get("source") or {}).get("component", ""))
    reason, message = str(event.get("reason", "")), str(event.get("message", ""))
    kind = _first(table.node_events, lambda r: _matches(r, component, reason, message))
    if kind == OTHER:
        return None
    node = str((event.get("involvedObject") or {}).get("name", ""))
    at = _event_time(event)
    level = "Warn" if event.get("type") == "Warning" else "Info"
    return Entry(
        at,
        iso(at),
        kind,
        table.kinds[kind],
        level,
        f"{node}: {reason}: {message}",
        instance_id_of_node(node) or "",
        "",
    )


def timeline(
    table: DashboardTable,
    events: Iterable[ClusterEvent],
    node_events: Iterable[Node],
    limit: int = 200,
) -> list[Entry]:
    """The newest ``limit`` entries, newest first."""
    entries = [cluster_event_entry(table, e) for e in events]
    entries += [e for e in (node_event_entry(table, n) for n in node_events) if e is not None]
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def node_names_of(instances: Iterable[Instance], events: Iterable[ClusterEvent]) -> set[str]:
    """The nodes a cluster has or had (the instances its events name): whose Kubernetes
    Events belong on its timeline."""
    names = {i.node_name for i in instances}
    names |= {node_name(e.instance_id) for e in events if e.instance_id}
    return names


# --------------------------------------------------------------------------- one node


@dataclass(frozen=True)
class NodeDetail:
    instance: Instance
    node_name: str
    state: str
    state_words: str
    ready: str
    labels: tuple[tuple[str, str], ...]
    taints: tuple[str, ...]
    # type, status, reason, message, and whether it is bad news (Ready not True, or a
    # fault's condition True)
    conditions: tuple[tuple[str, str, str, str, bool], ...]
    faults: tuple[dict[str, Any], ...]  # the fault-details annotation, newest first
    release: str
    history: tuple[Entry, ...]


def fault_details(node: Node | None) -> list[dict[str, Any]]:
    raw = ((node or {}).get("metadata", {}).get("annotations") or {}).get(FAULT_DETAILS)
    try:
        found = json.loads(raw) if raw else []
    except ValueError:
        return [{"message": f"unreadable {FAULT_DETAILS}: {raw!r}"}]
    faults = [f for f in found if isinstance(f, dict)] if isinstance(found, list) else []
    for f in faults:
        if isinstance(f.get("timestamp"), int | float):
            f["when"] = iso(float(f["timestamp"]))
    return list(reversed(faults))


def node_detail(
    table: DashboardTable, instance: Instance, node: Node | None, history: Iterable[Entry]
) -> NodeDetail:
    state = cell_state(table, instance, node)
    labels = labels_of(node)
    taints = tuple(
        f"{t.get('key')}={t.get('value', '')}:{t.get('effect')}"
        for t in (node or {}).get("spec", {}).get("taints") or []
    )
    conditions = tuple(
        (
            str(c.get("type", "")),
            str(c.get("status", "")),
            str(c.get("reason", "")),
            str(c.get("message", "")),
            (c.get("type") == "Ready") != (c.get("status") == "True"),
        )
        for c in (node or {}).get("status", {}).get("conditions") or []
    )
    return NodeDetail(
        instance=instance,
        node_name=instance.node_name,
        state=state,
        state_words=table.states[state],
        ready="no node" if node is None else ("Ready" if is_ready(node) else "NotReady"),
        labels=tuple(sorted(labels.items())),
        taints=taints,
        conditions=conditions,
        faults=tuple(fault_details(node)),
        release=labels.get(IMAGE_RELEASE, instance.image_release),
        history=tuple(e for e in history if e.instance_id == instance.instance_id),
    )
