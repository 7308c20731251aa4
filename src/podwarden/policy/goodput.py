"""Goodput scenarios and fault kinds (``tables/goodput_scenarios.yaml``, ``goodput_faults.yaml``;
shapes in ``model/goodput.py``): schema, loaders, ``--set``/``--compare`` overrides, traces.

Scenarios are data so that a user's cluster is a file, not code: a user's file has the schema of
one shipped scenario and may name a shipped mix or bring its own causes and fault kinds. A node
fault kind must get the action it claims from the agent's fault policy (``fault_policy.yaml``),
or the pipeline would repair differently from what the scenario says: checked at load. A bad
table, file, trace or override is a :class:`TableError` saying where and what is allowed.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, cast

from podwarden.model.errors import Invalid
from podwarden.model.goodput import (
    Action,
    Cause,
    ClusterShape,
    Durations,
    FailureProcess,
    Fault,
    FaultKind,
    JobShape,
    Recovery,
    Scenario,
)
from podwarden.policy import fault_policy
from podwarden.policy.catalog import load_catalog
from podwarden.policy.yaml_tables import TableError, fail, is_int, is_number, load_yaml, packaged

FAULTS = "goodput_faults.yaml"
SCENARIOS = "goodput_scenarios.yaml"
TRACE_HEADER = ("at_seconds", "node", "fault")

# The fault policy's action as a goodput Action: HyperPod has no GPU reset, the node reboots.
_POLICY_ACTION = {a: Action(a.value) for a in fault_policy.Action if a.value in set(Action)}
_POLICY_ACTION[fault_policy.Action.RESET_GPU] = Action.REBOOT

Kinds = Mapping[str, FaultKind]
# A value's type, its lowest value and whether that is excluded.
Spec = tuple[str, float, bool]
_STR: Spec = ("str", 0, False)
_INT: Spec = ("int", 0, False)
_SECONDS: Spec = ("float", 0, False)
_POSITIVE: Spec = ("float", 0, True)
# The fields of a scenario (and the keys of overrides) by section, "" the top level.
_FIELDS: dict[str, dict[str, Spec]] = {
    "": {"name": _STR, "description": _STR, "days": _POSITIVE, "time_scale": _POSITIVE},
    "cluster": {
        "instance_type": _STR,
        "nodes": ("int", 1, False),
        "spares": _INT,
        "recovery": ("recovery", 0, False),
        "deep_checks": ("bool", 0, False),
        "safety_limits": ("bool", 0, False),
    },
    "job": {
        "step_seconds": _POSITIVE,
        "checkpoint_every": ("int", 1, False),
        "checkpoint_seconds": _SECONDS,
        "restart_seconds": _SECONDS,
    },
    "durations": dict.fromkeys(
        ["launch_seconds", "reboot_seconds", "deep_check_seconds", "manual_response_seconds"],
        _SECONDS,
    ),
    # mix: a shipped mix's name or a list of causes; trace: a CSV file (read apart)
    "failures": {"rate_per_accelerator_hour": _SECONDS, "seed": _INT, "mix": _STR, "trace": _STR},
}
_SHAPES: dict[str, type[Any]] = {"cluster": ClusterShape, "job": JobShape, "durations": Durations}
_TOP = {*_FIELDS[""], *_SHAPES, "failures", "kinds", "expected_ettr"}
OVERRIDE_KEYS = tuple(f"{s}.{f}" if s else f for s, specs in _FIELDS.items() for f in specs)
# Overrides after which the scenario's expected ETTR range still holds.
_KEEP_EXPECTED = {"name", "description", "time_scale", "failures.seed"}


@dataclass(frozen=True)
class FaultTable:
    kinds: Kinds
    mixes: Mapping[str, tuple[Cause, ...]]


def _typed(spec: Spec, value: object, source: str, where: str) -> Any:
    """``value`` checked against ``spec``. Text is read as the type due: an override's, a
    trace's, and a YAML number PyYAML leaves a string (``1e-4``, without a dot)."""
    kind, low, excluded = spec
    if isinstance(value, str) and kind != "str":
        value = _from_text(kind, value)
    if kind == "bool":
        if not isinstance(value, bool):
            fail(source, where, "must be true or false")
        return value
    if kind == "recovery":
        if value not in {r.value for r in Recovery}:
            fail(source, where, f"must be one of {', '.join(Recovery)}")
        return Recovery(value)
    if kind == "str":
        if not isinstance(value, str) or not value.strip():
            fail(source, where, "must be a non-empty string")
        return value
    ok = is_int(value) if kind == "int" else is_number(value) and math.isfinite(value)
    number = cast(float, value)  # when ok
    if not ok or number < low or (excluded and number == low):
        noun = "an integer" if kind == "int" else "a number"
        fail(source, where, f"must be {noun} {'>' if excluded else '>='} {low:g}")
    return value if kind == "int" else float(number)


def _from_text(kind: str, text: str) -> object:
    if kind == "bool":
        return {"true": True, "false": False}.get(text.lower(), text)
    if kind == "recovery":
        return next((r.value for r in Recovery if r.value.lower() == text.lower()), text)
    with contextlib.suppress(ValueError):  # else the text: _typed says what is allowed
        return int(text) if kind == "int" else float(text)
    return text


def _mapping(raw: object, source: str, where: str, allowed: set[str], required: set[str]) -> Any:
    if not isinstance(raw, dict):
        fail(source, where, "expected a mapping")
    if extra := set(raw) - allowed:
        unknown = ", ".join(sorted(map(str, extra)))
        fail(source, where, f"unknown field(s) {unknown}; allowed: {', '.join(sorted(allowed))}")
    if missing := required - set(raw):
        fail(source, where, f"missing field(s) {', '.join(sorted(missing))}")
    return raw


def _kind(name: str, raw: object, source: str, policy: fault_policy.FaultPolicy) -> FaultKind:
    where = f"kind '{name}'"
    data = _mapping(raw, source, where, {"action", "detect_seconds", "xid", "signal"}, set())
    if data.get("action") not in {a.value for a in Action}:
        fail(source, f"{where}, action", f"must be one of {', '.join(Action)}")
    detect = _typed(_SECONDS, data.get("detect_seconds"), source, f"{where}, detect_seconds")
    xid, signal = data.get("xid"), data.get("signal")
    if xid is not None and not is_int(xid):
        fail(source, f"{where}, xid", "must be an integer")
    if signal is not None:
        _typed(_STR, signal, source, f"{where}, signal")
    kind = FaultKind(name, Action(data["action"]), detect, xid, signal)
    _agree(kind, policy, source)
    return kind


def _agree(kind: FaultKind, policy: fault_policy.FaultPolicy, source: str) -> None:
    """Fail unless ``kind`` can be injected and gets the action it claims from the policy."""
    where = f"kind '{kind.name}'"
    given = (kind.xid is not None) + (kind.signal is not None)
    if kind.action == Action.RESTART:
        if given:
            fail(source, where, "a Restart kind is a fault of the job: give no xid or signal")
        return
    if given != 1:
        fail(source, where, "give exactly one of xid or signal")
    rule = policy.for_signal(str(kind.signal)) if kind.xid is None else policy.for_xid(kind.xid)
    if rule is None:
        fail(source, where, f"the fault policy has no rule for signal '{kind.signal}'")
    if _POLICY_ACTION[rule.action] != kind.action:
        problem = f"the fault policy's rule '{rule.id}' takes {rule.action}, not {kind.action}"
        fail(source, f"{where}, action", problem)


def _kinds(raw: object, source: str) -> dict[str, FaultKind]:
    if not isinstance(raw, dict) or not raw:
        fail(source, "kinds", "expected a mapping of name -> {action, detect_seconds, xid|signal}")
    policy = fault_policy.load_policy()  # the agent's shipped policy
    return {str(n): _kind(str(n), v, source, policy) for n, v in raw.items()}


def _mix(raw: object, source: str, where: str, kinds: Kinds) -> tuple[Cause, ...]:
    if not isinstance(raw, list) or not raw:
        fail(source, where, "expected a non-empty list of {cause, weight, fault}")
    causes = []
    for index, item in enumerate(raw, 1):
        at = f"{where}, cause {index}"
        keys = {"cause", "weight", "fault"}
        data = _mapping(item, source, at, keys, keys)
        _typed(_STR, data["cause"], source, f"{at}, cause")
        weight = _typed(_POSITIVE, data["weight"], source, f"{at}, weight")
        if data["fault"] not in kinds:
            fail(source, f"{at}, fault", f"unknown fault kind; known: {', '.join(sorted(kinds))}")
        causes.append(Cause(data["cause"], weight, data["fault"]))
    return tuple(causes)


def parse_faults(text: str, source: str) -> FaultTable:
    keys = {"kinds", "mixes"}
    data = _mapping(load_yaml(text, source), source, "the document", keys, keys)
    kinds = _kinds(data["kinds"], source)
    if not isinstance(data["mixes"], dict) or not data["mixes"]:
        fail(source, "mixes", "expected a mapping of name -> list of causes")
    mixes = {str(n): _mix(m, source, f"mix '{n}'", kinds) for n, m in data["mixes"].items()}
    return FaultTable(kinds, mixes)


@functools.cache
def load_faults() -> FaultTable:
    """The shipped fault kinds and mixes (``TableError`` naming file and field if broken)."""
    return parse_faults(*packaged(FAULTS))


def parse_trace(text: str, source: str, kinds: Kinds) -> tuple[Fault, ...]:
    """The faults of a CSV trace (header ``at_seconds,node,fault[,cause]``), sorted by time."""
    reader = csv.reader(io.StringIO(text))
    header = tuple(cell.strip() for cell in next(reader, []))
    if header not in {TRACE_HEADER, (*TRACE_HEADER, "cause")}:
        fail(source, "line 1", f"the header must be at_seconds,node,fault[,cause], not {header}")
    faults = []
    for row in reader:
        where = f"line {reader.line_num}"
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if len(cells) != len(header):
            fail(source, where, f"expected {len(header)} fields, got {len(cells)}")
        if cells[2] not in kinds:
            fail(source, f"{where}, fault", f"unknown kind; known: {', '.join(sorted(kinds))}")
        at = _typed(_SECONDS, cells[0], source, f"{where}, at_seconds")
        node = _typed(_INT, cells[1], source, f"{where}, node")
        faults.append(Fault(at, node, cells[2], cells[3] if len(cells) > 3 else ""))
    return tuple(sorted(faults, key=lambda f: f.at))


def load_trace(path: str | Traversable, kinds: Kinds | None = None) -> tuple[Fault, ...]:
    """The faults of a trace file (kinds: the shipped ones unless given)."""
    file = Path(path) if isinstance(path, str) else path
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise TableError(f"{path}: cannot read the trace: {exc.strerror or exc}") from None
    return parse_trace(text, str(path), load_faults().kinds if kinds is None else kinds)


def accelerators_per_node(instance_type: str) -> int:
    """GPUs, else Neuron devices, of ``instance_type`` (failure rates are per accelerator)."""
    try:
        entry = load_catalog().get(instance_type)
    except Invalid as exc:
        raise TableError(exc.message) from None
    if count := entry.gpu_count or entry.neuron_devices:
        return count
    raise TableError(
        f"instance type '{instance_type}' has no GPUs or Neuron devices; goodput needs an "
        "accelerated instance type (its failure rate is per accelerator-hour)"
    )


def _section(raw: object, section: str, source: str, where: str) -> Any:
    specs, shape = _FIELDS[section], _SHAPES[section]
    required = {f.name for f in dataclasses.fields(shape) if f.default is dataclasses.MISSING}
    data = _mapping(raw, source, f"{where}, {section}", set(specs), required)
    return shape(
        **{k: _typed(specs[k], v, source, f"{where}, {section}.{k}") for k, v in data.items()}
    )


def _mix_of(raw: object, source: str, where: str, kinds: Kinds) -> tuple[Cause, ...]:
    """A mix given by the name of a shipped one, or as a list of causes."""
    if not isinstance(raw, str):
        return _mix(raw, source, where, kinds)
    if raw not in (mixes := load_faults().mixes):
        fail(source, where, f"unknown mix '{raw}'; the shipped mixes are {', '.join(mixes)}")
    return mixes[raw]


def _failures(
    raw: object, source: str, where: str, kinds: Kinds, base: Traversable
) -> FailureProcess:
    where = f"{where}, failures"
    data = _mapping(raw, source, where, set(_FIELDS["failures"]), set())
    trace = None
    if "trace" in data:
        file = _typed(_STR, data["trace"], source, f"{where}.trace")
        trace = load_trace(file if Path(file).is_absolute() else base / file, kinds)
    elif missing := {"rate_per_accelerator_hour", "mix"} - set(data):
        fail(source, where, f"missing field(s) {', '.join(sorted(missing))} (or give a trace)")
    rate, at = data.get("rate_per_accelerator_hour", 0.0), f"{where}.rate_per_accelerator_hour"
    return FailureProcess(
        rate_per_accelerator_hour=_typed(_SECONDS, rate, source, at),
        mix=_mix_of(data["mix"], source, f"{where}.mix", kinds) if "mix" in data else (),
        seed=_typed(_INT, data.get("seed", 1), source, f"{where}.seed"),
        trace=trace,
    )


def _expected(raw: object, source: str, where: str) -> tuple[float, float] | None:
    if raw is None:
        return None
    low, high = raw if isinstance(raw, list) and len(raw) == 2 else (None, None)
    if not (is_number(low) and is_number(high) and 0 <= low <= high <= 1):
        fail(source, where, "must be [low, high] with 0 <= low <= high <= 1")
    return float(low), float(high)


def _finish(s: Scenario, kinds: Kinds, source: str, where: str) -> Scenario:
    """``s`` with its derived fields (accelerators, the kinds it names), checked across fields."""
    try:
        accelerators = accelerators_per_node(s.cluster.instance_type)
    except TableError as exc:
        fail(source, f"{where}, cluster.instance_type", str(exc))
    nodes = s.cluster.nodes + s.cluster.spares
    if late := [f for f in s.failures.trace or () if f.node >= nodes]:
        problem = f"a fault at {late[0].at:g} s on node {late[0].node}, of nodes 0..{nodes - 1}"
        fail(source, f"{where}, failures.trace", problem)
    named = sorted({c.fault for c in s.failures.mix} | {f.fault for f in s.failures.trace or ()})
    accelerator = load_catalog().get(s.cluster.instance_type).accelerator
    s = replace(s, accelerators_per_node=accelerators, accelerator=accelerator)
    return replace(s, kinds={n: kinds[n] for n in named})


def _scenario(raw: object, source: str, name: str, base: Traversable) -> Scenario:
    required = {"cluster", "job", "durations", "failures", "days", "time_scale"}
    data = _mapping(raw, source, f"scenario '{name}'", _TOP, required)
    top = {
        k: _typed(s, data[k], source, f"'{name}', {k}") for k, s in _FIELDS[""].items() if k in data
    }
    where = f"scenario '{top.get('name', name)}'"
    kinds = {**load_faults().kinds, **(_kinds(data["kinds"], source) if "kinds" in data else {})}
    scenario = Scenario(
        name=top.get("name", name),
        description=top.get("description", ""),
        cluster=_section(data["cluster"], "cluster", source, where),
        job=_section(data["job"], "job", source, where),
        durations=_section(data["durations"], "durations", source, where),
        failures=_failures(data["failures"], source, where, kinds, base),
        kinds={},
        days=top["days"],
        time_scale=top["time_scale"],
        accelerators_per_node=0,
        expected_ettr=_expected(data.get("expected_ettr"), source, f"{where}, expected_ettr"),
    )
    return _finish(scenario, kinds, source, where)


@functools.cache
def _shipped() -> dict[str, Scenario]:
    text, source = packaged(SCENARIOS)
    data = _mapping(load_yaml(text, source), source, "the document", {"scenarios"}, {"scenarios"})
    if not isinstance(data["scenarios"], dict) or not data["scenarios"]:
        fail(source, "scenarios", "expected a mapping of name -> scenario")
    base = resources.files("podwarden.policy").joinpath("tables")
    return {str(n): _scenario(raw, source, str(n), base) for n, raw in data["scenarios"].items()}


def scenario_names() -> list[str]:
    """The shipped scenarios, in table order."""
    return list(_shipped())


def load_scenario(name_or_path: str) -> Scenario:
    """A shipped scenario by name, or the one scenario of a YAML file (named after the file
    unless it says ``name:``)."""
    if name_or_path in (shipped := _shipped()):
        return shipped[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        names = ", ".join(shipped)
        raise TableError(f"no scenario '{name_or_path}' ({names}, or a YAML file's path)")
    text = path.read_text(encoding="utf-8")
    return _scenario(load_yaml(text, str(path)), str(path), path.stem, path.parent)


def with_overrides(s: Scenario, overrides: Sequence[str]) -> Scenario:
    """``s`` with ``KEY=VALUE`` changes (``cluster.spares=0``, ``failures.seed=3``; keys in
    ``OVERRIDE_KEYS``), each typed and checked as in a file; ``failures.mix`` names a shipped
    mix, ``failures.trace`` a CSV file. A change to what the scenario models (all but the name,
    description, time scale and seed) drops its expected ETTR range."""
    for text in overrides:
        key, sep, value = (part.strip() for part in text.partition("="))
        source = f"override '{text}'"
        section, _, name = key.rpartition(".")
        if not sep or name not in _FIELDS.get(section, {}):
            raise TableError(f"{source}: expected KEY=VALUE, KEY one of {', '.join(OVERRIDE_KEYS)}")
        kinds = {**load_faults().kinds, **s.kinds}
        if key == "failures.mix":
            new: Any = replace(s.failures, mix=_mix_of(value, source, key, kinds), trace=None)
        elif key == "failures.trace":
            new = replace(s.failures, trace=load_trace(value, kinds))
        else:
            new = _typed(_FIELDS[section][name], value, source, key)
            new = replace(getattr(s, section), **{name: new}) if section else new
        s = replace(s, **{section or name: new})
        if key not in _KEEP_EXPECTED:
            s = replace(s, expected_ettr=None)
        s = _finish(s, kinds, source, key)
    return s
