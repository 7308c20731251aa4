"""Hardware errors in the kernel log (``/dev/kmsg``, ``/var/log/messages`` or a file): NVIDIA
Xid lines and the Neuron driver's ``NEURON_HW_ERR=`` lines (``neuron.py``).

Example line (docs/sources.md, "Health-monitoring agent"):
``NVRM: Xid (PCI:0000:b9:00): 74, pid=<unknown>, name=<unknown>, NVLink: fatal error ...``
The GPU is named by its PCI address as the driver prints it (domain:bus:device, lower-case hex),
the form the NVML source uses too, so one Xid seen by both sources counts once.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TextIO

from podwarden.agent.sources.neuron import parse_neuron_line
from podwarden.logic.faults import Signal

XID_LINE = re.compile(
    r"NVRM: Xid \((?:PCI:)?(?P<device>[0-9a-fA-F:.]+)\): (?P<code>\d+),(?P<rest>.*)"
)
FALLEN_OFF_BUS = re.compile(r"NVRM: .*GPU (?P<device>[0-9a-fA-F:.]+).* has fallen off the bus")


def pci_device(text: str) -> str:
    """A GPU's PCI address in the Xid form ``0000:b9:00``: lower-case, without the function
    number (``.0``) or a trailing colon that some driver messages add."""
    address = text.lower().rstrip(":")
    domain_bus_device, _, _function = address.partition(".")
    return domain_bus_device


def parse_line(line: str, at: float, boot_id: str = "") -> Signal | None:
    """The signal a kernel-log line carries, if any: an Xid, or a Neuron hardware error. The
    non-Xid "fallen off the bus" message counts as Xid 79, as NVIDIA documents it."""
    m = XID_LINE.search(line)
    if m:
        return Signal(
            at=at,
            xid=int(m["code"]),
            device=pci_device(m["device"]),
            boot_id=boot_id,
            message=line[m.start() :].strip(),
        )
    m = FALLEN_OFF_BUS.search(line)
    if m:
        return Signal(
            at=at,
            xid=79,
            device=pci_device(m["device"]),
            boot_id=boot_id,
            message=line[m.start() :].strip(),
        )
    return parse_neuron_line(line, at, boot_id)


class KernelLogFollower:
    """Follow a kernel log (a file such as /var/log/messages, or /dev/kmsg): each call of
    ``read`` returns the signals in the lines written since the last call.

    ``/dev/kmsg`` (any character device, or ``kmsg=True``) is not a file: Python's buffered
    text reader cannot seek it, and a plain read blocks once the records run out, which would
    stop the agent's event loop. It is read raw and non-blocking, one record per ``os.read``,
    until ``EAGAIN``; ``EPIPE`` means the ring buffer overwrote records not yet read, and the
    reading goes on from the oldest one left. A record is ``prio,seq,usec,flags;message``
    followed by indented ``KEY=value`` lines, which are skipped."""

    def __init__(
        self, path: Path, boot_id: str = "", from_start: bool = False, kmsg: bool | None = None
    ) -> None:
        self.path = path
        self.boot_id = boot_id or current_boot_id()
        self.kmsg = path.is_char_device() if kmsg is None else kmsg
        self._file: TextIO | None = None
        self._fd = -1
        if self.kmsg:
            self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            if not from_start:
                os.lseek(self._fd, 0, os.SEEK_END)
        else:
            self._file = path.open("r", errors="replace")
            if not from_start:
                self._file.seek(0, os.SEEK_END)

    def read(self, now: float) -> list[Signal]:
        lines = self._file.readlines() if self._file is not None else self._kmsg_lines()
        signals = []
        for line in lines:
            signal = parse_line(line, now, self.boot_id)
            if signal is not None:
                signals.append(signal)
        return signals

    def _kmsg_lines(self, limit: int = 10_000) -> list[str]:
        lines: list[str] = []
        for _ in range(limit):  # leave the loop to the other sources on a flood
            try:
                chunk = os.read(self._fd, 8192)
            except BlockingIOError:
                break
            except BrokenPipeError:
                continue
            if not chunk:
                break
            lines += kmsg_messages(chunk)
        return lines

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def kmsg_messages(chunk: bytes) -> list[str]:
    """The messages of ``/dev/kmsg`` records: the text after the ``;`` of each header line
    (dictionary lines start with a space). A line without a header is kept whole."""
    out = []
    for raw in chunk.decode("utf-8", "replace").splitlines():
        if not raw or raw.startswith(" "):
            continue
        header, sep, message = raw.partition(";")
        out.append(message if sep and "," in header else raw)
    return out


def current_boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""
