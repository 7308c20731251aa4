"""What the shipped fault policy decides for each signal, pinned as a golden file.

``pytest tests/golden --update-golden`` rewrites it after an intended change to the table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from podwarden.logic.faults import Signal, assess, classify
from podwarden.policy.fault_policy import SIGNALS, load_policy

GOLDEN = Path(__file__).with_name("fault_policy.txt")


def render() -> str:
    policy = load_policy()
    probes: list[tuple[str, int | str]] = [
        ("xid", x) for x in sorted({r.xid for r in policy.rules if r.xid is not None} | {999})
    ]
    probes += [("signal", name) for name in sorted(SIGNALS)]
    lines = ["signal                         rule          action    node-health-status"]
    for kind, value in probes:
        signal = (
            Signal(at=0.0, xid=int(value)) if kind == "xid" else Signal(at=0.0, name=str(value))
        )
        fault = classify(signal, policy)
        assert fault is not None
        health = assess([fault], policy, now=0.0)
        label = f"{kind} {value}"
        lines.append(f"{label:<30} {fault.rule:<13} {fault.action:<9} {health.status}")
    return "\n".join(lines) + "\n"


def test_policy_decisions_match_golden(request: pytest.FixtureRequest) -> None:
    text = render()
    if request.config.getoption("--update-golden"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()
