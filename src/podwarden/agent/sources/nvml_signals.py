"""NVML readings -> fault signals, pure: what one GPU's readings (``GpuReadings``), the device
count and NVML's events say, as ``Signal`` values; the fault policy
(``policy/tables/fault_policy.yaml``) then decides severity and action. ``Refresh`` paces the
conditions NVML keeps reporting.

A lost GPU and NVML's Xid events become Xid signals, the same as the kernel-log source's: both
name a GPU by its PCI address and the boot, so one Xid from both sources counts once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from podwarden.agent.sources.nvml_api import (
    CLOCKS_HW_POWER_BRAKE,
    CLOCKS_HW_SLOWDOWN,
    CLOCKS_HW_THERMAL,
    CLOCKS_SW_THERMAL,
    EVENT_DOUBLE_BIT_ECC,
    EVENT_XID,
    RECOVERY_BUS_RESET,
    RECOVERY_DRAIN_AND_RESET,
    RECOVERY_DRAIN_P2P,
    RECOVERY_GPU_RESET,
    RECOVERY_NAMES,
    RECOVERY_NODE_REBOOT,
    RECOVERY_RECOVER_IMEX_DOMAIN,
    RECOVERY_SYSTEM_REBOOT,
    NvmlEvent,
)
from podwarden.logic.faults import Signal

XID_DOUBLE_BIT_ECC = 48
XID_FALLEN_OFF_BUS = 79

# what the driver's recovery action asks for -> the named signal the policy classifies
RECOVERY_SIGNALS = {
    RECOVERY_GPU_RESET: "gpu_recovery_reset",
    RECOVERY_DRAIN_AND_RESET: "gpu_recovery_reset",
    RECOVERY_BUS_RESET: "gpu_recovery_reset",
    RECOVERY_NODE_REBOOT: "gpu_recovery_reboot",
    RECOVERY_SYSTEM_REBOOT: "gpu_recovery_reboot",
    RECOVERY_DRAIN_P2P: "gpu_recovery_drain",
    RECOVERY_RECOVER_IMEX_DOMAIN: "gpu_recovery_imex",
}


@dataclass(frozen=True)
class GpuReadings:
    """One GPU as NVML saw it. None / empty where the GPU does not support the query."""

    index: int
    device: str  # PCI address, kernel-log form
    lost: bool = False
    ecc_uncorrected: int | None = None
    remap_pending: bool = False
    remap_failure: bool = False
    links_active: tuple[int, ...] = ()
    links_inactive: tuple[int, ...] = ()
    nvlink_errors: tuple[tuple[str, int], ...] = ()  # counter name -> total over the links
    clocks_event_reasons: int = 0
    recovery_action: int | None = None


def count_signals(found: int, expected: int | None, at: float, boot_id: str) -> list[Signal]:
    """HyperPod's GPU count validation: "if there's a mismatch between the expected number of
    GPUs in a particular instance type ... and the count returned by nvidia-smi, then HMA
    reboots the node" (docs/sources.md, "Health-monitoring agent"). ``expected`` is None when
    the instance type is not in the catalog: nothing to compare with."""
    if expected is None or found == expected:
        return []
    message = f"NVML reports {found} GPUs, the instance type has {expected}"
    return [Signal(at=at, name="gpu_count_mismatch", boot_id=boot_id, message=message)]


def gpu_signals(gpu: GpuReadings, at: float, boot_id: str) -> list[Signal]:
    """What one GPU's readings say. A lost GPU is Xid 79, the kernel's "fallen off the bus", so
    the two sources agree on one fault."""

    prefix = f"NVML: GPU {gpu.index} ({gpu.device}): "

    def signal(name: str, what: str) -> Signal:
        return Signal(at=at, name=name, device=gpu.device, boot_id=boot_id, message=prefix + what)

    if gpu.lost:
        what = "GPU is lost (NVML_ERROR_GPU_IS_LOST): fallen off the bus"
        return [
            Signal(
                at=at,
                xid=XID_FALLEN_OFF_BUS,
                device=gpu.device,
                boot_id=boot_id,
                message=prefix + what,
            )
        ]
    out = []
    if gpu.ecc_uncorrected:
        out.append(
            signal("gpu_ecc_uncorrectable", f"{gpu.ecc_uncorrected} uncorrectable ECC errors")
        )
    if gpu.remap_failure:
        out.append(signal("gpu_row_remap_failure", "row remapping failed"))
    if gpu.remap_pending:
        out.append(signal("gpu_row_remap_pending", "row remapping pending (needs a reset)"))
    out += _nvlink_signals(gpu, signal)
    out += _clock_signals(gpu.clocks_event_reasons, signal)
    action = gpu.recovery_action
    # NONE needs nothing, and a value newer than this table is not guessed at
    if action is not None and action in RECOVERY_SIGNALS:
        what = f"driver recovery action NVML_GPU_RECOVERY_ACTION_{RECOVERY_NAMES[action]}"
        out.append(signal(RECOVERY_SIGNALS[action], what))
    return out


def _nvlink_signals(gpu: GpuReadings, signal: Callable[[str, str], Signal]) -> list[Signal]:
    """A link is inactive only if another link of the GPU is active: a GPU with every link
    inactive has no NVLink fabric in use (a PCIe card, a bridge-less board), not a fault."""
    out = []
    if gpu.links_inactive and gpu.links_active:
        links = ", ".join(str(link) for link in gpu.links_inactive)
        out.append(signal("gpu_nvlink_inactive", f"NVLink link(s) {links} inactive"))
    counts = dict(gpu.nvlink_errors)
    if counts.get("recovery", 0) > 0:
        listed = ", ".join(f"{k}={v}" for k, v in gpu.nvlink_errors)
        out.append(signal("gpu_nvlink_errors", f"NVLink DL errors {listed}"))
    return out


def _clock_signals(reasons: int, signal: Callable[[str, str], Signal]) -> list[Signal]:
    """Thermal and power slowdowns. ``SwPowerCap`` alone is the normal power limit at work
    under load and is not reported."""
    out = []
    if reasons & (CLOCKS_HW_THERMAL | CLOCKS_SW_THERMAL):
        out.append(signal("gpu_thermal_throttle", f"thermal slowdown (clock reasons {reasons:#x})"))
    if reasons & (CLOCKS_HW_POWER_BRAKE | CLOCKS_HW_SLOWDOWN):
        out.append(signal("gpu_power_throttle", f"power brake or HW slowdown ({reasons:#x})"))
    return out


def event_signals(
    events: Iterable[NvmlEvent], devices: Sequence[str], at: float, boot_id: str
) -> list[Signal]:
    """NVML events -> Xid signals. A double-bit ECC event without an Xid is Xid 48, as the
    driver reports it in the kernel log."""
    out = []
    for event in events:
        device = devices[event.index] if 0 <= event.index < len(devices) else str(event.index)
        if event.event_type & EVENT_XID:
            xid, what = event.data, f"Xid {event.data} (NVML event)"
        elif event.event_type & EVENT_DOUBLE_BIT_ECC:
            xid, what = XID_DOUBLE_BIT_ECC, "double-bit ECC error (NVML event)"
        else:
            continue
        message = f"NVML: GPU {event.index} ({device}): {what}"
        out.append(Signal(at=at, xid=xid, device=device, boot_id=boot_id, message=message))
    return out


class Refresh:
    """Conditions NVML keeps reporting (a pending remap, a throttled clock) are sent when first
    seen and then once every ``period`` seconds while they last: often enough to stay inside
    their rule's window, seldom enough not to write the node on every poll."""

    def __init__(self, period: float = 60.0) -> None:
        self.period = period
        self._sent: dict[tuple[int | None, str | None, str], float] = {}

    def __call__(self, signals: Iterable[Signal]) -> list[Signal]:
        out = []
        for s in signals:
            key = (s.xid, s.name, s.device)
            last = self._sent.get(key)
            if last is None or s.at - last >= self.period:
                self._sent[key] = s.at
                out.append(s)
        return out
