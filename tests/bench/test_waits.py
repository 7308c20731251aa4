"""The benchmarks' waits (bench/waits.py) end: on the awaited state, at once on a terminal one,
or at the deadline, each saying what was awaited and what was last seen."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from waits import WaitFailed, in_service, read_lines, wait_for  # bench/waits.py


class FakeSageMaker:
    """describe_cluster answers the given statuses in turn (the last one from then on)."""

    def __init__(self, *statuses: str, failure: str = "") -> None:
        self.statuses = list(statuses)
        self.failure = failure
        self.calls = 0

    def describe_cluster(self, ClusterName: str) -> dict[str, Any]:
        status = self.statuses[min(self.calls, len(self.statuses) - 1)]
        self.calls += 1
        out = {"ClusterName": ClusterName, "ClusterStatus": status}
        return {**out, "FailureMessage": self.failure} if status == "Failed" else out


def test_in_service_returns_the_description() -> None:
    sm = FakeSageMaker("Creating", "Creating", "InService")
    assert in_service(sm, "c", timeout=30)["ClusterStatus"] == "InService"
    assert sm.calls == 3


def test_a_failed_cluster_stops_the_wait_at_once_with_its_failure_message() -> None:
    # the bug of bench/recovery.py: a lifecycle bucket that does not exist, the cluster Failed,
    # and the benchmark waiting for InService for ever
    message = "Lifecycle scripts could not be read from s3://sagemaker-bench/lc/"
    sm = FakeSageMaker("Creating", "Failed", failure=message)
    with pytest.raises(WaitFailed) as raised:
        in_service(sm, "bench-latency", timeout=600)
    assert sm.calls == 2
    assert "cluster bench-latency to be InService" in str(raised.value)
    assert message in str(raised.value)


def test_a_deadline_names_what_was_awaited_and_the_last_state() -> None:
    sm = FakeSageMaker("Creating")
    with pytest.raises(
        WaitFailed,
        match=r"timed out after 0\.05 s waiting for cluster c to be "
        r"InService; last seen: Creating",
    ):
        in_service(sm, "c", timeout=0.05)


def test_wait_for_renders_the_last_state() -> None:
    states = iter(range(1000))
    with pytest.raises(WaitFailed, match=r"waiting for seven; last seen: \d+ of 7") as raised:
        wait_for(
            "seven",
            lambda: next(states),
            lambda n: n == 7,
            show=lambda n: f"{n} of 7",
            timeout=0.0,
            interval=0.0,
        )
    assert "last seen: 0 of 7" in str(raised.value)  # a deadline of 0: one read


def python(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_read_lines_finds_the_line() -> None:
    proc = python("print('starting'); print('API at http://127.0.0.1:8', flush=True)")
    m = read_lines(proc, r"API at (\S+)", "the server to listen", timeout=60)
    assert m.group(1) == "http://127.0.0.1:8"
    assert proc.wait(60) == 0


def test_read_lines_reports_an_exit_with_the_output() -> None:
    proc = python("import sys; print('no database'); sys.exit(3)")
    with pytest.raises(
        WaitFailed,
        match=r"(?s)the server to listen: the process exited with 3.*"
        r"no database",
    ):
        read_lines(proc, r"API at", "the server to listen", timeout=60)


def test_read_lines_reports_a_silent_hang_at_the_deadline() -> None:
    proc = python("import time; print('loading', flush=True); time.sleep(60)")
    try:
        with pytest.raises(
            WaitFailed,
            match=r"(?s)timed out after 0\.5 s waiting for the server "
            r"to listen; last seen: loading",
        ):
            read_lines(proc, r"API at", "the server to listen", timeout=0.5)
    finally:
        proc.kill()
        proc.wait(15)
