"""A component's planned environment reaches its process; the caller's own environment wins
(``local.processes``, ``planner.GO_ENV``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from podwarden.local.components import Component, Probe
from podwarden.local.planner import GO_ENV
from podwarden.local.processes import Processes

SHOW = "import os; print(os.environ.get('GOMEMLIMIT'), os.environ.get('PATH') is not None)"


def _run(tmp_path: Path, env: tuple[tuple[str, str], ...]) -> str:
    log = tmp_path / "c.log"
    comp = Component("c", (sys.executable, "-c", SHOW), Probe("http://127.0.0.1:1/"), log, env)
    procs = Processes(tmp_path)
    procs.spawn(comp)
    deadline = time.monotonic() + 30
    while not list(procs.exited()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(procs.exited()), "the component did not exit within 30 s"
    procs.stop_all()
    return [line for line in log.read_text().splitlines() if line][-1]


def test_the_planned_environment_is_added(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOMEMLIMIT", raising=False)
    assert _run(tmp_path, (("GOMEMLIMIT", "1GiB"),)) == "1GiB True"


def test_the_callers_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOMEMLIMIT", "3GiB")
    assert _run(tmp_path, (("GOMEMLIMIT", "1GiB"),)) == "3GiB True"


def test_the_apiserver_has_a_soft_memory_limit() -> None:
    assert GO_ENV["kube-apiserver"]["GOMEMLIMIT"].endswith("GiB")
