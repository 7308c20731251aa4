"""The fault -> action policy (``tables/fault_policy.yaml``): schema and loader.

A bad table fails at load with a message naming the file, the rule and the field.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

TABLE = "fault_policy.yaml"
ANY_XID = "any"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    FATAL = "fatal"


class Action(StrEnum):
    """What a fault needs, in rising order of disruption."""

    NONE = "None"
    RESET_GPU = "ResetGPU"
    REBOOT = "Reboot"
    REPLACE = "Replace"

    @property
    def rank(self) -> int:
        return list(Action).index(self)


# Named signals the sources emit (besides Xid codes): the agent's own checks, NVML readings
# (agent/sources/nvml.py) and Neuron driver errors (agent/sources/neuron.py).
SIGNALS = frozenset(
    {"gpu_count_mismatch", "neuron_count_mismatch", "deep_health_check_failed", "node_down"}
    | {"gpu_ecc_uncorrectable", "gpu_row_remap_pending", "gpu_row_remap_failure"}
    | {"gpu_nvlink_inactive", "gpu_nvlink_errors", "gpu_thermal_throttle", "gpu_power_throttle"}
    | {"gpu_recovery_reset", "gpu_recovery_reboot", "gpu_recovery_drain", "gpu_recovery_imex"}
    | {"neuron_sram_uncorrectable", "neuron_nc_uncorrectable", "neuron_hbm_uncorrectable"}
    | {"neuron_dma_error", "neuron_hw_error"}
)


@dataclass(frozen=True)
class Rule:
    id: str
    xid: int | None  # an Xid code; None for named signals and for the catch-all
    signal: str | None  # a named signal, or None for Xid rules
    any_xid: bool
    severity: Severity
    action: Action
    reason: str
    condition: str | None
    threshold: int
    window_seconds: float


@dataclass(frozen=True)
class FaultPolicy:
    rules: tuple[Rule, ...]

    def for_xid(self, code: int) -> Rule | None:
        exact = next((r for r in self.rules if r.xid == code), None)
        return exact or next((r for r in self.rules if r.any_xid), None)

    def for_signal(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.signal == name), None)


class PolicyError(ValueError):
    """The fault policy table breaks its schema."""


def _rule(raw: Any, window: float, source: str, index: int) -> Rule:
    where = f"{source}: rule {index + 1}"
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a mapping")
    where = f"{source}: rule {raw.get('id', index + 1)!r}"
    known = {
        "id",
        "xid",
        "signal",
        "severity",
        "action",
        "reason",
        "condition",
        "threshold",
        "window_seconds",
    }
    if extra := set(raw) - known:
        raise PolicyError(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
    if ("xid" in raw) == ("signal" in raw):
        raise PolicyError(f"{where}: give exactly one of xid or signal")
    xid, any_xid = raw.get("xid"), raw.get("xid") == ANY_XID
    if "xid" in raw and not any_xid and (not isinstance(xid, int) or isinstance(xid, bool)):
        raise PolicyError(f"{where}: field 'xid' must be an integer or {ANY_XID!r}")
    if "signal" in raw and raw["signal"] not in SIGNALS:
        raise PolicyError(f"{where}: field 'signal' must be one of {', '.join(sorted(SIGNALS))}")
    try:
        severity, action = Severity(raw["severity"]), Action(raw["action"])
    except (KeyError, ValueError) as exc:
        raise PolicyError(f"{where}: bad or missing severity/action ({exc})") from None
    if not isinstance(raw.get("reason"), str) or not raw["reason"]:
        raise PolicyError(f"{where}: field 'reason' is required")
    if severity == Severity.FATAL and not raw.get("condition"):
        raise PolicyError(f"{where}: fatal rules need a 'condition' (the NodeCondition type)")
    threshold = raw.get("threshold", 1)
    if not isinstance(threshold, int) or threshold < 1:
        raise PolicyError(f"{where}: field 'threshold' must be a positive integer")
    return Rule(
        id=str(raw.get("id", index + 1)),
        xid=xid if isinstance(xid, int) and not isinstance(xid, bool) else None,
        signal=raw.get("signal"),
        any_xid=any_xid,
        severity=severity,
        action=action,
        reason=raw["reason"],
        condition=raw.get("condition"),
        threshold=threshold,
        window_seconds=float(raw.get("window_seconds", window)),
    )


def parse_policy(text: str, source: str) -> FaultPolicy:
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or data.get("version") != 1:
        raise PolicyError(f"{source}: expected a mapping with version: 1")
    rules = data.get("rules")
    if not isinstance(rules, list) or not rules:
        raise PolicyError(f"{source}: 'rules' must be a non-empty list")
    window = float(data.get("default_window_seconds", 3600))
    parsed = tuple(_rule(r, window, source, i) for i, r in enumerate(rules))
    ids = [r.id for r in parsed]
    if len(set(ids)) != len(ids):
        raise PolicyError(f"{source}: rule ids must be unique")
    return FaultPolicy(parsed)


def load_policy(path: Path | None = None) -> FaultPolicy:
    if path is not None:
        return parse_policy(path.read_text(), str(path))
    return _shipped()


@functools.cache
def _shipped() -> FaultPolicy:
    table = resources.files("podwarden.policy") / "tables" / TABLE
    return parse_policy(table.read_text(), str(table))
