"""Neuron driver hardware errors in the kernel log -> named signals -> the fault policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from podwarden.agent.sources.kernel_log import KernelLogFollower, parse_line
from podwarden.agent.sources.neuron import parse_neuron_line
from podwarden.logic.faults import Signal, assess, classify
from podwarden.policy.fault_policy import load_policy

POLICY = load_policy()
NOW = 10_000.0

# the line of the Neuron runtime troubleshooting guide, as /dev/kmsg prints it
DOC_LINE = (
    "3,2048,91234567,-;NEURON_HW_ERR=SRAM_UNCORRECTABLE_ERROR instance-id=i-0592464924bd45322 "
    "hostname=ip-172-31-61-252 nd-id=0 nc-id=0 serial-num=19fcda00f5ff6eb9 "
    "action=TERMINATE_INSTANCE"
)


def status_of(*signals: Signal) -> str:
    faults = [f for f in (classify(s, POLICY) for s in signals) if f is not None]
    return assess(faults, POLICY, NOW).status


@pytest.mark.parametrize(
    ("kind", "signal", "status"),
    [
        (
            "SRAM_UNCORRECTABLE_ERROR",
            "neuron_sram_uncorrectable",
            "UnschedulablePendingReplacement",
        ),
        ("NC_UNCORRECTABLE_ERROR", "neuron_nc_uncorrectable", "UnschedulablePendingReplacement"),
        ("HBM_UNCORRECTABLE_ERROR", "neuron_hbm_uncorrectable", "UnschedulablePendingReplacement"),
        ("DMA_ERROR", "neuron_dma_error", "UnschedulablePendingReplacement"),
        ("SOMETHING_NEW", "neuron_hw_error", "Schedulable"),  # an Event until the table names it
    ],
)
def test_each_kind_of_neuron_error(kind: str, signal: str, status: str) -> None:
    line = f"NEURON_HW_ERR={kind} instance-id=i-0abc hostname=h nd-id=3 nc-id=1 action=TERMINATE_INSTANCE"
    parsed = parse_line(line, NOW, "b1")
    assert parsed is not None
    assert (parsed.name, parsed.device, parsed.boot_id, parsed.xid) == (signal, "nd3", "b1", None)
    assert parsed.message == line
    assert status_of(parsed) == status


def test_the_documented_line_through_kmsg_framing() -> None:
    parsed = parse_line(DOC_LINE, NOW)
    assert parsed is not None
    assert (parsed.name, parsed.device) == ("neuron_sram_uncorrectable", "nd0")
    assert parsed.message.startswith("NEURON_HW_ERR=SRAM_UNCORRECTABLE_ERROR")
    fault = classify(parsed, POLICY)
    assert fault is not None
    assert (fault.condition, fault.action) == ("NeuronErrorReplace", "Replace")


@pytest.mark.parametrize(
    ("line", "device"),
    [
        ("kernel: NEURON_HW_ERR=DMA_ERROR affecting neuron devices", ""),  # EKS's test line
        ("neuron0: NEURON_HW_ERR=HBM_UNCORRECTABLE_ERROR device=2", "nd2"),
    ],
)
def test_lines_without_nd_id(line: str, device: str) -> None:
    parsed = parse_neuron_line(line, NOW)
    assert parsed is not None and parsed.device == device


def test_other_neuron_driver_lines_are_not_faults() -> None:
    assert parse_line("neuron:npid_detach: neuron:npid_detach: pid=90193, slot=0", NOW) is None
    assert parse_line("neuron: loading driver 2.19", NOW) is None


def test_two_reports_on_one_device_count_once_and_xid_lines_still_parse() -> None:
    first = parse_line(DOC_LINE, NOW, "b1")
    second = parse_line(DOC_LINE.replace("nc-id=0", "nc-id=1"), NOW + 5, "b1")
    assert first is not None and second is not None
    faults = [f for f in (classify(s, POLICY) for s in (first, second)) if f is not None]
    assert len(assess(faults, POLICY, NOW + 6).recent) == 1
    xid = parse_line("NVRM: Xid (PCI:0000:b9:00): 74, pid=<unknown>, NVLink: fatal", NOW)
    assert xid is not None and xid.xid == 74 and xid.name is None


def test_the_follower_reads_neuron_lines(tmp_path: Path) -> None:
    log = tmp_path / "messages"
    log.write_text("kernel: booting\n")
    follower = KernelLogFollower(log, boot_id="b1")
    try:
        with log.open("a") as f:
            f.write(DOC_LINE + "\n")
            f.write("[12.5] NVRM: GPU 0000:3B:00.0: GPU has fallen off the bus.\n")
        signals = follower.read(NOW)
    finally:
        follower.close()
    assert [(s.name or s.xid, s.device) for s in signals] == [
        ("neuron_sram_uncorrectable", "nd0"),
        (79, "0000:3b:00"),  # the form NVML's PCI address takes too
    ]


def test_kmsg_records(tmp_path: Path) -> None:
    """/dev/kmsg framing: one record per read, a header before ';', dictionary lines after."""
    records = tmp_path / "kmsg"
    records.write_bytes(
        b"6,338,1290024,-;EXT4-fs (vda): mounted filesystem\n"
        + DOC_LINE.encode()
        + b"\n SUBSYSTEM=pci\n DEVICE=+pci:0000:b9:00.0\n"
        b"4,340,1290099,-;NVRM: Xid (PCI:0000:b9:00): 48, pid=1234, name=python, DBE\n"
    )
    follower = KernelLogFollower(records, boot_id="b1", from_start=True, kmsg=True)
    try:
        signals = follower.read(NOW)
        assert follower.read(NOW) == []
    finally:
        follower.close()
    assert [(s.name or s.xid, s.device) for s in signals] == [
        ("neuron_sram_uncorrectable", "nd0"),
        (48, "0000:b9:00"),
    ]
    assert signals[1].message.startswith("NVRM: Xid (PCI:0000:b9:00): 48")


def test_the_real_dev_kmsg_is_read_without_blocking() -> None:
    """The agent's default log: opened at its end, a read with nothing new returns at once."""
    kmsg = Path("/dev/kmsg")
    try:
        follower = KernelLogFollower(kmsg, boot_id="b1")
    except OSError as exc:
        pytest.skip(f"/dev/kmsg not readable here: {exc}")
    try:
        assert follower.kmsg
        assert isinstance(follower.read(NOW), list)  # whatever the kernel logged meanwhile
    finally:
        follower.close()
