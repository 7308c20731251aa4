"""``podwarden`` command line."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from podwarden import __version__
from podwarden.local import build
from podwarden.local.errors import LocalK8sError
from podwarden.local.runtime import ControlPlane, dry_run_plan

DATA_DIR_ENV = "PODWARDEN_DATA_DIR"


def default_data_dir() -> Path:
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "podwarden"


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def cmd_up(args: argparse.Namespace) -> int:
    k8s_dir = Path(args.data_dir) / "k8s"
    if args.dry_run:
        the_plan, note = dry_run_plan(k8s_dir)
        if note:
            print(f"# note: {note}\n")
        print(the_plan.render(), end="")
        return 0
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    cp = ControlPlane(k8s_dir)
    started = time.monotonic()
    try:
        cp.start()
        print(
            f"podwarden: local Kubernetes control plane ready in {time.monotonic() - started:.1f} s"
        )
        print(f"  apiserver:  {cp.url}")
        print(f"  kubeconfig: {cp.kubeconfig}")
        print(f"  try:        kubectl --kubeconfig {cp.kubeconfig} get nodes")
        print("  Ctrl-C stops it; its state stays in", k8s_dir, flush=True)
        while True:
            cp.check()
            time.sleep(1)
    except KeyboardInterrupt:
        print("\npodwarden: stopping", flush=True)
        return 0
    except LocalK8sError as exc:
        print(f"podwarden: error: {exc}", file=sys.stderr)
        return 1
    finally:
        cp.stop()


def cmd_build(args: argparse.Namespace) -> int:
    argv = ["--force"] if args.force else []
    return build.main(argv)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="podwarden", description=__doc__)
    p.add_argument("--version", action="version", version=f"podwarden {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start podwarden on the embedded local control plane")
    up.add_argument(
        "--data-dir",
        default=str(default_data_dir()),
        help=f"state directory (default ${DATA_DIR_ENV} or ~/.local/share/podwarden)",
    )
    up.add_argument("--dry-run", action="store_true", help="print the plan of processes and exit")
    up.set_defaults(func=cmd_up)

    k8s = sub.add_parser("build-k8s", help="build the pinned Kubernetes binaries (needs Go)")
    k8s.add_argument("--force", action="store_true")
    k8s.set_defaults(func=cmd_build)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
