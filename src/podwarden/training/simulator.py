"""Simulated training on kwok nodes: a training job's pods behave like a training run.

kwok runs no containers, so without this a PyTorchJob's pods would sit Running forever with no
logs. The simulator watches the pods of training jobs (``training.kubeflow.org/job-name`` and
``HPJob`` labels, all namespaces) that are bound to kwok nodes, and the nodes; every pass
(``interval``, or sooner when a watched object changes) it runs ``logic.training_plan`` over
each job and applies the result, in an order that makes a crash at any point harmless:

1. the job's record (``logic.training_jobs.JobRecord``: checkpoint, the run going and its pods)
   in the job's ConfigMap, owned by the job; written when it changes (a run starts or ends, a
   checkpoint is saved);
2. the pods' log lines, appended to ``<log_dir>/<namespace>_<pod>_<uid>/<container>.log`` in
   CRI format (``training.logs``), served by kwok through the pod's ``Logs`` object, which
   the simulator applies when it first sees the pod and again every ``LOGS_REFRESH`` seconds
   (the object is owned by the pod; a pod re-created under the same name must not lose it to
   the garbage collector's cleanup of the old one);
3. the annotations that end pods (``model.jobs.TRAINING_STATE`` and the exit code, reason and
   message); kwok's Stages (``policy/kwok_stages.py``) turn them into phase Succeeded or
   Failed with terminated containers, as a kubelet would report them.

Nothing else is kept that a restart would miss: the ConfigMap says where the job is, and the
last line of each log file says what that file holds; a restarted simulator appends what is
missing. A run found broken is credited only up to the last pass that saw it whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podwarden.kube.informer import BACKOFF, NameIndex
from podwarden.kube.training_pods import TrainingKube
from podwarden.logic.training_jobs import (
    JobKey,
    JobPod,
    JobRecord,
    end_annotations,
    is_kwok,
    job_node_faults,
    job_pod,
    logs_manifest,
    parse_record,
    record_manifest,
    recorded_owner,
)
from podwarden.logic.training_plan import JobStep, plan_job
from podwarden.model.errors import PodwardenError
from podwarden.model.jobs import (
    HPTO_JOB_LABEL,
    KUBEFLOW_JOB_NAME,
    TRAINING_FAILED,
    TRAINING_SUCCEEDED,
)
from podwarden.policy.training_simulation import TrainingSimulation, load_simulation
from podwarden.training import logs

log = logging.getLogger("podwarden.training")

LOGS_REFRESH = 30.0  # seconds between applies of a pod's Logs object
DEBOUNCE = 0.05  # after a watch event, wait this long for the rest of its burst


@dataclass
class _Job:
    record: JobRecord
    owner: dict[str, Any] | None
    told: frozenset[str] = frozenset()
    intact_at: float | None = None


@dataclass
class _PodLog:
    directory: Path
    main: Path
    logged: float  # the time of the last line the main container's log holds
    applied_at: float = float("-inf")  # when its Logs object was last applied
    files: dict[str, str] = field(default_factory=dict)


class TrainingSimulator:
    def __init__(
        self,
        api: Any,
        *,
        log_dir: Path,
        clock: Callable[[], float] = time.time,
        interval: float = 0.5,
        simulation: TrainingSimulation | None = None,
    ) -> None:
        self._kube = TrainingKube(api)
        self._log_dir = log_dir
        self._clock = clock
        self._interval = interval
        self._sim = simulation or load_simulation()
        self._pod_informers = [self._kube.pods(KUBEFLOW_JOB_NAME), self._kube.pods(HPTO_JOB_LABEL)]
        self._nodes = self._kube.nodes()
        self._node_index = NameIndex(self._nodes)  # kept by the node watch: no pass per tick
        self._jobs: dict[JobKey, _Job] = {}
        self._pods: dict[str, _PodLog] = {}

    async def run(self) -> None:
        """Simulate until cancelled. API errors are logged and retried after a bounded backoff;
        the watches re-list on their own."""
        wake = asyncio.Event()
        informers = [*self._pod_informers, self._nodes]
        tasks = [asyncio.create_task(i.run(wake.set)) for i in self._pod_informers]
        index = self._node_index
        nodes = self._nodes.run(wake.set, on_event=index.event, on_list=index.relist)
        tasks.append(asyncio.create_task(nodes))
        try:
            await asyncio.gather(*(i.synced.wait() for i in informers))
            self._collect_log_dirs(self._current_uids(), scan=True)
            delay = BACKOFF[0]
            while True:
                wake.clear()
                for task in tasks:  # a watch that ended by a bug: fail loudly, never go stale
                    if task.done():
                        task.result()
                try:
                    await self.tick(self._clock())
                    delay = BACKOFF[0]
                except (PodwardenError, OSError) as exc:
                    log.warning("training simulation pass: %s; again in %.1f s", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(BACKOFF[1], delay * 2)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._interval):  # not wait_for: see auto_resume
                        await wake.wait()
                    await asyncio.sleep(DEBOUNCE)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _current_uids(self) -> set[str]:
        return {uid for i in self._pod_informers for uid in i.objects}

    async def tick(self, now: float) -> None:
        """One pass over every job with pods on kwok nodes: its work grows with the jobs' pods
        (the nodes are found by name, and judged only where a job's pod is bound), not with
        the cluster's nodes."""
        nodes = self._node_index.by_name
        jobs: dict[JobKey, list[JobPod]] = {}
        for informer in self._pod_informers:
            for obj in informer.objects.values():
                pod = job_pod(obj)
                if pod is not None and self._ours(pod, nodes):
                    jobs.setdefault(pod.job, []).append(pod)
        faults = job_node_faults((p for pods in jobs.values() for p in pods), nodes)
        for key, pods in sorted(jobs.items()):
            try:
                await self._job_pass(key, pods, faults, now)
            except (PodwardenError, OSError) as exc:
                log.warning("training simulation of %s: %s", key, exc)
        for key in set(self._jobs) - set(jobs):
            del self._jobs[key]
        self._collect_log_dirs(self._current_uids())

    def _ours(self, pod: JobPod, nodes: dict[str, dict[str, Any]]) -> bool:
        """A pod of a job on a kwok node (or not yet scheduled, or on a node that is gone and
        was kwok's when the simulator saw it)."""
        if pod.node is None:
            return True
        node = nodes.get(pod.node)
        return pod.uid in self._pods if node is None else is_kwok(node)

    async def _job_pass(
        self, key: JobKey, pods: list[JobPod], faults: dict[str, str | None], now: float
    ) -> None:
        job = await self._job(key, pods)
        for pod in pods:
            if pod.node is not None:
                await self._ensure_log(pod, now)
        step = plan_job(
            self._sim,
            job.record,
            pods,
            faults=faults,
            logged={p.uid: self._pods[p.uid].logged for p in pods if p.uid in self._pods},
            told=job.told,
            now=now,
            intact_at=job.intact_at,
        )
        if step.record != job.record:
            await self._kube.apply_config_map(record_manifest(key, step.record, job.owner))
            job.record = step.record
        self._write(step)
        job.told = step.told
        job.intact_at = now if step.record.run is not None else None
        await self._end_pods(step, {p.uid: p for p in pods})

    async def _job(self, key: JobKey, pods: list[JobPod]) -> _Job:
        """The job's state: in memory, else from its ConfigMap (a record of an earlier job of
        the same name, or one that cannot be read, starts the job afresh)."""
        owner = next((dict(p.owner) for p in pods if p.owner), None)
        owner_uid = str(owner["uid"]) if owner else ""
        job = self._jobs.get(key)
        if job is not None and (not owner_uid or job.record.owner_uid == owner_uid):
            return job
        record = JobRecord(owner_uid=owner_uid)
        found = await self._kube.read_config_map(key.namespace, key.record_name)
        if found is not None and (not owner_uid or recorded_owner(found) == owner_uid):
            try:
                record = parse_record(found.get("data") or {}, owner_uid)
            except ValueError as exc:
                log.warning("%s: %s; starting afresh", key, exc)
        self._jobs[key] = job = _Job(record, owner)
        return job

    async def _ensure_log(self, pod: JobPod, now: float) -> None:
        """The pod's log files exist and its Logs object points at them."""
        entry = self._pods.get(pod.uid)
        if entry is None:
            directory = logs.pod_dir(self._log_dir, pod.namespace, pod.name, pod.uid)
            files = {c: str((directory / f"{c}.log").absolute()) for c in pod.containers}
            for path in files.values():
                logs.touch(Path(path))
            main = Path(files[pod.main])
            entry = _PodLog(directory, main, logs.last_time(main), files=files)
            self._pods[pod.uid] = entry
        if now - entry.applied_at >= LOGS_REFRESH:
            await self._kube.apply_logs(logs_manifest(pod, entry.files))
            entry.applied_at = now

    def _write(self, step: JobStep) -> None:
        for uid, lines in step.lines.items():
            entry = self._pods.get(uid)
            if entry is None:  # not scheduled: no log yet (the plan writes only to Running pods)
                continue
            logs.append(entry.main, lines)
            entry.logged = max(entry.logged, *(line.at for line in lines))

    async def _end_pods(self, step: JobStep, pods: dict[str, JobPod]) -> None:
        ends = [
            (uid, end_annotations(self._sim.completed, TRAINING_SUCCEEDED)) for uid in step.succeed
        ]
        for uid, why in step.fail:
            ends.append((uid, end_annotations(self._sim.node_fault, TRAINING_FAILED, why)))
        for uid, patch in ends:
            pod = pods[uid]
            await self._kube.annotate_pod(pod.namespace, pod.name, uid, patch)

    def _collect_log_dirs(self, current: set[str], *, scan: bool = False) -> None:
        """Forget pods that are gone and remove their log directories, as a kubelet does;
        ``scan`` (at start): also the directories of pods deleted while the simulator was not
        running."""
        for uid in set(self._pods) - current:
            shutil.rmtree(self._pods.pop(uid).directory, ignore_errors=True)
        if not scan or not self._log_dir.is_dir():
            return
        for directory in self._log_dir.iterdir():
            uid = directory.name.rsplit("_", 1)[-1]
            if directory.is_dir() and directory.name.count("_") >= 2 and uid not in current:
                shutil.rmtree(directory, ignore_errors=True)
