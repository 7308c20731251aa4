"""Fault sources: I/O only, each turns what it reads into ``logic.faults.Signal`` values."""

from __future__ import annotations

from typing import Protocol

from podwarden.logic.faults import Signal


class FaultSource(Protocol):
    """What ``NodeAgent`` reads on every tick: the kernel log, NVML."""

    def read(self, now: float) -> list[Signal]:
        """The signals observed since the last call; never blocks for long."""
        ...

    def close(self) -> None: ...
