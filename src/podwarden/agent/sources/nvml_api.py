"""NVML's side of the NVML source (``nvml.py``): the few calls it makes, by GPU index, with plain
values (``NvmlApi``, ``NvmlEvent``), its three errors (``NvmlUnsupported``, ``NvmlGpuLost``,
``NvmlNotAvailable``), NVML's numbers, and ``PynvmlApi``, the one implementation, over ``pynvml``.

This is the system boundary: only ``PynvmlApi`` touches the library; tests implement ``NvmlApi``
with a fake. Call names and constants follow docs/sources.md, "NVML calls"
(nvidia-ml-py 13.615.71).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

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
