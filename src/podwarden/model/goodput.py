"""The shapes of a goodput scenario and of its report (``podwarden goodput``, issue #12).

A *scenario* is a cluster shape, a training job, the durations of the infrastructure (launch,
reboot, deep checks, an operator's manual response), a failure process and a length of
simulated time. Every duration here is in *simulated* seconds; the runner divides them by the
time scale before handing them to the real components, and maps what it observes back.

A *report* is what the run yielded: effective training time ratio (ETTR = productive step time
over wall time), the failures with the time each one cost split into phases, and the series
that the plots draw. ``policy/goodput.py`` loads scenarios, ``logic/goodput_*.py`` hold the pure
parts (failure schedule, accounting, reference model, closed form), ``goodput/`` runs one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Recovery(StrEnum):
    """The HyperPod cluster's ``NodeRecovery`` (Automatic, or None: an operator repairs by hand
    after ``Durations.manual_response_seconds``)."""

    AUTOMATIC = "Automatic"
    NONE = "None"


class Action(StrEnum):
    """What a fault needs, from the agent's fault policy (``policy/tables/fault_policy.yaml``);
    ``RESTART`` is a fault of the job itself (a software crash, an NCCL timeout): no node is
    repaired, the job restarts from its checkpoint."""

    REBOOT = "Reboot"
    REPLACE = "Replace"
    RESTART = "Restart"
    NONE = "None"


@dataclass(frozen=True)
class ClusterShape:
    instance_type: str  # ml.p5.48xlarge
    nodes: int  # nodes the job runs on
    spares: int = 0  # healthy nodes beyond the job's (same group)
    recovery: Recovery = Recovery.AUTOMATIC
    deep_checks: bool = False  # OnStartDeepHealthChecks on the group (new and replaced nodes)
    safety_limits: bool = True  # HyperPod's repair limits (policy/tables/remediation.yaml)


@dataclass(frozen=True)
class JobShape:
    step_seconds: float  # one training step, all ranks in lockstep
    checkpoint_every: int  # steps between checkpoints
    checkpoint_seconds: float  # a checkpoint stalls the run this long
    restart_seconds: float  # each (re)start: rendezvous, load the checkpoint, warm up


@dataclass(frozen=True)
class Durations:
    launch_seconds: float  # a replacement instance: launch until its node joins
    reboot_seconds: float  # a reboot: NotReady until Ready again
    deep_check_seconds: float  # deep health checks of a new or replaced node (when on)
    manual_response_seconds: float  # NodeRecovery None: quarantine until an operator acts


@dataclass(frozen=True)
class FaultKind:
    """One kind of fault of the failure mix: how podwarden injects it and how long detection
    takes on HyperPod (simulated seconds from the fault to the agent seeing it)."""

    name: str  # "xid-79"
    action: Action  # what it needs (must agree with the fault policy for node faults)
    detect_seconds: float
    xid: int | None = None  # inject an NVIDIA Xid
    signal: str | None = None  # or an agent signal (node_down, neuron_sram_uncorrectable, ...)
    # Action.RESTART faults are injected by ending one of the job's pods (a rank crashed)


@dataclass(frozen=True)
class Cause:
    """A cause of interruptions in a published breakdown, with its weight and the fault kind it
    is injected as."""

    cause: str  # "faulty GPU"
    weight: float  # e.g. the count of interruptions in the source
    fault: str  # a FaultKind name


@dataclass(frozen=True)
class FailureProcess:
    rate_per_accelerator_hour: float  # e.g. 1.97e-5 (Llama 3 405B, unexpected interruptions)
    mix: tuple[Cause, ...]
    seed: int = 1
    trace: tuple[Fault, ...] | None = None  # timestamped faults instead of the rate


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    cluster: ClusterShape
    job: JobShape
    durations: Durations
    failures: FailureProcess
    kinds: dict[str, FaultKind]  # the fault kinds the mix (or the trace) names
    days: float  # simulated length of the run
    time_scale: float  # simulated seconds per real second
    accelerators_per_node: int  # GPUs or Neuron devices of the instance type
    expected_ettr: tuple[float, float] | None = None  # the range the scenario should land in
    accelerator: str = "gpu"  # "gpu" or "neuron": the resource the job's pods request


@dataclass(frozen=True)
class Fault:
    """A fault of the schedule: at ``at`` simulated seconds from the run's start, on node
    ``node`` (an index into the cluster's nodes, job nodes first, then spares, in the order the
    runner lists them), of kind ``fault``, attributed to ``cause``."""

    at: float
    node: int
    fault: str
    cause: str = ""


# ---- the report ------------------------------------------------------------------------------


class Phase(StrEnum):
    """Where a failure's time went, in the order the job lives through them."""

    DETECTION = "detection"  # fault -> the agent's verdict on the node
    QUARANTINE = "quarantine"  # verdict -> node unschedulable, job told to restart
    REPAIR = "repair"  # waiting for a node: reboot or replacement (0 when a spare took over)
    RESTART = "restart"  # pods re-created and scheduled, rendezvous, checkpoint loaded
    RECOMPUTATION = "recomputation"  # the steps since the last checkpoint, done again


@dataclass(frozen=True)
class FailureLoss:
    """One fault and what it cost the job (simulated seconds per phase; all zero when the fault
    did not interrupt the job, e.g. on a spare node)."""

    at: float  # simulated seconds from the run's start
    node: str  # node name
    fault: str  # FaultKind name
    cause: str
    action: Action
    interrupted: bool  # the job had to restart
    phases: dict[Phase, float] = field(default_factory=dict)
    waited_for_repair: bool = False  # no spare: the job waited for the reboot or replacement
    overhead_real_seconds: float = 0.0  # real time of podwarden's own pipeline in it (unscaled)

    @property
    def lost_seconds(self) -> float:
        return sum(self.phases.values())


@dataclass(frozen=True)
class NodeSpan:
    """A stretch of a node's life for the timeline plot: ``state`` is ``faulted`` (fault until
    quarantine), ``quarantined`` (until its repair starts), ``rebooting``, ``replacing``,
    ``deep-check`` or ``manual`` (NodeRecovery None, waiting for an operator)."""

    node: str
    start: float  # simulated seconds
    end: float
    state: str


@dataclass(frozen=True)
class GoodputReport:
    scenario: str
    time_scale: float
    real_seconds: float  # the run's real length (the scenario's simulated length / scale)
    wall_seconds: float  # simulated
    productive_seconds: float  # steps that count x step time
    checkpoint_seconds: float  # time spent writing checkpoints
    failures: tuple[FailureLoss, ...]
    ettr_series: tuple[tuple[float, float], ...]  # (simulated seconds, ETTR so far)
    node_spans: tuple[NodeSpan, ...]
    reference_ettr: float | None = None  # the pure model's ETTR for the same fault schedule
    closed_form_ettr: float | None = None  # Daly's expected ETTR for the scenario's parameters
    notes: tuple[str, ...] = ()  # what the reader should know (e.g. repairs paused by limits)

    @property
    def ettr(self) -> float:
        return self.productive_seconds / self.wall_seconds if self.wall_seconds else 0.0

    def lost(self, phase: Phase) -> float:
        return sum(f.phases.get(phase, 0.0) for f in self.failures)


# ---- what a run through the real pipeline observed (real seconds, time.time()) ----------------


@dataclass(frozen=True)
class RunStart:
    """A (re)start of the job as the simulated trainer recorded it (its checkpoint ConfigMap):
    when all its pods were Running, the checkpoint it resumed from, and the nodes it runs on
    with the real time each of them last became schedulable (a rebooted or replaced node is
    schedulable only after its repair: that says whether the job waited for one)."""

    started_at: float
    step: int
    restart: int
    node_ready: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class FaultSeen:
    """One injected fault and what the pipeline did about it (real seconds; None: not seen)."""

    fault: Fault
    node: str
    due_at: float  # when the fault happened (the injection is ``detect_seconds`` later)
    injected_at: float
    job_node: bool  # a pod of the job's current run was on the node
    spare_free: bool = False  # a schedulable node without a pod of the job could take over
    detected_at: float | None = None  # the agent's verdict on the node (fault-types label)
    quarantined_at: float | None = None  # the node unhealthy (UnschedulablePending*), or the
    # job's pod gone for a job crash
    repaired_at: float | None = None  # the node (or its replacement) schedulable again


@dataclass(frozen=True)
class Observed:
    started_at: float  # the first run's start: simulated t = 0
    ended_at: float
    runs: tuple[RunStart, ...]
    faults: tuple[FaultSeen, ...]
    notes: tuple[str, ...] = ()
