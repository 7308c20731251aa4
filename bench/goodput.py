"""Benchmark goodput under failure (issue #12): shipped scenarios through the real pipeline
(``podwarden goodput``: the agent, reconciler, auto-resume, Kubeflow operator, scheduler and
kwok on a fresh embedded control plane per run), each with its ETTR, the reference model's ETTR
for the same fault schedule, the closed form where it applies, the real time the run took and
its plot.

    .venv/bin/python bench/goodput.py [--scenario p5-64 ...] [--set KEY=VALUE ...]
        [--compare KEY=VALUE[,KEY=VALUE] ...] [--scales S1 S2] [--out DIR] [--json out.json]
        [--quick]

``--compare`` runs each scenario again with the changes (what a policy buys); ``--scales`` runs
each scenario at each time scale instead of its own (the scale must not change the answer).
``--quick`` (what tests/bench runs): the ``simple`` scenario for a quarter of a simulated day.
Every run ends: the scenario's simulated length is reached on the run's clock, and every wait in
the runner has a deadline.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console

from podwarden.cli.goodput import run_scenario
from podwarden.goodput import report as render
from podwarden.model.goodput import GoodputReport, Phase, Scenario
from podwarden.policy import goodput as scenarios

RESULTS = Path(__file__).resolve().parent / "results"  # the default --out's parent (ignored by git)


def variants(args: argparse.Namespace) -> list[tuple[str, Scenario]]:
    out = []
    for name in args.scenario:
        base = scenarios.with_overrides(scenarios.load_scenario(name), args.set)
        if args.scales:
            out += [(f"{name} at {s:g}x", scenarios.with_overrides(base, [f"time_scale={s}"]))
                    for s in args.scales]  # fmt: skip
            continue
        out.append((name, base))
        out += [(f"{name} {change}", scenarios.with_overrides(base, change.split(",")))
                for change in args.compare]  # fmt: skip
    return out


def row(label: str, s: Scenario, r: GoodputReport, seconds: float) -> dict[str, Any]:
    interrupted = [f for f in r.failures if f.interrupted]
    mean_lost = sum(f.lost_seconds for f in interrupted) / len(interrupted) if interrupted else 0.0
    return {
        "label": label,
        "scenario": s.name,
        "days": s.days,
        "time_scale": s.time_scale,
        "nodes": s.cluster.nodes,
        "spares": s.cluster.spares,
        "ettr": round(r.ettr, 5),
        "reference_ettr": None if r.reference_ettr is None else round(r.reference_ettr, 5),
        "closed_form_ettr": None if r.closed_form_ettr is None else round(r.closed_form_ettr, 5),
        "expected_ettr": s.expected_ettr,
        "faults": len(r.failures),
        "interrupting": len(interrupted),
        "lost_hours": {p.value: round(r.lost(p) / 3600, 3) for p in Phase},
        "checkpoint_hours": round(r.checkpoint_seconds / 3600, 3),
        "mean_lost_minutes": round(mean_lost / 60, 2),
        "real_seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario", nargs="+", default=["p5-64", "llama3-405b", "trn1-32"])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--compare", action="append", default=[], metavar="KEY=VALUE[,...]")
    parser.add_argument("--scales", nargs="+", type=float)
    parser.add_argument("--out", type=Path, help="where the plots and reports go")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quick", action="store_true", help="seconds: simple, 0.25 days")
    args = parser.parse_args()
    if args.quick:
        args.scenario, args.set = ["simple"], [*args.set, "days=0.25"]
    out_dir = args.out or RESULTS / f"goodput-{time.strftime('%Y%m%d-%H%M%S')}"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, reports, labels = [], [], []
    for label, s in variants(args):
        print(f"{label}: {s.days:g} days of {s.cluster.nodes}+{s.cluster.spares} x "
              f"{s.cluster.instance_type} at {s.time_scale:g}x", flush=True)  # fmt: skip
        started = time.monotonic()
        report = run_scenario(s, lambda line: print(f"  {line}", flush=True))
        seconds = time.monotonic() - started
        slug = label.replace(" ", "_").replace("=", "-").replace(",", "+")
        render.write_plot(report, out_dir / f"{slug}.png")
        (out_dir / f"{slug}.json").write_text(json.dumps(render.to_json(report), indent=2) + "\n")
        rows.append(row(label, s, report, seconds))
        reports.append(report)
        labels.append(label)
        print(json.dumps(rows[-1]), flush=True)
    if len(reports) > 1:
        render.render_compare(reports, labels, Console(width=200))
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}",
        "quick": args.quick,
        "out": str(out_dir),
        "runs": rows,
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
