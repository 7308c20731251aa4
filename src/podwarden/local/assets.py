"""Find the Kubernetes binaries local mode runs.

Order: the directory named by ``PODWARDEN_K8S_ASSETS`` (like envtest's ``KUBEBUILDER_ASSETS``: a
directory holding etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and
training-operator, with the manifests in ``../manifests/<component>/``), else the build cache that
``scripts/build-k8s`` fills (each component's ``bin/`` under ``toolchain.component_dir``). Stdlib
only.

kubectl (``OPTIONAL_BINARIES``) is looked up separately by `find_kubectl`: a missing kubectl
never stops a control plane from starting (a cache built before kubectl joined the toolchain
holds only the five server binaries).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from podwarden.local.errors import BinariesNotFound
from podwarden.local.toolchain import (
    BINARIES,
    OPTIONAL_BINARIES,
    Toolchain,
    component_dir,
    load_toolchain,
)

ASSETS_ENV = "PODWARDEN_K8S_ASSETS"


def _directory(
    environ: Mapping[str, str], tc: Toolchain, binary: str = "kube-apiserver"
) -> tuple[Path, str]:
    """The directory that holds ``binary`` and a phrase naming where that came from."""
    if environ.get(ASSETS_ENV):
        directory = Path(environ[ASSETS_ENV]).expanduser()
        return directory, f"{ASSETS_ENV}={directory}"
    directory = component_dir(tc.component_of(binary), tc) / "bin"
    return directory, f"the build cache {directory.parent.parent}"


def find_optional(
    name: str, env: Mapping[str, str] | None = None, toolchain: Toolchain | None = None
) -> Path | None:
    """One of ``OPTIONAL_BINARIES`` (kubectl, helm) if built, else None."""
    environ = os.environ if env is None else env
    directory, _ = _directory(environ, toolchain or load_toolchain(), name)
    path = directory / name
    return path if path.is_file() and os.access(path, os.X_OK) else None


def find_kubectl(
    env: Mapping[str, str] | None = None, toolchain: Toolchain | None = None
) -> Path | None:
    """The pinned kubectl next to the server binaries, or None when it was not built."""
    return find_optional(OPTIONAL_BINARIES[0], env, toolchain)


def find_manifests(
    component: str, env: Mapping[str, str] | None = None, toolchain: Toolchain | None = None
) -> dict[str, Path]:
    """A component's manifest files (toolchain.toml ``manifests``) by file name; raises
    BinariesNotFound naming what is missing (build-k8s copies them from the module)."""
    environ = os.environ if env is None else env
    tc = toolchain or load_toolchain()
    comp = tc.component(component)
    directory, source = _directory(environ, tc, comp.binaries[0])
    folder = directory.parent / "manifests" / component
    found = {Path(f).name: folder / Path(f).name for f in comp.manifest_files}
    missing = [name for name, path in found.items() if not path.is_file()]
    if missing:
        raise BinariesNotFound(
            f"{component}'s manifests not found in {folder} (from {source}): missing "
            f"{', '.join(missing)}. `scripts/build-k8s` copies them from the "
            f"{comp.manifest_module} module."
        )
    return found


def find_binaries(
    env: Mapping[str, str] | None = None, toolchain: Toolchain | None = None
) -> dict[str, Path]:
    """Map each binary name to its executable, or raise BinariesNotFound saying how to fix it."""
    environ = os.environ if env is None else env
    tc = toolchain or load_toolchain()
    found: dict[str, Path] = {}
    missing: list[str] = []
    sources: list[str] = []
    for name in BINARIES:
        directory, source = _directory(environ, tc, name)
        path = directory / name
        if path.is_file() and os.access(path, os.X_OK):
            found[name] = path
        else:
            missing.append(name)
            if source not in sources:
                sources.append(source)
    if missing:
        raise BinariesNotFound(
            f"Kubernetes binaries not found in {' and '.join(sources)}: missing "
            f"{', '.join(missing)}. Build them with `scripts/build-k8s` (needs Go >= "
            f"{tc.go_minimum}; it builds Kubernetes {tc.component('kubernetes').version}, etcd "
            f"{tc.component('etcd').version}, kwok {tc.component('kwok').version} and the "
            f"Kubeflow training operator {tc.component('training-operator').version} from "
            f"tools/k8s/ into the cache), or set {ASSETS_ENV} to a directory that holds "
            f"{', '.join(BINARIES)}."
        )
    return found
