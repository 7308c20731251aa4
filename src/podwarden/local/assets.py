"""Find the Kubernetes binaries local mode runs.

Order: the directory named by ``PODWARDEN_K8S_ASSETS`` (like envtest's ``KUBEBUILDER_ASSETS``: a
directory holding etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok), else
the build cache that ``scripts/build-k8s`` fills. Stdlib only.

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
    cache_bin_dir,
    load_toolchain,
)

ASSETS_ENV = "PODWARDEN_K8S_ASSETS"


def _directory(environ: Mapping[str, str], tc: Toolchain) -> tuple[Path, str]:
    if environ.get(ASSETS_ENV):
        directory = Path(environ[ASSETS_ENV]).expanduser()
        return directory, f"{ASSETS_ENV}={directory}"
    directory = cache_bin_dir(tc)
    return directory, f"the build cache {directory}"


def find_kubectl(
    env: Mapping[str, str] | None = None, toolchain: Toolchain | None = None
) -> Path | None:
    """The pinned kubectl next to the server binaries, or None when it was not built."""
    environ = os.environ if env is None else env
    directory, _ = _directory(environ, toolchain or load_toolchain())
    path = directory / OPTIONAL_BINARIES[0]
    return path if path.is_file() and os.access(path, os.X_OK) else None


def find_binaries(
    env: Mapping[str, str] | None = None, toolchain: Toolchain | None = None
) -> dict[str, Path]:
    """Map each binary name to its executable, or raise BinariesNotFound saying how to fix it."""
    environ = os.environ if env is None else env
    tc = toolchain or load_toolchain()
    directory, source = _directory(environ, tc)
    found: dict[str, Path] = {}
    missing: list[str] = []
    for name in BINARIES:
        path = directory / name
        if path.is_file() and os.access(path, os.X_OK):
            found[name] = path
        else:
            missing.append(name)
    if missing:
        raise BinariesNotFound(
            f"Kubernetes binaries not found in {source}: missing {', '.join(missing)}. "
            f"Build them with `scripts/build-k8s` (needs Go >= {tc.go_minimum}; it builds "
            f"Kubernetes {tc.component('kubernetes').version}, etcd {tc.component('etcd').version} "
            f"and kwok {tc.component('kwok').version} from tools/k8s/ into the cache), or set "
            f"{ASSETS_ENV} to a directory that holds {', '.join(BINARIES)}."
        )
    return found
