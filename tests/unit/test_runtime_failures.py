"""The runtime's failure paths, with stand-in executables (the real ones: tests/integration)."""

from __future__ import annotations

from pathlib import Path

import pytest

from podwarden.local.errors import ComponentFailed, LocalK8sError
from podwarden.local.processes import log_tail
from podwarden.local.runtime import ControlPlane
from podwarden.local.toolchain import BINARIES


def _bin_dir(tmp_path: Path, etcd_script: str) -> dict[str, Path]:
    d = tmp_path / "bin"
    d.mkdir()
    for name in BINARIES:
        path = d / name
        path.write_text(etcd_script if name == "etcd" else "#!/bin/sh\nsleep 60\n")
        path.chmod(0o755)
    return {name: d / name for name in BINARIES}


def test_component_that_exits_is_named_with_its_log_tail(tmp_path: Path) -> None:
    script = "#!/bin/sh\necho 'etcdmain: flag provided but not defined: --bogus' >&2\nexit 3\n"
    cp = ControlPlane(tmp_path / "data", binaries=_bin_dir(tmp_path, script), ready_timeout=20)
    with pytest.raises(ComponentFailed) as info:
        cp.start()
    assert info.value.component == "etcd"
    assert "exited with code 3" in str(info.value)
    assert "flag provided but not defined: --bogus" in info.value.log_tail
    assert cp.pids == {}  # nothing left running


def test_component_never_ready_times_out_instead_of_hanging(tmp_path: Path) -> None:
    script = "#!/bin/sh\necho still booting\nsleep 60\n"
    cp = ControlPlane(tmp_path / "data", binaries=_bin_dir(tmp_path, script), ready_timeout=1)
    with pytest.raises(ComponentFailed, match=r"etcd not ready after 1 s") as info:
        cp.start()
    assert "still booting" in info.value.log_tail
    assert cp.pids == {}


def test_one_control_plane_per_data_directory(tmp_path: Path) -> None:
    script = "#!/bin/sh\nsleep 60\n"
    first = ControlPlane(tmp_path / "data", binaries=_bin_dir(tmp_path, script))
    first._take_lock()
    try:
        second = ControlPlane(tmp_path / "data", binaries=first._binaries)
        with pytest.raises(LocalK8sError, match="another podwarden control plane is running"):
            second.start()
    finally:
        first.stop()


def test_log_tail_keeps_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    tail = log_tail(log, lines=3)
    assert tail.splitlines() == ["line 97", "line 98", "line 99"]
    assert log_tail(tmp_path / "absent.log") == ""
