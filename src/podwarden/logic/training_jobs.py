"""A training job as the simulator sees it: its pods, their nodes' health, and the job's record
(checkpoint and current run) kept in a ConfigMap. Pure: plain dicts of Kubernetes objects in,
frozen values out.

Which pods: those labelled ``training.kubeflow.org/job-name=<job>`` (Kubeflow's PyTorchJob and
the other Kubeflow kinds) or ``HPJob=<job>`` (HyperPod's training operator). A job is
``(namespace, kind, name)``: the kind of the pod's controlling owner when it is the job named by
the label, else the label's own kind (a bare pod with the label, as tests make).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podwarden.logic.training_progress import Run
from podwarden.model.jobs import (
    HPTO_JOB_LABEL,
    HPTO_KIND,
    KUBEFLOW_JOB_NAME,
    KWOK_GROUP,
    KWOK_VERSION,
    PYTORCHJOB_KIND,
    TRAINING_CHECKPOINT_LABEL,
    TRAINING_EXIT_CODE,
    TRAINING_MESSAGE,
    TRAINING_REASON,
    TRAINING_STATE,
)
from podwarden.model.labels import HEALTH, KWOK_ANNOTATION, SCHEDULABLE
from podwarden.policy.training_simulation import Exit

# the job label -> the kind a pod with that label but no owner belongs to
JOB_LABELS = {KUBEFLOW_JOB_NAME: PYTORCHJOB_KIND, HPTO_JOB_LABEL: HPTO_KIND}
# Kubeflow's PyTorchJob container; otherwise a pod's first container is the training one
DEFAULT_CONTAINER = "pytorch"


@dataclass(frozen=True, order=True)
class JobKey:
    namespace: str
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    @property
    def record_name(self) -> str:
        """The name of the job's checkpoint ConfigMap (a job name is a label value: at most 63
        characters, so this stays a valid object name)."""
        return f"training-checkpoint.{self.kind.lower()}.{self.name}"


@dataclass(frozen=True)
class JobPod:
    """A job's pod, reduced to what the simulation reads."""

    uid: str
    namespace: str
    name: str
    job: JobKey
    node: str | None  # None until scheduled
    phase: str
    deleting: bool
    state: str  # the simulator's verdict already on the pod ("", "failed", "succeeded")
    containers: tuple[str, ...]
    main: str  # the container the training writes to
    env: Mapping[str, str] = field(default_factory=dict)  # the main container's plain values
    owner: Mapping[str, Any] | None = None  # the job's ownerReference, if the job owns it

    @property
    def running(self) -> bool:
        return self.phase == "Running" and not self.deleting and not self.state


def _owner(meta: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller") and ref.get("name") == name:
            return {k: ref[k] for k in ("apiVersion", "kind", "name", "uid") if k in ref}
    return None


def job_pod(pod: Mapping[str, Any]) -> JobPod | None:
    """The pod as a job's pod; None when it belongs to no training job."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    labels = meta.get("labels") or {}
    label = next((k for k in JOB_LABELS if labels.get(k)), None)
    containers = tuple(c["name"] for c in spec.get("containers") or [])
    if label is None or not containers:
        return None
    name = labels[label]
    owner = _owner(meta, name)
    kind = str(owner["kind"]) if owner else JOB_LABELS[label]
    main = DEFAULT_CONTAINER if DEFAULT_CONTAINER in containers else containers[0]
    spec_main = next(c for c in spec["containers"] if c["name"] == main)
    env = {e["name"]: str(e["value"]) for e in spec_main.get("env") or [] if "value" in e}
    return JobPod(
        uid=meta["uid"],
        namespace=meta["namespace"],
        name=meta["name"],
        job=JobKey(meta["namespace"], kind, name),
        node=spec.get("nodeName"),
        phase=(pod.get("status") or {}).get("phase", "Pending"),
        deleting=bool(meta.get("deletionTimestamp")),
        state=(meta.get("annotations") or {}).get(TRAINING_STATE, ""),
        containers=containers,
        main=main,
        env=env,
        owner=owner,
    )


def is_kwok(node: Mapping[str, Any]) -> bool:
    key, value = KWOK_ANNOTATION
    return bool((node.get("metadata", {}).get("annotations") or {}).get(key) == value)


def node_fault(name: str, node: Mapping[str, Any] | None) -> str | None:
    """Why a node cannot run training, or None. Faulted: gone, NotReady, or a HyperPod health
    label other than Schedulable (quarantined, pending reboot or replacement, under deep
    health checks); a node without the label (not HyperPod's) is judged by readiness alone."""
    if node is None:
        return f"node {name} is gone"
    health = (node.get("metadata", {}).get("labels") or {}).get(HEALTH)
    if health is not None and health != SCHEDULABLE:
        return f"node {name} is {health}"
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") != "True":
            return f"node {name} is NotReady"
    return None


def job_node_faults(
    pods: Iterable[JobPod], nodes: Mapping[str, Mapping[str, Any]]
) -> dict[str, str | None]:
    """``node_fault`` of each kwok node (in ``nodes``, by name) that ``pods`` are bound to, and
    of no other: what ``logic.training_plan.plan_job`` reads, so a pass costs as many pods as
    the jobs have, however many nodes the cluster has."""
    faults: dict[str, str | None] = {}
    for pod in pods:
        if pod.node is None or pod.node in faults:
            continue
        node = nodes.get(pod.node)
        if node is not None and is_kwok(node):
            faults[pod.node] = node_fault(pod.node, node)
    return faults


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting ``w-2`` before ``w-10``."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name) if p)


@dataclass(frozen=True)
class JobRecord:
    """What the job's ConfigMap keeps: the last checkpoint, the run now going (if any) and its
    pods, how many runs began, whether the job completed, and the job's uid (a record of an
    earlier job of the same name is not this job's)."""

    checkpoint: int = 0
    checkpoint_at: float | None = None
    starts: int = 0
    run: Run | None = None
    pods: tuple[
        tuple[str, str], ...
    ] = ()  # (uid, name) of the run's pods (the last run's, once done)
    done: bool = False
    owner_uid: str = ""


def record_data(record: JobRecord, job: JobKey) -> dict[str, str]:
    """The ConfigMap ``data`` of a record (strings, readable with ``kubectl get -o yaml``)."""
    run = record.run
    return {
        "job": f"{job.kind}/{job.name}",
        "checkpoint-step": str(record.checkpoint),
        "checkpoint-time": "" if record.checkpoint_at is None else repr(record.checkpoint_at),
        "starts": str(record.starts),
        "completed": "true" if record.done else "false",
        "run": ""
        if run is None
        else json.dumps({"startedAt": run.started_at, "step": run.step, "restart": run.restart}),
        "pods": json.dumps(dict(record.pods)),
    }


def parse_record(data: Mapping[str, str], owner_uid: str) -> JobRecord:
    """The record in a ConfigMap's ``data``; ValueError when it cannot be read."""
    try:
        at = data.get("checkpoint-time") or ""
        raw_run = data.get("run") or ""
        run = None
        if raw_run:
            r = json.loads(raw_run)
            run = Run(float(r["startedAt"]), int(r["step"]), int(r["restart"]))
        pods = json.loads(data.get("pods") or "{}")
        record = JobRecord(
            checkpoint=int(data["checkpoint-step"]),
            checkpoint_at=float(at) if at else None,
            starts=int(data.get("starts") or 0),
            run=run,
            pods=tuple((str(uid), str(name)) for uid, name in pods.items()),
            done=data.get("completed") == "true",
            owner_uid=owner_uid,
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"unreadable checkpoint record: {exc!r}") from None
    if record.checkpoint < 0 or (
        record.checkpoint_at is not None and not math.isfinite(record.checkpoint_at)
    ):
        raise ValueError("unreadable checkpoint record: negative step or bad time")
    return record


def record_manifest(
    job: JobKey, record: JobRecord, owner: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The job's checkpoint ConfigMap, owned by the job (if a job object owns its pods) so the
    garbage collector deletes it with the job."""
    meta: dict[str, Any] = {
        "name": job.record_name,
        "namespace": job.namespace,
        "labels": {TRAINING_CHECKPOINT_LABEL: "true"},
    }
    if owner:
        meta["ownerReferences"] = [dict(owner)]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": record_data(record, job),
    }


def recorded_owner(config_map: Mapping[str, Any]) -> str:
    """The uid of the job a checkpoint ConfigMap belongs to ("" for none)."""
    refs = config_map.get("metadata", {}).get("ownerReferences") or []
    return str(refs[0].get("uid", "")) if refs else ""


def logs_manifest(pod: JobPod, files: Mapping[str, str]) -> dict[str, Any]:
    """The pod's kwok ``Logs`` object: each container's log file (``files``: container ->
    absolute path). Owned by the pod, so it goes with it."""
    return {
        "apiVersion": f"{KWOK_GROUP}/{KWOK_VERSION}",
        "kind": "Logs",
        "metadata": {
            "name": pod.name,
            "namespace": pod.namespace,
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Pod", "name": pod.name, "uid": pod.uid}
            ],
        },
        "spec": {
            "logs": [
                {"containers": [name], "logsFile": path, "follow": True}
                for name, path in files.items()
            ]
        },
    }


def end_annotations(end: Exit, state: str, detail: str = "") -> dict[str, str]:
    """What the simulator writes on a pod to end it; kwok's Stages read these
    (``policy/tables/kwok_pod_stages.yaml``)."""
    return {
        TRAINING_STATE: state,
        TRAINING_EXIT_CODE: str(end.exit_code),
        TRAINING_REASON: end.reason,
        TRAINING_MESSAGE: f"{end.message}: {detail}" if detail else end.message,
    }
