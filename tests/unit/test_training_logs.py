"""The simulated containers' CRI log files (training/logs.py): the record format kwok's kubelet
API parses, and the time of a file's last record, which tells a restarted simulator what the
file already holds."""

from __future__ import annotations

from pathlib import Path

from podwarden.logic.training_plan import NEVER, Line
from podwarden.training import logs


def test_a_record_is_one_cri_line() -> None:
    line = logs.cri_line(Line(1_780_000_000.25, "[rank 0] step 5/10 loss=2.0000"))
    assert line == "2026-05-28T20:26:40.250000000Z stdout F [rank 0] step 5/10 loss=2.0000\n"


def test_times_round_trip_to_the_microsecond() -> None:
    for at in (1_780_000_000.0, 1_780_000_000.123456, 1_780_000_000.9999996):
        text = logs.cri_time(at)
        assert len(text) == len("2026-05-28T20:26:40.000000000Z")
        assert abs(logs.parse_cri_time(text) - at) <= 5e-7


def test_last_time_reads_the_last_complete_record(tmp_path: Path) -> None:
    path = tmp_path / "pytorch.log"
    assert logs.last_time(path) == NEVER  # no file
    logs.touch(path)
    assert logs.last_time(path) == NEVER  # empty
    logs.append(path, [Line(100.0, "a"), Line(101.5, "b")])
    written = logs.last_time(path)
    assert 101.5 < written < 101.5 + 1e-6  # an event at the written time counts as written
    with path.open("a") as f:
        f.write("2026-05-28T20:26:40.000000000Z stdout F half a li")  # no newline: not complete
    assert logs.last_time(path) == written
    logs.append(path, [])
    assert path.read_text().count("\n") == 2  # nothing appended, nothing truncated
