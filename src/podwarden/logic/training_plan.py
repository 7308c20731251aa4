"""One pass of the training simulation over one job: ``(record, pods, nodes' health, what each
pod's log already holds, now) -> (new record, log lines, pods to end)``. Pure.

The pass, in order (each part sees the outcome of the one before):

1. a pod's first lines: the overrides its environment sets that the table cannot use;
2. the run going (if any): its events up to ``now`` in its pods' logs, the checkpoint it
   saved, and completion (its pods then end Succeeded);
3. faults: a Running pod on a faulted node logs why and ends Failed (kwok's Stage does it; a
   pod whose node is gone has no kwok to act for it, and Kubernetes' pod garbage collector
   fails and deletes it as on a real cluster);
4. the run breaks when one of its pods is no longer Running on a healthy node: the others log
   it, and the steps after the last checkpoint are lost;
5. rendezvous: with no run going, new Running pods log that they wait; once as many pods as the
   job has nodes are Running on healthy nodes a new run starts from the last checkpoint;
6. a completed job's pods end Succeeded (one that did not take part says so first).

Log lines carry the time of their event, and ``logged`` (the time of the last line each pod's
log holds) decides what is new, so a restarted simulator appends exactly what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field, replace

from podwarden.logic.training_jobs import JobPod, JobRecord, natural_key
from podwarden.logic.training_progress import Event, Kind, Run, events, progress
from podwarden.policy.training_simulation import TrainingParams, TrainingSimulation, Who

NEVER = float("-inf")  # ``logged`` of a pod whose log is empty


@dataclass(frozen=True)
class Line:
    at: float
    text: str


@dataclass(frozen=True)
class JobStep:
    record: JobRecord
    lines: Mapping[str, tuple[Line, ...]]  # pod uid -> lines to append, in order
    fail: tuple[tuple[str, str], ...]  # (pod uid, why) of the pods to end Failed
    succeed: tuple[str, ...]  # pod uids to end Succeeded
    told: frozenset[str]  # pods whose node fault their log now tells (never tell twice)
    params: TrainingParams
    world: int


@dataclass
class _Pass:
    sim: TrainingSimulation
    params: TrainingParams
    world: int
    pods: Mapping[str, JobPod]
    ranks: Mapping[str, int]
    logged: Mapping[str, float]
    now: float
    record: JobRecord
    lines: dict[str, list[Line]] = field(default_factory=dict)
    fail: list[tuple[str, str]] = field(default_factory=list)
    succeed: list[str] = field(default_factory=list)

    def say(self, uid: str, at: float, line: str, **values: object) -> None:
        pod = self.pods[uid]
        run = self.record.run
        common = {
            "job": pod.job.name,
            "kind": pod.job.kind,
            "namespace": pod.namespace,
            "pod": pod.name,
            "node": pod.node or "",
            "rank": self.ranks[uid],
            "world": self.world,
            "steps": self.params.steps,
            "step_seconds": self.params.step_seconds,
            "checkpoint_every": self.params.checkpoint_every,
            "restart": run.restart if run else self.record.starts,
        }
        text = self.sim.render(line, {**common, **values})
        self.lines.setdefault(uid, []).append(Line(at, text))


def job_env(pods: Sequence[JobPod]) -> dict[str, str]:
    """The job's environment: for each variable, the value of the first pod (natural name
    order) that sets it."""
    env: dict[str, str] = {}
    for pod in sorted(pods, key=lambda p: natural_key(p.name)):
        for key, value in pod.env.items():
            env.setdefault(key, value)
    return env


def world_size(sim: TrainingSimulation, env: Mapping[str, str], pods: Sequence[JobPod]) -> int:
    """How many nodes the rendezvous waits for: the first ``nodes_from_env`` variable that
    parses (``"1:4"``: its minimum), else the job's pods that are not being deleted."""
    for variable in sim.nodes_from_env:
        text = env.get(variable, "").split(":")[0].strip()
        if text.isdigit() and int(text) > 0:
            return int(text)
    return max(1, sum(1 for p in pods if not p.deleting))


def ranks(sim: TrainingSimulation, pods: Sequence[JobPod]) -> dict[str, int]:
    """Each pod's rank: its first ``rank_from_env`` variable, else its place in name order."""
    ordered = sorted(pods, key=lambda p: natural_key(p.name))
    out: dict[str, int] = {}
    for index, pod in enumerate(ordered):
        values = (pod.env.get(v, "") for v in sim.rank_from_env)
        out[pod.uid] = next((int(v) for v in values if v.isdigit()), index)
    return out


def plan_job(
    sim: TrainingSimulation,
    record: JobRecord,
    pods: Sequence[JobPod],
    *,
    faults: Mapping[str, str | None],
    logged: Mapping[str, float],
    told: Set[str],
    now: float,
    intact_at: float | None = None,
) -> JobStep:
    """One pass over a job (module docstring). ``faults``: node name -> why it cannot run
    training (None: healthy; a node missing from it is gone); ``told``: pods whose node fault
    their log already tells; ``intact_at``: when a pass last saw the run going whole (None: no
    pass has since the simulator started). A run found broken is credited up to then, never
    up to ``now``: it broke at some moment in between (after a restart of the simulator, the
    last line its pods logged bounds it)."""
    env = job_env(pods)
    params, ignored = sim.params_for(env)
    world = world_size(sim, env, pods)
    p = _Pass(sim, params, world, {x.uid: x for x in pods}, ranks(sim, pods), logged, now, record)
    for pod in pods:
        if logged.get(pod.uid, NEVER) == NEVER and pod.running:
            for o in ignored:
                p.say(
                    pod.uid,
                    now,
                    "override_ignored",
                    variable=o.variable,
                    value=o.value,
                    problem=o.problem,
                )
    healthy = [x for x in pods if x.running and _reason(x, faults) is None]
    _advance(p, _credit_until(p, {x.uid for x in healthy}, intact_at))
    newly_told = _faults(p, faults, told)
    _break(p, {x.uid for x in healthy})
    _rendezvous(p, healthy)
    _finish(p, healthy)
    return JobStep(
        record=p.record,
        lines={uid: tuple(lines) for uid, lines in p.lines.items()},
        fail=tuple(p.fail),
        succeed=tuple(p.succeed),
        told=frozenset(told | newly_told),
        params=params,
        world=world,
    )


def _reason(pod: JobPod, faults: Mapping[str, str | None]) -> str | None:
    if pod.node is None:
        return None
    return faults.get(pod.node, f"node {pod.node} is gone")


def _run_lines(p: _Pass, run: Run, members: Sequence[str], until: float) -> None:
    """The run's events since each member's last line, up to ``until``, in their logs."""
    lead = min(members, key=lambda uid: p.ranks[uid])
    for uid in members:
        for event in events(p.params, run, p.logged.get(uid, NEVER), until):
            if p.sim.lines[event.kind.line].who == Who.RANK_ZERO and uid != lead:
                continue
            p.say(uid, event.at, event.kind.line, **_values(event))


def _values(event: Event) -> dict[str, object]:
    values: dict[str, object] = {"step": event.step}
    if event.kind in (Kind.STEP, Kind.COMPLETE):
        values["loss"] = event.loss
    if event.kind == Kind.CHECKPOINT_SAVED:
        values["seconds"] = event.seconds
    return values


def _credit_until(p: _Pass, healthy: Set[str], intact_at: float | None) -> float:
    """Up to when the run going made progress: now if it is whole, else the last time it is
    known to have been."""
    run = p.record.run
    if run is None or all(uid in healthy for uid, _ in p.record.pods):
        return p.now
    if intact_at is not None:
        return max(run.started_at, min(intact_at, p.now))
    last = [p.logged.get(uid, NEVER) for uid, _ in p.record.pods]
    return max([run.started_at, *(t for t in last if t <= p.now)])


def _advance(p: _Pass, until: float) -> None:
    """Step 2: the run going, up to ``until``."""
    run = p.record.run
    if run is None:
        return
    members = [uid for uid, _ in p.record.pods if uid in p.pods and p.pods[uid].running]
    if members:
        _run_lines(p, run, members, until)
    now = progress(p.params, run, until)
    if now.checkpoint_at is not None and now.checkpoint > p.record.checkpoint:
        p.record = replace(p.record, checkpoint=now.checkpoint, checkpoint_at=now.checkpoint_at)
    if now.done:
        p.record = replace(p.record, run=None, done=True)
        p.succeed.extend(members)


def _faults(p: _Pass, faults: Mapping[str, str | None], told: Set[str]) -> set[str]:
    """Step 3: pods on faulted nodes end Failed; returns the pods whose log now tells why."""
    newly: set[str] = set()
    for uid, pod in p.pods.items():
        reason = _reason(pod, faults)
        if not pod.running or reason is None or uid in p.succeed:
            continue
        if uid not in told:
            p.say(uid, p.now, "node_fault", reason=reason, exit_code=p.sim.node_fault.exit_code)
            newly.add(uid)
        if pod.node in faults:  # the node exists: kwok's Stage ends the pod
            p.fail.append((uid, reason))
    return newly


def _break(p: _Pass, healthy: Set[str]) -> None:
    """Step 4: a run one of whose pods left ends; the others log it."""
    run = p.record.run
    if run is None:
        return
    gone = [name for uid, name in p.record.pods if uid not in healthy]
    if not gone:
        return
    p.record = replace(p.record, run=None)
    for uid, _ in p.record.pods:
        if uid in healthy:
            p.say(uid, p.now, "peer_lost", peer=gone[0], step=p.record.checkpoint)


def _rendezvous(p: _Pass, healthy: Sequence[JobPod]) -> None:
    """Step 5: new pods wait; a new run starts once enough pods are Running."""
    if p.record.run is not None or p.record.done:
        return
    for pod in healthy:
        if p.logged.get(pod.uid, NEVER) == NEVER:
            p.say(pod.uid, p.now, "waiting", joined=len(healthy))
    if len(healthy) < p.world:
        return
    ordered = sorted(healthy, key=lambda x: natural_key(x.name))
    run = Run(p.now, p.record.checkpoint, p.record.starts)
    p.record = replace(
        p.record, run=run, starts=p.record.starts + 1, pods=tuple((x.uid, x.name) for x in ordered)
    )
    _run_lines(p, run, [x.uid for x in ordered], p.now)


def _finish(p: _Pass, healthy: Sequence[JobPod]) -> None:
    """Step 6: a completed job's Running pods end Succeeded."""
    if not p.record.done:
        return
    members = {uid for uid, _ in p.record.pods}
    for pod in healthy:
        if pod.uid in p.succeed:
            continue
        if pod.uid not in members:
            p.say(pod.uid, p.now, "already_complete", step=p.record.checkpoint)
        p.succeed.append(pod.uid)
