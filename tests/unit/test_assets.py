"""Finding binaries, and the error a user sees when they are missing."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from podwarden.local.assets import (
    ASSETS_ENV,
    find_binaries,
    find_kubectl,
    find_manifests,
    find_optional,
)
from podwarden.local.build import check_go
from podwarden.local.errors import BinariesNotFound, GoToolchainError
from podwarden.local.toolchain import BINARIES, component_dir, load_toolchain


def _executable(path: Path) -> None:
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_assets_env_directory_is_used(tmp_path: Path) -> None:
    for name in BINARIES:
        _executable(tmp_path / name)
    found = find_binaries({ASSETS_ENV: str(tmp_path)})
    assert found == {name: tmp_path / name for name in BINARIES}


def test_kubectl_is_optional(tmp_path: Path) -> None:
    # a cache built before kubectl joined the toolchain: the control plane still runs
    for name in BINARIES:
        _executable(tmp_path / name)
    env = {ASSETS_ENV: str(tmp_path)}
    assert set(find_binaries(env)) == set(BINARIES)
    assert find_kubectl(env) is None
    _executable(tmp_path / "kubectl")
    assert find_kubectl(env) == tmp_path / "kubectl"
    assert "kubectl" not in find_binaries(env)


def test_missing_binary_error_names_it_and_says_how_to_fix(tmp_path: Path) -> None:
    for name in BINARIES:
        if name != "kube-scheduler":
            _executable(tmp_path / name)
    (tmp_path / "kube-scheduler").write_text("not executable")
    with pytest.raises(BinariesNotFound) as info:
        find_binaries({ASSETS_ENV: str(tmp_path)})
    message = str(info.value)
    assert "missing kube-scheduler" in message
    assert "kube-apiserver" not in message.split("missing", 1)[1].split(".", maxsplit=1)[0]
    assert "scripts/build-k8s" in message
    assert f"Go >= {load_toolchain().go_minimum}" in message
    assert ASSETS_ENV in message


def test_empty_cache_lists_every_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(BinariesNotFound, match="missing etcd, kube-apiserver"):
        find_binaries({})


def test_go_missing_says_which_version_and_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GoToolchainError) as info:
        check_go(load_toolchain())
    assert "`go` was not found" in str(info.value)
    assert "Go >= 1.26" in str(info.value)
    assert "tool` directive" in str(info.value)


def test_go_too_old_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    go = tmp_path / "go"
    go.write_text("#!/bin/sh\necho go1.22.5\n")
    go.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GoToolchainError, match=r"found go1\.22\.5 .*Go >= 1\.26"):
        check_go(load_toolchain())


def test_own_cache_components_are_found_in_their_own_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the training operator is cached under its own version, apart from Kubernetes
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    tc = load_toolchain()
    for name in BINARIES:
        directory = component_dir(tc.component_of(name), tc) / "bin"
        directory.mkdir(parents=True, exist_ok=True)
        _executable(directory / name)
    found = find_binaries({})
    operator = tc.component("training-operator")
    assert found["training-operator"].parent.parent.name == f"training-operator-{operator.version}"
    assert found["kwok"].parent == component_dir(tc.component("kwok"), tc) / "bin"
    assert find_optional("helm", {}) is None


def test_missing_manifests_are_named(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    env = {ASSETS_ENV: str(tmp_path / "bin")}
    with pytest.raises(BinariesNotFound, match=r"kubeflow\.org_pytorchjobs\.yaml"):
        find_manifests("training-operator", env)
    folder = tmp_path / "manifests" / "kwok"
    folder.mkdir(parents=True)
    names = [Path(f).name for f in load_toolchain().component("kwok").manifest_files]
    for name in names:
        (folder / name).write_text("kind: CustomResourceDefinition\n")
    assert find_manifests("kwok", env) == {name: folder / name for name in names}
