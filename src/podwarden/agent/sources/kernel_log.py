"""NVIDIA Xid lines of the kernel log (``/dev/kmsg``, ``/var/log/messages`` or a file).

Example line (hyperpod-kubernetes.md section 8):
``NVRM: Xid (PCI:0000:b9:00): 74, pid=<unknown>, name=<unknown>, NVLink: fatal error ...``
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from podwarden.logic.faults import Signal

XID_LINE = re.compile(
    r"NVRM: Xid \((?:PCI:)?(?P<device>[0-9a-fA-F:.]+)\): (?P<code>\d+),(?P<rest>.*)"
)
FALLEN_OFF_BUS = re.compile(r"NVRM: .*GPU (?P<device>[0-9a-fA-F:.]+).* has fallen off the bus")


def parse_line(line: str, at: float, boot_id: str = "") -> Signal | None:
    """The Xid signal a kernel-log line carries, if any. The non-Xid "fallen off the bus"
    message counts as Xid 79, as NVIDIA documents it."""
    m = XID_LINE.search(line)
    if m:
        return Signal(
            at=at,
            xid=int(m["code"]),
            device=m["device"],
            boot_id=boot_id,
            message=line[m.start() :].strip(),
        )
    m = FALLEN_OFF_BUS.search(line)
    if m:
        return Signal(
            at=at, xid=79, device=m["device"], boot_id=boot_id, message=line[m.start() :].strip()
        )
    return None


class KernelLogFollower:
    """Follow a kernel log (a file such as /var/log/messages, or /dev/kmsg): each call of
    ``read`` returns the signals in the lines written since the last call."""

    def __init__(self, path: Path, boot_id: str = "", from_start: bool = False) -> None:
        self.path = path
        self.boot_id = boot_id or current_boot_id()
        self._file = path.open("r", errors="replace")
        if not from_start:
            self._file.seek(0, os.SEEK_END)

    def read(self, now: float) -> list[Signal]:
        signals = []
        for line in self._file.readlines():
            signal = parse_line(line, now, self.boot_id)
            if signal is not None:
                signals.append(signal)
        return signals

    def close(self) -> None:
        self._file.close()


def current_boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""
