"""``podwarden goodput``: how much of a cluster's time turns into training under failures.

For each variant of the scenario (the scenario itself, then one per ``--compare``), on a fresh
embedded control plane in a temporary directory: ``podwarden serve`` with the scenario's
durations divided by the time scale, the run (``goodput.runner``: the real agent, reconciler,
auto-resume, Kubeflow operator, scheduler and kwok), the accounting
(``logic.goodput_accounting``), the pure reference model of the same fault schedule and, where it
applies, the closed form; then the table, the JSON and the plot (``goodput.report``).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from podwarden.agent.inject import inject, signal_for
from podwarden.api.app import DEFAULT_REGION
from podwarden.cli.account import seeded_account
from podwarden.cli.server import local_credentials
from podwarden.goodput import report as render
from podwarden.goodput import runner
from podwarden.goodput.cluster import Endpoint
from podwarden.kube.nodes import KubeNodes, api_client
from podwarden.local.runtime import ControlPlane
from podwarden.logic import goodput_analytic, goodput_failures, goodput_reference
from podwarden.logic.goodput_accounting import account
from podwarden.model.goodput import Fault, FaultKind, GoodputReport, Observed, Scenario
from podwarden.policy import goodput as scenarios
from podwarden.store.sql import Store, sqlite_url

SERVE_START_S = 120.0
WIDTH = 160  # characters, when the output is not a terminal
LOG_TAIL = 40  # lines of podwarden serve's log shown when a run fails
# podwarden's own latency counts at its real length (logic/goodput_accounting.py), but while it
# runs the modeled durations of other faults keep going at the scaled pace: the agent acts on each
# node's watch event and the reconciler, woken by node watches, also resyncs often, so that this
# overlap stays small (a reboot modeled at 300 s is 15 ms at 20,000x; the default reconciler
# resync: every 30 s)
RESYNC_S = 0.1
_API_LINE = re.compile(r"API at (http://\S+)")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "goodput",
        help="replay a failure process through the real recovery pipeline and report ETTR",
    )
    p.add_argument("scenario", nargs="?", default="p5-64",
                   help=f"a shipped scenario ({', '.join(scenarios.scenario_names())}) "
                   "or a scenario YAML file")  # fmt: skip
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="change the scenario, e.g. cluster.spares=0 (repeatable)")  # fmt: skip
    p.add_argument("--compare", action="append", default=[], metavar="KEY=VALUE[,KEY=VALUE]",
                   help="also run with these changes, side by side (repeatable)")  # fmt: skip
    p.add_argument("--time-scale", type=float, help="simulated seconds per real second")
    p.add_argument("--days", type=float, help="simulated length of the run")
    p.add_argument("--seed", type=int, help="seed of the failure process")
    p.add_argument("--json", type=Path, help="write the report(s) as JSON here")
    p.add_argument("--plot", type=Path, help="write the plot here (.png or .html)")
    p.add_argument("--list", action="store_true", help="list the shipped scenarios and exit")
    p.set_defaults(func=main)


def _scenario(args: argparse.Namespace) -> Scenario:
    overrides = list(args.set)
    for flag, key in ((args.time_scale, "time_scale"), (args.days, "days"),
                      (args.seed, "failures.seed")):  # fmt: skip
        if flag is not None:
            overrides.append(f"{key}={flag}")
    return scenarios.with_overrides(scenarios.load_scenario(args.scenario), overrides)


def main(args: argparse.Namespace) -> int:
    # the failures table has ten columns: keep them readable in a log file too
    console = Console() if sys.stdout.isatty() else Console(width=WIDTH)
    if args.list:
        for name in scenarios.scenario_names():
            s = scenarios.load_scenario(name)
            console.print(f"[bold]{name}[/bold]: {s.description}")
        return 0
    try:
        base = _scenario(args)
        variants = [("base", base)] + [
            (change, scenarios.with_overrides(base, [*change.split(","), f"name={base.name}"]))
            for change in args.compare
        ]
    except ValueError as exc:  # TableError too: a bad scenario file, key or value
        console.print(f"[red]podwarden goodput:[/red] {escape(str(exc))}", highlight=False)
        return 2
    reports = []
    for label, s in variants:
        console.print(f"[bold]{s.name}[/bold] ({label}): {s.days:g} days at {s.time_scale:g}x")
        reports.append(run_scenario(s, lambda line: console.print(f"  {line}")))
    labels = [label for label, _ in variants]
    if len(reports) == 1:
        render.render(reports[0], console)
    else:
        render.render_compare(reports, labels, console)
    if args.json:
        docs = [render.to_json(r) for r in reports]
        args.json.write_text(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2) + "\n")
    if args.plot:
        if len(reports) == 1:
            render.write_plot(reports[0], args.plot)
        else:
            render.write_compare_plot(reports, labels, args.plot)
    return 0


def run_scenario(s: Scenario, progress: runner.Progress) -> GoodputReport:
    """One scenario on a fresh control plane and podwarden; the report with the reference
    model's and the closed form's ETTR."""
    faults = goodput_failures.schedule(s)
    with tempfile.TemporaryDirectory(prefix="podwarden-goodput-") as tmp_name:
        tmp = Path(tmp_name)
        with ControlPlane(tmp / "k8s", fsync=False) as cp, _serve(s, cp.kubeconfig, tmp) as ep:
            started = time.monotonic()
            observed = asyncio.run(_run(s, faults, ep, cp.kubeconfig, progress))
            progress(f"run took {time.monotonic() - started:.0f} s")
    report = account(s, observed)
    return dataclasses.replace(
        report,
        reference_ettr=goodput_reference.simulate(s, faults).ettr,
        closed_form_ettr=goodput_analytic.closed_form(s),
    )


async def _run(
    s: Scenario,
    faults: Sequence[Fault],
    ep: Endpoint,
    kubeconfig: Path,
    progress: runner.Progress,
) -> Observed:
    api = await api_client(kubeconfig)
    nodes = KubeNodes(api)

    async def inject_fault(node: str, kind: FaultKind) -> None:
        signal = (
            signal_for(xid=kind.xid) if kind.xid is not None else signal_for(signal=kind.signal)
        )
        await inject(nodes, node, signal)

    try:
        return await runner.run(
            s, faults, endpoint=ep, kube_api=api, inject=inject_fault, progress=progress
        )
    finally:
        await api.close()


@contextmanager
def _serve(s: Scenario, kubeconfig: Path, tmp: Path) -> Iterator[Endpoint]:
    """``podwarden serve`` for the scenario, until the block ends."""
    scale = 1.0 / s.time_scale
    d = s.durations
    argv = [sys.executable, "-m", "podwarden.cli.main", "serve", "--kubeconfig", str(kubeconfig),
            "--data-dir", str(tmp / "podwarden"), "--port", "0",
            "--launch-delay", repr(d.launch_seconds), "--reboot-delay", repr(d.reboot_seconds),
            "--deep-check-duration", repr(d.deep_check_seconds),
            "--time-scale", repr(scale),
            "--resync", repr(RESYNC_S)]  # fmt: skip
    if not s.cluster.safety_limits:
        argv.append("--no-repair-limits")
    log_path = tmp / "serve.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log_file, text=True)
        try:
            url = _api_url(proc, log_path)
            yield _endpoint(url, tmp / "podwarden")
        except BaseException as exc:  # the log goes with the temporary directory: keep its end
            tail = log_path.read_text(errors="replace").splitlines()[-LOG_TAIL:]
            exc.add_note("podwarden serve's log ends:\n" + "\n".join(tail))
            raise
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _api_url(proc: subprocess.Popen[str], log_path: Path) -> str:
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + SERVE_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"podwarden serve exited with {proc.returncode}; see {log_path}")
        try:
            found = _API_LINE.search(lines.get(timeout=0.2))
        except queue.Empty:
            continue
        if found:
            return found.group(1)
    raise TimeoutError(f"podwarden serve did not listen within {SERVE_START_S:g} s; see {log_path}")


def _endpoint(url: str, data_dir: Path) -> Endpoint:
    cred = local_credentials()[0]
    store = Store(sqlite_url(data_dir))
    try:
        seeded = seeded_account(store, cred.account_id, DEFAULT_REGION)
    finally:
        store.close()
    if seeded is None:
        raise RuntimeError("podwarden serve did not seed the default account")
    return Endpoint(
        url=url,
        access_key_id=cred.access_key_id,
        secret_access_key=cred.secret_access_key,
        region=DEFAULT_REGION,
        eks_cluster_arn=seeded.eks_cluster_arn,
        execution_role_arn=seeded.execution_role_arn,
        lifecycle_uri=seeded.lifecycle_uri,
    )
