"""The goodput report (goodput/report.py, goodput/plots.py): its numbers as text, the terminal
tables, JSON that round-trips, and PNG/HTML plots, on reports built by hand."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from podwarden.goodput.report import (
    MAX_FAILURE_ROWS,
    day_clock,
    from_json,
    hours_minutes,
    render,
    render_compare,
    summary_rows,
    to_json,
    write_compare_plot,
    write_plot,
)
from podwarden.model.goodput import Action, FailureLoss, GoodputReport, NodeSpan, Phase

DAY = 86400.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _failure(at: float, node: str, *, interrupted: bool = True) -> FailureLoss:
    phases = (
        {
            Phase.DETECTION: 60.0,
            Phase.QUARANTINE: 30.0,
            Phase.REPAIR: 600.0,
            Phase.RESTART: 300.0,
            Phase.RECOMPUTATION: 900.0,
        }
        if interrupted
        else {}
    )
    return FailureLoss(
        at=at,
        node=node,
        fault="xid-79",
        cause="faulty GPU",
        action=Action.REPLACE,
        interrupted=interrupted,
        phases=phases,
        waited_for_repair=interrupted,
        overhead_real_seconds=0.25,
    )


def _report(failures: int = 3, days: float = 2.0, **changes: object) -> GoodputReport:
    """``failures`` faults a few hours apart, every third one on a spare (not interrupting)."""
    wall = days * DAY
    fs = tuple(
        _failure(3600.0 * (5 + 7 * i), f"hyperpod-i-{i % 4:04d}", interrupted=i % 3 != 2)
        for i in range(failures)
    )
    spans = tuple(
        span
        for f in fs
        for span in (
            NodeSpan(f.node, f.at, f.at + 90, "faulted"),
            NodeSpan(f.node, f.at + 90, f.at + 700, "replacing"),
        )
    )
    lost = sum(f.lost_seconds for f in fs)
    report = GoodputReport(
        scenario="p5-64 <test>",
        time_scale=3600.0,
        real_seconds=wall / 3600.0,
        wall_seconds=wall,
        productive_seconds=wall - lost - 1800.0,
        checkpoint_seconds=1800.0,
        failures=fs,
        ettr_series=tuple((wall * k / 24, 0.9 + 0.002 * k) for k in range(1, 25)),
        node_spans=spans,
        reference_ettr=0.95,
        closed_form_ettr=None,
        notes=("repairs paused by the safety limits once",),
    )
    return replace(report, **changes)  # type: ignore[arg-type]


def _text(render_into: object, *args: object) -> str:
    console = Console(record=True, width=200, color_system=None)
    render_into(*args, console)  # type: ignore[operator]
    return console.export_text()


def test_numbers_as_text() -> None:
    assert hours_minutes(0) == "0:00"
    assert hours_minutes(3599) == "1:00"
    assert hours_minutes(26 * 3600 + 5 * 60) == "26:05"  # hours are not wrapped into days
    assert day_clock(0) == "0+00:00"
    assert day_clock(2 * DAY + 4 * 3600 + 12 * 60) == "2+04:12"


def test_summary_rows_hold_the_headline_numbers() -> None:
    report = _report()
    rows = dict(summary_rows(report))
    assert rows["ETTR"] == f"{report.ettr * 100:.2f}%"
    assert rows["failures"] == "3 (2 interrupted the job)"
    assert rows["lost to repair"] == "0:20"  # 2 x 600 s
    assert rows["lost to recomputation"] == "0:30"  # 2 x 900 s
    assert rows["lost per interrupting failure"] == "31.5 min (mean)"  # 1890 s
    assert rows["checkpoint overhead"].startswith("0:30 (")
    assert rows["reference-model ETTR"] == "95.00%"
    assert "closed-form ETTR" not in rows  # absent, not shown as 0
    assert rows["simulated length"] == "2.0 days (48.0 h)"
    phase_rows = [label for label, _ in summary_rows(report) if label.startswith("lost to ")]
    assert phase_rows[:5] == [f"lost to {p.value}" for p in Phase]


def test_render_shows_ettr_and_the_failures() -> None:
    report = _report()
    text = _text(render, report)
    assert f"{report.ettr * 100:.2f}%" in text
    assert "0+05:00" in text and "hyperpod-i-0000" in text
    assert "31.5" in text  # the total of an interrupting failure, in minutes


def test_render_cuts_the_failure_table() -> None:
    text = _text(render, _report(failures=MAX_FAILURE_ROWS + 7, days=40))
    assert "... 7 more" in text
    assert day_clock(3600.0 * (5 + 7 * (MAX_FAILURE_ROWS - 1))) in text
    assert day_clock(3600.0 * (5 + 7 * MAX_FAILURE_ROWS)) not in text


def test_render_without_failures() -> None:
    report = _report(failures=0, notes=(), reference_ettr=None)
    text = _text(render, report)
    assert "no failures" in text
    assert dict(summary_rows(report))["lost per interrupting failure"] == "—"


def test_compare_shows_both_labels_and_the_signed_delta() -> None:
    base = _report()
    better = replace(base, productive_seconds=base.productive_seconds + 0.0125 * base.wall_seconds)
    worse = replace(base, productive_seconds=base.productive_seconds - 0.02 * base.wall_seconds)
    text = _text(render_compare, [base, better, worse], ["spares=0", "spares=2", "no-recovery"])
    assert "spares=0" in text and "spares=2" in text and "no-recovery" in text
    assert "+1.25 pp" in text
    assert "-2.00 pp" in text
    assert re.search(r"Δ ETTR vs spares=0", text)


def test_compare_aligns_rows_one_report_lacks() -> None:
    with_closed = _report(closed_form_ettr=0.93)
    text = _text(render_compare, [_report(), with_closed], ["a", "b"])
    line = next(x for x in text.splitlines() if "closed-form ETTR" in x)
    assert "—" in line and "93.00%" in line


def test_compare_needs_one_label_per_report() -> None:
    with pytest.raises(ValueError, match="label"):
        _text(render_compare, [_report()], ["a", "b"])


def test_json_round_trips() -> None:
    report = _report()
    doc = to_json(report)
    text = json.dumps(doc)  # serialisable as is
    assert from_json(json.loads(text)) == report
    assert doc["ettr"] == report.ettr
    assert doc["lost_seconds"] == {p.value: report.lost(p) for p in Phase}
    assert doc["failures"][0]["action"] == "Replace"
    assert doc["failures"][2]["phases"] == {}  # not interrupting: no phases invented


def test_json_key_order_is_stable() -> None:
    assert list(to_json(_report())) == list(to_json(_report(failures=0)))


def test_from_json_names_what_is_wrong() -> None:
    doc = to_json(_report())
    del doc["wall_seconds"]
    with pytest.raises(ValueError, match="wall_seconds"):
        from_json(doc)
    doc = to_json(_report())
    doc["failures"][0]["action"] = "Explode"
    with pytest.raises(ValueError, match="Explode"):
        from_json(doc)


def _thirty_days() -> GoodputReport:
    return _report(failures=10, days=30, closed_form_ettr=0.94)


def test_png_plot(tmp_path: Path) -> None:
    path = tmp_path / "goodput.png"
    write_plot(_thirty_days(), path)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 20_000  # three drawn panels, not an empty canvas


def test_html_plot_is_self_contained_and_escaped(tmp_path: Path) -> None:
    path = tmp_path / "goodput.html"
    write_plot(_thirty_days(), path)
    page = path.read_text(encoding="utf-8")
    assert "data:image/png;base64," in page
    assert not re.search(r"(src|href)\s*=\s*['\"]?https?://", page)
    assert "http://" not in page and "https://" not in page
    assert "p5-64 &lt;test&gt;" in page and "<test>" not in page
    assert f"{_thirty_days().ettr * 100:.2f}%" in page


def test_plot_without_failures_or_spans(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    write_plot(_report(failures=0, reference_ettr=None), path)
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_plot_refuses_other_suffixes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.png or \.html"):
        write_plot(_report(), tmp_path / "goodput.svg")
    assert not (tmp_path / "goodput.svg").exists()


def test_compare_plots(tmp_path: Path) -> None:
    a, b = _thirty_days(), _report(failures=4, days=30)
    write_compare_plot([a, b], ["ckpt 30 min", "ckpt <10 min>"], tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes().startswith(PNG_SIGNATURE)
    write_compare_plot([a, b], ["ckpt 30 min", "ckpt <10 min>"], tmp_path / "c.html")
    page = (tmp_path / "c.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in page
    assert "ckpt &lt;10 min&gt;" in page and "pp" in page
    assert "https://" not in page and "http://" not in page


def test_names_are_not_read_as_rich_markup() -> None:
    report = _report(scenario="llama3 [bold]405b[/bold]")
    text = _text(render, report)
    assert "llama3 [bold]405b[/bold]" in text
    text = _text(render_compare, [report, report], ["[red]a[/red]", "b"])
    assert "[red]a[/red]" in text
