"""Run one goodput scenario through the real pipeline and return what was observed.

Given podwarden's endpoint (``podwarden serve`` started with the scenario's durations divided by
the time scale), the Kubernetes it manages and a way to inject a fault into a node's health
agent, the runner: creates the HyperPod cluster (CreateCluster, InService), starts the training
job (a PyTorchJob with auto-resume), and once its first run starts (simulated t = 0) follows the
fault schedule on the simulated clock (``logic.goodput_accounting.Clock``): each fault happens at
its time and is injected ``detect_seconds`` later (HyperPod's detection, modeled); a job crash
ends one of the job's pods. With NodeRecovery None it acts as the operator who, after
``manual_response_seconds``, replaces or reboots the node through the API. It stops when the
simulated clock reaches the scenario's length. ``logic.goodput_accounting.account`` turns the
observation into the report.

Every wait has a deadline and says what it waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from podwarden.goodput.cluster import (
    GROUP,
    JOB,
    NAMESPACE,
    Endpoint,
    create_cluster,
    job_manifest,
    repair_by_hand,
)
from podwarden.goodput.watch import Tracked, Watch
from podwarden.kube.goodput import GoodputKube
from podwarden.logic.goodput_breaks import Clock, repair_seconds
from podwarden.model import ids
from podwarden.model.goodput import Action, Fault, FaultKind, Observed, Recovery, Scenario

log = logging.getLogger("podwarden.goodput")

Inject = Callable[[str, FaultKind], Awaitable[None]]
Progress = Callable[[str], None]

FIRST_RUN_S = 300.0  # the job created -> its first run started
TICK_S = 0.05  # longest sleep of the schedule loop (faults are due on the simulated clock)
# the simulated clock stands still while only podwarden's pipeline works on a break; if it
# stands still this long (real seconds), the job is not coming back: the run ends with why
STALLED_S = 300.0


async def run(
    s: Scenario,
    faults: Sequence[Fault],
    *,
    endpoint: Endpoint,
    kube_api: Any,
    inject: Inject,
    progress: Progress = lambda _: None,
) -> Observed:
    progress(f"creating HyperPod cluster: {s.cluster.nodes + s.cluster.spares} x "
             f"{s.cluster.instance_type}")  # fmt: skip
    await create_cluster(s, endpoint)
    kube = GoodputKube(kube_api)
    watch = Watch(kube, GROUP, NAMESPACE, JOB)
    tasks = watch.start()
    try:
        await kube.create_namespace(NAMESPACE)
        await kube.create_pytorchjob(job_manifest(s))
        progress(f"training job started: {s.cluster.nodes} workers")
        await _first_run(watch)
        progress(f"first run started; {len(faults)} faults over {s.days:g} simulated days")
        schedule = _Schedule(s, watch, _slots(watch, s), endpoint, kube, inject)
        await schedule.run(faults, progress)
        return watch.observed(time.time())
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _first_run(watch: Watch) -> None:
    deadline = time.monotonic() + FIRST_RUN_S
    while not watch.runs:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(
                f"the training job's first run did not start within {FIRST_RUN_S:g} s "
                f"(pods running on {len(watch.job_nodes())} nodes)"
            )
        watch.changed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(left, 1.0)):
                await watch.changed.wait()


def _slots(watch: Watch, s: Scenario) -> list[str]:
    """Node names by the schedule's node index: the first run's nodes, then the spares."""
    job = sorted(watch.runs[0].node_ready)
    spares = sorted(set(watch.nodes) - set(job))
    slots = job + spares
    if len(slots) != s.cluster.nodes + s.cluster.spares:
        watch.notes.append(f"expected {s.cluster.nodes + s.cluster.spares} nodes, saw {len(slots)}")
    return slots


@dataclass
class _Schedule:
    """The fault schedule played on the simulated clock."""

    s: Scenario
    watch: Watch
    slots: list[str]  # node names by the schedule's node index (a replacement takes its slot)
    endpoint: Endpoint
    kube: GoodputKube
    inject: Inject

    async def run(self, faults: Sequence[Fault], progress: Progress) -> None:
        """Until the simulated clock reads the scenario's length: each fault *happens* at its
        time (the job is broken from then, whatever the pipeline has seen by the end) and is
        injected into the agent ``detect_seconds`` later."""
        s, watch = self.s, self.watch
        pending = sorted(faults, key=lambda f: f.at)
        injections: list[Tracked] = []
        end = s.days * 86400.0
        reported = 0.0
        while True:
            now = time.time()
            clock = Clock(s, watch.observed(now))
            simulated = clock.simulated(now)
            while pending and pending[0].at <= simulated:
                fault = pending.pop(0)
                injections.append(self._happen(fault, clock.real(fault.at)))
            if simulated >= end:
                return
            self._check_not_stalled(now, simulated)
            while injections and simulated >= self._due(injections[0].fault):
                await self._inject(injections.pop(0))
            if s.cluster.recovery == Recovery.NONE:
                await self._manual_repairs()
            if simulated - reported >= end / 10:
                reported = simulated
                progress(f"day {simulated / 86400:.1f} of {s.days:g}: "
                         f"{len(watch.runs) - 1} restarts")  # fmt: skip
            due = [end] + [f.at for f in pending[:1]] + [self._due(t.fault) for t in injections[:1]]
            await asyncio.sleep(max(0.0, min(TICK_S, clock.real(min(due)) - time.time())))

    def _check_not_stalled(self, now: float, simulated: float) -> None:
        """A break that outlasts everything modeled in it by ``STALLED_S`` real seconds will
        not end: say so rather than wait forever."""
        s, watch = self.s, self.watch
        last_start = watch.runs[-1].started_at if watch.runs else now
        breaking = [t for t in watch.tracked if t.job_node and t.due_at >= last_start]
        if not breaking:
            return
        modeled = max(repair_seconds(s, a) for a in Action) + s.job.restart_seconds
        modeled += max(k.detect_seconds for k in s.kinds.values())
        if now - breaking[0].due_at > modeled / s.time_scale + STALLED_S:
            raise TimeoutError(
                f"the job has not restarted {STALLED_S:g} s (real) after everything modeled "
                f"in its break, at simulated day {simulated / 86400:.2f}: fault "
                f"{breaking[0].fault.fault} on {breaking[0].node}; the job's pods run on "
                f"{len(watch.job_nodes())} of {s.cluster.nodes} nodes"
            )

    def _due(self, fault: Fault) -> float:
        """When a fault is injected: HyperPod's detection (modeled) after it happens."""
        return fault.at + self.s.kinds[fault.fault].detect_seconds

    def _happen(self, fault: Fault, due_at: float) -> Tracked:
        """The fault happens on its node: whether it breaks the job is decided now."""
        kind, watch = self.s.kinds[fault.fault], self.watch
        self._follow_replacements()
        node = self.slots[fault.node % len(self.slots)]
        pods = watch.job_pods()
        job_node = node in pods and not watch.broken() and kind.action != Action.NONE
        injected = due_at + kind.detect_seconds / self.s.time_scale  # planned; set when done
        tracked = Tracked(fault, node, kind.action, due_at, injected, job_node,
                          frozenset(watch.nodes))  # fmt: skip
        tracked.spare_free = bool(set(watch.since) - set(pods) - {node})
        if node not in watch.since:  # down already (a fault on a node in repair changes nothing)
            tracked.job_node, tracked.moot = False, True
            watch.notes.append(f"fault {fault.fault} at {fault.at:.0f} s hit {node}, already down")
        watch.tracked.append(tracked)
        return tracked

    async def _inject(self, t: Tracked) -> None:
        """Hand the fault to the pipeline: the agent's signal, or a crashed rank's pod ended."""
        if t.moot:
            return
        t.injected_at = time.time()
        if t.action == Action.RESTART:
            pods = self.watch.job_pods()
            if t.node in pods:
                await self.kube.delete_pod(NAMESPACE, pods[t.node])
            t.detected_at = t.quarantined_at = time.time()
        else:
            await self.inject(t.node, self.s.kinds[t.fault.fault])

    def _follow_replacements(self) -> None:
        """A replaced node's slot is its replacement's from then on."""
        for t in self.watch.tracked:
            if t.replacement and t.node in self.slots:
                self.slots[self.slots.index(t.node)] = t.replacement

    async def _manual_repairs(self) -> None:
        """NodeRecovery None: the operator replaces or reboots a quarantined node after
        ``manual_response_seconds``."""
        wait = self.s.durations.manual_response_seconds / self.s.time_scale
        now = time.time()
        for t in self.watch.tracked:
            if t.manual_requested or t.quarantined_at is None or now < t.quarantined_at + wait:
                continue
            if t.action not in (Action.REBOOT, Action.REPLACE):
                continue
            instance = ids.instance_id_of_node(t.node)
            t.manual_requested = True
            if instance is not None and t.node in self.watch.nodes:
                await repair_by_hand(self.endpoint, instance, replace=t.action == Action.REPLACE)
