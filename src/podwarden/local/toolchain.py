"""The pinned Kubernetes toolchain (toolchain.toml) and where its binaries are cached.

Stdlib only: `scripts/build-k8s` runs this package before any virtual environment exists.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

TOOLCHAIN_FILE = Path(__file__).with_name("toolchain.toml")

# The executables local mode starts, in the order a control plane comes up.
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")

# Built by `scripts/build-k8s` but not needed to run a control plane: kubectl is the client a user
# (and tests/integration/test_kubectl.py) points at an EKS cluster's endpoint. Optional so that a
# machine whose cache predates kubectl (the same cache key: kubectl is a package of the kubernetes
# component, not a new version) still starts control planes; build-k8s then builds just kubectl.
OPTIONAL_BINARIES = ("kubectl",)


@dataclass(frozen=True)
class GoComponent:
    """One Go module under tools/k8s/ and the commands it builds."""

    name: str
    module_dir: str
    version: str
    packages: tuple[str, ...]
    binary: str | None
    version_ldflags: tuple[str, ...]

    def ldflags(self) -> str:
        flags = ["-s", "-w"]
        for item in self.version_ldflags:
            flags += ["-X", item.format(version=self.version)]
        return " ".join(flags)


@dataclass(frozen=True)
class Toolchain:
    go_minimum: str
    components: tuple[GoComponent, ...]

    @property
    def key(self) -> str:
        """Cache key: every pinned version, so a bump never reuses stale binaries."""
        return "_".join(f"{c.name}-{c.version}" for c in self.components)

    def component(self, name: str) -> GoComponent:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)


def load_toolchain(path: Path = TOOLCHAIN_FILE) -> Toolchain:
    data = tomllib.loads(path.read_text())
    comps = tuple(
        GoComponent(
            name=name,
            module_dir=str(spec["module_dir"]),
            version=str(spec["version"]),
            packages=tuple(spec["packages"]),
            binary=spec.get("binary"),
            version_ldflags=tuple(spec.get("version_ldflags", ())),
        )
        for name, spec in data["components"].items()
    )
    return Toolchain(go_minimum=str(data["go_minimum"]), components=comps)


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "podwarden" / "k8s"


def cache_bin_dir(toolchain: Toolchain | None = None) -> Path:
    """`${XDG_CACHE_HOME:-~/.cache}/podwarden/k8s/<versions>/bin`."""
    tc = toolchain or load_toolchain()
    return cache_root() / tc.key / "bin"
