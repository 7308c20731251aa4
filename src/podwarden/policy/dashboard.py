"""The web dashboard's vocabulary (``tables/dashboard.yaml``): which state a node's cell shows,
and which kind each event of the timeline is. ``load_dashboard()`` reads the packaged table;
a table that breaks its schema raises :class:`~podwarden.policy.yaml_tables.TableError`
naming the file and the entry."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from podwarden.policy.yaml_tables import as_list, exact_keys, fail, packaged

TABLE = "dashboard.yaml"
NODE_CONDITIONS = frozenset({"missing", "not-ready"})
OTHER = "other"


@dataclass(frozen=True)
class CellRule:
    """A node is in ``state`` when every condition given holds (an empty one always holds)."""

    state: str
    instance: frozenset[str] = frozenset()
    health: frozenset[str] = frozenset()
    deep_check: frozenset[str] = frozenset()
    node: str = ""


@dataclass(frozen=True)
class EventRule:
    """An event is of ``kind`` when every pattern given is found (``component``: equal)."""

    kind: str
    pattern: re.Pattern[str] | None = None  # a ClusterEvent's description
    component: str = ""  # a node Event's source component
    reason: re.Pattern[str] | None = None
    message: re.Pattern[str] | None = None


@dataclass(frozen=True)
class DashboardTable:
    cells: tuple[CellRule, ...]
    states: dict[str, str]  # state -> legend words, in legend order
    cluster_events: tuple[EventRule, ...]
    node_events: tuple[EventRule, ...]
    kinds: dict[str, str]  # kind -> words, in the filter's order


def parse_dashboard(text: str, source: str) -> DashboardTable:
    data = exact_keys(text, source, {"cells", "states", "timeline", "kinds"})
    states = _words(data["states"], source, "states")
    kinds = _words(data["kinds"], source, "kinds")
    if OTHER not in kinds:
        fail(source, "kinds", f"missing the kind '{OTHER}' of events no entry matches")
    cells = tuple(
        _cell(raw, source, f"cells[{n}]", states)
        for n, raw in enumerate(as_list(data["cells"], source, "cells"))
    )
    if not cells or _conditions(cells[-1]):
        fail(source, "cells", "the last rule must have no conditions (it matches every node)")
    timeline = data["timeline"]
    if not isinstance(timeline, dict) or set(timeline) != {"cluster_events", "node_events"}:
        fail(source, "timeline", "expected exactly the keys cluster_events, node_events")
    return DashboardTable(
        cells=cells,
        states=states,
        cluster_events=_events(timeline["cluster_events"], source, "cluster_events", kinds),
        node_events=_events(timeline["node_events"], source, "node_events", kinds),
        kinds=kinds,
    )


def _words(raw: object, source: str, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not raw:
        fail(source, where, "expected a mapping of names to words")
    for key, value in raw.items():
        if not isinstance(value, str) or not value:
            fail(source, f"{where}.{key}", "expected words")
    return {str(k): str(v) for k, v in raw.items()}


def _fields(raw: object, source: str, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        fail(source, where, "expected a mapping")
    unknown = sorted(map(str, set(raw) - allowed))
    if unknown:
        fail(source, where, f"unknown field '{unknown[0]}'")
    return raw


def _names(raw: object, source: str, where: str) -> frozenset[str]:
    values = as_list(raw, source, where)
    if not values or not all(isinstance(v, str) and v for v in values):
        fail(source, where, "expected a list of names")
    return frozenset(values)


def _cell(raw: object, source: str, where: str, states: dict[str, str]) -> CellRule:
    doc = _fields(raw, source, where, {"state", "instance", "health", "deep_check", "node"})
    if doc.get("state") not in states:
        fail(source, f"{where}.state", f"expected one of the states: {', '.join(states)}")
    node = doc.get("node", "")
    if node and node not in NODE_CONDITIONS:
        fail(source, f"{where}.node", f"expected one of {', '.join(sorted(NODE_CONDITIONS))}")
    return CellRule(
        state=doc["state"],
        instance=_names(doc["instance"], source, f"{where}.instance")
        if "instance" in doc
        else frozenset(),
        health=_names(doc["health"], source, f"{where}.health") if "health" in doc else frozenset(),
        deep_check=_names(doc["deep_check"], source, f"{where}.deep_check")
        if "deep_check" in doc
        else frozenset(),
        node=node,
    )


def _conditions(rule: CellRule) -> bool:
    return bool(rule.instance or rule.health or rule.deep_check or rule.node)


def _pattern(raw: object, source: str, where: str) -> re.Pattern[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw:
        fail(source, where, "expected a regular expression")
    try:
        return re.compile(raw)
    except re.error as exc:
        fail(source, where, f"not a regular expression: {exc}")


def _events(raw: object, source: str, section: str, kinds: dict[str, str]) -> tuple[EventRule, ...]:
    rules = []
    allowed = (
        {"kind", "pattern"}
        if section == "cluster_events"
        else {"kind", "component", "reason", "message"}
    )
    for n, item in enumerate(as_list(raw, source, section)):
        where = f"timeline.{section}[{n}]"
        doc = _fields(item, source, where, allowed)
        if doc.get("kind") not in kinds:
            fail(source, f"{where}.kind", f"expected one of the kinds: {', '.join(kinds)}")
        if section == "cluster_events" and "pattern" not in doc:
            fail(source, where, "missing required field 'pattern'")
        if section == "node_events" and not isinstance(doc.get("component"), str):
            fail(source, where, "missing required field 'component'")
        rules.append(
            EventRule(
                kind=doc["kind"],
                pattern=_pattern(doc.get("pattern"), source, f"{where}.pattern"),
                component=str(doc.get("component", "")),
                reason=_pattern(doc.get("reason"), source, f"{where}.reason"),
                message=_pattern(doc.get("message"), source, f"{where}.message"),
            )
        )
    return tuple(rules)


@functools.cache
def load_dashboard() -> DashboardTable:
    return parse_dashboard(*packaged(TABLE))
