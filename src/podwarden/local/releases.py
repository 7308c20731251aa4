"""The binaries of a control plane that runs a given Kubernetes release.

etcd, kwok and the training operator are always the toolchain's (``assets.find_binaries``);
kube-apiserver, kube-controller-manager and kube-scheduler are the release's. The default
release's come from the same place; a further minor's (``[kubernetes_releases]`` in
toolchain.toml) from its own cache directory (``kubernetes-v1.34.2/bin``), built there on first
use by ``build.build_release``: minutes of CPU, logged as it goes (warnings of the
``podwarden.local.build`` logger), under a file lock so that two clusters of one new minor build
it once. A release is asked for by minor or exact release (``v1.34.2``); a release of a pinned
minor runs that minor's pinned patch (a cluster recorded at another patch runs the toolchain's).
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from podwarden.local.assets import find_binaries
from podwarden.local.build import build_release
from podwarden.local.errors import BinariesNotFound, LocalK8sError
from podwarden.local.toolchain import Toolchain, component_dir, load_toolchain, minor_of

log = logging.getLogger("podwarden.local.build")

# the binaries that make a control plane a given Kubernetes release
KUBE_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")


def release_of(kubernetes: str | None, toolchain: Toolchain | None = None) -> str:
    """The exact release the toolchain runs for ``kubernetes`` (a minor or release; None: the
    default); LocalK8sError for a minor it does not pin."""
    tc = toolchain or load_toolchain()
    try:
        return tc.kubernetes(kubernetes).version
    except (KeyError, ValueError):
        pinned = ", ".join(tc.minors())
        raise LocalK8sError(
            f"podwarden's toolchain cannot run Kubernetes {kubernetes}: it pins {pinned} "
            "(src/podwarden/local/toolchain.toml)"
        ) from None


def release_binaries(
    kubernetes: str | None,
    *,
    build: bool = True,
    env: Mapping[str, str] | None = None,
    toolchain: Toolchain | None = None,
) -> dict[str, Path]:
    """Every binary a control plane of ``kubernetes`` runs (``assets.BINARIES`` by name).

    A further minor the cache lacks is built first when ``build`` (BinariesNotFound otherwise);
    a failed build raises LocalK8sError with the end of its output."""
    tc = toolchain or load_toolchain()
    binaries = find_binaries(env, tc)
    release = release_of(kubernetes, tc)
    if release == tc.component("kubernetes").version:
        return binaries
    component = tc.kubernetes(release)
    bin_dir = component_dir(component, tc) / "bin"
    if _missing(bin_dir):
        if not build:
            raise BinariesNotFound(
                f"Kubernetes {release} is not built in {bin_dir}: missing "
                f"{', '.join(_missing(bin_dir))}. Build it with `scripts/build-k8s "
                f"--kubernetes {minor_of(release)}`."
            )
        # logged as warnings: shown without any logging set-up, as a build that keeps a
        # cluster CREATING or UPDATING for minutes should be
        log.warning(
            "Kubernetes %s is not built yet: building it now, which takes minutes (prebuild "
            "with `scripts/build-k8s --kubernetes %s`)",
            release,
            minor_of(release),
        )
        try:
            bin_dir = build_release(minor_of(release), server_only=True, say=log.warning)
        except subprocess.CalledProcessError as exc:
            raise LocalK8sError(
                f"building Kubernetes {release} failed ({exc}):\n{exc.output or ''}"
            ) from exc
    return {**binaries, **{name: bin_dir / name for name in KUBE_BINARIES}}


def _missing(bin_dir: Path) -> list[str]:
    return [
        name
        for name in KUBE_BINARIES
        if not ((bin_dir / name).is_file() and os.access(bin_dir / name, os.X_OK))
    ]
