"""Deep health checks, decided: which nodes are checked together, how long a node's run
takes, and each check's result when the run ends (what a request must meet:
``logic.deep_check_rules``).

Pure: the table (``policy.deep_checks``), records and observed labels in; problems, peers and
results out. The check runner and the reconciler's steps (``operator.deep_checks``) do the I/O.
A run goes through its checks in table order: the node checks one after another, then the
group checks (MultiNodeTrainingValidation), which end together for the nodes checked together.
What AWS documents and what podwarden chose where it does not:
docs/sources.md, "Deep health check types".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podwarden.model.cluster import DeepCheck, Instance, InstanceStatus
from podwarden.model.ids import node_name
from podwarden.model.labels import FAULT_REASONS, HEALTH, PENDING_REBOOT, PENDING_REPLACEMENT
from podwarden.policy.deep_checks import CheckSpec, DeepCheckTable

# a check's result: the deep-health-check-status label's values, and a check that did not run
PASSED, FAILED, NOT_RUN = DeepCheck.PASSED.value, DeepCheck.FAILED.value, "NotRun"
LEFT = "left the cluster during the checks"
# a later start of a node checked together moves the others' end only by more than this:
# nodes that start in one reconciler pass differ by microseconds and need no rewrite
ALIGN_SLACK = 0.05


@dataclass(frozen=True)
class CheckResult:
    """One check's result for one node; ``node`` is the node a failure is blamed on."""

    check: str
    status: str  # Passed | Failed | NotRun
    reason: str = ""
    node: str = ""

    def to_doc(self) -> dict[str, str]:
        return {
            "Check": self.check,
            "Status": self.status,
            "Reason": self.reason,
            "Node": self.node,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> CheckResult:
        return cls(doc["Check"], doc["Status"], doc.get("Reason", ""), doc.get("Node", ""))


def checked(table: DeepCheckTable, checks: Iterable[str]) -> list[CheckSpec]:
    """The table's entries of ``checks``, once each, in run order (unknown names left out)."""
    return [s for s in map(table.spec, table.ordered(checks)) if s is not None]


def together(table: DeepCheckTable, checks: Iterable[str]) -> bool:
    """Whether the checks include one that runs across the nodes checked together."""
    return any(s.together for s in checked(table, checks))


def run_seconds(table: DeepCheckTable, checks: Iterable[str], base: float) -> float:
    """How long a node's run of ``checks`` takes: each check's share of ``base`` (the
    reconciler's deep_check_duration, scaled), one after another."""
    return sum(s.duration for s in checked(table, checks)) * base


def on_start_peers(me: Instance, members: Iterable[Instance]) -> list[str]:
    """The instances checked together with ``me`` by its group's on-start checks: the group's
    instances whose on-start checks have not started yet, those running them with ``me``
    among theirs, and ``me``."""
    peers = {me.instance_id}
    for other in members:
        if other.group != me.group or other.instance_id == me.instance_id:
            continue
        waiting = other.deep_check == DeepCheck.REQUESTED and not other.deep_checks
        running = (
            other.deep_check == DeepCheck.IN_PROGRESS and me.instance_id in other.deep_check_peers
        )
        if waiting or running:
            peers.add(other.instance_id)
    return sorted(peers)


def running_with(me: Instance, instances: Iterable[Instance]) -> list[Instance]:
    """The other instances under checks with ``me`` (each lists the other among its peers)."""
    return [
        p
        for p in instances
        if p.instance_id != me.instance_id
        and p.instance_id in me.deep_check_peers
        and me.instance_id in p.deep_check_peers
        and p.deep_check == DeepCheck.IN_PROGRESS
    ]


def node_fault(labels: Mapping[str, str]) -> str:
    """The fault a node reports (its health label asks for a recovery), "" if none."""
    health = labels.get(HEALTH, "")
    if health not in (PENDING_REBOOT, PENDING_REPLACEMENT):
        return ""
    return labels.get(FAULT_REASONS) or health


def peer_faults(
    me: str,
    peers: Iterable[str],
    records: Mapping[str, Instance],
    labels: Mapping[str, Mapping[str, str]],
) -> dict[str, str]:
    """The faults of the instances ``peers`` checked together with instance ``me`` (node name
    -> fault): a fault on a node's labels, or a node that left the cluster (no record, or
    shutting down)."""
    faults: dict[str, str] = {}
    for peer in peers:
        if peer == me:
            continue
        record = records.get(peer)
        fault = node_fault(labels.get(node_name(peer), {}))
        if not fault and (record is None or record.status == InstanceStatus.SHUTTING_DOWN):
            fault = LEFT
        if fault:
            faults[node_name(peer)] = fault
    return faults


@dataclass(frozen=True)
class RunView:
    """What a node's run looks like when it ends: its checks, when it started and is due to
    end (the end of the nodes checked together), the seconds one unit of the table's
    durations takes, how many nodes were checked together, the node's own fault, the faults
    of the others, and results recorded before the end (a failure another node shared)."""

    checks: tuple[str, ...]
    node: str
    started: float
    until: float
    base: float
    batch: int
    fault: str = ""
    peer_faults: Mapping[str, str] | None = None
    recorded: tuple[CheckResult, ...] = ()


def verdict(run: RunView, now: float, table: DeepCheckTable) -> list[CheckResult]:
    """Each check's result at ``now``, when the run ends. A fault of the node fails the node
    check running then (the ones before passed, the ones after did not run) and every group
    check, blamed on this node. A group check failed by another node keeps that result, and
    the node checks not done by then are stopped. Otherwise a group check fails if a node
    checked together reported a fault (blamed on it), does not run with fewer nodes than it
    needs, and passes; node checks pass."""
    specs = checked(table, run.checks)
    recorded = {r.check: r for r in run.recorded if r.status == FAILED}
    ends, at = {}, run.started
    for spec in (s for s in specs if not s.together):
        at += spec.duration * run.base
        ends[spec.name] = at
    # the node check running at ``now``; past the last one, a group check runs (or, with none,
    # the last node check is the one a fault is reported in)
    last = None if any(s.together for s in specs) else next(reversed(ends), None)
    current = next((n for n, end in ends.items() if end > now), last)
    stopped = ""
    if run.fault:
        stopped = "stopped: an earlier check failed"
    elif recorded:
        stopped = f"stopped: {next(iter(recorded))} failed"
    out = []
    for spec in specs:
        if spec.together:
            out.append(_group_result(spec, run, recorded.get(spec.name)))
        elif run.fault and spec.name == current:
            out.append(CheckResult(spec.name, FAILED, f"{run.node} reported {run.fault}", run.node))
        elif stopped and ends[spec.name] > now:
            out.append(CheckResult(spec.name, NOT_RUN, stopped))
        else:
            out.append(CheckResult(spec.name, PASSED))
    return out


def _group_result(spec: CheckSpec, run: RunView, recorded: CheckResult | None) -> CheckResult:
    if run.fault:
        reason = f"{run.node} reported {run.fault} during the checks"
        return CheckResult(spec.name, FAILED, reason, run.node)
    if recorded is not None:
        return recorded
    if run.batch < spec.requires.min_nodes:
        reason = (
            f"not run: needs at least {spec.requires.min_nodes} nodes checked together, "
            f"{run.batch} started"
        )
        return CheckResult(spec.name, NOT_RUN, reason)
    faults = run.peer_faults or {}
    if faults:
        node = min(faults)
        return CheckResult(spec.name, FAILED, f"{node} {_phrase(faults[node])}", node)
    return CheckResult(spec.name, PASSED)


def _phrase(fault: str) -> str:
    return fault if fault == LEFT else f"reported {fault} during the checks"


def shared_failure(
    results: Iterable[CheckResult], node: str, table: DeepCheckTable
) -> CheckResult | None:
    """The failure of a group check blamed on ``node``: the others checked together fail with
    it."""
    for r in results:
        spec = table.spec(r.check)
        if r.status == FAILED and r.node == node and spec is not None and spec.together:
            return r
    return None


def blamed(results: Iterable[CheckResult], node: str) -> bool:
    """Whether a failure is blamed on ``node`` (its own fault), not only on others."""
    return any(r.status == FAILED and r.node == node for r in results)


def passed(results: Iterable[CheckResult]) -> bool:
    return all(r.status != FAILED for r in results)


def in_progress_message(checks: Sequence[str], peers: Sequence[str], table: DeepCheckTable) -> str:
    """The instance's status message while its checks run (DescribeClusterNode)."""
    text = "Deep health checks in progress: " + ", ".join(checks)
    if together(table, checks):
        text += f" (across {len(peers)} nodes checked together)"
    return text


def summary(results: Sequence[CheckResult]) -> str:
    """The instance's status message when its checks end: which ran, which failed and why."""
    by = {s: [r for r in results if r.status == s] for s in (FAILED, PASSED, NOT_RUN)}
    failed = "; ".join(f"{r.check} ({r.reason})" for r in by[FAILED])
    parts = [f"Deep health checks failed: {failed}"] if failed else []
    names = ", ".join(r.check for r in by[PASSED])
    if names:
        parts.append(f"passed: {names}" if failed else f"Deep health checks passed: {names}")
    if not parts:
        parts.append("Deep health checks ran no check")
    parts += [f"not run: {r.check} ({r.reason})" for r in by[NOT_RUN]]
    return "; ".join(parts)
