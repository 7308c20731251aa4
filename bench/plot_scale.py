"""Plot a bench/scale.py result as an SVG (pure Python, no plotting library): against the
number of instances, the seconds from CreateCluster to InService (top panel), and podwarden's
and the control plane's resident memory in MB (bottom panel); the largest size's fault burst
and scale-down, when the result has them, in a caption.

    .venv/bin/python bench/plot_scale.py results.json -o docs/img/scale.svg

The input is scale.py's ``--json`` file, or a ``bench/all.py`` results file that holds one.
Each series is one ``<polyline>`` (``data-series`` names it) with a point per size, marked by
circles whose tooltips give the values.
"""

from __future__ import annotations

import argparse
import json
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

WIDTH = 800
LEFT, RIGHT = 80, 24  # margins of the plot area
PANEL_HEIGHT = 230
TITLE_HEIGHT = 64
GAP = 70  # between the panels: the top panel's x labels and the bottom panel's title
BOTTOM = 60  # the x axis' title
CAPTION_LINE = 18
CAPTION_CHARS = 118  # a caption line at 11 px fits the plot's width
FONT = "font-family='sans-serif'"
# Okabe-Ito colours: told apart with the common colour blindnesses
COLOURS = ("#0072B2", "#D55E00", "#009E73")


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float, ...]


@dataclass(frozen=True)
class Panel:
    title: str
    y_label: str
    series: tuple[Series, ...]


def nice_ticks(high: float, count: int = 5) -> list[float]:
    """Ticks from 0 up to at least ``high``, about ``count`` of them, a step of 1, 2 or 5
    times a power of ten."""
    high = max(high, 1e-9)
    raw = high / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    ticks = [0.0]
    while ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def tick_label(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    return f"{value:,.{decimals}f}"


def load_rows(path: Path) -> dict[str, Any]:
    """scale.py's result: from its own file or from a bench/all.py results file."""
    data: dict[str, Any] = json.loads(path.read_text())
    if "sizes" not in data and "benchmarks" in data:
        data = data["benchmarks"]["scale.py"]["result"]
    if not data.get("sizes"):
        raise SystemExit(f"{path}: no sizes of bench/scale.py in it")
    return data


def panels(rows: list[dict[str, Any]]) -> tuple[Panel, Panel]:
    return (
        Panel(
            "Seconds from CreateCluster to InService",
            "seconds",
            (Series("to InService", tuple(float(r["in_service_s"]) for r in rows)),),
        ),
        Panel(
            "Resident memory (RSS) once InService",
            "MB",
            (
                Series("podwarden serve", tuple(float(r["podwarden_rss_mb"]) for r in rows)),
                Series(
                    "control plane (etcd, kube-apiserver, controllers, kwok, ...)",
                    tuple(float(r["control_plane_rss_total_mb"]) for r in rows),
                ),
            ),
        ),
    )


class Axes:
    """One panel's plot area: data to pixels."""

    def __init__(self, top: float, x_ticks: list[float], y_ticks: list[float]) -> None:
        self.top, self.x_ticks, self.y_ticks = top, x_ticks, y_ticks

    def x(self, value: float) -> float:
        return LEFT + (WIDTH - LEFT - RIGHT) * value / self.x_ticks[-1]

    def y(self, value: float) -> float:
        return self.top + PANEL_HEIGHT * (1 - value / self.y_ticks[-1])


def text(
    x: float, y: float, content: str, *, size: int = 12, anchor: str = "middle", extra: str = ""
) -> str:
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='{anchor}' {FONT}"
        f"{' ' + extra if extra else ''}>{escape(content)}</text>"
    )


def draw_axes(axes: Axes, panel: Panel) -> list[str]:
    bottom, right = axes.top + PANEL_HEIGHT, WIDTH - RIGHT
    out = [
        text(LEFT, axes.top - 12, panel.title, size=14, anchor="start", extra="font-weight='bold'")
    ]
    x_step = axes.x_ticks[1] - axes.x_ticks[0]
    for value in axes.x_ticks:
        x = axes.x(value)
        out.append(
            f"<line x1='{x:.1f}' y1='{bottom}' x2='{x:.1f}' y2='{bottom + 5}' stroke='#333'/>"
        )
        out.append(text(x, bottom + 19, tick_label(value, x_step)))
    y_step = axes.y_ticks[1] - axes.y_ticks[0]
    for value in axes.y_ticks:
        y = axes.y(value)
        out.append(f"<line x1='{LEFT}' y1='{y:.1f}' x2='{right}' y2='{y:.1f}' stroke='#e4e4e4'/>")
        out.append(text(LEFT - 8, y + 4, tick_label(value, y_step), anchor="end"))
    out.append(
        f"<polyline class='axis' points='{LEFT},{axes.top} {LEFT},{bottom} {right},{bottom}' "
        "fill='none' stroke='#333'/>"
    )
    middle = axes.top + PANEL_HEIGHT / 2
    out.append(
        text(22, middle, panel.y_label, size=13, extra=f"transform='rotate(-90 22 {middle:.1f})'")
    )
    return out


def draw_series(axes: Axes, sizes: Sequence[int], panel: Panel, first_colour: int) -> list[str]:
    out: list[str] = []
    for i, series in enumerate(panel.series):
        colour = COLOURS[(first_colour + i) % len(COLOURS)]
        points = " ".join(
            f"{axes.x(n):.1f},{axes.y(v):.1f}" for n, v in zip(sizes, series.values, strict=True)
        )
        out.append(
            f"<polyline class='series' data-series={quoteattr(series.name)} points='{points}' "
            f"fill='none' stroke='{colour}' stroke-width='2.5'/>"
        )
        for n, v in zip(sizes, series.values, strict=True):
            out.append(
                f"<circle cx='{axes.x(n):.1f}' cy='{axes.y(v):.1f}' r='4' fill='{colour}'>"
                f"<title>{escape(f'{series.name}: {v:,g} at {n:,} instances')}</title></circle>"
            )
        # the legend: top left inside the plot area, one line per series
        y = axes.top + 16 + 18 * i
        out.append(
            f"<line x1='{LEFT + 12}' y1='{y - 4}' x2='{LEFT + 36}' y2='{y - 4}' "
            f"stroke='{colour}' stroke-width='2.5'/>"
        )
        out.append(text(LEFT + 42, y, series.name, anchor="start"))
    return out


def caption(largest: dict[str, Any]) -> list[str]:
    """The largest size's fault burst and scale-down, in words, wrapped."""
    lines = []
    burst = largest.get("fault_burst")
    if burst:
        lines.append(
            f"At {largest['instances']:,} instances: {burst['fault']} in {burst['nodes']:,} GPU "
            f"nodes at once, all quarantined in {burst['quarantined_all_s']:g} s, all replaced "
            f"in {burst['repaired_all_s']:g} s; RSS then podwarden {burst['podwarden_rss_mb']:,} "
            f"MB, control plane {burst['control_plane_rss_total_mb']:,} MB."
        )
    down = largest.get("scale_down")
    if down:
        lines.append(
            f"Scale-down {down['from']:,} -> {down['to']:,} instances (UpdateCluster) in "
            f"{down['seconds']:g} s; RSS then podwarden {down['podwarden_rss_mb']:,} MB, "
            f"control plane {down['control_plane_rss_total_mb']:,} MB."
        )
    return [part for line in lines for part in textwrap.wrap(line, CAPTION_CHARS)]


def render(data: dict[str, Any]) -> str:
    rows = sorted(data["sizes"], key=lambda r: r["instances"])
    sizes = [int(r["instances"]) for r in rows]
    notes = caption(rows[-1])
    x_title_y = TITLE_HEIGHT + 12 + 2 * PANEL_HEIGHT + GAP + 40
    height = x_title_y + BOTTOM - 40 + CAPTION_LINE * len(notes)
    x_ticks = nice_ticks(max(sizes))
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{height}' "
        f"viewBox='0 0 {WIDTH} {height}'>",
        f"<rect width='{WIDTH}' height='{height}' fill='white'/>",
        text(
            WIDTH / 2,
            24,
            "podwarden: growth with the HyperPod cluster (bench/scale.py)",
            size=16,
            extra="font-weight='bold'",
        ),
        text(
            WIDTH / 2,
            42,
            f"{data.get('date', '')}, {data.get('machine', '')}",
            size=11,
            extra="fill='#555'",
        ),
    ]
    colour = 0
    for i, panel in enumerate(panels(rows)):
        top = TITLE_HEIGHT + 12 + i * (PANEL_HEIGHT + GAP)
        highest = max(v for s in panel.series for v in s.values)
        axes = Axes(top, x_ticks, nice_ticks(highest))
        out += draw_axes(axes, panel)
        out += draw_series(axes, sizes, panel, colour)
        colour += len(panel.series)
    out.append(
        text(LEFT + (WIDTH - LEFT - RIGHT) / 2, x_title_y, "instances in the cluster", size=13)
    )
    for i, line in enumerate(notes):
        out.append(text(LEFT, x_title_y + 22 + CAPTION_LINE * i, line, size=11, anchor="start"))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("result", type=Path, help="bench/scale.py's --json file")
    parser.add_argument("-o", "--out", type=Path, required=True, help="the SVG to write")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(load_rows(args.result)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
