"""The goodput plots: one report (ETTR over time, the per-node timeline of faults and
recoveries, where the lost time went) or several side by side, as PNG or as one self-contained
HTML page.

Figures are built with matplotlib's object API (``Figure`` + ``FigureCanvasAgg``), never
pyplot: no global figure state and no GUI backend, so a headless machine or a server thread can
draw them. The HTML page embeds the PNG as a ``data:`` URI and loads nothing else, so it can be
mailed or attached to an issue as one file.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from podwarden.goodput.report import compare_rows, hours_minutes, percent, summary_rows
from podwarden.model.goodput import GoodputReport, Phase

DAY = 86400.0
SUFFIXES = (".png", ".html")
# one colour per node state (model/goodput.py NodeSpan); a state not listed gets a spare colour
STATE_COLOURS = {
    "faulted": "#d62728",
    "quarantined": "#ff7f0e",
    "manual": "#8c564b",
    "rebooting": "#1f77b4",
    "replacing": "#9467bd",
    "deep-check": "#17becf",
}
SPARE_COLOURS = ("#bcbd22", "#e377c2", "#7f7f7f", "#2ca02c")
PHASE_COLOURS = {
    Phase.DETECTION: "#d62728",
    Phase.QUARANTINE: "#ff7f0e",
    Phase.REPAIR: "#9467bd",
    Phase.RESTART: "#1f77b4",
    Phase.RECOMPUTATION: "#2ca02c",
}
CHECKPOINT_COLOUR = "#7f7f7f"


def write_plot(report: GoodputReport, path: Path) -> None:
    """Three panels: ETTR over time with the faults marked, the timeline of the nodes that had a
    fault, and the loss breakdown. ``.png`` or ``.html`` (anything else: ValueError)."""
    suffix = _suffix(path)
    fig = Figure(figsize=(12, 11), layout="constrained")
    ettr_ax, nodes_ax, loss_ax = fig.subplots(3, 1, height_ratios=(3, 3, 1.3))
    fig.suptitle(
        f"{report.scenario}: ETTR {percent(report.ettr)} (time scale {report.time_scale:g}x)"
    )
    _ettr_panel(ettr_ax, report)
    _timeline_panel(nodes_ax, report)
    _loss_panel(loss_ax, report)
    png = _png(fig)
    if suffix == ".png":
        path.write_bytes(png)
    else:
        title = f"goodput: {report.scenario}"
        rows = [(label, [value]) for label, value in summary_rows(report)]
        path.write_text(_html_page(title, png, [report.scenario], rows), encoding="utf-8")


def write_compare_plot(reports: Sequence[GoodputReport], labels: Sequence[str], path: Path) -> None:
    """ETTR over time of every report on one axis, and the time lost per phase (plus checkpoint
    overhead) as grouped bars; ``.png`` or ``.html``."""
    suffix = _suffix(path)
    rows = compare_rows(reports, labels)  # also checks one label per report
    fig = Figure(figsize=(12, 8), layout="constrained")
    ettr_ax, loss_ax = fig.subplots(2, 1, height_ratios=(3, 2))
    fig.suptitle(f"{reports[0].scenario}: ETTR by policy (time scale {reports[0].time_scale:g}x)")
    for label, report in zip(labels, reports, strict=True):
        _ettr_line(ettr_ax, report, f"{label}: {percent(report.ettr)}")
    _ettr_axes(ettr_ax, reports, ())
    ettr_ax.set_title("ETTR over time")
    ettr_ax.legend(loc="lower right")
    _grouped_loss(loss_ax, reports, labels)
    png = _png(fig)
    if suffix == ".png":
        path.write_bytes(png)
    else:
        title = "goodput: " + " vs ".join(labels)
        path.write_text(_html_page(title, png, list(labels), rows), encoding="utf-8")


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(f"{path}: a goodput plot is .png or .html, not {path.suffix or '(none)'}")
    return suffix


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)  # attaches itself to the figure: Agg, whatever the default backend
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


# ---- panels ----------------------------------------------------------------------------------


def _ettr_line(ax: Axes, report: GoodputReport, label: str) -> None:
    days = [t / DAY for t, _ in report.ettr_series]
    ax.plot(days, [e * 100 for _, e in report.ettr_series], label=label, linewidth=1.5)


def _ettr_axes(ax: Axes, reports: Sequence[GoodputReport], marks: Sequence[float]) -> None:
    """Axes fitted to the ETTR of the last 90% of each run (and the ``marks`` drawn across):
    "ETTR so far" starts at 0 while the job first starts, and an axis down to 0 would flatten
    the part a reader compares; the early samples run off the bottom instead."""
    ax.set_xlabel("simulated days")
    ax.set_ylabel("ETTR so far (%)")
    ax.set_xlim(0, max(r.wall_seconds for r in reports) / DAY or 1)
    ax.grid(alpha=0.3)
    settled = [e for r in reports for t, e in r.ettr_series if t >= 0.1 * r.wall_seconds]
    values = [v * 100 for v in (*settled, *marks)]
    if values:
        pad = max(0.25, (max(values) - min(values)) * 0.1)
        ax.set_ylim(max(0.0, min(values) - pad), min(100.0, max(values)) + pad)


def _ettr_panel(ax: Axes, report: GoodputReport) -> None:
    _ettr_line(ax, report, "ETTR (this run)")
    seen: set[bool] = set()
    for f in report.failures:
        style = {"color": "#d62728", "alpha": 0.6} if f.interrupted else {"color": "#999999"}
        kind = "fault (interrupted the job)" if f.interrupted else "fault (job ran on)"
        # one legend entry per kind: matplotlib leaves out labels that start with "_"
        label = kind if f.interrupted not in seen else "_" + kind
        seen.add(f.interrupted)
        ax.axvline(f.at / DAY, linestyle="--", linewidth=0.8, label=label, **style)
    for value, name, colour in (
        (report.reference_ettr, "reference model", "#2ca02c"),
        (report.closed_form_ettr, "closed form", "#9467bd"),
    ):
        if value is not None:
            ax.axhline(value * 100, color=colour, linestyle=":", label=f"{name} {percent(value)}")
    marks = [v for v in (report.reference_ettr, report.closed_form_ettr) if v is not None]
    _ettr_axes(ax, [report], marks)
    if not report.ettr_series:
        ax.text(0.5, 0.5, "no ETTR samples", transform=ax.transAxes, ha="center")
    ax.set_title("ETTR over time")
    ax.legend(loc="best", fontsize="small")


def _timeline_panel(ax: Axes, report: GoodputReport) -> None:
    nodes = sorted({s.node for s in report.node_spans})
    ax.set_title("faults and recoveries per node")
    ax.set_xlabel("simulated days")
    ax.set_xlim(0, report.wall_seconds / DAY or 1)
    if not nodes:
        ax.text(0.5, 0.5, "no node was faulted", transform=ax.transAxes, ha="center")
        ax.set_yticks([])
        return
    row = {node: i for i, node in enumerate(nodes)}
    colours = _state_colours({s.state for s in report.node_spans})
    # an edge in the face colour keeps a recovery of minutes visible on an axis of days; spans
    # are drawn in time order, so where one is too short to see, the state that followed it
    # (the repair: reboot, replacement, an operator) is the colour that shows
    spans = sorted(report.node_spans, key=lambda s: (s.start, s.end))
    for node in nodes:
        mine = [s for s in spans if s.node == node]
        ax.broken_barh(
            [(s.start / DAY, (s.end - s.start) / DAY) for s in mine],
            (row[node] - 0.3, 0.6),
            facecolors=[colours[s.state] for s in mine],
            edgecolors=[colours[s.state] for s in mine],
            linewidth=1.5,
        )
    hits = [f for f in report.failures if f.node in row]
    days, rows = [f.at / DAY for f in hits], [row[f.node] - 0.42 for f in hits]
    ax.scatter(days, rows, marker="v", color="k", s=18, zorder=4, label="_fault")
    ax.set_yticks(range(len(nodes)), nodes, fontsize="small")
    ax.set_ylim(-0.6, len(nodes) - 0.4)
    ax.invert_yaxis()
    handles = [Patch(color=c, label=state) for state, c in colours.items()]
    ax.legend(handles=handles, loc="best", fontsize="small", ncols=min(len(handles), 4))
    ax.grid(axis="x", alpha=0.3)


def _state_colours(states: set[str]) -> dict[str, str]:
    """A colour per state present, the known ones in the order a node lives through them."""
    known = [s for s in STATE_COLOURS if s in states]
    spare = iter(SPARE_COLOURS * (1 + len(states) // len(SPARE_COLOURS)))
    return {s: STATE_COLOURS[s] for s in known} | {
        s: next(spare) for s in sorted(states - set(known))
    }


def _loss_panel(ax: Axes, report: GoodputReport) -> None:
    """One horizontal stacked bar: hours lost per phase, then checkpoint overhead."""
    left = 0.0
    for name, hours, colour in _losses(report):
        ax.barh(0, hours, left=left, color=colour, label=f"{name} {hours_minutes(hours * 3600)}")
        left += hours
    ax.set_yticks([])
    ax.set_xlabel("hours (legend: h:mm)")
    ax.set_title("where the lost time went (failures by phase, and checkpoints)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.45), ncols=6, fontsize="small")


def _losses(report: GoodputReport) -> list[tuple[str, float, str]]:
    phases = [(p.value, report.lost(p) / 3600, PHASE_COLOURS[p]) for p in Phase]
    return [*phases, ("checkpoints", report.checkpoint_seconds / 3600, CHECKPOINT_COLOUR)]


def _grouped_loss(ax: Axes, reports: Sequence[GoodputReport], labels: Sequence[str]) -> None:
    groups = [name for name, _, _ in _losses(reports[0])]
    width = 0.8 / len(reports)
    for i, (label, report) in enumerate(zip(labels, reports, strict=True)):
        hours = [h for _, h, _ in _losses(report)]
        xs = [g + (i - (len(reports) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, hours, width=width, label=label)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel("hours")
    ax.set_title("time lost per phase, and checkpoint overhead")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)


# ---- HTML ------------------------------------------------------------------------------------


def _html_page(
    title: str, png: bytes, columns: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]
) -> str:
    """One page, nothing to fetch: inline style, the PNG as a data: URI, every text escaped."""
    e = html.escape
    image = base64.b64encode(png).decode("ascii")
    head = "".join(f"<th>{e(c)}</th>" for c in columns)
    body = "".join(
        f"<tr><th>{e(label)}</th>"
        + "".join(f"<td>{e(v).replace(chr(10), '<br>')}</td>" for v in values)
        + "</tr>"
        for label, values in rows
    )
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{e(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;vertical-align:top}"
        "img{max-width:100%}</style></head><body>\n"
        f"<h1>{e(title)}</h1>\n<table><thead><tr><th></th>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>\n"
        f"<img alt='{e(title)}' src='data:image/png;base64,{image}'>\n</body></html>\n"
    )
