"""The simulated training run (``tables/training_simulation.yaml``): schema and loader.

The run's parameters, their per-job overrides (container environment variables), how a pod
ends and every log line are data, so the simulator has one code path and the table says what a
run looks like. A bad table fails at load, naming the file and the field; a log line that uses
a field it is not given fails at load too (each line is rendered once with sample values).
"""

from __future__ import annotations

import functools
import math
import string
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any

from podwarden.policy.yaml_tables import fail, is_int, is_number, load_yaml, packaged

TABLE = "training_simulation.yaml"

# Fields every log line may use, with a sample value of their type (for the load-time check).
COMMON_FIELDS: dict[str, object] = {
    "job": "job",
    "kind": "PyTorchJob",
    "namespace": "default",
    "pod": "job-worker-0",
    "node": "hyperpod-i-0",
    "rank": 0,
    "world": 2,
    "steps": 100,
    "step_seconds": 1.0,
    "checkpoint_every": 10,
    "restart": 0,
}
_STEP: dict[str, object] = {"step": 10}
# The lines of a run (written to the run's pods, ``who`` says which) and the lines of one pod,
# each with the fields it is given besides the common ones.
RUN_LINES: dict[str, dict[str, object]] = {
    "start": _STEP,
    "resume": _STEP,
    "ready": _STEP,
    "step": {**_STEP, "loss": 2.5},
    "checkpoint_begin": _STEP,
    "checkpoint_saved": {**_STEP, "seconds": 2.0},
    "complete": {**_STEP, "loss": 1.7},
}
POD_LINES: dict[str, dict[str, object]] = {
    "waiting": {"joined": 1},
    "peer_lost": {**_STEP, "peer": "job-worker-1"},
    "node_fault": {"reason": "node hyperpod-i-0 is NotReady", "exit_code": 134},
    "already_complete": _STEP,
    "override_ignored": {"variable": "PODWARDEN_TRAIN_STEPS", "value": "x", "problem": "why"},
}


class Who(StrEnum):
    EVERY_POD = "every_pod"
    RANK_ZERO = "rank_zero"


@dataclass(frozen=True)
class LossCurve:
    initial: float
    final: float
    decay_steps: float
    noise: float


@dataclass(frozen=True)
class TrainingParams:
    """One job's run. ``checkpoint_every`` and ``log_every`` count steps."""

    steps: int
    step_seconds: float
    checkpoint_every: int
    checkpoint_seconds: float
    restart_seconds: float
    log_every: int
    loss: LossCurve


# parameter -> (integer?, smallest value allowed, is the smallest excluded?)
_PARAMS: dict[str, tuple[bool, float, bool]] = {
    "steps": (True, 1, False),
    "step_seconds": (False, 0, True),
    "checkpoint_every": (True, 1, False),
    "checkpoint_seconds": (False, 0, False),
    "restart_seconds": (False, 0, False),
    "log_every": (True, 1, False),
}


@dataclass(frozen=True)
class Exit:
    exit_code: int
    reason: str
    message: str


@dataclass(frozen=True)
class LogLine:
    text: str
    who: Who = Who.EVERY_POD


@dataclass(frozen=True)
class Override:
    """An environment variable the table could not use, and why."""

    variable: str
    value: str
    problem: str


@dataclass(frozen=True)
class TrainingSimulation:
    defaults: TrainingParams
    overrides: Mapping[str, str]  # parameter -> environment variable
    nodes_from_env: tuple[str, ...]
    rank_from_env: tuple[str, ...]
    node_fault: Exit
    completed: Exit
    lines: Mapping[str, LogLine]

    def params_for(self, env: Mapping[str, str]) -> tuple[TrainingParams, list[Override]]:
        """The defaults with the overrides ``env`` sets; values that do not parse are left out
        and returned, so the caller can say so in the pod's log."""
        changes: dict[str, Any] = {}
        ignored: list[Override] = []
        for param, variable in self.overrides.items():
            if variable not in env:
                continue
            try:
                changes[param] = parse_param(param, env[variable])
            except ValueError as exc:
                ignored.append(Override(variable, env[variable], str(exc)))
        return replace(self.defaults, **changes), ignored

    def render(self, line: str, values: Mapping[str, object]) -> str:
        """The text of log line ``line``, on one line."""
        text = self.lines[line].text.format_map(values)
        return " ".join(text.splitlines())


def parse_param(param: str, text: str) -> int | float:
    """An override's value as the parameter's type; ValueError says what is wrong."""
    integer, low, exclusive = _PARAMS[param]
    try:
        value: int | float = int(text) if integer else float(text)
    except ValueError:
        raise ValueError(f"not {'an integer' if integer else 'a number'}") from None
    if not math.isfinite(value) or value < low or (exclusive and value == low):
        raise ValueError(f"must be {'>' if exclusive else '>='} {low:g}")
    return value


def _mapping(raw: object, source: str, where: str, keys: set[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        fail(source, where, "expected a mapping")
    if missing := keys - set(raw):
        fail(source, where, f"missing field(s) {', '.join(sorted(missing))}")
    if extra := set(raw) - keys:
        fail(source, where, f"unknown field(s) {', '.join(sorted(map(str, extra)))}")
    return raw


def _number(raw: dict[str, Any], key: str, source: str, where: str, low: float = 0) -> float:
    value = raw[key]
    if not is_number(value) or value < low:
        fail(source, f"{where}, field '{key}'", f"must be a number >= {low:g}")
    return float(value)


def _params(raw: object, source: str) -> TrainingParams:
    names = {f.name for f in fields(TrainingParams)}
    data = _mapping(raw, source, "defaults", names)
    values: dict[str, Any] = {}
    for param, (integer, low, exclusive) in _PARAMS.items():
        value = data[param]
        ok = is_int(value) if integer else is_number(value)
        if not ok or value < low or (exclusive and value == low):
            kind = "an integer" if integer else "a number"
            fail(
                source,
                f"defaults, field '{param}'",
                f"must be {kind} {'>' if exclusive else '>='} {low:g}",
            )
        values[param] = value if integer else float(value)
    curve = _mapping(
        data["loss"], source, "defaults.loss", {"initial", "final", "decay_steps", "noise"}
    )
    where = "defaults.loss"
    loss = LossCurve(
        initial=_number(curve, "initial", source, where),
        final=_number(curve, "final", source, where),
        decay_steps=_number(curve, "decay_steps", source, where, low=1),
        noise=_number(curve, "noise", source, where),
    )
    return TrainingParams(loss=loss, **values)


def _names(raw: object, source: str, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(v, str) and v for v in raw):
        fail(source, where, "expected a list of environment variable names")
    return tuple(raw)


def _exit(raw: object, source: str, where: str) -> Exit:
    data = _mapping(raw, source, where, {"exit_code", "reason", "message"})
    if not is_int(data["exit_code"]) or not 0 <= data["exit_code"] <= 255:
        fail(source, f"{where}, field 'exit_code'", "must be an integer in 0..255")
    for key in ("reason", "message"):
        if not isinstance(data[key], str) or not data[key]:
            fail(source, f"{where}, field '{key}'", "must be a non-empty string")
    return Exit(data["exit_code"], data["reason"], data["message"])


def _line(name: str, raw: object, source: str) -> LogLine:
    where = f"lines.{name}"
    run_line = name in RUN_LINES
    data = _mapping(raw, source, where, {"text", "who"} if run_line else {"text"})
    text = data["text"]
    if not isinstance(text, str) or not text:
        fail(source, f"{where}, field 'text'", "must be a non-empty string")
    allowed = {**COMMON_FIELDS, **(RUN_LINES if run_line else POD_LINES)[name]}
    for _, field, _, _ in string.Formatter().parse(text):
        root = (field or "").split(".")[0].split("[")[0]
        if field is not None and root not in allowed:
            fail(
                source,
                f"{where}, field 'text'",
                f"unknown field {{{field}}}; it may use {', '.join(sorted(allowed))}",
            )
    try:
        text.format_map(allowed)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        fail(source, f"{where}, field 'text'", f"does not render: {exc}")
    who = Who.EVERY_POD
    if run_line:
        try:
            who = Who(data["who"])
        except ValueError:
            fail(source, f"{where}, field 'who'", f"must be one of {', '.join(Who)}")
    return LogLine(text, who)


def parse_simulation(text: str, source: str) -> TrainingSimulation:
    keys = {"defaults", "overrides", "nodes_from_env", "rank_from_env", "exits", "lines"}
    data = _mapping(load_yaml(text, source), source, "the document", keys)
    overrides = data["overrides"]
    if not isinstance(overrides, dict) or not all(
        isinstance(v, str) and v for v in overrides.values()
    ):
        fail(source, "overrides", "expected a mapping of parameter -> environment variable")
    if unknown := set(overrides) - set(_PARAMS):
        fail(source, "overrides", f"unknown parameter(s) {', '.join(sorted(map(str, unknown)))}")
    exits = _mapping(data["exits"], source, "exits", {"node_fault", "completed"})
    lines = _mapping(data["lines"], source, "lines", set(RUN_LINES) | set(POD_LINES))
    return TrainingSimulation(
        defaults=_params(data["defaults"], source),
        overrides=dict(overrides),
        nodes_from_env=_names(data["nodes_from_env"], source, "nodes_from_env"),
        rank_from_env=_names(data["rank_from_env"], source, "rank_from_env"),
        node_fault=_exit(exits["node_fault"], source, "exits.node_fault"),
        completed=_exit(exits["completed"], source, "exits.completed"),
        lines={name: _line(name, raw, source) for name, raw in lines.items()},
    )


@functools.cache
def load_simulation() -> TrainingSimulation:
    """The shipped table (``TableError`` naming file and field if it breaks its schema)."""
    return parse_simulation(*packaged(TABLE))
