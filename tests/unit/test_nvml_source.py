"""The NVML source against a fake NVML (the ``NvmlApi`` boundary), the fault policy's verdicts on
what it reports, and the real ``pynvml`` adapter as far as a machine without a GPU lets it go."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pynvml  # type: ignore[import-untyped]
import pytest

from podwarden.agent.sources import nvml_api
from podwarden.agent.sources.kernel_log import parse_line
from podwarden.agent.sources.nvml import NvmlSource, expected_gpus
from podwarden.agent.sources.nvml_api import (
    NvmlEvent,
    NvmlGpuLost,
    NvmlNotAvailable,
    NvmlUnsupported,
    PynvmlApi,
)
from podwarden.agent.sources.nvml_signals import (
    GpuReadings,
    Refresh,
    count_signals,
    event_signals,
    gpu_signals,
)
from podwarden.logic.faults import Signal, assess, classify
from podwarden.policy.catalog import load_catalog
from podwarden.policy.fault_policy import load_policy

POLICY = load_policy()
NOW = 10_000.0
BOOT = "boot-1"


@dataclass
class FakeGpu:
    bus: int
    ecc: int | None = 0
    rows: tuple[int, int, bool, bool] | None = (0, 0, False, False)
    links: dict[int, bool] = field(default_factory=dict)  # link -> active; empty: no NVLink
    link_errors: dict[int, int] = field(default_factory=dict)  # counter -> count on each link
    reasons: int | None = 0
    recovery: int | None = 0
    lost: bool = False


class FakeNvml:
    """NVML as the source sees it, with the errors the adapter raises."""

    def __init__(self, gpus: list[FakeGpu], *, available: bool = True) -> None:
        self.gpus = gpus
        self.available = available
        self.events: list[NvmlEvent] = []
        self.registered: dict[int, int] = {}
        self.calls = 0
        self.shut = False

    def _gpu(self, index: int) -> FakeGpu:
        self.calls += 1
        gpu = self.gpus[index]
        if gpu.lost:
            raise NvmlGpuLost("GPU is lost")
        return gpu

    def init(self) -> None:
        if not self.available:
            raise NvmlNotAvailable("NVML not available: NVML Shared Library Not Found")

    def shutdown(self) -> None:
        self.shut = True

    def device_count(self) -> int:
        return len(self.gpus)

    def pci_address(self, index: int) -> tuple[int, int, int]:
        return 0, self.gpus[index].bus, 0

    def uncorrected_ecc_volatile(self, index: int) -> int:
        value = self._gpu(index).ecc
        if value is None:
            raise NvmlUnsupported("Not Supported")
        return value

    def remapped_rows(self, index: int) -> tuple[int, int, bool, bool]:
        rows = self._gpu(index).rows
        if rows is None:
            raise NvmlUnsupported("Not Supported")
        return rows

    def nvlink_active(self, index: int, link: int) -> bool:
        links = self._gpu(index).links
        if link not in links:
            raise NvmlUnsupported("Invalid Argument")
        return links[link]

    def nvlink_error_counter(self, index: int, link: int, counter: int) -> int:
        gpu = self._gpu(index)
        if link not in gpu.links:
            raise NvmlUnsupported("Invalid Argument")
        return gpu.link_errors.get(counter, 0)

    def clocks_event_reasons(self, index: int) -> int:
        value = self._gpu(index).reasons
        if value is None:
            raise NvmlUnsupported("Not Supported")
        return value

    def recovery_action(self, index: int) -> int:
        value = self._gpu(index).recovery
        if value is None:
            raise NvmlUnsupported("Not Supported")
        return value

    def register_events(self, index: int, event_types: int) -> None:
        self.registered[index] = event_types

    def wait_event(self, timeout_ms: int) -> NvmlEvent | None:
        return self.events.pop(0) if self.events else None


def healthy(n: int, links: int = 0) -> list[FakeGpu]:
    return [FakeGpu(bus=0x10 + i, links=dict.fromkeys(range(links), True)) for i in range(n)]


def opened(api: FakeNvml, expected: int | None = 8) -> NvmlSource:
    return NvmlSource(api, expected, boot_id=BOOT, poll_interval=10.0, refresh=60.0).open()


def verdict(*signals: Signal) -> str:
    faults = [f for f in (classify(s, POLICY) for s in signals) if f is not None]
    return assess(faults, POLICY, NOW).status


def names(signals: list[Signal]) -> list[str | int | None]:
    return [s.name or s.xid for s in signals]


# ---- the pure decisions ---------------------------------------------------------------------


def test_a_healthy_node_reports_nothing() -> None:
    source = opened(FakeNvml(healthy(8, links=18)))
    assert source.devices[0] == "0000:10:00"
    assert source.links[0] == tuple(range(18))
    assert source.read(NOW) == []


@pytest.mark.parametrize(
    ("found", "expected", "signals", "status"),
    [
        (7, 8, ["gpu_count_mismatch"], "UnschedulablePendingReboot"),  # HyperPod: reboot
        (8, 8, [], "Schedulable"),
        (1, None, [], "Schedulable"),  # an instance type the catalog does not know
    ],
)
def test_gpu_count_against_the_catalog(
    found: int, expected: int | None, signals: list[str], status: str
) -> None:
    out = count_signals(found, expected, NOW, BOOT)
    assert names(out) == signals
    assert verdict(*out) == status
    source = opened(FakeNvml(healthy(found)), expected)
    assert names(source.read(NOW)) == signals


def test_expected_gpus_comes_from_the_instance_type_label() -> None:
    catalog = load_catalog()
    node = {"metadata": {"labels": {"node.kubernetes.io/instance-type": "ml.p5.48xlarge"}}}
    assert expected_gpus(node, catalog) == 8
    assert expected_gpus({"metadata": {"labels": {}}}, catalog) is None
    trn = {"metadata": {"labels": {"node.kubernetes.io/instance-type": "ml.trn1.32xlarge"}}}
    assert expected_gpus(trn, catalog) == 0


@pytest.mark.parametrize(
    ("gpu", "signal", "status"),
    [
        (GpuReadings(0, "d", ecc_uncorrected=2), "gpu_ecc_uncorrectable", "Schedulable"),
        (
            GpuReadings(0, "d", remap_pending=True),
            "gpu_row_remap_pending",
            "UnschedulablePendingReboot",
        ),
        (
            GpuReadings(0, "d", remap_failure=True),
            "gpu_row_remap_failure",
            "UnschedulablePendingReplacement",
        ),
        (
            GpuReadings(0, "d", links_active=(0, 1), links_inactive=(2,)),
            "gpu_nvlink_inactive",
            "UnschedulablePendingReboot",
        ),
        (
            GpuReadings(0, "d", nvlink_errors=(("replay", 4), ("recovery", 1))),
            "gpu_nvlink_errors",
            "Schedulable",
        ),
        (GpuReadings(0, "d", clocks_event_reasons=0x40), "gpu_thermal_throttle", "Schedulable"),
        (GpuReadings(0, "d", clocks_event_reasons=0x20), "gpu_thermal_throttle", "Schedulable"),
        (GpuReadings(0, "d", clocks_event_reasons=0x80), "gpu_power_throttle", "Schedulable"),
        (GpuReadings(0, "d", clocks_event_reasons=0x8), "gpu_power_throttle", "Schedulable"),
        (GpuReadings(0, "d", lost=True), 79, "UnschedulablePendingReplacement"),
    ],
)
def test_each_reading_becomes_a_signal_the_policy_classifies(
    gpu: GpuReadings, signal: str | int, status: str
) -> None:
    out = gpu_signals(gpu, NOW, BOOT)
    assert names(out) == [signal]
    assert out[0].device == "d" and out[0].boot_id == BOOT
    assert out[0].message.startswith("NVML: GPU 0 (d): ")
    assert verdict(*out) == status


@pytest.mark.parametrize(
    "gpu",
    [
        GpuReadings(0, "d"),
        GpuReadings(0, "d", ecc_uncorrected=0),
        GpuReadings(0, "d", clocks_event_reasons=0x4 | 0x1),  # power cap, idle: normal
        GpuReadings(0, "d", links_inactive=(0, 1, 2)),  # no link up: no NVLink fabric in use
        GpuReadings(0, "d", links_active=(0,), nvlink_errors=(("crc_flit", 9), ("recovery", 0))),
        GpuReadings(0, "d", recovery_action=0),
        GpuReadings(0, "d", recovery_action=None),  # a driver without the field
    ],
)
def test_normal_readings_report_nothing(gpu: GpuReadings) -> None:
    assert gpu_signals(gpu, NOW, BOOT) == []


@pytest.mark.parametrize(
    ("action", "signal", "status"),
    [
        (nvml_api.RECOVERY_GPU_RESET, "gpu_recovery_reset", "UnschedulablePendingReboot"),
        (nvml_api.RECOVERY_DRAIN_AND_RESET, "gpu_recovery_reset", "UnschedulablePendingReboot"),
        (nvml_api.RECOVERY_BUS_RESET, "gpu_recovery_reset", "UnschedulablePendingReboot"),
        (nvml_api.RECOVERY_NODE_REBOOT, "gpu_recovery_reboot", "UnschedulablePendingReboot"),
        (nvml_api.RECOVERY_SYSTEM_REBOOT, "gpu_recovery_reboot", "UnschedulablePendingReboot"),
        (nvml_api.RECOVERY_DRAIN_P2P, "gpu_recovery_drain", "Schedulable"),
        (nvml_api.RECOVERY_RECOVER_IMEX_DOMAIN, "gpu_recovery_imex", "Schedulable"),
    ],
)
def test_the_driver_recovery_action_maps_to_an_action(
    action: int, signal: str, status: str
) -> None:
    out = gpu_signals(GpuReadings(0, "d", recovery_action=action), NOW, BOOT)
    assert names(out) == [signal]
    assert nvml_api.RECOVERY_NAMES[action] in out[0].message
    assert verdict(*out) == status
    fault = classify(out[0], POLICY)
    assert fault is not None
    if signal == "gpu_recovery_reset":
        assert fault.action == "ResetGPU"


def test_xid_events_and_kernel_log_lines_of_one_fault_count_once() -> None:
    events = [NvmlEvent(index=1, event_type=nvml_api.EVENT_XID, data=79)]
    (from_nvml,) = event_signals(events, ["0000:10:00", "0000:b9:00"], NOW, BOOT)
    assert (from_nvml.xid, from_nvml.device) == (79, "0000:b9:00")
    from_kmsg = parse_line(
        "NVRM: Xid (PCI:0000:B9:00): 79, pid=<unknown>, GPU has fallen off the bus.", NOW, BOOT
    )
    assert from_kmsg is not None and from_kmsg.device == from_nvml.device
    lost = gpu_signals(GpuReadings(1, "0000:b9:00", lost=True), NOW + 1, BOOT)
    faults = [classify(s, POLICY) for s in (from_nvml, from_kmsg, *lost)]
    health = assess([f for f in faults if f is not None], POLICY, NOW + 2)
    assert len(health.recent) == 1
    assert health.status == "UnschedulablePendingReplacement"


def test_double_bit_ecc_event_is_xid_48_and_other_events_are_ignored() -> None:
    events = [
        NvmlEvent(index=0, event_type=nvml_api.EVENT_DOUBLE_BIT_ECC, data=0),
        NvmlEvent(index=0, event_type=0x4, data=0),  # a P-state change
    ]
    out = event_signals(events, ["0000:10:00"], NOW, BOOT)
    assert names(out) == [48]
    assert verdict(*out) == "UnschedulablePendingReboot"


def test_refresh_resends_a_lasting_condition_once_a_period() -> None:
    refresh = Refresh(period=60.0)
    pending = Signal(at=NOW, name="gpu_row_remap_pending", device="d")
    assert refresh([pending]) == [pending]
    again = Signal(at=NOW + 30, name="gpu_row_remap_pending", device="d")
    other = Signal(at=NOW + 30, name="gpu_row_remap_pending", device="e")
    assert refresh([again, other]) == [other]
    later = Signal(at=NOW + 61, name="gpu_row_remap_pending", device="d")
    assert refresh([later]) == [later]


# ---- the source over the fake ---------------------------------------------------------------


def test_the_source_reads_through_the_interface() -> None:
    gpus = healthy(8, links=18)
    gpus[2].rows = (0, 1, True, False)
    gpus[3].links[5] = False
    gpus[4].recovery = nvml_api.RECOVERY_NODE_REBOOT
    gpus[5].lost = True
    api = FakeNvml(gpus)
    api.events.append(NvmlEvent(index=6, event_type=nvml_api.EVENT_XID, data=13))
    source = opened(api)
    assert set(api.registered.values()) == {nvml_api.EVENT_XID | nvml_api.EVENT_DOUBLE_BIT_ECC}
    out = source.read(NOW)
    by_device = {(s.device, s.name or s.xid) for s in out}
    assert by_device == {
        ("0000:16:00", 13),  # the event
        ("0000:12:00", "gpu_row_remap_pending"),
        ("0000:13:00", "gpu_nvlink_inactive"),
        ("0000:14:00", "gpu_recovery_reboot"),
        ("0000:15:00", 79),  # lost
    }
    assert verdict(*out) == "UnschedulablePendingReplacement"
    assert all(s.boot_id == BOOT for s in out)


def test_devices_are_polled_every_interval_and_events_on_every_read() -> None:
    api = FakeNvml(healthy(2))
    source = opened(api, expected=2)
    assert source.read(NOW) == []
    calls = api.calls
    api.events.append(NvmlEvent(index=0, event_type=nvml_api.EVENT_XID, data=31))
    assert names(source.read(NOW + 1)) == [31]  # the event, no device reads
    assert api.calls == calls
    api.gpus[0].rows = (0, 0, True, False)
    assert names(source.read(NOW + 10)) == ["gpu_row_remap_pending"]
    assert source.read(NOW + 20) == []  # still pending: not resent before the refresh period
    assert names(source.read(NOW + 70)) == ["gpu_row_remap_pending"]


def test_unsupported_queries_are_skipped() -> None:
    gpu = FakeGpu(bus=0x10, ecc=None, rows=None, reasons=None, recovery=None)
    source = opened(FakeNvml([gpu]), expected=1)
    assert source.links == [()]
    assert source.read(NOW) == []


def test_an_unexpected_nvml_error_skips_the_gpu_until_the_next_poll() -> None:
    class Flaky(FakeNvml):
        def remapped_rows(self, index: int) -> tuple[int, int, bool, bool]:
            raise nvml_api.NvmlError("Unknown Error")

    source = opened(Flaky(healthy(1)), expected=1)
    assert source.read(NOW) == []


def test_close_shuts_nvml_down_once() -> None:
    api = FakeNvml(healthy(1))
    source = opened(api, expected=1)
    source.close()
    source.close()
    assert api.shut


# ---- the real adapter, without a GPU --------------------------------------------------------


def _nvml_loads() -> bool:
    try:
        PynvmlApi().init()
    except NvmlNotAvailable:
        return False
    return True


def test_pynvml_constants_match_the_source() -> None:
    assert pynvml.NVML_FI_DEV_GET_GPU_RECOVERY_ACTION == nvml_api.FI_DEV_GET_GPU_RECOVERY_ACTION
    for name in nvml_api.RECOVERY_NAMES.values():
        value = getattr(pynvml, f"NVML_GPU_RECOVERY_ACTION_{name}")
        assert nvml_api.RECOVERY_NAMES[value] == name
    assert pynvml.nvmlEventTypeXidCriticalError == nvml_api.EVENT_XID
    assert pynvml.nvmlEventTypeDoubleBitEccError == nvml_api.EVENT_DOUBLE_BIT_ECC
    assert pynvml.nvmlClocksEventReasonHwThermalSlowdown == nvml_api.CLOCKS_HW_THERMAL
    assert pynvml.nvmlClocksEventReasonSwThermalSlowdown == nvml_api.CLOCKS_SW_THERMAL
    assert pynvml.nvmlClocksEventReasonHwPowerBrakeSlowdown == nvml_api.CLOCKS_HW_POWER_BRAKE
    assert pynvml.nvmlClocksEventReasonHwSlowdown == nvml_api.CLOCKS_HW_SLOWDOWN
    assert pynvml.NVML_NVLINK_ERROR_DL_RECOVERY == nvml_api.NVLINK_ERROR_DL_RECOVERY
    assert pynvml.NVML_NVLINK_MAX_LINKS == nvml_api.NVLINK_MAX_LINKS


def test_the_adapter_translates_nvml_errors() -> None:
    api = PynvmlApi()
    assert isinstance(api._error(pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST)), NvmlGpuLost)
    unsupported = api._error(pynvml.NVMLError(pynvml.NVML_ERROR_NOT_SUPPORTED))
    assert isinstance(unsupported, NvmlUnsupported)
    missing = api._error(pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND))
    assert isinstance(missing, NvmlNotAvailable)
    assert type(api._error(pynvml.NVMLError(pynvml.NVML_ERROR_UNKNOWN))) is nvml_api.NvmlError


@pytest.mark.skipif(_nvml_loads(), reason="this machine has NVML")
def test_without_nvml_the_source_reports_it_clearly() -> None:
    source = NvmlSource(PynvmlApi(), 8, boot_id=BOOT)
    with pytest.raises(NvmlNotAvailable, match="NVML not available: NVML Shared Library Not Found"):
        source.open()
    source.close()  # nothing to shut down


@pytest.mark.skipif(_nvml_loads(), reason="this machine has NVML")
def test_agent_with_nvml_exits_with_the_reason(tmp_path: Path) -> None:
    log = tmp_path / "kmsg"
    log.write_text("")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "podwarden.cli.main",
            "agent",
            "--node",
            "n",
            "--kubeconfig",
            str(tmp_path / "none"),
            "--kernel-log",
            str(log),
            "--nvml",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "NVML not available" in done.stderr
    assert "Traceback" not in done.stderr
