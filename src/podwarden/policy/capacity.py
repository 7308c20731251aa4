"""Simulated EC2 capacity (``tables/capacity.yaml``): how many instances of each type may exist
at once, and the backoff of Continuous provisioning's retries
(docs/sources.md, "Continuous provisioning").

``SimulatedCapacity`` is the one mutable record: the composition root makes it at start (the
packaged table, a ``--capacity-file``, ``--capacity TYPE=N`` flags) and hands the same object to
the cluster reconciler, which reads it on every launch decision, and to the admin endpoint
(``api/capacity_admin.py``), which changes it at run time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from podwarden.policy.yaml_tables import TableError, load_yaml

TABLE = "capacity.yaml"
UNLIMITED = "unlimited"  # the word that lifts a type's limit (``TYPE=unlimited``)


@dataclass(frozen=True)
class RetryBackoff:
    initial_seconds: float
    multiplier: float
    max_seconds: float


@functools.cache
def default_retry() -> RetryBackoff:
    """The packaged table's backoff."""
    return _packaged().retry


@dataclass
class SimulatedCapacity:
    """Instances of each type that may exist at once (a type not in ``available``: unlimited),
    and the backoff of the retries of launches refused for capacity."""

    available: dict[str, int] = field(default_factory=dict)
    retry: RetryBackoff = field(default_factory=default_retry)

    def set_limits(self, changes: Mapping[str, int | None]) -> None:
        """Apply ``type -> count`` changes; None lifts a type's limit."""
        for name, count in changes.items():
            if count is None:
                self.available.pop(name, None)
            else:
                self.available[name] = count


def _count(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TableError(f"{where} must be a non-negative integer, not {value!r}")
    return value


def _seconds(value: object, where: str, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise TableError(f"{where} must be a number of at least {minimum:g}, not {value!r}")
    return float(value)


def _retry(data: object, source: str) -> RetryBackoff:
    keys = {"initial_seconds", "multiplier", "max_seconds"}
    if not isinstance(data, dict) or set(data) != keys:
        raise TableError(f"{source}: retry: expected exactly the keys {', '.join(sorted(keys))}")
    initial = _seconds(data["initial_seconds"], f"{source}: retry.initial_seconds", 0.0)
    multiplier = _seconds(data["multiplier"], f"{source}: retry.multiplier", 1.0)
    most = _seconds(data["max_seconds"], f"{source}: retry.max_seconds", initial)
    return RetryBackoff(initial, multiplier, most)


def parse_capacity(
    text: str, source: str, problem: Callable[[str], str | None] = lambda _: None
) -> SimulatedCapacity:
    """A capacity table; ``problem(type)`` says what is wrong with an instance type name (the
    catalog's check), None if nothing. A file may leave out ``retry`` (the packaged one's
    applies) or ``available`` (nothing limited)."""
    data: Any = load_yaml(text, source)
    if not isinstance(data, dict) or not set(data) <= {"available", "retry"}:
        raise TableError(f"{source}: expected a mapping with the keys available and retry")
    available = data.get("available") or {}
    if not isinstance(available, dict):
        raise TableError(f"{source}: available must map instance types to counts")
    limits = {}
    for name, value in available.items():
        trouble = problem(str(name))
        if trouble:
            raise TableError(f"{source}: available.{name}: {trouble}")
        limits[str(name)] = _count(value, f"{source}: available.{name}")
    retry = _retry(data["retry"], source) if "retry" in data else _packaged().retry
    return SimulatedCapacity(limits, retry)


def _packaged() -> SimulatedCapacity:
    table = resources.files("podwarden.policy") / "tables" / TABLE
    return parse_capacity(table.read_text("utf-8"), f"podwarden/policy/tables/{TABLE}")


def load_capacity(
    path: Path | None = None, problem: Callable[[str], str | None] = lambda _: None
) -> SimulatedCapacity:
    """The packaged table, or the file at ``path`` (a fresh object each call: it is mutable)."""
    if path is None:
        return _packaged()
    return parse_capacity(path.read_text("utf-8"), str(path), problem)


def parse_assignment(text: str) -> tuple[str, int | None]:
    """``TYPE=N`` (N instances at most) or ``TYPE=unlimited`` -> (type, N or None)."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise ValueError(f"expected TYPE=COUNT (e.g. ml.p5.48xlarge=4), not {text!r}")
    if value == UNLIMITED:
        return name, None
    if not value.isdigit():
        raise ValueError(f"{text!r}: the count must be a non-negative integer or {UNLIMITED!r}")
    return name, int(value)
