"""What ``scripts/build-k8s`` builds on an empty cache: ``--serve`` (``make up``) only what a
control plane runs, the default everything (kubectl and helm too), nothing once all is there."""

from __future__ import annotations

from pathlib import Path

import pytest

from podwarden.local import build
from podwarden.local.toolchain import BINARIES, OPTIONAL_BINARIES, load_toolchain, manifests_dir


def _binaries(jobs: list[build.Job]) -> set[str]:
    return {j.component.binary or p.rsplit("/", 1)[-1] for j in jobs for p in j.packages}


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path


def test_serve_builds_what_a_control_plane_runs(empty_cache: Path) -> None:
    jobs = build.plan_build(load_toolchain(), serve=True)
    assert _binaries(jobs) == set(BINARIES)
    assert jobs[0].component.name == "kubernetes"  # the longest starts first
    assert all(j.manifests for j in jobs if j.component.manifest_files)


def test_the_default_builds_the_optional_tools_too(empty_cache: Path) -> None:
    assert _binaries(build.plan_build(load_toolchain())) == {*BINARIES, *OPTIONAL_BINARIES}


def test_nothing_is_planned_once_everything_is_there(empty_cache: Path) -> None:
    toolchain = load_toolchain()
    for job in build.plan_build(toolchain):
        job.bin_dir.mkdir(parents=True, exist_ok=True)
        for name in _binaries([job]):
            (job.bin_dir / name).write_text("")
        for name in job.component.manifest_files:
            target = manifests_dir(job.component, toolchain) / Path(name).name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("")
    assert build.plan_build(toolchain) == []
    assert build.plan_build(toolchain, serve=True) == []
    assert _binaries(build.plan_build(toolchain, force=True)) == {*BINARIES, *OPTIONAL_BINARIES}
