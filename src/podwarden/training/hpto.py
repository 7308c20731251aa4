"""podwarden's HyperPod training operator: serves HyperPodPyTorchJobs on one Kubernetes.

AWS's operator (EKS add-on ``amazon-sagemaker-hyperpod-training-operator``) is closed source;
this one does what docs/sources.md, "HyperPod training operator", describes, deciding in
``logic.hpto_plan``. It runs only where the add-on is installed: each pass first checks that the
CRD and the operator's Deployment in ``aws-hyperpod`` exist, and idles otherwise, so CreateAddon
starts it and DeleteAddon stops it without anyone telling it (level-triggered).

A pass reads every job, every pod labelled ``HPJob`` and every node once, plans each job, and
applies the plan: the status first (with the job's resourceVersion as a precondition), the pod
actions only when that write succeeded, then the events. A restarted operator just plans again.
API errors end the pass and the next one comes after a bounded backoff.

What it decides it also writes, in CRI format, to ``log_file`` when one is given, and it points
kwok's ``Logs`` of the operator's pods (label ``hp-training-control-plane``) at that file, so
``hyp get-operator-logs`` finds the operator's log as on AWS.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from podwarden.kube.hyperpod_jobs import KubeHyperPodJobs
from podwarden.logic.hpto_actions import CreatePod, DeletePod, Event, LabelPod, Plan
from podwarden.logic.hpto_plan import plan
from podwarden.model import jobs
from podwarden.model.errors import Conflict, PodwardenError, TerminalError

log = logging.getLogger("podwarden.hpto")

PASS_SECONDS = 1.0  # between passes while the add-on is installed
IDLE_SECONDS = 5.0  # between checks while it is not
MAX_BACKOFF_SECONDS = 30.0


class HyperPodTrainingOperator:
    def __init__(
        self, api: Any, *, clock: Callable[[], float] = time.time, log_file: Path | None = None
    ) -> None:
        self._kube = KubeHyperPodJobs(api)
        self._clock = clock
        self._log_file = log_file
        self._logs_pointed: set[str] = set()  # operator pods whose Logs exist
        self._refused: dict[str, str] = {}  # pod -> why the API refused to create it
        self.pass_seconds = PASS_SECONDS
        self.idle_seconds = IDLE_SECONDS

    async def run(self) -> None:
        """Serve until cancelled; an API error ends a pass, retried after a backoff that
        doubles up to ``MAX_BACKOFF_SECONDS``."""
        failures = 0
        while True:
            try:
                active = await self.installed()
                if active:
                    await self.reconcile_all()
                failures, delay = 0, self.pass_seconds if active else self.idle_seconds
            except Exception as exc:  # the operator must outlive any pass
                failures += 1
                delay = min(MAX_BACKOFF_SECONDS, self.pass_seconds * 2**failures)
                if isinstance(exc, PodwardenError):
                    log.warning("training operator pass: %s (retry in %.0f s)", exc, delay)
                else:
                    log.exception("training operator pass failed (retry in %.0f s)", delay)
            await asyncio.sleep(delay)

    async def installed(self) -> bool:
        """The add-on is installed: the CRD exists and so does the operator's Deployment."""
        return await self._kube.crd_installed() and await self._kube.operator_deployed()

    async def reconcile_all(self) -> None:
        """One pass over every job."""
        if self._log_file is not None:
            await self._point_operator_logs(self._log_file)
        found = await self._kube.jobs()
        pods = await self._kube.job_pods()
        nodes = {n["metadata"]["name"]: n for n in await self._kube.nodes()}
        by_job: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for pod in pods:
            meta = pod["metadata"]
            key = (meta["namespace"], (meta.get("labels") or {}).get(jobs.HPTO_JOB_LABEL, ""))
            by_job.setdefault(key, []).append(pod)
        for job in found:
            meta = job["metadata"]
            try:
                await self.reconcile(job, by_job.get((meta["namespace"], meta["name"]), []), nodes)
            except Conflict:
                pass  # the job changed since it was read: the next pass sees it
            except PodwardenError as exc:
                log.warning("%s %s/%s: %s", jobs.HPTO_KIND, meta["namespace"], meta["name"], exc)
            except Exception:  # one job's surprise must not starve the others
                log.exception("%s %s/%s failed", jobs.HPTO_KIND, meta["namespace"], meta["name"])

    async def reconcile(
        self,
        job: dict[str, Any],
        pods: list[dict[str, Any]],
        nodes: Mapping[str, Mapping[str, Any]],
    ) -> None:
        decided = plan(job, pods, nodes, self._clock())
        if decided.status is not None:
            await self._kube.write_status(job, decided.status)
        await self._apply_pods(job, decided)
        for event in decided.events:
            await self._event(job, event)

    async def _apply_pods(self, job: dict[str, Any], decided: Plan) -> None:
        ns = job["metadata"]["namespace"]
        for action in decided.pods:
            if isinstance(action, CreatePod):
                await self._create(job, action.manifest)
            elif isinstance(action, DeletePod):
                await self._kube.delete_pod(ns, action.name, force=action.force)
            elif isinstance(action, LabelPod):
                await self._kube.label_pod(ns, action.name, dict(action.labels))

    async def _create(self, job: dict[str, Any], manifest: dict[str, Any]) -> None:
        """Create a pod; the API refusing it (a template it cannot accept) is an Event once
        per reason, and the next pass tries again."""
        name = manifest["metadata"]["name"]
        try:
            created = await self._kube.create_pod(manifest)
        except TerminalError as exc:
            if self._refused.get(name) != exc.message:
                self._refused[name] = exc.message
                await self._event(job, Event("FailedCreatePod", exc.message, warning=True))
            return
        self._refused.pop(name, None)
        if created:
            await self._event(job, Event("SuccessfulCreatePod", f"Created pod: {name}", False))

    async def _event(self, job: dict[str, Any], event: Event) -> None:
        meta = job["metadata"]
        text = f"{jobs.HPTO_KIND} {meta['namespace']}/{meta['name']}: {event.reason}: "
        text += event.message
        (log.warning if event.warning else log.info)("%s", text)
        if self._log_file is not None:
            _append(self._log_file, text, self._clock())
        await self._kube.event(job, event.reason, event.message, warning=event.warning)

    async def _point_operator_logs(self, path: Path) -> None:
        _start_log(path, self._clock())
        for pod in await self._kube.operator_pods():
            uid = pod["metadata"].get("uid", "")
            if uid not in self._logs_pointed and await self._kube.point_logs(pod, str(path)):
                self._logs_pointed.add(uid)


def _start_log(path: Path, at: float) -> None:
    """kwok serves a Logs file only once it exists."""
    if not path.exists():
        _append(path, "hp-training-operator: serving HyperPodPyTorchJobs", at)


def _append(path: Path, text: str, at: float) -> None:
    """One CRI log record (what kwok's kubelet API serves): ``<RFC 3339 ns> stdout F <text>``."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1e6):06d}000Z"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for line in text.splitlines() or [""]:
            f.write(f"{stamp} stdout F {line}\n")
