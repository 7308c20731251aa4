"""The pinned Kubernetes toolchain (toolchain.toml) and where its binaries are cached.

Stdlib only: `scripts/build-k8s` runs this package before any virtual environment exists.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

TOOLCHAIN_FILE = Path(__file__).with_name("toolchain.toml")

# The executables local mode starts, in the order a control plane comes up.
BINARIES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "training-operator",
)

# Built by `scripts/build-k8s` but not needed to run a control plane: kubectl is the client a user
# (and tests/integration/test_kubectl.py) points at an EKS cluster's endpoint; helm installs charts
# (tests/integration/test_helm_charts.py). Optional so that a machine whose cache predates them
# still starts control planes; build-k8s then builds just what is missing.
OPTIONAL_BINARIES = ("kubectl", "helm")


@dataclass(frozen=True)
class GoComponent:
    """One Go module under tools/k8s/ and the commands it builds."""

    name: str
    module_dir: str
    version: str
    packages: tuple[str, ...]
    binary: str | None
    version_ldflags: tuple[str, ...]
    # False: in the shared cache directory keyed by every shared component's version (the
    # Kubernetes release, etcd, kwok); True: in a directory of its own keyed by its own version,
    # so adding or bumping it rebuilds nothing else.
    own_cache: bool = False
    # Files the control plane applies, copied from a module of the component's go.sum
    # (``module``) into ``<cache>/manifests/<name>/`` by build-k8s.
    manifest_module: str | None = None
    manifest_files: tuple[str, ...] = ()

    @property
    def binaries(self) -> tuple[str, ...]:
        """The executables this component builds (a package's last path element)."""
        if self.binary:
            return (self.binary,)
        return tuple(p.rsplit("/", 1)[-1] for p in self.packages)

    @property
    def minor(self) -> str:
        """The version's second number (``32`` of v1.32.9), the ``{minor}`` of version_ldflags."""
        return self.version.lstrip("v").split(".")[1]

    def ldflags(self) -> str:
        flags = ["-s", "-w"]
        for item in self.version_ldflags:
            flags += ["-X", item.format(version=self.version, minor=self.minor)]
        return " ".join(flags)


_MINOR = re.compile(r"v?(?P<minor>[0-9]+\.[0-9]+)(?:\.[0-9]+.*)?")


def minor_of(kubernetes: str) -> str:
    """``1.34`` of ``v1.34.2``, ``1.34.2`` or ``1.34``; ValueError for anything else."""
    m = _MINOR.fullmatch(kubernetes)
    if m is None:
        raise ValueError(f"not a Kubernetes version: {kubernetes!r}")
    return m["minor"]


@dataclass(frozen=True)
class Toolchain:
    go_minimum: str
    components: tuple[GoComponent, ...]
    # Further Kubernetes minors ([kubernetes_releases]) by minor ("1.34"): the kubernetes
    # component at another version and module, cached apart (own_cache), built on first use.
    releases: Mapping[str, GoComponent] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def key(self) -> str:
        """Cache key: every pinned version, so a bump never reuses stale binaries."""
        return "_".join(f"{c.name}-{c.version}" for c in self.components if not c.own_cache)

    def component(self, name: str) -> GoComponent:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    def component_of(self, binary: str) -> GoComponent:
        """The component that builds ``binary``."""
        for c in self.components:
            if binary in c.binaries:
                return c
        raise KeyError(binary)

    @property
    def default_minor(self) -> str:
        """The minor of the default Kubernetes release (``1.32``)."""
        return minor_of(self.component("kubernetes").version)

    def minors(self) -> tuple[str, ...]:
        """Every Kubernetes minor the toolchain can build, oldest first."""
        found = {self.default_minor, *self.releases}
        return tuple(sorted(found, key=lambda m: tuple(int(p) for p in m.split("."))))

    def kubernetes(self, version: str | None = None) -> GoComponent:
        """The Kubernetes component of a minor or release (``1.34``, ``v1.34.2``; None: the
        default). A release picks its minor's pinned patch; KeyError for a minor not pinned."""
        default = self.component("kubernetes")
        if version is None:
            return default
        minor = minor_of(version)
        if minor == self.default_minor:
            return default
        return self.releases[minor]


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
            own_cache=bool(spec.get("own_cache", False)),
            manifest_module=spec.get("manifests", {}).get("module"),
            manifest_files=tuple(spec.get("manifests", {}).get("files", ())),
        )
        for name, spec in data["components"].items()
    )
    kubernetes = next(c for c in comps if c.name == "kubernetes")
    releases = {
        str(minor): replace(
            kubernetes,
            module_dir=str(spec["module_dir"]),
            version=str(spec["version"]),
            own_cache=True,
        )
        for minor, spec in data.get("kubernetes_releases", {}).items()
    }
    for minor, release in releases.items():
        if minor_of(release.version) != minor:
            raise ValueError(f"{path}: kubernetes_releases.{minor} pins {release.version}")
    return Toolchain(
        go_minimum=str(data["go_minimum"]),
        components=comps,
        releases=MappingProxyType(releases),
    )


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "podwarden" / "k8s"


def cache_bin_dir(toolchain: Toolchain | None = None) -> Path:
    """`${XDG_CACHE_HOME:-~/.cache}/podwarden/k8s/<versions>/bin`: the shared components'."""
    tc = toolchain or load_toolchain()
    return cache_root() / tc.key / "bin"


def component_dir(component: GoComponent, toolchain: Toolchain | None = None) -> Path:
    """The cache directory holding ``bin/`` (and ``manifests/``) of one component (a further
    Kubernetes release's: ``kubernetes-v1.34.2``)."""
    if component.own_cache:
        return cache_root() / f"{component.name}-{component.version}"
    return cache_bin_dir(toolchain).parent


def manifests_dir(component: GoComponent, toolchain: Toolchain | None = None) -> Path:
    """Where build-k8s copies a component's manifest files (flat, by file name)."""
    return component_dir(component, toolchain) / "manifests" / component.name
