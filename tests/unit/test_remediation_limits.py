"""The shipped safety limits load; bad tables fail at load."""

from __future__ import annotations

import pytest

from podwarden.policy.remediation import load_limits, parse_limits


def test_shipped_limits() -> None:
    limits = load_limits()
    assert limits.max_unhealthy_fraction == 0.2  # EKS / Karpenter's default
    assert limits.max_repairs >= 1 and limits.repair_window_seconds > 0


@pytest.mark.parametrize(
    "text",
    [
        "max_unhealthy_fraction: 0.2",
        "max_unhealthy_fraction: 1.5\nmax_repairs: 1\nrepair_window_seconds: 1",
        "max_unhealthy_fraction: 0.2\nmax_repairs: 0\nrepair_window_seconds: 1",
        "max_unhealthy_fraction: 0.2\nmax_repairs: 1\nrepair_window_seconds: -1",
    ],
)
def test_bad_limits_fail(text: str) -> None:
    with pytest.raises(ValueError, match=r"remediation\.yaml"):
        parse_limits(text, "remediation.yaml")
