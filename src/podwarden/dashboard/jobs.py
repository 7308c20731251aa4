"""The jobs panel: Kubeflow PyTorchJobs and HyperPodPyTorchJobs with their pods, restarts and
progress, as plain records (pure; ``kube.dashboard_reads.JobObjects`` is what is read).

Restarts: auto-resume's count (``podwarden.io/auto-resume-restarts``, of
``sagemaker.amazonaws.com/job-max-retry-count``) on a PyTorchJob, ``status.restartCount`` on a
HyperPodPyTorchJob. Progress: the simulated trainer's checkpoint record (a ConfigMap per job,
``logic.training_jobs.record_data``): the step of the run under way, the last checkpoint, the
runs started, and whether the job's training completed."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podwarden.model.jobs import (
    AUTO_RESUME,
    AUTO_RESUME_RESTARTS,
    HPTO_JOB_LABEL,
    HPTO_KIND,
    KUBEFLOW_JOB_NAME,
    MAX_RETRY,
    PYTORCHJOB_KIND,
)

Obj = Mapping[str, Any]
POD_LABEL = {PYTORCHJOB_KIND: KUBEFLOW_JOB_NAME, HPTO_KIND: HPTO_JOB_LABEL}


@dataclass(frozen=True)
class PodRow:
    name: str
    phase: str
    node: str  # "" until scheduled
    restarts: int  # the containers' restartCount, summed
    on_cluster: bool


@dataclass(frozen=True)
class JobRow:
    kind: str
    namespace: str
    name: str
    state: str  # the newest condition that holds, else "Created"
    auto_resume: bool
    restarts: str  # "2", or "2 of 5" where a limit is set
    progress: str
    pods: tuple[PodRow, ...]


def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def _state(job: Obj) -> str:
    holding = [
        c for c in (job.get("status") or {}).get("conditions") or [] if c.get("status") == "True"
    ]
    return str(holding[-1].get("type", "")) if holding else "Created"


def _restarts(job: Obj, kind: str) -> str:
    annotations = _meta(job).get("annotations") or {}
    if kind == HPTO_KIND:
        return str((job.get("status") or {}).get("restartCount", 0))
    count = str(annotations.get(AUTO_RESUME_RESTARTS, "0"))
    limit = annotations.get(MAX_RETRY)
    return f"{count} of {limit}" if limit else count


def _progress(record: Obj | None) -> str:
    if record is None:
        return "no checkpoint record yet"
    data = record.get("data") or {}
    if data.get("completed") == "true":
        return f"completed (checkpoint at step {data.get('checkpoint-step', '?')})"
    try:
        run = json.loads(data.get("run") or "null")
    except ValueError:
        run = None
    now = f"at step {run['step']}" if isinstance(run, dict) and "step" in run else "not running"
    return (
        f"{now}, last checkpoint at step {data.get('checkpoint-step', '?')}, "
        f"{data.get('starts', '0')} run(s) started"
    )


def _pod(pod: Obj, node_names: set[str]) -> PodRow:
    status = pod.get("status") or {}
    node = str((pod.get("spec") or {}).get("nodeName") or "")
    restarts = sum(int(c.get("restartCount", 0)) for c in status.get("containerStatuses") or [])
    phase = "Terminating" if _meta(pod).get("deletionTimestamp") else str(status.get("phase", ""))
    return PodRow(str(_meta(pod).get("name", "")), phase, node, restarts, node in node_names)


def job_rows(
    jobs: Iterable[tuple[str, Obj]],
    pods: Sequence[Obj],
    records: Sequence[Obj],
    node_names: set[str],
) -> list[JobRow]:
    """``jobs`` as (kind, object). A job is shown when one of its pods runs on the cluster's
    nodes (``node_names``) or none of its pods is on a node yet."""
    by_record = {
        str((r.get("data") or {}).get("job", "")) + "@" + str(_meta(r).get("namespace", "")): r
        for r in records
    }
    rows = []
    for kind, job in jobs:
        meta = _meta(job)
        name, namespace = str(meta.get("name", "")), str(meta.get("namespace", ""))
        label = POD_LABEL[kind]
        mine = [
            _pod(p, node_names)
            for p in pods
            if _meta(p).get("namespace") == namespace
            and (_meta(p).get("labels") or {}).get(label) == name
        ]
        if mine and not any(p.on_cluster or not p.node for p in mine):
            continue  # another cluster's job on the same Kubernetes
        rows.append(
            JobRow(
                kind=kind,
                namespace=namespace,
                name=name,
                state=_state(job),
                auto_resume=(meta.get("annotations") or {}).get(AUTO_RESUME) == "true",
                restarts=_restarts(job, kind),
                progress=_progress(by_record.get(f"{kind}/{name}@{namespace}")),
                pods=tuple(sorted(mine, key=lambda p: p.name)),
            )
        )
    return sorted(rows, key=lambda r: (r.namespace, r.name, r.kind))
