"""GPU health from NVML (``nvidia-ml-py``, module ``pynvml``): device count, ECC and row
remapping, Xid events, NVLink, throttling and the driver's recovery action.

Three layers, so that what the agent decides is a pure function of what it read:

- ``nvml_api.NvmlApi``: the few NVML calls the source makes, by GPU index, with plain values and
  three errors. ``nvml_api.PynvmlApi`` implements it over ``pynvml``; tests implement it with a
  fake. This is the system boundary: nothing else touches the library.
- ``read_gpu`` (here): one GPU's ``GpuReadings`` through that interface.
- ``nvml_signals``: readings -> ``Signal`` values, pure. The fault policy
  (``policy/tables/fault_policy.yaml``) then decides severity and action.

``NvmlSource`` (here) ties them together for ``podwarden agent --nvml``. The kernel-log source
sees most of the same Xids (NVIDIA's events miss some, which is why NVSentinel, EKS's agent and
HyperPod tail the kernel log too); both name a GPU by its PCI address and the boot, so one Xid
from both sources counts once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from podwarden.agent.sources.kernel_log import current_boot_id
from podwarden.agent.sources.nvml_api import (
    EVENT_DOUBLE_BIT_ECC,
    EVENT_XID,
    NVLINK_COUNTERS,
    NVLINK_MAX_LINKS,
    NvmlApi,
    NvmlError,
    NvmlEvent,
    NvmlGpuLost,
    NvmlUnsupported,
)
from podwarden.agent.sources.nvml_signals import (
    GpuReadings,
    Refresh,
    count_signals,
    event_signals,
    gpu_signals,
)
from podwarden.logic.faults import Signal
from podwarden.model.labels import INSTANCE_TYPE
from podwarden.policy.catalog import Catalog

log = logging.getLogger("podwarden.agent.nvml")
T = TypeVar("T")


def pci_device(domain: int, bus: int, device: int) -> str:
    """The PCI address as the driver prints it in Xid lines: ``0000:b9:00``."""
    return f"{domain:04x}:{bus:02x}:{device:02x}"


def expected_gpus(node: dict[str, Any], catalog: Catalog) -> int | None:
    """The GPU count of the node's instance type (label ``node.kubernetes.io/instance-type``)
    in the instance catalog; None for a type the catalog does not know."""
    labels = node.get("metadata", {}).get("labels") or {}
    entry = catalog.types.get(labels.get(INSTANCE_TYPE, ""))
    return entry.gpu_count if entry is not None else None


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
