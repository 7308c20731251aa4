"""Further Kubernetes minors (toolchain.toml's ``kubernetes_releases``): which ones
``build-k8s --kubernetes`` builds, building one only when its cache lacks it, and the binaries a
control plane of a given release runs (``local.releases``)."""

from __future__ import annotations

import asyncio
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from podwarden.local import build
from podwarden.local.assets import ASSETS_ENV
from podwarden.local.eks_planes import LocalControlPlanes
from podwarden.local.errors import BinariesNotFound, LocalK8sError
from podwarden.local.releases import KUBE_BINARIES, release_binaries, release_of
from podwarden.local.toolchain import BINARIES, component_dir, load_toolchain
from podwarden.model.errors import TerminalError


def _executable(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty build cache, and a Go that must not be run."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    def no_go(_toolchain: object) -> str:
        raise AssertionError("Go was run although nothing was to be built")

    monkeypatch.setattr(build, "check_go", no_go)
    return tmp_path / "xdg" / "podwarden" / "k8s"


def _release_bin(minor: str) -> Path:
    tc = load_toolchain()
    return component_dir(tc.kubernetes(minor), tc) / "bin"


def test_kubernetes_all_names_every_further_minor_once() -> None:
    assert build.release_minors([]) == []
    assert build.release_minors(["all"]) == ["1.33", "1.34"]
    assert build.release_minors(["1.34", "v1.34", "1.32"]) == ["1.34", "1.32"]
    with pytest.raises(ValueError, match=r"Kubernetes 1\.40 is not in toolchain.toml.*1\.34"):
        build.release_minors(["1.40"])


def test_the_cli_refuses_a_minor_the_toolchain_does_not_pin(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert build.main(["--kubernetes", "1.27"]) == 2
    assert "Kubernetes 1.27 is not in toolchain.toml" in capsys.readouterr().err


def test_a_built_release_is_not_built_again(cache: Path) -> None:
    bin_dir = _release_bin("1.34")
    assert bin_dir == cache / "kubernetes-v1.34.2" / "bin"
    for name in (*KUBE_BINARIES, "kubectl"):
        _executable(bin_dir / name)
    assert build.build_release("1.34") == bin_dir  # no_go: Go was not run


def test_a_control_plane_does_not_wait_for_kubectl(cache: Path) -> None:
    bin_dir = _release_bin("1.33")
    for name in KUBE_BINARIES:
        _executable(bin_dir / name)
    # kubectl is missing, but a first use (server_only) needs only the server binaries
    assert build.build_release("1.33", server_only=True) == bin_dir
    with pytest.raises(AssertionError, match="Go was run"):
        build.build_release("1.33")  # build-k8s --kubernetes 1.33 would build kubectl


def test_a_release_runs_its_own_server_binaries_with_the_shared_etcd_and_kwok(
    cache: Path, tmp_path: Path
) -> None:
    shared = tmp_path / "assets"
    for name in BINARIES:
        _executable(shared / name)
    env = {ASSETS_ENV: str(shared)}
    assert release_binaries(None, env=env) == {n: shared / n for n in BINARIES}
    assert release_binaries("v1.32.9", env=env) == {n: shared / n for n in BINARIES}
    with pytest.raises(BinariesNotFound, match=r"--kubernetes 1\.34"):
        release_binaries("1.34", build=False, env=env)
    bin_dir = _release_bin("1.34")
    for name in KUBE_BINARIES:
        _executable(bin_dir / name)
    found = release_binaries("v1.34.2", build=False, env=env)
    assert {n: found[n] for n in KUBE_BINARIES} == {n: bin_dir / n for n in KUBE_BINARIES}
    for name in ("etcd", "kwok", "training-operator"):
        assert found[name] == shared / name


def test_a_minor_the_toolchain_does_not_pin_cannot_run() -> None:
    assert release_of(None) == "v1.32.9"
    assert release_of("1.33") == "v1.33.4"
    assert release_of("v1.34.0") == "v1.34.2"  # a minor runs its pinned patch
    with pytest.raises(LocalK8sError, match=r"cannot run Kubernetes 1\.31: it pins 1\.32"):
        release_of("1.31")


def test_a_go_build_reports_progress_and_fails_with_its_last_lines(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(build, "PROGRESS_SECONDS", 0.01)
    said: list[str] = []
    seen = tmp_path / "seen"

    def say(line: str) -> None:
        said.append(line)
        if line.endswith(" 2 packages compiled so far"):
            seen.touch()  # lets the fake build end

    # a fake `go build -v`: names two packages, then runs until progress has reported both
    # (at most 30 s, so a missing report fails the assertion below instead of hanging)
    fake_go = (
        "import pathlib, time\n"
        "print('k8s.io/api', flush=True); print('k8s.io/apiserver', flush=True)\n"
        "end = time.monotonic() + 30\n"
        f"while not pathlib.Path({str(seen)!r}).exists() and time.monotonic() < end:\n"
        "    time.sleep(0.01)\n"
    )
    build.run_with_progress([sys.executable, "-c", fake_go], tmp_path, {}, "kube-apiserver", say)
    assert said and all(s.startswith("building kube-apiserver: ") for s in said)
    assert said[-1].endswith(" 2 packages compiled so far")
    failing = [sys.executable, "-c", "print('undefined: foo'); raise SystemExit(1)"]
    with pytest.raises(subprocess.CalledProcessError) as info:
        build.run_with_progress(failing, tmp_path, {}, "x", said.append)
    assert info.value.output == "undefined: foo"


def test_the_embedded_plane_is_not_upgraded_in_place(tmp_path: Path) -> None:
    planes = LocalControlPlanes(tmp_path, tmp_path / "kubeconfig")
    with pytest.raises(TerminalError, match="cannot be upgraded in place"):
        asyncio.run(planes.upgrade("podwarden", adopted=True, kubernetes="v1.33.4"))
