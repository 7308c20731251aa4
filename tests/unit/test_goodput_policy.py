"""Goodput scenarios and fault kinds as data (policy/goodput.py, tables/goodput_*.yaml): the
shipped tables, their agreement with the agent's fault policy, users' scenario and trace files,
and the --set/--compare overrides."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from podwarden.model.goodput import Action, Cause, Fault, Recovery
from podwarden.policy.fault_policy import load_policy
from podwarden.policy.goodput import (
    OVERRIDE_KEYS,
    accelerators_per_node,
    load_faults,
    load_scenario,
    load_trace,
    parse_faults,
    parse_trace,
    scenario_names,
    with_overrides,
)
from podwarden.policy.yaml_tables import TableError

# docs/sources.md, "Llama 3 interruptions": Llama 3 405B's 419 unexpected interruptions by cause
LLAMA3 = {
    "faulty GPU": 148,
    "HBM3": 72,
    "software bug": 54,
    "network switch/cable": 35,
    "host maintenance": 32,
    "GPU SRAM": 19,
    "GPU system processor": 17,
    "NIC": 7,
    "NCCL watchdog timeouts": 7,
    "silent data corruption": 6,
    "GPU thermal/sensor": 6,
    "SSD": 3,
    "PSU": 3,
    "chassis": 2,
    "IO board": 2,
    "dependency": 2,
    "CPU": 2,
    "system memory": 2,
}


def test_shipped_scenarios() -> None:
    assert scenario_names() == ["p5-64", "llama3-405b", "trn1-32", "simple"]
    s = load_scenario("p5-64")
    assert (s.cluster.instance_type, s.cluster.nodes, s.cluster.spares) == ("ml.p5.48xlarge", 64, 2)
    assert (s.cluster.recovery, s.cluster.deep_checks) == (Recovery.AUTOMATIC, False)
    assert (s.job.step_seconds, s.job.checkpoint_every, s.job.checkpoint_seconds) == (10, 360, 60)
    assert s.job.restart_seconds == 300
    d = s.durations
    assert (d.launch_seconds, d.reboot_seconds, d.deep_check_seconds) == (600, 300, 7200)
    assert d.manual_response_seconds == 14400
    assert (s.failures.rate_per_accelerator_hour, s.days, s.time_scale) == (1.97e-5, 30, 5000)
    assert s.expected_ettr == (0.96, 0.995)
    assert (s.accelerators_per_node, s.accelerator) == (8, "gpu")
    assert set(s.kinds) == {c.fault for c in s.failures.mix}
    trn = load_scenario("trn1-32")
    assert (trn.accelerators_per_node, trn.accelerator, trn.cluster.spares) == (16, "neuron", 1)
    simple = load_scenario("simple")
    assert (simple.cluster.nodes, simple.cluster.spares, simple.cluster.safety_limits) == (
        2,
        0,
        False,
    )
    assert [c.fault for c in simple.failures.mix] == ["node-down"]


def test_llama3_mix_is_the_published_breakdown() -> None:
    mix = load_faults().mixes["llama3"]
    assert {c.cause: c.weight for c in mix} == LLAMA3
    assert len(mix) == 18 and sum(c.weight for c in mix) == 419
    fault = {c.cause: c.fault for c in mix}
    assert fault["faulty GPU"] == "xid-79"
    assert fault["HBM3"] == "xid-48"
    assert fault["GPU SRAM"] == "xid-95"
    assert fault["GPU system processor"] == "xid-119"
    job = {"software bug", "network switch/cable", "NCCL watchdog timeouts"}
    assert {fault[c] for c in job | {"silent data corruption", "dependency"}} == {"job-crash"}
    host = {"host maintenance", "NIC", "SSD", "PSU", "chassis", "IO board", "CPU", "system memory"}
    assert {fault[c] for c in host} == {"node-down"}
    assert load_faults().kinds[fault["GPU thermal/sensor"]].action == Action.REBOOT
    assert sum(c.weight for c in load_faults().mixes["trainium"]) == 419


def test_node_fault_kinds_agree_with_the_fault_policy() -> None:
    policy = load_policy()
    kinds = load_faults().kinds
    for name in ("xid-79", "xid-48", "xid-95", "xid-119", "node-down", "neuron-sram"):
        assert name in kinds
    assert kinds["job-crash"].action == Action.RESTART
    for kind in kinds.values():
        if kind.action == Action.RESTART:
            assert kind.xid is None and kind.signal is None
            continue
        rule = (
            policy.for_xid(kind.xid)
            if kind.xid is not None
            else policy.for_signal(kind.signal or "")
        )
        assert rule is not None and rule.action.value == kind.action.value, kind.name


FAULTS = """
kinds:
  ok: {action: Replace, detect_seconds: 10, xid: 79}
  %s
mixes:
  m: [{cause: c, weight: 1, fault: ok}]
"""


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("bad: {action: Reboot, detect_seconds: 10, xid: 79}", "rule 'xid-79' takes Replace"),
        ("bad: {action: Replace, detect_seconds: 1, signal: node_down}", "takes Reboot"),
        ("bad: {action: Restart, detect_seconds: 1, xid: 13}", "give no xid or signal"),
        ("bad: {action: Reboot, detect_seconds: 1, xid: 48, signal: node_down}", "exactly one"),
        ("bad: {action: Reboot, detect_seconds: 1, signal: nope}", "no rule for signal 'nope'"),
        ("bad: {action: Fix, detect_seconds: 1}", "must be one of Reboot, Replace"),
        ("bad: {action: Restart, detect_seconds: -1}", "detect_seconds: must be a number >= 0"),
    ],
)
def test_a_bad_kind_fails_naming_it(kind: str, message: str) -> None:
    with pytest.raises(TableError, match="kind 'bad'") as err:
        parse_faults(FAULTS % kind, "faults.yaml")
    assert message in str(err.value) and str(err.value).startswith("faults.yaml: ")


@pytest.mark.parametrize(
    ("mix", "message"),
    [
        ("[{cause: c, weight: 1, fault: nope}]", "unknown fault kind; known: ok"),
        ("[{cause: c, weight: 0, fault: ok}]", "weight: must be a number > 0"),
        ("[{cause: c, fault: ok}]", "missing field(s) weight"),
        ("[]", "expected a non-empty list"),
    ],
)
def test_a_bad_mix_fails_naming_it(mix: str, message: str) -> None:
    text = f"kinds: {{ok: {{action: Replace, detect_seconds: 10, xid: 79}}}}\nmixes: {{m: {mix}}}"
    with pytest.raises(TableError, match="mix 'm'") as err:
        parse_faults(text, "faults.yaml")
    assert message in str(err.value)


def test_accelerators_per_node_come_from_the_catalog() -> None:
    assert accelerators_per_node("ml.p5.48xlarge") == 8
    assert accelerators_per_node("ml.trn1.32xlarge") == 16
    assert accelerators_per_node("ml.g5.xlarge") == 1
    with pytest.raises(TableError, match=r"'ml\.c5\.xlarge' has no GPUs or Neuron devices"):
        accelerators_per_node("ml.c5.xlarge")
    with pytest.raises(TableError, match=r"EC2 name: use .* 'ml\.p5\.48xlarge'"):
        accelerators_per_node("p5.48xlarge")


USER = """
name: mine
description: my cluster
cluster: {instance_type: ml.p5.48xlarge, nodes: 4, spares: 1}
job: {step_seconds: 5, checkpoint_every: 100, checkpoint_seconds: 20, restart_seconds: 60}
durations: {launch_seconds: 900, reboot_seconds: 400, deep_check_seconds: 1800, manual_response_seconds: 3600}
kinds:
  quick-crash: {action: Restart, detect_seconds: 30}
failures:
  rate_per_accelerator_hour: 1e-4
  mix: [{cause: crash, weight: 3, fault: quick-crash}, {cause: gpu, weight: 1, fault: xid-79}]
days: 2
time_scale: 1000
"""
MIX = "  mix: [{cause: crash, weight: 3, fault: quick-crash}, {cause: gpu, weight: 1, fault: xid-79}]\n"


def test_a_users_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(USER)
    s = load_scenario(str(path))
    assert (s.name, s.description, s.cluster.nodes, s.cluster.spares) == (
        "mine",
        "my cluster",
        4,
        1,
    )
    assert s.cluster.recovery == Recovery.AUTOMATIC and s.cluster.safety_limits  # defaults
    assert s.failures.mix == (Cause("crash", 3.0, "quick-crash"), Cause("gpu", 1.0, "xid-79"))
    assert sorted(s.kinds) == ["quick-crash", "xid-79"]
    assert s.kinds["quick-crash"].detect_seconds == 30.0
    assert s.failures.seed == 1 and s.expected_ettr is None
    # named after the file when it has no name; a shipped mix by name
    other = tmp_path / "other.yaml"
    other.write_text(USER.replace("name: mine\n", "").replace(MIX, "  mix: llama3\n"))
    s = load_scenario(str(other))
    assert s.name == "other" and len(s.failures.mix) == 18 and "quick-crash" not in s.kinds


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("nodes: 4", "nodes: 0"), "cluster.nodes: must be an integer >= 1"),
        (("spares: 1", "spares: 1, recovery: Never"), "must be one of Automatic, None"),
        (("ml.p5.48xlarge", "ml.c5.xlarge"), "cluster.instance_type: instance type 'ml.c5.xlarge'"),
        (("step_seconds: 5", "step_seconds: 0"), "job.step_seconds: must be a number > 0"),
        (("days: 2", "days: two"), "days: must be a number > 0"),
        ((MIX, "  mix: nope\n"), "failures.mix: unknown mix 'nope'; the shipped mixes are llama3"),
        ((MIX, MIX + "  x: 1\n"), "failures: unknown field(s) x; allowed: mix, rate_per"),
        (("fault: xid-79", "fault: xid-80"), "unknown fault kind; known:"),
        (("time_scale: 1000", "time_scale: 1000\nexpected_ettr: [0.9, 0.8]"), "0 <= low <= high"),
        (("days: 2", "day: 2"), "unknown field(s) day; allowed: cluster, days"),
        (("days: 2\n", ""), "scenario 'bad': missing field(s) days"),  # no name read yet
    ],
)
def test_a_bad_scenario_file_says_where(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(USER.replace(*change))
    with pytest.raises(TableError) as err:
        load_scenario(str(path))
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value)


def test_an_unknown_scenario_lists_the_shipped_ones() -> None:
    with pytest.raises(TableError, match="no scenario 'p6-64' \\(p5-64, llama3-405b, trn1-32"):
        load_scenario("p6-64")


TRACE = """at_seconds,node,fault,cause
3600,1,xid-79,faulty GPU

60.5, 0 ,node-down,host
"""


def test_a_trace_is_read_sorted_and_checked(tmp_path: Path) -> None:
    kinds = load_faults().kinds
    assert parse_trace(TRACE, "t.csv", kinds) == (
        Fault(60.5, 0, "node-down", "host"),
        Fault(3600.0, 1, "xid-79", "faulty GPU"),
    )
    assert parse_trace("at_seconds,node,fault\n5,2,job-crash\n", "t.csv", kinds) == (
        Fault(5.0, 2, "job-crash", ""),
    )
    for text, message in [
        ("at,node,fault\n", "t.csv: line 1: the header must be at_seconds,node,fault[,cause]"),
        ("at_seconds,node,fault\n1,0,xid-999\n", "t.csv: line 2, fault: unknown kind"),
        ("at_seconds,node,fault\n1,-1,xid-79\n", "t.csv: line 2, node: must be an integer >= 0"),
        ("at_seconds,node,fault\nsoon,0,xid-79\n", "t.csv: line 2, at_seconds: must be a number"),
        ("at_seconds,node,fault\n1,0\n", "t.csv: line 2: expected 3 fields, got 2"),
    ]:
        with pytest.raises(TableError) as err:
            parse_trace(text, "t.csv", kinds)
        assert str(err.value).startswith(message), str(err.value)
    with pytest.raises(TableError, match="cannot read the trace"):
        load_trace(str(tmp_path / "none.csv"))


def test_a_scenario_with_a_trace_file(tmp_path: Path) -> None:
    (tmp_path / "faults.csv").write_text(TRACE)
    text = USER.replace("  rate_per_accelerator_hour: 1e-4\n", "  trace: faults.csv\n")
    (tmp_path / "traced.yaml").write_text(text)
    s = load_scenario(str(tmp_path / "traced.yaml"))
    assert s.failures.trace is not None and len(s.failures.trace) == 2
    assert sorted(s.kinds) == ["node-down", "quick-crash", "xid-79"]  # the mix's and the trace's
    (tmp_path / "faults.csv").write_text("at_seconds,node,fault\n10,5,xid-79\n")
    with pytest.raises(
        TableError, match=r"failures.trace: a fault at 10 s on node 5, of nodes 0..4"
    ):
        load_scenario(str(tmp_path / "traced.yaml"))


def test_overrides_are_typed_by_their_field() -> None:
    s = load_scenario("p5-64")
    changed = with_overrides(
        s,
        [
            "cluster.spares=0",
            "job.checkpoint_every=720",
            "cluster.recovery=None",
            "cluster.deep_checks=true",
            "cluster.safety_limits=false",
            "failures.rate_per_accelerator_hour=4e-5",
            "durations.launch_seconds=1200",
            "days=7",
            "name=p5-64 no spares",
        ],
    )
    assert (changed.cluster.spares, changed.job.checkpoint_every) == (0, 720)
    assert changed.cluster.recovery is Recovery.NONE
    assert (changed.cluster.deep_checks, changed.cluster.safety_limits) == (True, False)
    assert changed.failures.rate_per_accelerator_hour == 4e-5
    assert (changed.durations.launch_seconds, changed.days) == (1200.0, 7.0)
    assert changed.name == "p5-64 no spares" and changed.expected_ettr is None
    assert s.cluster.spares == 2  # the shipped scenario is untouched
    # the seed, the time scale and the name keep the expected range
    kept = with_overrides(s, ["failures.seed=3", "time_scale=2000", "name=x"])
    assert (kept.failures.seed, kept.time_scale, kept.expected_ettr) == (3, 2000.0, s.expected_ettr)
    # a change of instance type or mix re-derives what follows from it
    trn = with_overrides(s, ["cluster.instance_type=ml.trn1.32xlarge", "failures.mix=trainium"])
    assert (trn.accelerators_per_node, trn.accelerator) == (16, "neuron")
    assert "neuron-nc" in trn.kinds and "xid-79" not in trn.kinds
    assert set(OVERRIDE_KEYS) >= {"cluster.spares", "failures.seed", "days", "time_scale"}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "cluster.spare=1",
            "KEY one of name, description, days, time_scale, cluster.instance_type",
        ),
        ("spares", "expected KEY=VALUE"),
        ("cluster.spares=-1", "cluster.spares: must be an integer >= 0"),
        ("cluster.spares=two", "cluster.spares: must be an integer >= 0"),
        ("cluster.recovery=Sometimes", "cluster.recovery: must be one of Automatic, None"),
        ("cluster.deep_checks=yes", "cluster.deep_checks: must be true or false"),
        ("job.step_seconds=0", "job.step_seconds: must be a number > 0"),
        ("days=inf", "days: must be a number > 0"),
        ("failures.mix=llama4", "unknown mix 'llama4'"),
        ("cluster.instance_type=ml.c5.xlarge", "has no GPUs or Neuron devices"),
    ],
)
def test_a_bad_override_says_which_and_what_is_allowed(override: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"override '{override}'")) as err:
        with_overrides(load_scenario("p5-64"), [override])
    assert isinstance(err.value, TableError) and message in str(err.value)
