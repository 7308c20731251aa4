"""GPU health from NVML (``nvidia-ml-py``, module ``pynvml``): device count, ECC and row
remapping, Xid events, NVLink, throttling and the driver's recovery action.

Three layers, so that what the agent decides is a pure function of what it read:

- ``NvmlApi``: the few NVML calls the source makes, by GPU index, with plain values and three
  errors (``NvmlUnsupported``, ``NvmlGpuLost``, ``NvmlNotAvailable``). ``PynvmlApi`` (bottom of
  this file) implements it over ``pynvml``; tests implement it with a fake. This is the system
  boundary: nothing else here touches the library.
- ``read_gpu``: one GPU's ``GpuReadings`` through that interface.
- ``gpu_signals`` / ``count_signals`` / ``event_signals``: readings -> ``Signal`` values, pure.
  The fault policy (``policy/tables/fault_policy.yaml``) then decides severity and action.

Call names and constants follow resilience-anchors.md section 4 (nvidia-ml-py 13.615.71). The
kernel-log source sees most of the same Xids (NVIDIA's events miss some, which is why NVSentinel,
EKS's agent and HyperPod tail the kernel log too); both name a GPU by its PCI address and the
boot, so one Xid from both sources counts once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from podwarden.agent.sources.kernel_log import current_boot_id
from podwarden.logic.faults import Signal
from podwarden.model.labels import INSTANCE_TYPE
from podwarden.policy.catalog import Catalog

log = logging.getLogger("podwarden.agent.nvml")
T = TypeVar("T")

# NVML's numbers (nvml.h; the adapter's test checks them against pynvml's constants)
RECOVERY_NONE = 0
RECOVERY_GPU_RESET = 1
RECOVERY_NODE_REBOOT = 2
RECOVERY_DRAIN_P2P = 3
RECOVERY_DRAIN_AND_RESET = 4
RECOVERY_RECOVER_IMEX_DOMAIN = 5
RECOVERY_BUS_RESET = 6
RECOVERY_SYSTEM_REBOOT = 7
FI_DEV_GET_GPU_RECOVERY_ACTION = 230

CLOCKS_SW_POWER_CAP = 0x4
CLOCKS_HW_SLOWDOWN = 0x8
CLOCKS_SW_THERMAL = 0x20
CLOCKS_HW_THERMAL = 0x40
CLOCKS_HW_POWER_BRAKE = 0x80

NVLINK_ERROR_DL_REPLAY = 0
NVLINK_ERROR_DL_RECOVERY = 1
NVLINK_ERROR_DL_CRC_FLIT = 2
NVLINK_ERROR_DL_CRC_DATA = 3
NVLINK_COUNTERS = {
    "replay": NVLINK_ERROR_DL_REPLAY,
    "recovery": NVLINK_ERROR_DL_RECOVERY,
    "crc_flit": NVLINK_ERROR_DL_CRC_FLIT,
    "crc_data": NVLINK_ERROR_DL_CRC_DATA,
}
NVLINK_MAX_LINKS = 36  # NVML_NVLINK_MAX_LINKS: the last link index is one less

EVENT_XID = 0x8  # nvmlEventTypeXidCriticalError: the event data is the Xid
EVENT_DOUBLE_BIT_ECC = 0x2  # nvmlEventTypeDoubleBitEccError
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
RECOVERY_NAMES = {
    RECOVERY_NONE: "NONE",
    RECOVERY_GPU_RESET: "GPU_RESET",
    RECOVERY_NODE_REBOOT: "NODE_REBOOT",
    RECOVERY_DRAIN_P2P: "DRAIN_P2P",
    RECOVERY_DRAIN_AND_RESET: "DRAIN_AND_RESET",
    RECOVERY_RECOVER_IMEX_DOMAIN: "RECOVER_IMEX_DOMAIN",
    RECOVERY_BUS_RESET: "BUS_RESET",
    RECOVERY_SYSTEM_REBOOT: "SYSTEM_REBOOT",
}


class NvmlError(Exception):
    """An NVML call failed."""


class NvmlNotAvailable(NvmlError):
    """NVML cannot be used on this machine: no library, no driver, or no permission."""


class NvmlUnsupported(NvmlError):
    """This GPU (or driver) does not support the query: the reading is skipped."""


class NvmlGpuLost(NvmlError):
    """The GPU stopped answering (NVML_ERROR_GPU_IS_LOST): it fell off the bus."""


@dataclass(frozen=True)
class NvmlEvent:
    index: int  # the GPU's NVML index
    event_type: int
    data: int  # the Xid, for Xid events


class NvmlApi(Protocol):
    """The NVML calls the source makes. Queries raise ``NvmlUnsupported`` where the GPU cannot
    answer and ``NvmlGpuLost`` for a lost GPU; ``init`` raises ``NvmlNotAvailable``."""

    def init(self) -> None: ...

    def shutdown(self) -> None: ...

    def device_count(self) -> int: ...

    def pci_address(self, index: int) -> tuple[int, int, int]:
        """(domain, bus, device) of the GPU."""
        ...

    def uncorrected_ecc_volatile(self, index: int) -> int: ...

    def remapped_rows(self, index: int) -> tuple[int, int, bool, bool]:
        """(correctable rows, uncorrectable rows, remap pending, remap failure occurred)."""
        ...

    def nvlink_active(self, index: int, link: int) -> bool: ...

    def nvlink_error_counter(self, index: int, link: int, counter: int) -> int: ...

    def clocks_event_reasons(self, index: int) -> int: ...

    def recovery_action(self, index: int) -> int: ...

    def register_events(self, index: int, event_types: int) -> None:
        """Register for those of ``event_types`` the GPU supports."""
        ...

    def wait_event(self, timeout_ms: int) -> NvmlEvent | None:
        """The next event, or None when none came within the timeout."""
        ...


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


def pci_device(domain: int, bus: int, device: int) -> str:
    """The PCI address as the driver prints it in Xid lines: ``0000:b9:00``."""
    return f"{domain:04x}:{bus:02x}:{device:02x}"


def expected_gpus(node: dict[str, Any], catalog: Catalog) -> int | None:
    """The GPU count of the node's instance type (label ``node.kubernetes.io/instance-type``)
    in the instance catalog; None for a type the catalog does not know."""
    labels = node.get("metadata", {}).get("labels") or {}
    entry = catalog.types.get(labels.get(INSTANCE_TYPE, ""))
    return entry.gpu_count if entry is not None else None


# ---- readings -> signals (pure) ---------------------------------------------------------------


def count_signals(found: int, expected: int | None, at: float, boot_id: str) -> list[Signal]:
    """HyperPod's GPU count validation: "if there's a mismatch between the expected number of
    GPUs in a particular instance type ... and the count returned by nvidia-smi, then HMA
    reboots the node" (hyperpod-kubernetes.md section 8). ``expected`` is None when the
    instance type is not in the catalog: nothing to compare with."""
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


# ---- reading through the interface -----------------------------------------------------------


def _optional(call: Callable[..., T], *args: int) -> T | None:
    """``call(*args)``, or None where the GPU does not support it."""
    try:
        return call(*args)
    except NvmlUnsupported:
        return None


def discover_links(api: NvmlApi, index: int) -> tuple[int, ...]:
    """The NVLink links the GPU has: those whose state NVML reports (none on a PCIe card)."""
    found = (_optional(api.nvlink_active, index, link) for link in range(NVLINK_MAX_LINKS))
    return tuple(link for link, state in enumerate(found) if state is not None)


def read_gpu(api: NvmlApi, index: int, device: str, links: Sequence[int]) -> GpuReadings:
    """One GPU's readings; a lost GPU ends the reading there."""
    try:
        ecc = _optional(api.uncorrected_ecc_volatile, index)
        rows = _optional(api.remapped_rows, index)
        states = {link: _optional(api.nvlink_active, index, link) for link in links}
        up = [link for link, state in states.items() if state is not None]
        errors = _nvlink_error_totals(api, index, up)
        reasons = _optional(api.clocks_event_reasons, index)
        action = _optional(api.recovery_action, index)
    except NvmlGpuLost:
        return GpuReadings(index=index, device=device, lost=True)
    return GpuReadings(
        index=index,
        device=device,
        ecc_uncorrected=ecc,
        remap_pending=bool(rows and rows[2]),
        remap_failure=bool(rows and rows[3]),
        links_active=tuple(link for link, state in states.items() if state),
        links_inactive=tuple(link for link, state in states.items() if state is False),
        nvlink_errors=errors,
        clocks_event_reasons=reasons or 0,
        recovery_action=action,
    )


def _nvlink_error_totals(
    api: NvmlApi, index: int, links: Sequence[int]
) -> tuple[tuple[str, int], ...]:
    totals = []
    for name, counter in NVLINK_COUNTERS.items():
        values = [_optional(api.nvlink_error_counter, index, link, counter) for link in links]
        known = [v for v in values if v is not None]
        if known:
            totals.append((name, sum(known)))
    return tuple(totals)


# ---- the source ------------------------------------------------------------------------------


class NvmlSource:
    """The NVML fault source of ``podwarden agent --nvml``. ``read`` (every agent tick) drains
    NVML's events without waiting; every ``poll_interval`` seconds it also reads each GPU and
    the device count (DCGM's health watches sample every 10 s). NVML calls are short and
    synchronous: they run in the agent's loop.

    ``expected_gpus`` is the instance type's GPU count from the catalog, or None."""

    def __init__(
        self,
        api: NvmlApi,
        expected_gpus: int | None,
        *,
        boot_id: str = "",
        poll_interval: float = 10.0,
        refresh: float = 60.0,
    ) -> None:
        self.api = api
        self.expected_gpus = expected_gpus
        self.boot_id = boot_id or current_boot_id()
        self.poll_interval = poll_interval
        self.refresh = Refresh(refresh)
        self.devices: list[str] = []
        self.links: list[tuple[int, ...]] = []
        self._last_poll = float("-inf")
        self._opened = False

    def open(self) -> NvmlSource:
        """Initialise NVML, learn the GPUs and their links, register for Xid and double-bit ECC
        events. Raises ``NvmlNotAvailable`` with the reason when NVML cannot be used."""
        self.api.init()
        self._opened = True
        for index in range(self.api.device_count()):
            try:
                device = pci_device(*self.api.pci_address(index))
            except NvmlError:
                device = str(index)
            self.devices.append(device)
            try:
                self.links.append(discover_links(self.api, index))
                self.api.register_events(index, EVENT_XID | EVENT_DOUBLE_BIT_ECC)
            except NvmlError as exc:  # a lost GPU: its readings say so
                self.links.append(())
                log.warning("NVML: GPU %d (%s): %s", index, device, exc)
        return self

    def read(self, now: float) -> list[Signal]:
        signals = event_signals(self._drain_events(), self.devices, now, self.boot_id)
        if now - self._last_poll >= self.poll_interval:
            self._last_poll = now
            signals += self.refresh(self.poll(now))
        return signals

    def poll(self, now: float) -> list[Signal]:
        """Every level condition NVML reports now (before the refresh filter)."""
        out = count_signals(self._device_count(), self.expected_gpus, now, self.boot_id)
        for index, device in enumerate(self.devices):
            try:
                gpu = read_gpu(self.api, index, device, self.links[index])
            except NvmlError as exc:  # not a verdict on the GPU: try again next poll
                log.warning("NVML: GPU %d (%s): %s", index, device, exc)
                continue
            out += gpu_signals(gpu, now, self.boot_id)
        return out

    def _device_count(self) -> int:
        try:
            return self.api.device_count()
        except NvmlError:
            return len(self.devices)

    def _drain_events(self, limit: int = 1000) -> list[NvmlEvent]:
        events = []
        for _ in range(limit):
            try:
                event = self.api.wait_event(0)
            except NvmlError as exc:
                log.warning("NVML event wait: %s", exc)
                break
            if event is None:
                break
            events.append(event)
        return events

    def close(self) -> None:
        if self._opened:
            self._opened = False
            try:
                self.api.shutdown()
            except NvmlError as exc:
                log.warning("NVML shutdown: %s", exc)


# ---- pynvml ----------------------------------------------------------------------------------


class PynvmlApi:
    """``NvmlApi`` over ``pynvml``. Only this class calls the library; it turns NVML's error
    codes into the interface's three errors. Importing ``pynvml`` does not load the driver's
    ``libnvidia-ml.so.1``: ``init`` does, and reports a missing library as ``NvmlNotAvailable``.
    """

    def __init__(self) -> None:
        import pynvml  # type: ignore[import-untyped]  # noqa: PLC0415 (only where NVML is used)

        self.nv = pynvml
        self._handles: dict[int, object] = {}
        self._events: object | None = None

    def _error(self, exc: Exception) -> NvmlError:
        value = getattr(exc, "value", None)
        nv = self.nv
        unavailable = {
            nv.NVML_ERROR_LIBRARY_NOT_FOUND,
            nv.NVML_ERROR_DRIVER_NOT_LOADED,
            nv.NVML_ERROR_NO_PERMISSION,
            nv.NVML_ERROR_LIB_RM_VERSION_MISMATCH,
            nv.NVML_ERROR_UNINITIALIZED,
        }
        unsupported = {
            nv.NVML_ERROR_NOT_SUPPORTED,
            nv.NVML_ERROR_FUNCTION_NOT_FOUND,
            nv.NVML_ERROR_INVALID_ARGUMENT,
            nv.NVML_ERROR_NOT_FOUND,
        }
        if value in unavailable:
            return NvmlNotAvailable(f"NVML not available: {exc}")
        if value in unsupported:
            return NvmlUnsupported(str(exc))
        if value == nv.NVML_ERROR_GPU_IS_LOST:
            return NvmlGpuLost(str(exc))
        return NvmlError(str(exc))

    def _call(self, fn: Callable[..., T], *args: object) -> T:
        try:
            return fn(*args)
        except self.nv.NVMLError as exc:
            raise self._error(exc) from exc

    def _handle(self, index: int) -> object:
        if index not in self._handles:
            self._handles[index] = self._call(self.nv.nvmlDeviceGetHandleByIndex, index)
        return self._handles[index]

    def init(self) -> None:
        """Load and initialise NVML; any failure here means no NVML for this agent."""
        try:
            self.nv.nvmlInit()
        except self.nv.NVMLError as exc:
            raise NvmlNotAvailable(
                f"NVML not available: {exc} (the NVIDIA driver's libnvidia-ml.so.1 is needed: "
                "run on a GPU node, in a container with NVIDIA_VISIBLE_DEVICES=all)"
            ) from exc

    def shutdown(self) -> None:
        if self._events is not None:
            self._call(self.nv.nvmlEventSetFree, self._events)
            self._events = None
        self._call(self.nv.nvmlShutdown)

    def device_count(self) -> int:
        return int(self._call(self.nv.nvmlDeviceGetCount))

    def pci_address(self, index: int) -> tuple[int, int, int]:
        info = self._call(self.nv.nvmlDeviceGetPciInfo, self._handle(index))
        return int(info.domain), int(info.bus), int(info.device)

    def uncorrected_ecc_volatile(self, index: int) -> int:
        nv = self.nv
        return int(
            self._call(
                nv.nvmlDeviceGetTotalEccErrors,
                self._handle(index),
                nv.NVML_MEMORY_ERROR_TYPE_UNCORRECTED,
                nv.NVML_VOLATILE_ECC,
            )
        )

    def remapped_rows(self, index: int) -> tuple[int, int, bool, bool]:
        cor, unc, pending, failure = self._call(
            self.nv.nvmlDeviceGetRemappedRows, self._handle(index)
        )
        return int(cor), int(unc), bool(pending), bool(failure)

    def nvlink_active(self, index: int, link: int) -> bool:
        state = self._call(self.nv.nvmlDeviceGetNvLinkState, self._handle(index), link)
        return bool(state == self.nv.NVML_FEATURE_ENABLED)

    def nvlink_error_counter(self, index: int, link: int, counter: int) -> int:
        return int(
            self._call(self.nv.nvmlDeviceGetNvLinkErrorCounter, self._handle(index), link, counter)
        )

    def clocks_event_reasons(self, index: int) -> int:
        handle = self._handle(index)
        try:
            return int(self._call(self.nv.nvmlDeviceGetCurrentClocksEventReasons, handle))
        except NvmlUnsupported:  # drivers before the rename
            return int(self._call(self.nv.nvmlDeviceGetCurrentClocksThrottleReasons, handle))

    def recovery_action(self, index: int) -> int:
        (value,) = self._call(
            self.nv.nvmlDeviceGetFieldValues,
            self._handle(index),
            [self.nv.NVML_FI_DEV_GET_GPU_RECOVERY_ACTION],
        )
        if value.nvmlReturn != self.nv.NVML_SUCCESS:
            raise self._error(self.nv.NVMLError(value.nvmlReturn))
        return int(value.value.uiVal)

    def register_events(self, index: int, event_types: int) -> None:
        if self._events is None:
            self._events = self._call(self.nv.nvmlEventSetCreate)
        handle = self._handle(index)
        supported = int(self._call(self.nv.nvmlDeviceGetSupportedEventTypes, handle))
        if event_types & supported:
            self._call(
                self.nv.nvmlDeviceRegisterEvents, handle, event_types & supported, self._events
            )

    def wait_event(self, timeout_ms: int) -> NvmlEvent | None:
        if self._events is None:
            return None
        try:
            data = self.nv.nvmlEventSetWait(self._events, timeout_ms)
        except self.nv.NVMLError as exc:
            if getattr(exc, "value", None) == self.nv.NVML_ERROR_TIMEOUT:
                return None
            raise self._error(exc) from exc
        index = int(self._call(self.nv.nvmlDeviceGetIndex, data.device))
        return NvmlEvent(index=index, event_type=int(data.eventType), data=int(data.eventData))
