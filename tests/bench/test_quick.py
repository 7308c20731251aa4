"""Every benchmark of bench/ still runs: its ``--quick`` mode (the same code with tiny counts)
as a subprocess must exit 0 and print its results, so that a benchmark cannot rot unnoticed.

No timing is asserted; each run has a deadline (generous, for a loaded 2-core machine) after
which its whole process group is killed and its output shown. Those that start the local control
plane are integration tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
DEADLINE_S = 240.0


def run_quick(script: str, tmp_path: Path, *extra: str) -> tuple[str, dict[str, Any]]:
    """Run ``bench/<script> --quick --json …``: its output and its JSON result."""
    result = tmp_path / "result.json"
    argv = [sys.executable, str(BENCH / script), "--quick", "--json", str(result), *extra]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its servers with it: on a deadline, the group is killed
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        output, _ = proc.communicate(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=60)
        pytest.fail(f"bench/{script} --quick did not end in {DEADLINE_S:g} s:\n{output[-6000:]}")
    assert proc.returncode == 0, (
        f"bench/{script} --quick exited {proc.returncode}:\n{output[-6000:]}"
    )
    data: dict[str, Any] = json.loads(result.read_text())
    assert data["quick"] is True
    return output, data


def latency_row(row: dict[str, Any], *targets: str) -> None:
    for target in targets:
        assert row[target]["n"] > 0 and 0 < row[target]["p50_ms"] <= row[target]["p99_ms"], row


def test_api_account_suite(tmp_path: Path) -> None:
    output, data = run_quick("api.py", tmp_path, "--suites", "account")
    assert "no moto comparison (skipped)" in output
    assert '"SageMaker DescribeCluster"' in output  # the printed table
    rows = data["account"]
    assert set(rows) == {
        "SageMaker DescribeCluster",
        "EKS DescribeCluster",
        "EC2 DescribeSubnets",
        "IAM GetRole",
        "STS GetCallerIdentity",
        "S3 GetObject",
    }
    for row in rows.values():
        latency_row(row, "podwarden", "bare")
        assert "moto" not in row and row["podwarden_over_bare"] > 0


def test_bigbody_without_kubernetes(tmp_path: Path) -> None:
    output, data = run_quick("bigbody.py", tmp_path, "--no-kubernetes")
    assert "idle DescribeCluster: p50" in output
    assert "DescribeCluster under 4 x 15 MiB PutObject" in output
    assert "p99 under load / p99 idle:" in output
    assert data["load"]["puts"] >= 4  # every client put at least once
    for phase in ("idle", "under_load"):
        assert data[phase]["n"] > 0 and 0 < data[phase]["p50_ms"] <= data[phase]["p99_ms"]
    assert data["p99_ratio"] > 0


@pytest.mark.integration
def test_api_inprocess_suite(tmp_path: Path) -> None:
    _, data = run_quick("api.py", tmp_path, "--suites", "inprocess")
    rows = data["inprocess"]
    assert {"SageMaker DescribeCluster", "EKS DescribeCluster", "S3 GetObject"} <= set(rows)
    for row in rows.values():  # every replayed call answered 200 (the suite asserts it)
        assert row["n"] == 10 and row["cached_us"] > 0 and row["uncached_us"] > 0, row


def test_api_hyperpod_suite(tmp_path: Path) -> None:
    output, data = run_quick("api.py", tmp_path, "--suites", "hyperpod", "--idle-cpu", "1")
    assert "no moto comparison (skipped)" in output
    assert set(data["latency"]) == {"DescribeCluster", "ListClusterNodes"}
    assert data["idle"]["wall_s"] >= 1.0 and 0 <= data["idle"]["cpu_s"] <= data["idle"]["wall_s"]
    for row in data["latency"].values():
        latency_row(row, "podwarden", "bare")
    # the read cache answered the repeated reads (each call after the first of its kind)
    assert data["read_cache"]["hit"] > 0 and data["read_cache"]["miss"] >= 1
    during = data["during_scale"]  # --quick samples during a scale-up of 5
    assert "latency during a scale-up of 5 instances" in output  # the printed table
    assert during["instances"] == 5 and during["scale_up_s"] > 0
    ops = {"DescribeCluster", "ListClusterNodes"}
    assert set(during["operations"]) == ops | {f"floor {op}" for op in ops}
    for row in during["operations"].values():
        latency_row(row, "idle", "during")
        assert row["p50_ratio"] > 0 and row["p99_ratio"] > 0


@pytest.mark.integration
def test_localk8s(tmp_path: Path) -> None:
    output, data = run_quick("localk8s.py", tmp_path)
    assert "run 0: fresh data dir: /readyz" in output and "RSS after 1 s idle" in output
    assert [r["fresh"] for r in data["runs"]] == [True, False]
    assert data["rss_total_mb"] > 0


@pytest.mark.integration
def test_first_run_warm(tmp_path: Path) -> None:
    output, data = run_quick("first_run.py", tmp_path)
    assert "first_run: warm: control plane ready in" in output
    warm = data["warm"]
    assert 0 < warm["plane_ready_s"] < warm["served_s"]
    assert any("podwarden up --port" in text for _, text in warm["lines"])
    assert "cold" not in data and data["fresh"]["plane_ready_s"] > 0


@pytest.mark.integration
def test_recovery(tmp_path: Path) -> None:
    output, data = run_quick("recovery.py", tmp_path)
    assert '"quarantine_p50_s"' in output
    assert (data["faults"], data["burst_nodes"]) == (2, 3)
    assert data["quarantine_p50_s"] > 0 and data["burst_all_quarantined_s"] > 0
    assert 0 < data["repair_started_s"] <= data["replacement_running_s"]


@pytest.mark.integration
def test_jobs(tmp_path: Path) -> None:
    output, data = run_quick("jobs.py", tmp_path)
    assert "fault 2/2 (gpu0):" in output
    assert data["faults"] == 2 and data["restarts_counted"] == 2  # each fault restarted once
    phases = data["phases"]
    assert set(phases) == {"detected", "quarantined", "restarting", "running", "recovered"}
    assert 0 < phases["detected"]["p50_s"] <= phases["running"]["p50_s"]
    assert phases["restarting"]["p50_s"] <= phases["running"]["p50_s"]


@pytest.mark.integration
def test_goodput(tmp_path: Path) -> None:
    output, data = run_quick("goodput.py", tmp_path, "--out", str(tmp_path / "out"))
    (run,) = data["runs"]
    assert run["scenario"] == "simple" and run["days"] == 0.25
    assert 0 < run["ettr"] < 1 and run["reference_ettr"] is not None
    assert (tmp_path / "out" / "simple.png").read_bytes().startswith(b"\x89PNG")
    assert "first run started" in output


@pytest.mark.integration
def test_software_update(tmp_path: Path) -> None:
    _, data = run_quick("software_update.py", tmp_path)
    assert data["nodes"] == 10 and data["batch_percent"] == 20
    assert data["update_status"] == "Succeeded"
    assert 0 < data["min_schedulable_fraction"] <= data["mean_schedulable_fraction"] <= 1
    assert data["job"]["state"] == "Succeeded"


def test_metrics_synthetic(tmp_path: Path) -> None:
    _, data = run_quick("metrics.py", tmp_path, "--synthetic")
    scrape = data["scrape"]
    assert data["mode"] == "synthetic" and scrape["nodes"] == 10 and scrape["scrapes"] == 20
    assert 0 < scrape["p50_ms"] <= scrape["p99_ms"] <= scrape["max_ms"]
    assert scrape["series"] > 0 and scrape["bytes"] > 0


@pytest.mark.integration
def test_metrics(tmp_path: Path) -> None:
    _, data = run_quick("metrics.py", tmp_path)
    scrape = data["scrape"]
    assert scrape["nodes"] == 10 and scrape["scrapes"] == 20
    # the injected fault quarantined 1 % of the nodes (at least one), as the scrape counts them
    assert scrape["nodes_by_health"] == {"Schedulable": 9, "UnschedulablePendingReboot": 1}
    assert 0 < scrape["p50_ms"] <= scrape["p99_ms"] <= scrape["max_ms"]
    assert scrape["describe_cluster"]["p50_ms"] > 0


@pytest.mark.integration
def test_all_writes_one_dated_results_file(tmp_path: Path) -> None:
    """``make bench``'s runner: each chosen benchmark as its own process, one results file."""
    argv = [sys.executable, str(BENCH / "all.py"), "--quick", "--only", "localk8s.py"]
    proc = subprocess.run(
        [*argv, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    (written,) = tmp_path.glob("*-quick.json")
    run = json.loads(written.read_text())
    assert run["quick"] is True and "cores" in run["machine"]
    record = run["benchmarks"]["localk8s.py"]
    assert record["status"] == "ok"
    assert record["result"]["quick"] is True
    assert "--quick" in record["command"]


def test_all_refuses_an_unknown_benchmark(tmp_path: Path) -> None:
    argv = [sys.executable, str(BENCH / "all.py"), "--only", "nope.py", "--out", str(tmp_path)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and "no such benchmark: nope.py" in proc.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.integration
def test_scale(tmp_path: Path) -> None:
    _, data = run_quick("scale.py", tmp_path)
    small, large = data["sizes"]
    assert (small["instances"], large["instances"]) == (10, 30)
    for row in (small, large):
        assert row["list_cluster_nodes"]["nodes"] == row["instances"]
        assert row["in_service_s"] > 0 and row["podwarden_rss_mb"] > 0
        assert set(row["control_plane_rss_mb"]) >= {"etcd", "kube-apiserver", "kwok"}
    assert "in_service_ms" in large["per_instance_added"]
    assert "fault_burst" not in small and "scale_down" not in small  # the largest size only
    burst = large["fault_burst"]
    assert burst["nodes"] == burst["quarantined"] == 3 and sum(burst["groups"].values()) == 3
    assert "action Replace" in burst["repair"]
    assert 0 < burst["quarantined_p50_s"] <= burst["quarantined_all_s"]
    assert burst["quarantined_all_s"] <= burst["nodes_schedulable_s"] <= burst["repaired_all_s"]
    assert burst["instances_running"] == 30 and burst["podwarden_rss_mb"] > 0
    assert burst["control_plane_rss_total_mb"] > 0
    down = large["scale_down"]
    assert (down["from"], down["to"]) == (30, 5) and sum(down["groups"].values()) == 5
    assert min(down["groups"].values()) >= 1
    assert down["instances_listed"] == down["kubernetes_nodes"] == 5
    assert down["seconds"] > 0 and down["podwarden_rss_mb"] > 0
    assert down["control_plane_rss_total_mb"] > 0
