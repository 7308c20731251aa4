"""bench/plot_scale.py: a bench/scale.py result becomes an SVG with a polyline per series and a
point per size."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import plot_scale  # bench/plot_scale.py (tests/bench/conftest.py puts bench/ on the path)

SVG = "{http://www.w3.org/2000/svg}"


def row(n: int, seconds: float, podwarden: int, plane: int) -> dict[str, Any]:
    return {
        "instances": n,
        "in_service_s": seconds,
        "podwarden_rss_mb": podwarden,
        "control_plane_rss_total_mb": plane,
    }


def result() -> dict[str, Any]:
    largest = row(30, 1.2, 259, 757)
    largest["fault_burst"] = {
        "fault": "Xid 79",
        "nodes": 3,
        "quarantined_all_s": 0.186,
        "repaired_all_s": 0.427,
        "podwarden_rss_mb": 260,
        "control_plane_rss_total_mb": 758,
    }
    largest["scale_down"] = {
        "from": 30,
        "to": 5,
        "seconds": 0.42,
        "podwarden_rss_mb": 261,
        "control_plane_rss_total_mb": 761,
    }
    # out of order on purpose: the plot sorts by size
    return {
        "date": "2026-12-06",
        "machine": "x86_64 & co",
        "sizes": [row(20, 0.9, 255, 750), row(10, 0.5, 250, 740), largest],
    }


def points(line: ET.Element) -> list[tuple[float, float]]:
    pairs = (p.split(",") for p in line.attrib["points"].split())
    return [(float(x), float(y)) for x, y in pairs]


def plot(tmp_path: Path, data: dict[str, Any]) -> ET.Element:
    source, out = tmp_path / "result.json", tmp_path / "img" / "scale.svg"
    source.write_text(json.dumps(data))
    plot_scale.main([str(source), "-o", str(out)])
    return ET.parse(out).getroot()


def test_one_polyline_per_series_with_a_point_per_size(tmp_path: Path) -> None:
    root = plot(tmp_path, result())
    assert root.tag == f"{SVG}svg" and root.attrib["width"] == "800"
    series = {
        e.attrib["data-series"]: e
        for e in root.iter(f"{SVG}polyline")
        if e.get("class") == "series"
    }
    assert len(series) == 3
    assert {name.split(" (")[0] for name in series} == {
        "to InService",
        "podwarden serve",
        "control plane",
    }
    for line in series.values():
        xs = [x for x, _ in points(line)]
        assert len(xs) == 3 and xs == sorted(xs)  # a point per size, smallest size first
    # within a panel a larger value is drawn higher (a smaller y)
    podwarden = points(series["podwarden serve"])
    plane = next(points(v) for k, v in series.items() if k.startswith("control plane"))
    assert all(p[1] > c[1] for p, c in zip(podwarden, plane, strict=True))
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "instances in the cluster" in texts and "x86_64 & co" in texts
    assert "Xid 79 in 3 GPU nodes" in texts and "Scale-down 30 -> 5" in texts


def test_without_burst_or_scale_down_no_caption(tmp_path: Path) -> None:
    data = result()
    for r in data["sizes"]:
        r.pop("fault_burst", None)
        r.pop("scale_down", None)
    texts = " ".join(t.text or "" for t in plot(tmp_path, data).iter(f"{SVG}text"))
    assert "Xid" not in texts and "Scale-down" not in texts


def test_reads_a_bench_all_results_file(tmp_path: Path) -> None:
    wrapped = {"benchmarks": {"scale.py": {"status": "ok", "result": result()}}}
    root = plot(tmp_path, wrapped)
    assert len([e for e in root.iter(f"{SVG}polyline") if e.get("class") == "series"]) == 3


def test_a_file_without_sizes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no sizes"):
        plot(tmp_path, {"sizes": []})


@pytest.mark.parametrize(
    ("high", "ticks"),
    [
        (62.0, [0, 20, 40, 60, 80]),
        (5000, [0, 1000, 2000, 3000, 4000, 5000]),
        (0.43, [0, 0.1, 0.2, 0.3, 0.4, 0.5]),
    ],
)
def test_nice_ticks(high: float, ticks: list[float]) -> None:
    assert plot_scale.nice_ticks(high) == ticks
