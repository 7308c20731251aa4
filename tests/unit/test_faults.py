"""The fault policy and the pure fault logic: classify, de-duplicate, thresholds, windows."""

from __future__ import annotations

from pathlib import Path

import pytest

from podwarden.agent.sources.kernel_log import parse_line
from podwarden.agent.sources.simulated import injected
from podwarden.logic.faults import Fault, Signal, assess, classify
from podwarden.policy.fault_policy import PolicyError, load_policy, parse_policy

POLICY = load_policy()
NOW = 10_000.0


def status_after(*signals: Signal, now: float = NOW) -> str:
    faults = [f for f in (classify(s, POLICY) for s in signals) if f is not None]
    return assess(faults, POLICY, now).status


@pytest.mark.parametrize(
    ("xid", "status"),
    [
        (74, "UnschedulablePendingReplacement"),  # HyperPod: NVLink error -> replace
        (79, "UnschedulablePendingReplacement"),  # fallen off the bus
        (73, "UnschedulablePendingReboot"),  # HyperPod's fault-injection walkthrough
        (48, "UnschedulablePendingReboot"),  # double-bit ECC
        (13, "Schedulable"),  # application faults: no action
        (31, "Schedulable"),
        (43, "Schedulable"),
        (45, "Schedulable"),
        (999, "Schedulable"),  # unknown Xid: a warning event only
    ],
)
def test_xid_rows(xid: int, status: str) -> None:
    assert status_after(Signal(at=NOW, xid=xid, device="0000:b9:00")) == status


def test_gpu_count_mismatch_reboots() -> None:
    node = {"metadata": {"annotations": {"podwarden.io/inject-faults": '[{"gpu_count": 7}]'}}}
    (signal,) = injected(node, expected_gpus=8, now=NOW)
    assert signal.name == "gpu_count_mismatch"
    assert status_after(signal) == "UnschedulablePendingReboot"
    same = {"metadata": {"annotations": {"podwarden.io/inject-faults": '[{"gpu_count": 8}]'}}}
    assert injected(same, expected_gpus=8) == []


def test_worst_action_wins_and_labels_name_every_fault() -> None:
    faults = [
        classify(Signal(at=NOW, xid=48, device="a"), POLICY),
        classify(Signal(at=NOW, xid=79, device="b"), POLICY),
    ]
    health = assess([f for f in faults if f], POLICY, NOW)
    assert health.status == "UnschedulablePendingReplacement"
    assert set(health.conditions) == {"NvidiaErrorReboot", "NvidiaErrorReplace"}
    assert health.fault_types == "NvidiaErrorReboot_NvidiaErrorReplace"
    assert "XidGpuFallenOffBus" in health.fault_reasons
    assert health.quarantined


def test_duplicates_count_once_for_thresholds() -> None:
    same = [Signal(at=NOW - i, xid=94, device="0000:01:00") for i in range(5)]
    faults = [f for f in (classify(s, POLICY) for s in same) if f]
    assert len(assess(faults, POLICY, NOW).recent) == 1
    three = [Signal(at=NOW, xid=94, device=f"dev{i}") for i in range(3)]
    # xid 94 is a warning with threshold 3: events, never a quarantine
    assert status_after(*three) == "Schedulable"


def test_threshold_and_window_with_a_custom_policy(tmp_path: Path) -> None:
    table = tmp_path / "p.yaml"
    table.write_text(
        "version: 1\nrules:\n"
        "  - {id: flaky, xid: 94, severity: fatal, action: Reboot, condition: C, reason: R,"
        " threshold: 2, window_seconds: 60}\n"
    )
    policy = load_policy(table)

    def after(*ats: float) -> str:
        faults = [classify(Signal(at=t, xid=94, device=str(t)), policy) for t in ats]
        return assess([f for f in faults if f], policy, NOW).status

    assert after(NOW) == "Schedulable"  # one occurrence is below the threshold
    assert after(NOW, NOW - 10) == "UnschedulablePendingReboot"
    assert after(NOW, NOW - 120) == "Schedulable"  # the older one left the window


def test_faults_age_out_so_a_restarted_agent_clears_the_node() -> None:
    old = classify(Signal(at=NOW - 7200, xid=79), POLICY)
    assert old is not None
    restored = Fault.from_detail(old.to_detail())
    assert restored == old
    assert assess([restored], POLICY, NOW).status == "Schedulable"


def test_kernel_log_lines() -> None:
    line = (
        "[12345.6] NVRM: Xid (PCI:0000:b9:00): 74, pid=<unknown>, name=<unknown>, "
        "NVLink: fatal error detected on link 6"
    )
    signal = parse_line(line, at=NOW, boot_id="b1")
    assert signal is not None
    assert (signal.xid, signal.device, signal.boot_id) == (74, "0000:b9:00", "b1")
    off = parse_line("NVRM: GPU 0000:3b:00.0: GPU has fallen off the bus.", at=NOW)
    assert off is not None and off.xid == 79
    assert parse_line("eth0: link up", at=NOW) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 2\nrules: []", "version: 1"),
        ("version: 1\nrules: []", "non-empty list"),
        (
            "version: 1\nrules:\n  - {id: a, severity: info, action: None, reason: r}",
            "exactly one of xid or signal",
        ),
        (
            "version: 1\nrules:\n  - {id: a, xid: 1, severity: loud, action: None, reason: r}",
            "severity/action",
        ),
        (
            "version: 1\nrules:\n  - {id: a, xid: 1, severity: fatal, action: Reboot, reason: r}",
            "need a 'condition'",
        ),
        (
            "version: 1\nrules:\n  - {id: a, signal: nope, severity: info, action: None, reason: r}",
            "signal",
        ),
        (
            "version: 1\nrules:\n  - {id: a, xid: 1, severity: info, action: None, reason: r, colour: red}",
            "unknown field",
        ),
    ],
)
def test_bad_policies_fail_with_the_rule_named(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(text, "policy.yaml")


def test_a_fault_reported_again_stays_while_it_lasts() -> None:
    """A source that keeps re-reporting one lasting fault (same device and boot) keeps the node
    quarantined past the first report's window; the duplicates still count once."""
    window = next(r for r in POLICY.rules if r.id == POLICY.for_xid(79).id).window_seconds  # type: ignore[union-attr]
    first = Signal(at=NOW - window - 60, xid=79, device="0000:10:00.0", boot_id="b1")
    again = Signal(at=NOW - 30, xid=79, device="0000:10:00.0", boot_id="b1")
    assert status_after(first, now=NOW) == "Schedulable"  # alone, it aged out
    assert status_after(first, again, now=NOW) == "UnschedulablePendingReplacement"
    faults = [f for f in (classify(s, POLICY) for s in (first, again)) if f is not None]
    assert len(assess(faults, POLICY, NOW).recent) == 1
