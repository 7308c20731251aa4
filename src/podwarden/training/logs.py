"""The simulated containers' log files, in the CRI format kwok's kubelet API reads.

What kwok v0.7.0 does with them (``pkg/kwok/server/debugging_logs.go``; the reader is
``k8s.io/cri-client/pkg/logs`` v0.33.0, the kubelet's own):

- a pod's ``Logs`` object (``kwok.x-k8s.io/v1alpha1``, namespaced, named as the pod) maps
  container names to a ``logsFile``; a log request for the pod reads that file (an entry with no
  ``containers`` serves every container). The file must exist when the request arrives;
- each line is one record, ``<RFC 3339 time, nanoseconds> <stdout|stderr> <F|P> <text>``
  (``F`` a full line, ``P`` part of one); ``timestamps=true`` gives the record's time, and
  ``sinceSeconds``, ``sinceTime`` and ``tailLines`` work on these times and lines as with a
  real kubelet;
- ``follow=true`` streams lines appended later (fsnotify, and a re-read every second). kwok has
  no container runtime to ask whether the container still runs (it answers "Unavailable",
  which the reader takes as running), so a follow never ends by itself, even after the pod
  ended: the client closes it. The ``follow`` field of a ``Logs`` entry is not read by kwok's
  log server at all; following is the request's choice.

Files are only ever appended to, so a restarted simulator (or ``kubectl logs -f`` reading
along) never sees a line twice; the time of a file's last line tells the simulator what the
file already holds.
"""

from __future__ import annotations

import calendar
import os
import time
from collections.abc import Iterable
from pathlib import Path

from podwarden.logic.training_plan import NEVER, Line

TAIL_BYTES = 8192  # enough for the last line of any simulated log


def pod_dir(log_dir: Path, namespace: str, pod: str, uid: str) -> Path:
    """``<log_dir>/<namespace>_<pod>_<uid>``, the kubelet's ``/var/log/pods`` layout."""
    return log_dir / f"{namespace}_{pod}_{uid}"


def cri_time(at: float) -> str:
    """RFC 3339 UTC with nine fractional digits (microseconds, then zeros: a float of seconds
    since 1970 holds no more)."""
    whole = int(at // 1)
    micros = round((at - whole) * 1e6)
    if micros == 1_000_000:
        whole, micros = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{micros:06d}000Z"


def parse_cri_time(text: str) -> float:
    """The inverse of :func:`cri_time` (any number of fractional digits); ValueError if not."""
    if not text.endswith("Z"):
        raise ValueError(f"not a UTC RFC 3339 time: {text!r}")
    stamp, _, fraction = text[:-1].partition(".")
    whole = calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S"))
    return whole + (float(f"0.{fraction}") if fraction else 0.0)


def cri_line(line: Line) -> str:
    return f"{cri_time(line.at)} stdout F {line.text}\n"


def last_time(path: Path) -> float:
    """The time of the file's last complete record, rounded up by half a microsecond so that
    an event at the time written compares as written; ``NEVER`` when there is none."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - TAIL_BYTES))
            tail = f.read()
    except FileNotFoundError:
        return NEVER
    for raw in reversed(tail.split(b"\n")[:-1]):  # complete lines only
        try:
            return parse_cri_time(raw.split(b" ", 1)[0].decode("ascii")) + 5e-7
        except (ValueError, UnicodeDecodeError):
            continue
    return NEVER


def append(path: Path, lines: Iterable[Line]) -> None:
    """Append records with one write call, so a reader following the file sees a pass's lines
    together."""
    data = "".join(cri_line(line) for line in lines).encode("utf-8")
    if data:
        with path.open("ab") as f:
            f.write(data)


def touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=True)
