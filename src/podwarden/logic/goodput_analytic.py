"""The closed forms of checkpoint/restart under Poisson failures (issue #12's analytical
cross-check): Young's and Daly's optimal checkpoint intervals and Daly's expected wall time.

Daly, "A higher order estimate of the optimum checkpoint interval for restart dumps" (FGCS 22,
2006) models a job that computes for ``tau`` between checkpoints of ``delta``, fails as a
Poisson process of mean ``M`` (during work, checkpoints and restarts alike) and after each
failure needs ``R`` before it computes again, then redoes the segment it lost. Its expected
wall time per unit of work is

    T_wall / T_work = (M / tau) * e^(R/M) * (e^((tau + delta)/M) - 1)

and ETTR is the inverse. A goodput scenario is that model when every fault interrupts the job
the same way: no spares (each fault on a node hits the job) and one fault kind with a fixed
detection and repair. Then ``M`` is the job's MTBF, ``tau`` the steps between checkpoints times
the step time, and ``R`` detection + repair + the trainer's ``restart_seconds`` (paid at each
start). The reference model differs only in small ways: a fault on a node that is already down
is lost there (Daly restarts ``R``) and the first run pays a restart too.
"""

from __future__ import annotations

import math

from podwarden.logic.goodput_breaks import repair_seconds
from podwarden.model.goodput import Action, Scenario


def young_interval(checkpoint_seconds: float, mtbf: float) -> float:
    """Young (1974): the work between checkpoints that loses least, to first order."""
    return math.sqrt(2 * checkpoint_seconds * mtbf)


def daly_interval(checkpoint_seconds: float, mtbf: float) -> float:
    """Daly (2006): the higher-order optimum; ``mtbf`` itself when a checkpoint takes
    at least twice the MTBF."""
    delta, m = checkpoint_seconds, mtbf
    if delta >= 2 * m:
        return m
    x = delta / (2 * m)
    return math.sqrt(2 * delta * m) * (1 + math.sqrt(x) / 3 + x / 9) - delta


def daly_ettr(
    work_seconds: float, checkpoint_seconds: float, downtime_seconds: float, mtbf: float
) -> float:
    """Daly's complete model: the share of wall time that is work, for ``work_seconds`` between
    checkpoints of ``checkpoint_seconds``, ``downtime_seconds`` from each failure until work
    resumes, failures ``mtbf`` apart on average (``math.inf``: none)."""
    tau, delta, r, m = work_seconds, checkpoint_seconds, downtime_seconds, mtbf
    if math.isinf(m):
        return tau / (tau + delta)
    return 1.0 / ((m / tau) * math.exp(r / m) * math.expm1((tau + delta) / m))


def job_mtbf(s: Scenario) -> float:
    """Mean seconds between faults on the job's nodes (``math.inf`` when there are none)."""
    rate = s.failures.rate_per_accelerator_hour * s.accelerators_per_node * s.cluster.nodes
    return 3600.0 / rate if rate > 0 else math.inf


def closed_form(s: Scenario) -> float | None:
    """Daly's expected ETTR for ``s``, where his model applies: no spares, no trace, one fault
    kind (so one fixed detection and repair); else None."""
    faults = {cause.fault for cause in s.failures.mix}
    if s.cluster.spares or s.failures.trace is not None or len(faults) != 1:
        return None
    kind = s.kinds[faults.pop()]
    tau = s.job.checkpoint_every * s.job.step_seconds
    mtbf = math.inf if kind.action == Action.NONE else job_mtbf(s)
    downtime = kind.detect_seconds + repair_seconds(s, kind.action) + s.job.restart_seconds
    return daly_ettr(tau, s.job.checkpoint_seconds, downtime, mtbf)
