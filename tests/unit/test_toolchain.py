"""The pinned versions in toolchain.toml are the ones tools/k8s/*/go.mod actually build."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from podwarden.local.build import missing_packages
from podwarden.local.toolchain import (
    BINARIES,
    OPTIONAL_BINARIES,
    cache_bin_dir,
    component_dir,
    load_toolchain,
)
from podwarden.policy import eks_catalog

TOOLS = Path(__file__).resolve().parents[2] / "tools" / "k8s"


def _gomod(component: str) -> str:
    return (TOOLS / component / "go.mod").read_text()


def test_kubernetes_module_and_every_staging_replace_pin_the_same_release() -> None:
    tc = load_toolchain()
    assert tc.minors() == ("1.32", "1.33", "1.34")
    for minor in tc.minors():  # the default release's module and each further minor's
        component = tc.kubernetes(minor)
        version = component.version  # v1.3x.y
        text = _gomod(component.module_dir)
        assert re.search(
            rf"^\s*(require )?k8s\.io/kubernetes {re.escape(version)}( //.*)?$", text, re.M
        ), minor
        staging = "v0." + version.removeprefix("v1.")
        replaces = re.findall(r"^\s+(k8s\.io/\S+) => (k8s\.io/\S+) (v\S+)$", text, re.M)
        # 1.32-1.34 have the same 31 (docs/sources.md, "Kubernetes staging modules")
        assert len(replaces) == 31, minor
        assert {v for _, _, v in replaces} == {staging}, minor
        assert all(a == b for a, b, _ in replaces)
        assert (TOOLS / component.module_dir / "go.sum").stat().st_size > 0


def test_kubernetes_is_in_hyperpods_supported_set() -> None:
    # R3 (docs/requirements.md): HyperPod supports Kubernetes 1.28-1.34; local mode's EKS runs
    # these versions (the default one, 1.32, inside the seed's 1.28-1.32).
    tc = load_toolchain()
    assert tc.default_minor == "1.32"
    for minor in tc.minors():
        assert 28 <= int(minor.split(".")[1]) <= 34
        assert tc.kubernetes(minor).version.startswith(f"v{minor}.")
    assert eks_catalog.load_versions().default == tc.default_minor
    flagged = {v.version for v in eks_catalog.load_versions().versions.values() if v.hyperpod}
    assert set(tc.minors()) <= flagged


def test_a_release_is_looked_up_by_minor_or_by_any_patch_of_it() -> None:
    tc = load_toolchain()
    assert tc.kubernetes() is tc.component("kubernetes")
    assert tc.kubernetes("v1.32.1") is tc.component("kubernetes")
    assert tc.kubernetes("1.34").version == tc.kubernetes("v1.34.0").version == "v1.34.2"
    with pytest.raises(KeyError):
        tc.kubernetes("1.31")
    with pytest.raises(ValueError, match="not a Kubernetes version"):
        tc.kubernetes("latest")


def test_further_releases_share_the_kubernetes_flags_and_have_caches_of_their_own() -> None:
    tc = load_toolchain()
    default = tc.component("kubernetes")
    for minor, release in tc.releases.items():
        assert release.packages == default.packages  # kubectl too
        assert release.own_cache  # bumping or adding one never rebuilds the default release
        assert component_dir(release, tc).name == f"kubernetes-{release.version}"
        assert release.version not in tc.key
        flags = release.ldflags()
        assert f"-X k8s.io/component-base/version.gitVersion={release.version}" in flags
        assert f"-X k8s.io/component-base/version.gitMinor={minor.split('.')[1]}" in flags
        assert f"-X k8s.io/client-go/pkg/version.gitMinor={minor.split('.')[1]}" in flags


def test_etcd_and_kwok_modules_pin_the_toolchain_versions() -> None:
    tc = load_toolchain()
    etcd = tc.component("etcd").version
    kwok = tc.component("kwok").version
    assert re.search(rf"go\.etcd\.io/etcd/server/v3 {re.escape(etcd)}$", _gomod("etcd"), re.M)
    assert re.search(rf"sigs\.k8s\.io/kwok {re.escape(kwok)}( //.*)?$", _gomod("kwok"), re.M)


def test_go_sum_is_committed_for_every_module() -> None:
    for component in load_toolchain().components:
        assert (TOOLS / component.module_dir / "go.sum").stat().st_size > 0


def test_cache_dirs_are_keyed_by_their_versions() -> None:
    tc = load_toolchain()
    path = cache_bin_dir(tc)
    shared = [c for c in tc.components if not c.own_cache]
    assert {c.name for c in shared} == {"kubernetes", "etcd", "kwok"}
    for c in shared:
        assert c.version in str(path)
    assert path.name == "bin"
    # adding or bumping an own-cache component never changes the shared key (no Kubernetes
    # rebuild); its own directory carries its version
    for c in tc.components:
        if c.own_cache:
            assert c.version not in str(path)
            assert component_dir(c, tc).name == f"{c.name}-{c.version}"
    assert set(BINARIES) == {
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
        "training-operator",
    }


def test_training_operator_and_helm_modules_pin_the_toolchain_versions() -> None:
    tc = load_toolchain()
    operator = tc.component("training-operator").version
    # HyperPod's auto-resume needs training operator 1.7.0, 1.8.0 or 1.8.1 (docs/sources.md,
    # "Job auto-resume")
    assert operator in ("v1.7.0", "v1.8.0", "v1.8.1")
    assert re.search(
        rf"^\s+github\.com/kubeflow/training-operator {re.escape(operator)}$",
        _gomod("training-operator"),
        re.M,
    )
    helm = tc.component("helm").version
    assert re.search(rf"^\s+helm\.sh/helm/v4 {re.escape(helm)}( //.*)?$", _gomod("helm"), re.M)
    assert re.search(r"^tool helm\.sh/helm/v4/cmd/helm$", _gomod("helm"), re.M)


def test_manifests_are_copied_from_the_modules_the_components_pin() -> None:
    tc = load_toolchain()
    operator = tc.component("training-operator")
    assert operator.manifest_module == "github.com/kubeflow/training-operator"
    assert "manifests/base/crds/kubeflow.org_pytorchjobs.yaml" in operator.manifest_files
    # the dependencies chart disables the MPIJob scheme: its CRD is not installed either
    assert not any("mpijobs" in f for f in operator.manifest_files)
    kwok = tc.component("kwok").manifest_files
    assert kwok[0] == "kustomize/crd/bases/kwok.x-k8s.io_logs.yaml"
    assert "kustomize/stage/pod/fast/pod-ready.yaml" in kwok


def test_version_ldflags_carry_the_release() -> None:
    flags = load_toolchain().component("kubernetes").ldflags()
    assert "-X k8s.io/component-base/version.gitVersion=v1.32." in flags
    assert "-X k8s.io/component-base/version.gitMinor=32" in flags


def test_kubectl_is_built_with_the_server_but_not_required() -> None:
    kubernetes = load_toolchain().component("kubernetes")
    assert "k8s.io/kubernetes/cmd/kubectl" in kubernetes.packages
    assert re.search(r"^\s+k8s\.io/kubernetes/cmd/kubectl$", _gomod("kubernetes"), re.M)
    assert OPTIONAL_BINARIES == ("kubectl", "helm")
    assert "kubectl" not in BINARIES  # a cache of the five server binaries still runs


def test_build_fills_in_only_what_a_cache_lacks(tmp_path: Path) -> None:
    tc = load_toolchain()
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        (tmp_path / name).write_text("")
    assert missing_packages(tc.component("kubernetes"), tmp_path) == (
        "k8s.io/kubernetes/cmd/kubectl",
    )
    assert missing_packages(tc.component("etcd"), tmp_path) == ()
    assert missing_packages(tc.component("kwok"), tmp_path) == tc.component("kwok").packages
