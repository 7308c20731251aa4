"""``podwarden goodput`` through the real pipeline (issue #12): each run starts its own embedded
control plane and ``podwarden serve``, creates a HyperPod cluster through the API, trains a
PyTorchJob with auto-resume, and injects faults on the simulated clock.

What is checked against what:
- the run's ETTR against the pure reference model of the same fault schedule
  (``logic/goodput_reference.py``), which the unit tests check against Daly's closed form over
  100 seeds (``tests/unit/test_goodput_analytic.py``): pipeline ~ reference ~ closed form;
- the same scenario at two time scales gives the same ETTR;
- NodeRecovery None: the job waits for the operator's BatchReplaceClusterNodes, then the
  launch; a job crash restarts the job without repairing any node.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podwarden.cli.goodput import run_scenario
from podwarden.cli.main import main
from podwarden.model.goodput import Action, Phase
from podwarden.policy import goodput as scenarios

pytestmark = pytest.mark.integration
PNG = b"\x89PNG\r\n\x1a\n"


def test_simple_scenario_agrees_with_the_reference_model_and_writes_its_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two simulated days of the cross-check scenario (about 20 node-down faults on a 2-node
    job without spares) through the CLI."""
    out, plot = tmp_path / "report.json", tmp_path / "report.png"
    code = main(["goodput", "simple", "--days", "2", "--json", str(out), "--plot", str(plot)])
    assert code == 0
    doc = json.loads(out.read_text())
    assert plot.read_bytes().startswith(PNG)
    assert "ETTR" in capsys.readouterr().out
    interrupted = [f for f in doc["failures"] if f["interrupted"]]
    assert len(interrupted) >= 10
    # the pipeline's own latency counts at its real length: each phase is the modeled duration
    # plus well under a simulated minute (detection 60 s, reboot 300 s, restart 120 s)
    for f in interrupted:
        assert 60 <= f["phases"]["detection"] < 61
        assert 120 <= f["phases"]["restart"] < 140  # + the scheduler's backoff, a few real s
        assert f["waited_for_repair"]
        assert f["phases"]["repair"] >= 300
    assert abs(doc["ettr"] - doc["reference_ettr"]) <= 0.005, doc
    assert doc["closed_form_ettr"] is not None
    assert abs(doc["ettr"] - doc["closed_form_ettr"]) <= 0.03  # 2 days: ~20 faults of noise
    assert abs(doc["wall_seconds"] - 2 * 86400) < 600


def test_the_time_scale_does_not_change_the_answer() -> None:
    """Half a simulated day at 2,000x and at 20,000x: the pipeline's latency (a second or two
    per restart, mostly the scheduler's backoff) would have cost 30 minutes at one and five hours
    at the other if it were scaled."""
    base = scenarios.with_overrides(scenarios.load_scenario("simple"), ["days=0.5"])
    slow, fast = (
        run_scenario(scenarios.with_overrides(base, [f"time_scale={scale}"]), lambda _: None)
        for scale in (2000, 20000)
    )
    assert slow.reference_ettr == fast.reference_ettr  # the same schedule
    assert slow.ettr == pytest.approx(fast.ettr, abs=0.002)
    assert slow.wall_seconds == pytest.approx(43200, abs=300)
    assert fast.wall_seconds == pytest.approx(43200, abs=300)


def test_without_automatic_recovery_the_job_waits_for_the_operator(tmp_path: Path) -> None:
    """A trace: a GPU fallen off the bus (Replace) on a job node with NodeRecovery None and no
    spare, then a crash of the job itself."""
    trace = tmp_path / "faults.csv"
    trace.write_text(
        "at_seconds,node,fault,cause\n3600,0,xid-79,faulty GPU\n40000,1,job-crash,bug\n"
    )
    s = scenarios.with_overrides(
        scenarios.load_scenario("simple"),
        ["days=1", "cluster.recovery=None", f"failures.trace={trace}", "time_scale=10000"],
    )
    report = run_scenario(s, lambda _: None)
    replace, crash = report.failures
    assert replace.action == Action.REPLACE and replace.interrupted and replace.waited_for_repair
    # the operator acts after 4 h, then the replacement launches in 10 minutes
    assert 14400 + 600 <= replace.phases[Phase.REPAIR] < 14400 + 600 + 60
    assert crash.action == Action.RESTART and crash.interrupted
    assert not crash.waited_for_repair and crash.phases[Phase.REPAIR] == 0.0
    assert 600 <= crash.phases[Phase.DETECTION] < 601  # NCCL's watchdog
    assert abs(report.ettr - (report.reference_ettr or 0.0)) <= 0.005
