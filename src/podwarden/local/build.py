"""Build the pinned Kubernetes binaries from the Go modules in tools/k8s/ into the cache.

Run as ``python -m podwarden.local.build`` (``scripts/build-k8s``). Stdlib only, so it works
before the virtual environment exists. Skips every binary already cached: a component whose
binaries are all present is not built, and one missing only some (a cache filled before kubectl
joined the kubernetes component) builds only the packages of the missing ones.

By default it builds the default Kubernetes release only (toolchain.toml's
``[components.kubernetes]``). ``--kubernetes 1.34`` (repeatable; ``all``: every minor of
``[kubernetes_releases]``) also builds a further minor's binaries into their own cache
directory; :func:`build_release` does the same on first use of a minor (``local.releases``),
under a file lock, so a server and a ``build-k8s`` never build one release twice at once. Every
``go build`` reports its progress (packages compiled, seconds) every ``PROGRESS_SECONDS``.
"""

from __future__ import annotations

import argparse
import collections
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from podwarden.local.errors import GoToolchainError
from podwarden.local.toolchain import (
    OPTIONAL_BINARIES,
    GoComponent,
    Toolchain,
    cache_bin_dir,
    component_dir,
    load_toolchain,
    manifests_dir,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
TOOLS_DIR = REPO_ROOT / "tools" / "k8s"
PROGRESS_SECONDS = 15.0
# Two at a time: on 2 cores one component's downloads and single-threaded link overlap
# another's compiling (BENCHMARKS.md, "A first make up")
DEFAULT_JOBS = 2
# the server binaries a control plane needs of a Kubernetes release (kubectl is optional)
SERVER_PACKAGES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")

# The Go compiler and linker collect garbage less often (unless the caller set these): etcd's
# cold build took 17 % less time with GOGC=400 than with Go's default 100 (28.0 / 28.6 s against
# 33.6 / 34.4 s on 2 cores, side by side); GOMEMLIMIT keeps each process's heap near 3 GiB, so
# linking kube-apiserver (1.7 GB at GOGC=100) stays bounded on a smaller machine.
COMPILER_GC = {"GOGC": "400", "GOMEMLIMIT": "3GiB"}

Say = Callable[[str], None]


_PRINTING = threading.Lock()  # builds run side by side: one whole line at a time


def _print(line: str) -> None:
    with _PRINTING:
        print(f"build-k8s: {line}", flush=True)


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def check_go(toolchain: Toolchain) -> str:
    """Return the path of a Go new enough for tools/k8s, or raise GoToolchainError."""
    why = (
        f"Go >= {toolchain.go_minimum} is needed to build the local Kubernetes control plane "
        f"(Kubernetes {toolchain.component('kubernetes').version}, etcd, kwok, the Kubeflow "
        "training operator) and helm from tools/k8s/; helm v4.3's module needs Go 1.26 and the "
        "go.mod files use the `tool` directive. Install Go, or set "
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


def missing_packages(component: GoComponent, bin_dir: Path) -> tuple[str, ...]:
    """The packages of `component` whose binaries are not in bin_dir (all of a `binary` one)."""
    if component.binary:
        return () if (bin_dir / component.binary).is_file() else component.packages
    return tuple(p for p in component.packages if not (bin_dir / p.rsplit("/", 1)[-1]).is_file())


def build_component(
    go: str,
    component: GoComponent,
    bin_dir: Path,
    packages: tuple[str, ...] | None = None,
    say: Say = _print,
) -> float:
    """Build `packages` (default: all) of one component into bin_dir atomically; return seconds."""
    started = time.monotonic()
    module = TOOLS_DIR / component.module_dir
    pkgs = packages or component.packages
    with tempfile.TemporaryDirectory(dir=bin_dir.parent, prefix=".build-") as tmp:
        out = Path(tmp)
        target = out / component.binary if component.binary else out
        cmd = [go, "build", "-v", "-trimpath", "-ldflags", component.ldflags(), "-o", f"{target}"]
        if not component.binary:
            cmd[-1] += os.sep
        goflags = f"{os.environ.get('GOFLAGS', '')} -mod=readonly".strip()
        env = {**COMPILER_GC, **os.environ, "CGO_ENABLED": "0", "GOFLAGS": goflags}
        names = [component.binary] if component.binary else [p.rsplit("/", 1)[-1] for p in pkgs]
        label = f"{', '.join(names)} ({component.name} {component.version})"
        run_with_progress([*cmd, *pkgs], module, env, label, say)
        for name in names:
            (out / name).replace(bin_dir / name)
    return time.monotonic() - started


def run_with_progress(cmd: list[str], cwd: Path, env: dict[str, str], label: str, say: Say) -> None:
    """Run a ``go build -v``, saying every PROGRESS_SECONDS how long it has run and how many
    packages it compiled (``-v`` names each on stderr); CalledProcessError with the output's
    last lines when it fails."""
    started = time.monotonic()
    tail: collections.deque[str] = collections.deque(maxlen=40)
    count = [0]
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip())
            count[0] += 1

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    while True:
        try:
            proc.wait(PROGRESS_SECONDS)
            break
        except subprocess.TimeoutExpired:
            elapsed = time.monotonic() - started
            say(f"building {label}: {elapsed:.0f} s, {count[0]} packages compiled so far")
    reader.join()
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd, output="\n".join(tail))


def missing_manifests(component: GoComponent, directory: Path) -> tuple[str, ...]:
    """The manifest files of `component` not yet copied into directory."""
    return tuple(f for f in component.manifest_files if not (directory / Path(f).name).is_file())


def copy_manifests(go: str, component: GoComponent, directory: Path) -> None:
    """Copy the component's manifest files out of its module (as go.sum pins it) into directory.

    ``go mod download -json`` inside the component's tools/k8s module fetches exactly the version
    its go.sum records (from the module cache when present) and says where it unpacked it.
    """
    assert component.manifest_module is not None
    out = subprocess.run(
        [go, "mod", "download", "-json", component.manifest_module],
        cwd=TOOLS_DIR / component.module_dir,
        capture_output=True,
        text=True,
        check=True,
    )
    source = Path(json.loads(out.stdout)["Dir"])
    directory.mkdir(parents=True, exist_ok=True)
    for name in component.manifest_files:
        target = directory / Path(name).name
        tmp = target.with_suffix(".tmp")
        shutil.copyfile(source / name, tmp)
        tmp.replace(target)


def build_release(
    minor: str, *, server_only: bool = False, force: bool = False, say: Say = _print
) -> Path:
    """Build the binaries of Kubernetes ``minor`` (a ``[kubernetes_releases]`` one, or the
    default's) that its cache directory lacks, under a lock on that directory; return its
    ``bin/``. ``server_only``: kubectl is not built (a control plane does not need it)."""
    toolchain = load_toolchain()
    component = toolchain.kubernetes(minor)
    bin_dir = component_dir(component, toolchain) / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    with (bin_dir.parent / ".build-lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent builder finishes first; then skip
        pkgs = _wanted(component, bin_dir, server_only=server_only, force=force)
        if not pkgs:
            return bin_dir
        go = check_go(toolchain)
        names = ", ".join(p.rsplit("/", 1)[-1] for p in pkgs)
        say(f"building {names} (Kubernetes {component.version}) into {bin_dir} ...")
        seconds = build_component(go, component, bin_dir, pkgs, say)
        say(f"built Kubernetes {component.version} ({names}) in {seconds:.0f} s -> {bin_dir}")
    return bin_dir


def _wanted(
    component: GoComponent, bin_dir: Path, *, server_only: bool, force: bool
) -> tuple[str, ...]:
    pkgs = component.packages if force else missing_packages(component, bin_dir)
    if server_only:
        pkgs = tuple(p for p in pkgs if p.rsplit("/", 1)[-1] in SERVER_PACKAGES)
    return pkgs


def release_minors(requested: Iterable[str]) -> list[str]:
    """The minors ``--kubernetes`` names (``all``: every further one), checked against the
    toolchain; ValueError naming the ones it pins for any other."""
    toolchain = load_toolchain()
    extra = list(toolchain.releases)
    found: list[str] = []
    for item in requested:
        for minor in extra if item == "all" else [item.removeprefix("v")]:
            if minor != toolchain.default_minor and minor not in toolchain.releases:
                pinned = ", ".join(toolchain.minors())
                raise ValueError(f"Kubernetes {item} is not in toolchain.toml (it pins {pinned})")
            if minor not in found:
                found.append(minor)
    return found


@dataclass(frozen=True)
class Job:
    """One component's part of a build: the packages to build and whether its manifests are
    copied."""

    component: GoComponent
    bin_dir: Path
    packages: tuple[str, ...]
    manifests: bool

    @property
    def label(self) -> str:
        names = ", ".join(self.component.binary or p.rsplit("/", 1)[-1] for p in self.packages)
        return f"{self.component.name} {self.component.version}" + (f" ({names})" if names else "")


def plan_build(toolchain: Toolchain, *, force: bool = False, serve: bool = False) -> list[Job]:
    """What the cache lacks, component by component in toolchain.toml's order (Kubernetes, the
    longest, first). ``serve``: only what a control plane runs (no kubectl, no helm)."""
    jobs: list[Job] = []
    for c in toolchain.components:
        bin_dir = component_dir(c, toolchain) / "bin"
        pkgs = c.packages if force else missing_packages(c, bin_dir)
        if serve:
            pkgs = tuple(p for p in pkgs if p.rsplit("/", 1)[-1] not in OPTIONAL_BINARIES)
            if not set(c.binaries) - set(OPTIONAL_BINARIES):
                continue
        manifests = bool(missing_manifests(c, manifests_dir(c, toolchain))) or (
            force and bool(c.manifest_files)
        )
        if pkgs or manifests:
            jobs.append(Job(c, bin_dir, pkgs, manifests))
    return jobs


def _run_job(go: str, job: Job, toolchain: Toolchain) -> float:
    started = time.monotonic()
    job.bin_dir.mkdir(parents=True, exist_ok=True)
    if job.packages:
        build_component(go, job.component, job.bin_dir, job.packages)
    if job.manifests:
        copy_manifests(go, job.component, manifests_dir(job.component, toolchain))
    return time.monotonic() - started


def build_all(force: bool = False, *, serve: bool = False, jobs: int = DEFAULT_JOBS) -> Path:
    """Build what the cache lacks, ``jobs`` components at a time (``go build`` and module
    downloads of one overlap another's link and downloads); return the shared components' bin
    directory. Says the plan first, then each component's progress, and what is next."""
    toolchain = load_toolchain()
    shared = cache_bin_dir(toolchain)
    todo = plan_build(toolchain, force=force, serve=serve)
    if not todo:
        print(f"build-k8s: all binaries present in {shared.parent.parent} (nothing to build)")
        return shared
    go = check_go(toolchain)
    total = time.monotonic()
    width = max(1, min(jobs, len(todo)))
    _print(f"{len(todo)} to build, {width} at a time: " + "; ".join(j.label for j in todo))
    if serve:
        _print("(kubectl and helm are not needed to start: `scripts/build-k8s` builds them)")
    waiting = list(todo)
    running: dict[Future[float], Job] = {}
    failures: list[BaseException] = []
    with ThreadPoolExecutor(width) as pool:
        while waiting or running:
            while waiting and len(running) < width and not failures:
                job = waiting.pop(0)
                _print(f"building {job.label} ...")
                running[pool.submit(_run_job, go, job, toolchain)] = job
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                job = running.pop(future)
                if (exc := future.exception()) is not None:
                    failures.append(exc)
                    _print(f"failed: {job.label}")
                    continue
                left = [j.component.name for j in [*running.values(), *waiting]]
                after = f"; still to do: {', '.join(left)}" if left else ""
                _print(f"built {job.label} in {future.result():.0f} s -> {job.bin_dir}{after}")
    if failures:
        raise failures[0]
    print(f"build-k8s: done in {time.monotonic() - total:.0f} s")
    return shared


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="build-k8s", description=__doc__)
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="only what a control plane runs (what `make up` needs): no kubectl, no helm",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=DEFAULT_JOBS,
        help=f"components built at once (default {DEFAULT_JOBS})",
    )
    parser.add_argument("--print-dir", action="store_true", help="print the cache directory")
    parser.add_argument(
        "--kubernetes",
        action="append",
        default=[],
        metavar="MINOR",
        help="also build this further Kubernetes minor (1.34), repeatable; `all`: every one",
    )
    args = parser.parse_args(argv)
    if args.print_dir:
        print(cache_bin_dir())  # the shared components' (own_cache ones: component_dir)
        return 0
    try:
        minors = release_minors(args.kubernetes)
        build_all(force=args.force, serve=args.serve, jobs=max(1, args.jobs))
        for minor in minors:
            done = build_release(minor, force=args.force)
            _print(f"Kubernetes {minor}: binaries in {done}")
    except (GoToolchainError, ValueError) as exc:
        print(f"build-k8s: error: {exc}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as exc:
        print(f"build-k8s: error: {exc}\n{exc.output or ''}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
