"""Safety limits of automatic recovery (``tables/remediation.yaml``)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from podwarden.policy.yaml_tables import exact_keys, packaged

TABLE = "remediation.yaml"


@dataclass(frozen=True)
class RemediationLimits:
    max_unhealthy_fraction: float
    max_repairs: int
    repair_window_seconds: float


def parse_limits(text: str, source: str) -> RemediationLimits:
    data = exact_keys(
        text, source, {"max_unhealthy_fraction", "max_repairs", "repair_window_seconds"}
    )
    fraction, repairs, window = (
        data["max_unhealthy_fraction"],
        data["max_repairs"],
        data["repair_window_seconds"],
    )
    if not isinstance(fraction, int | float) or not 0 < fraction <= 1:
        raise ValueError(f"{source}: max_unhealthy_fraction must be in (0, 1]")
    if not isinstance(repairs, int) or repairs < 1:
        raise ValueError(f"{source}: max_repairs must be a positive integer")
    if not isinstance(window, int | float) or window <= 0:
        raise ValueError(f"{source}: repair_window_seconds must be positive")
    return RemediationLimits(float(fraction), repairs, float(window))


@functools.cache
def load_limits() -> RemediationLimits:
    return parse_limits(*packaged(TABLE))
