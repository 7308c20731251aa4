"""What ``podwarden goodput`` shows of a :class:`GoodputReport`: the headline numbers, the
failures, one report beside another (``--compare``), and the report as JSON.

The summary is a list of (label, value) strings so that the terminal table, the side-by-side
comparison and the HTML page (``goodput/plots.py``) show the same numbers worded the same way.
Every time in a report is in simulated seconds; only "real run time" is wall-clock time.

The plots live in ``goodput/plots.py``, which imports matplotlib; ``write_plot`` and
``write_compare_plot`` here import it only when called, so printing a table or JSON does not
pay for loading matplotlib.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from podwarden.model.goodput import (
    Action,
    FailureLoss,
    GoodputReport,
    NodeSpan,
    Phase,
)

MAX_FAILURE_ROWS = 50
NONE = "—"
ETTR = "ETTR"


# ---- numbers as text -------------------------------------------------------------------------


def percent(ratio: float) -> str:
    return f"{ratio * 100:.2f}%"


def hours_minutes(seconds: float) -> str:
    """``h:mm``, hours unbounded (a 30-day run may lose more than a day to checkpoints)."""
    h, m = divmod(round(seconds / 60), 60)
    return f"{h}:{m:02d}"


def day_clock(seconds: float) -> str:
    """A time since the run's start as ``day+hh:mm`` (day 0 is the first day)."""
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 24 * 60)
    return f"{days}+{rest // 60:02d}:{rest % 60:02d}"


def _length(seconds: float) -> str:
    return f"{seconds / 86400:.1f} days ({seconds / 3600:.1f} h)"


def _real(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m}m {s:02d}s"


# ---- the summary -----------------------------------------------------------------------------


def summary_rows(report: GoodputReport) -> list[tuple[str, str]]:
    """The headline numbers, in the order a reader asks for them: how much turned into training,
    over how long, how many failures, where the lost time went, what it cost per failure."""
    interrupting = [f for f in report.failures if f.interrupted]
    wall = report.wall_seconds
    share = report.checkpoint_seconds / wall if wall else 0.0
    rows = [
        (ETTR, percent(report.ettr)),
        ("simulated length", _length(wall)),
        ("failures", f"{len(report.failures)} ({len(interrupting)} interrupted the job)"),
    ]
    rows += [(f"lost to {phase.value}", hours_minutes(report.lost(phase))) for phase in Phase]
    lost = sum(f.lost_seconds for f in report.failures)
    rows += [
        ("lost to failures", hours_minutes(lost)),
        ("checkpoint overhead", f"{hours_minutes(report.checkpoint_seconds)} ({percent(share)})"),
        ("productive time", hours_minutes(report.productive_seconds)),
        ("lost per interrupting failure", _mean_minutes(interrupting)),
        ("real run time", _real(report.real_seconds)),
        ("time scale", f"{report.time_scale:g}x (simulated s per real s)"),
    ]
    if report.reference_ettr is not None:
        rows.append(("reference-model ETTR", percent(report.reference_ettr)))
    if report.closed_form_ettr is not None:
        rows.append(("closed-form ETTR", percent(report.closed_form_ettr)))
    if report.notes:
        rows.append(("notes", "\n".join(report.notes)))
    return rows


def _mean_minutes(failures: Sequence[FailureLoss]) -> str:
    if not failures:
        return NONE
    mean = sum(f.lost_seconds for f in failures) / len(failures) / 60
    return f"{mean:.1f} min (mean)"


def render(report: GoodputReport, console: Console) -> None:
    """The summary, then the failures (the first ``MAX_FAILURE_ROWS``) with their phases."""
    title = f"goodput: {report.scenario}"
    # names come from scenario files and nodes: Text, so that "[...]" is not read as markup
    summary = Table(title=Text(title), show_header=False, expand=False)
    summary.add_column("", style="bold", no_wrap=True)
    summary.add_column("", overflow="fold")
    for label, value in summary_rows(report):
        summary.add_row(label, Text(value))
    console.print(summary)
    if not report.failures:
        console.print(Text("no failures in this run", style="dim"))
        return
    console.print(failure_table(report.failures))


def failure_table(failures: Sequence[FailureLoss]) -> Table:
    table = Table(title="failures (minutes lost per phase)")
    for name in ("at (d+hh:mm)", "node", "cause", "fault", "action", "interrupted"):
        table.add_column(name, no_wrap=name != "cause", overflow="fold")
    for phase in Phase:
        table.add_column(phase.value, justify="right")
    table.add_column("total", justify="right", style="bold")
    for f in failures[:MAX_FAILURE_ROWS]:
        minutes = [f"{f.phases.get(p, 0.0) / 60:.1f}" for p in Phase]
        table.add_row(
            day_clock(f.at),
            Text(f.node),
            Text(f.cause),
            Text(f.fault),
            f.action.value,
            "yes" if f.interrupted else "no",
            *minutes,
            f"{f.lost_seconds / 60:.1f}",
        )
    if len(failures) > MAX_FAILURE_ROWS:
        table.add_row(Text(f"... {len(failures) - MAX_FAILURE_ROWS} more", style="dim"))
    return table


# ---- side by side ----------------------------------------------------------------------------


def compare_rows(
    reports: Sequence[GoodputReport], labels: Sequence[str]
) -> list[tuple[str, list[str]]]:
    """The summary rows of several reports aligned by label (a row one report lacks, e.g. the
    closed form, shows a dash), then ETTR's change against the first report in percentage
    points: the number a user who changed one policy is looking for."""
    if not reports or len(reports) != len(labels):
        raise ValueError(f"{len(reports)} report(s) and {len(labels)} label(s): give one of each")
    tables = [dict(summary_rows(r)) for r in reports]
    order: list[str] = []
    for table in tables:
        order += [label for label in table if label not in order]
    rows = [(label, [t.get(label, NONE) for t in tables]) for label in order]
    first = reports[0].ettr
    delta = [NONE] + [f"{(r.ettr - first) * 100:+.2f} pp" for r in reports[1:]]
    rows.insert(1, (f"Δ ETTR vs {labels[0]}", delta))
    return rows


def render_compare(
    reports: Sequence[GoodputReport], labels: Sequence[str], console: Console
) -> None:
    table = Table(title=Text("goodput: " + " vs ".join(labels)))
    table.add_column("", style="bold", no_wrap=True)
    for label in labels:
        table.add_column(Text(label), overflow="fold")
    for name, values in compare_rows(reports, labels):
        table.add_row(Text(name), *(Text(v) for v in values))
    console.print(table)


# ---- JSON ------------------------------------------------------------------------------------


def to_json(report: GoodputReport) -> dict[str, Any]:
    """Every field of the report, plus the derived ETTR and per-phase totals (for readers that
    do not recompute them); enums as their values; keys in a fixed order."""
    return {
        "scenario": report.scenario,
        "ettr": report.ettr,
        "time_scale": report.time_scale,
        "real_seconds": report.real_seconds,
        "wall_seconds": report.wall_seconds,
        "productive_seconds": report.productive_seconds,
        "checkpoint_seconds": report.checkpoint_seconds,
        "lost_seconds": {p.value: report.lost(p) for p in Phase},
        "reference_ettr": report.reference_ettr,
        "closed_form_ettr": report.closed_form_ettr,
        "notes": list(report.notes),
        "failures": [_failure_json(f) for f in report.failures],
        "ettr_series": [[t, e] for t, e in report.ettr_series],
        "node_spans": [
            {"node": s.node, "start": s.start, "end": s.end, "state": s.state}
            for s in report.node_spans
        ],
    }


def _failure_json(f: FailureLoss) -> dict[str, Any]:
    return {
        "at": f.at,
        "node": f.node,
        "fault": f.fault,
        "cause": f.cause,
        "action": f.action.value,
        "interrupted": f.interrupted,
        # only the phases the report holds, so that from_json gives back an equal report
        "phases": {p.value: f.phases[p] for p in Phase if p in f.phases},
        "lost_seconds": f.lost_seconds,
        "waited_for_repair": f.waited_for_repair,
        "overhead_real_seconds": f.overhead_real_seconds,
    }


def from_json(d: Mapping[str, Any]) -> GoodputReport:
    """The report ``to_json`` wrote (the derived fields are ignored); a missing field or a bad
    enum value raises ValueError naming it."""
    try:
        return GoodputReport(
            scenario=str(d["scenario"]),
            time_scale=float(d["time_scale"]),
            real_seconds=float(d["real_seconds"]),
            wall_seconds=float(d["wall_seconds"]),
            productive_seconds=float(d["productive_seconds"]),
            checkpoint_seconds=float(d["checkpoint_seconds"]),
            failures=tuple(_failure(f) for f in d["failures"]),
            ettr_series=tuple((float(t), float(e)) for t, e in d["ettr_series"]),
            node_spans=tuple(
                NodeSpan(str(s["node"]), float(s["start"]), float(s["end"]), str(s["state"]))
                for s in d["node_spans"]
            ),
            reference_ettr=_optional(d.get("reference_ettr")),
            closed_form_ettr=_optional(d.get("closed_form_ettr")),
            notes=tuple(str(n) for n in d.get("notes", ())),
        )
    except KeyError as exc:
        raise ValueError(f"goodput report JSON: missing field {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        raise ValueError(f"goodput report JSON: {exc}") from exc


def _failure(f: Mapping[str, Any]) -> FailureLoss:
    return FailureLoss(
        at=float(f["at"]),
        node=str(f["node"]),
        fault=str(f["fault"]),
        cause=str(f["cause"]),
        action=Action(f["action"]),
        interrupted=bool(f["interrupted"]),
        phases={Phase(k): float(v) for k, v in f["phases"].items()},
        waited_for_repair=bool(f.get("waited_for_repair", False)),
        overhead_real_seconds=float(f.get("overhead_real_seconds", 0.0)),
    )


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


# ---- plots (matplotlib loaded on first use) --------------------------------------------------


def write_plot(report: GoodputReport, path: Path) -> None:
    """See ``podwarden.goodput.plots.write_plot``."""
    from podwarden.goodput import plots  # noqa: PLC0415 -- keeps matplotlib off the table path

    plots.write_plot(report, path)


def write_compare_plot(reports: Sequence[GoodputReport], labels: Sequence[str], path: Path) -> None:
    """See ``podwarden.goodput.plots.write_compare_plot``."""
    from podwarden.goodput import plots  # noqa: PLC0415 -- keeps matplotlib off the table path

    plots.write_compare_plot(reports, labels, path)
