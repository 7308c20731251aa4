"""NVIDIA Xid lines of the kernel log (``/dev/kmsg``, ``/var/log/messages`` or a file).

Example line (hyperpod-kubernetes.md section 8):
``NVRM: Xid (PCI:0000:b9:00): 74, pid=<unknown>, name=<unknown>, NVLink: fatal error ...``
"""

from __future__ import annotations

import re

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
