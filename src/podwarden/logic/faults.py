"""Classify health signals into faults and decide a node's health from its recent faults.

Pure: signals and the policy in, a NodeHealth out. The agent keeps no memory of its own: the
faults it decided on are written to the node (annotation ``fault-details``) and read back, so a
restarted agent decides the same way and drops faults that have aged out of their window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podwarden.model.labels import PENDING_REBOOT, PENDING_REPLACEMENT, SCHEDULABLE
from podwarden.policy.fault_policy import Action, FaultPolicy, Severity

UNSCHEDULABLE = "Unschedulable"
LABEL_VALUE_MAX = 63
STATUS_FOR_ACTION = {
    Action.REPLACE: PENDING_REPLACEMENT,
    Action.REBOOT: PENDING_REBOOT,
    # HyperPod has no GPU reset: the closest recovery it performs is a reboot
    Action.RESET_GPU: PENDING_REBOOT,
    Action.NONE: UNSCHEDULABLE,
}


@dataclass(frozen=True)
class Signal:
    """One observation from a fault source: an Xid code or a named signal."""

    at: float
    xid: int | None = None
    name: str | None = None
    device: str = ""  # GPU PCI address or index; "" for node-wide signals
    boot_id: str = ""
    message: str = ""


@dataclass(frozen=True)
class Fault:
    """A classified occurrence. ``key`` identifies duplicates (same code, device and boot)."""

    rule: str
    severity: str
    action: str
    condition: str | None
    reason: str
    message: str
    at: float
    key: str

    def to_detail(self) -> dict[str, Any]:
        return {
            "timestamp": self.at,
            "type": self.condition or "Event",
            "reason": self.reason,
            "message": self.message,
            "action": self.action,
            "rule": self.rule,
            "severity": self.severity,
            "key": self.key,
        }

    @classmethod
    def from_detail(cls, d: dict[str, Any]) -> Fault:
        condition = d.get("type")
        return cls(
            rule=str(d["rule"]),
            severity=str(d["severity"]),
            action=str(d["action"]),
            condition=None if condition in (None, "Event") else str(condition),
            reason=str(d["reason"]),
            message=str(d.get("message", "")),
            at=float(d["timestamp"]),
            key=str(d["key"]),
        )


def classify(signal: Signal, policy: FaultPolicy) -> Fault | None:
    if signal.xid is not None:
        rule = policy.for_xid(signal.xid)
        what = f"xid-{signal.xid}"
    elif signal.name is not None:
        rule = policy.for_signal(signal.name)
        what = signal.name
    else:
        return None
    if rule is None:
        return None
    return Fault(
        rule=rule.id,
        severity=rule.severity,
        action=rule.action,
        condition=rule.condition,
        reason=rule.reason,
        message=signal.message or what,
        at=signal.at,
        key=f"{what}/{signal.device}/{signal.boot_id}",
    )


@dataclass(frozen=True)
class NodeHealth:
    status: str  # the node-health-status label value
    conditions: dict[str, Fault]  # NodeCondition type -> the fault holding it True
    fault_types: str  # label value ("" when healthy)
    fault_reasons: str
    recent: tuple[Fault, ...]  # de-duplicated faults still inside their windows

    @property
    def quarantined(self) -> bool:
        return self.status != SCHEDULABLE


def _label_value(parts: list[str]) -> str:
    return "_".join(sorted(set(parts)))[:LABEL_VALUE_MAX].strip("_.-")


def assess(faults: list[Fault], policy: FaultPolicy, now: float) -> NodeHealth:
    """The node's health given every fault seen (older ones age out of their rule's window)."""
    windows = {r.id: r for r in policy.rules}
    unique: dict[str, Fault] = {}
    for fault in sorted(faults, key=lambda f: f.at):
        rule = windows.get(fault.rule)
        if rule is None or now - fault.at > rule.window_seconds:
            continue
        # duplicates of one fault count once; the latest report stands, so a condition a source
        # keeps re-reporting (NVML's lasting faults) stays inside its window while it lasts
        unique[fault.key] = fault
    recent = tuple(sorted(unique.values(), key=lambda f: f.at))
    counts: dict[str, int] = {}
    for fault in recent:
        counts[fault.rule] = counts.get(fault.rule, 0) + 1
    active = [
        f
        for f in recent
        if f.severity == Severity.FATAL and counts[f.rule] >= windows[f.rule].threshold
    ]
    if not active:
        return NodeHealth(SCHEDULABLE, {}, "", "", recent)
    worst = max((Action(f.action) for f in active), key=lambda a: a.rank)
    conditions = {f.condition: f for f in active if f.condition}
    return NodeHealth(
        status=STATUS_FOR_ACTION[worst],
        conditions=conditions,
        fault_types=_label_value(list(conditions)),
        fault_reasons=_label_value([f.reason for f in active]),
        recent=recent,
    )
