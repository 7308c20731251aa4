"""Build the pinned Kubernetes binaries from the Go modules in tools/k8s/ into the cache.

Run as ``python -m podwarden.local.build`` (``scripts/build-k8s``). Stdlib only, so it works
before the virtual environment exists. Skips every component whose binaries are already cached.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from podwarden.local.errors import GoToolchainError
from podwarden.local.toolchain import GoComponent, Toolchain, cache_bin_dir, load_toolchain

REPO_ROOT = Path(__file__).resolve().parents[3]
TOOLS_DIR = REPO_ROOT / "tools" / "k8s"


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def check_go(toolchain: Toolchain) -> str:
    """Return the path of a Go new enough for tools/k8s, or raise GoToolchainError."""
    why = (
        f"Go >= {toolchain.go_minimum} is needed to build the local Kubernetes control plane "
        f"(Kubernetes {toolchain.component('kubernetes').version}, etcd, kwok) from tools/k8s/; "
        "its go.mod files use the `tool` directive, new in Go 1.24. Install Go, or set "
        "PODWARDEN_K8S_ASSETS to a directory with binaries you already have."
    )
    go = shutil.which("go")
    if go is None:
        raise GoToolchainError(f"`go` was not found on PATH. {why}")
    out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, check=False)
    found = out.stdout.strip()
    if out.returncode != 0 or _version_tuple(found) < _version_tuple(toolchain.go_minimum):
        raise GoToolchainError(f"found {found or 'an unusable go'} at {go}. {why}")
    return go


def _binaries_of(component: GoComponent) -> list[str]:
    if component.binary:
        return [component.binary]
    return [p.rsplit("/", 1)[-1] for p in component.packages]


def build_component(go: str, component: GoComponent, bin_dir: Path) -> float:
    """Build one component into bin_dir atomically; return seconds taken."""
    started = time.monotonic()
    module = TOOLS_DIR / component.module_dir
    with tempfile.TemporaryDirectory(dir=bin_dir.parent, prefix=".build-") as tmp:
        out = Path(tmp)
        target = out / component.binary if component.binary else out
        cmd = [go, "build", "-trimpath", "-ldflags", component.ldflags(), "-o", f"{target}"]
        if not component.binary:
            cmd[-1] += os.sep
        goflags = f"{os.environ.get('GOFLAGS', '')} -mod=readonly".strip()
        env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": goflags}
        subprocess.run([*cmd, *component.packages], cwd=module, env=env, check=True)
        for name in _binaries_of(component):
            (out / name).replace(bin_dir / name)
    return time.monotonic() - started


def build_all(force: bool = False) -> Path:
    toolchain = load_toolchain()
    bin_dir = cache_bin_dir(toolchain)
    bin_dir.mkdir(parents=True, exist_ok=True)
    todo = [
        c
        for c in toolchain.components
        if force or not all((bin_dir / b).is_file() for b in _binaries_of(c))
    ]
    if not todo:
        print(f"build-k8s: all binaries present in {bin_dir} (nothing to build)")
        return bin_dir
    go = check_go(toolchain)
    total = time.monotonic()
    for component in todo:
        print(f"build-k8s: building {component.name} {component.version} ...", flush=True)
        seconds = build_component(go, component, bin_dir)
        names = ", ".join(_binaries_of(component))
        print(f"build-k8s: built {names} in {seconds:.0f} s", flush=True)
    print(f"build-k8s: done in {time.monotonic() - total:.0f} s -> {bin_dir}")
    return bin_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="build-k8s", description=__doc__)
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument("--print-dir", action="store_true", help="print the cache directory")
    args = parser.parse_args(argv)
    if args.print_dir:
        print(cache_bin_dir())
        return 0
    try:
        build_all(force=args.force)
    except GoToolchainError as exc:
        print(f"build-k8s: error: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"build-k8s: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
