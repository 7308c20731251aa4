"""A HyperPodPyTorchJob and its pods as the training operator's plan sees them (pure): the job's
spec read from the custom object, each pod reduced to the part it plays (replica spec, slot,
generation, rank or spare) and whether it is faulty, and the pod a slot should be.

The pods carry their own bookkeeping in labels (``model.jobs``: replica, slot, generation,
role, rank), so the operator keeps no memory of its own: a restarted operator reads who plays
which part back from the pods. A slot is a place among a replica spec's ``replicas + spares``
pods; its pod is named ``<job>-<replica>-<slot>`` (``-r<n>`` after the n-th full restart), so a
name is reused only once the pod that had it is gone, and creating a pod twice is harmless.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podwarden.model import ids, jobs, labels

JOB_API_VERSION = f"{jobs.HPTO_GROUP}/{jobs.HPTO_VERSION}"
CLEAN_POLICIES = ("All", "Running", "None")


class InvalidJob(ValueError):
    """The job's spec cannot be run (no workers, a replica spec without containers)."""


@dataclass(frozen=True)
class ReplicaSpec:
    name: str
    replicas: int
    spares: int
    template: Mapping[str, Any]
    first_rank: int  # the global node rank of this spec's rank 0

    @property
    def slots(self) -> int:
        return self.replicas + self.spares

    def ranks(self) -> range:
        return range(self.first_rank, self.first_rank + self.replicas)


@dataclass(frozen=True)
class JobSpec:
    name: str
    namespace: str
    uid: str
    replicas: tuple[ReplicaSpec, ...]
    nproc_per_node: str
    max_retries: int  # runPolicy.jobMaxRetryCount: full restarts allowed (0 when unset)
    max_full_restarts: int | None  # runPolicy.restartPolicy.maxFullJobRestarts
    swaps_before_full: int | None  # runPolicy.restartPolicy.numRestartBeforeFullJobRestart
    clean_pod_policy: str
    active_deadline: int | None

    @property
    def world(self) -> int:
        return sum(r.replicas for r in self.replicas)

    def replica(self, name: str) -> ReplicaSpec | None:
        return next((r for r in self.replicas if r.name == name), None)


def job_spec(job: Mapping[str, Any]) -> JobSpec:
    """The job's spec with HyperPod's defaults (cleanPodPolicy All, no retries unless
    ``runPolicy.jobMaxRetryCount`` allows some); InvalidJob when it cannot run."""
    meta, spec = job["metadata"], job.get("spec") or {}
    run = spec.get("runPolicy") or {}
    restart = run.get("restartPolicy") or {}
    specs, first = [], 0
    for raw in spec.get("replicaSpecs") or []:
        template = raw.get("template") or {}
        if not (template.get("spec") or {}).get("containers"):
            raise InvalidJob(f"replica spec '{raw.get('name')}' has no containers in its template")
        replicas, spares = int(raw.get("replicas") or 0), int(raw.get("spares") or 0)
        specs.append(ReplicaSpec(str(raw["name"]), replicas, spares, template, first))
        first += replicas
    if first == 0:
        raise InvalidJob("the job has no workers: every replica spec has 0 replicas")
    policy = str(run.get("cleanPodPolicy") or "All")
    return JobSpec(
        name=meta["name"],
        namespace=meta["namespace"],
        uid=meta["uid"],
        replicas=tuple(specs),
        nproc_per_node=str(spec.get("nprocPerNode") or "auto"),
        max_retries=int(run.get("jobMaxRetryCount") or 0),
        max_full_restarts=_optional_int(restart.get("maxFullJobRestarts")),
        swaps_before_full=_optional_int(restart.get("numRestartBeforeFullJobRestart")),
        clean_pod_policy=policy if policy in CLEAN_POLICIES else "All",
        active_deadline=_optional_int(run.get("activeDeadlineSeconds")),
    )


def _optional_int(value: object) -> int | None:
    return None if value is None else int(str(value))


# ---------------------------------------------------------------- observed pods


@dataclass(frozen=True)
class PodView:
    """One pod of the job: its part, its state, and why it is faulty (None: it is not)."""

    name: str
    uid: str
    replica: str
    slot: int
    generation: int
    rank: int | None  # None: a spare
    phase: str
    deleting: bool
    node: str
    fault: str | None
    force: bool  # delete with no grace period: no kubelet will finish a graceful deletion

    @property
    def healthy(self) -> bool:
        return not self.deleting and self.fault is None

    def instance_id(self) -> str:
        return ids.instance_id_of_node(self.node) or self.node


def owned_by(pod: Mapping[str, Any], uid: str) -> bool:
    refs = pod["metadata"].get("ownerReferences") or []
    return any(r.get("uid") == uid and r.get("controller") for r in refs)


def view(pod: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]]) -> PodView:
    meta, status = pod["metadata"], pod.get("status") or {}
    tags = meta.get("labels") or {}
    node = (pod.get("spec") or {}).get("nodeName") or ""
    phase = status.get("phase") or "Pending"
    trouble, force = node_fault(node, nodes) if node else (None, False)
    fault = None
    if phase == "Failed":
        fault = f"failed ({_why_failed(status)})"
    elif phase in ("Pending", "Running", "Unknown") and trouble:
        fault = f"is on {trouble}"
    rank = tags.get(jobs.HPTO_RANK_LABEL)
    return PodView(
        name=meta["name"],
        uid=meta.get("uid", ""),
        replica=tags.get(jobs.HPTO_REPLICA_LABEL, ""),
        slot=_int(tags.get(jobs.HPTO_SLOT_LABEL)),
        generation=_int(tags.get(jobs.HPTO_GENERATION_LABEL)),
        rank=_int(rank) if tags.get(jobs.HPTO_ROLE_LABEL) == jobs.HPTO_WORKER else None,
        phase=phase,
        deleting=bool(meta.get("deletionTimestamp")),
        node=node,
        fault=fault,
        force=force,
    )


def node_fault(name: str, nodes: Mapping[str, Mapping[str, Any]]) -> tuple[str | None, bool]:
    """Why a pod on node ``name`` cannot go on (None: it can), and whether its deletion needs
    no grace period (the node is gone or not Ready, so no kubelet will confirm it). A node that
    HyperPod's health agent or a recovery marked anything but Schedulable is faulty: the job
    must leave it (docs/sources.md, "Health label values")."""
    node = nodes.get(name)
    if node is None:
        return f"node {name}, which is gone", True
    ready = next(
        (c for c in (node.get("status") or {}).get("conditions") or [] if c["type"] == "Ready"),
        None,
    )
    if ready is None or ready.get("status") != "True":
        return f"node {name}, which is NotReady", True
    health = (node["metadata"].get("labels") or {}).get(labels.HEALTH, labels.SCHEDULABLE)
    if health != labels.SCHEDULABLE:
        return f"node {name}, which is {health}", False
    return None, False


def _why_failed(status: Mapping[str, Any]) -> str:
    for c in status.get("containerStatuses") or []:
        done = (c.get("state") or {}).get("terminated")
        if done:
            text = f"container {c['name']} exited with code {done.get('exitCode')}"
            detail = done.get("message") or done.get("reason")
            return f"{text}: {detail}" if detail else text
    return str(status.get("message") or status.get("reason") or "phase Failed")


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return -1


# ---------------------------------------------------------------- desired pods


def pod_name(job: JobSpec, replica: ReplicaSpec, slot: int, generation: int) -> str:
    base = f"{job.name}-{replica.name.lower()}-{slot}"
    return f"{base}-r{generation}" if generation else base


def pod_manifest(
    job: JobSpec, replica: ReplicaSpec, slot: int, generation: int, rank: int | None
) -> dict[str, Any]:
    """The pod for ``slot``: the replica spec's template, labelled ``HPJob=<job>`` and with its
    part, owned by the job (controller), so deleting the job deletes it through the garbage
    collector. Workers get the torchrun variables Kubeflow sets (``PET_NNODES``,
    ``PET_NPROC_PER_NODE``, ``PET_NODE_RANK``); a spare gets no rank until it takes one."""
    template = copy.deepcopy(dict(replica.template))
    meta = template.get("metadata") or {}
    spec: dict[str, Any] = template.get("spec") or {}
    spec.setdefault("restartPolicy", "Never")
    role = jobs.HPTO_SPARE if rank is None else jobs.HPTO_WORKER
    tags = {
        **(meta.get("labels") or {}),
        jobs.HPTO_JOB_LABEL: job.name,
        jobs.HPTO_REPLICA_LABEL: replica.name,
        jobs.HPTO_SLOT_LABEL: str(slot),
        jobs.HPTO_GENERATION_LABEL: str(generation),
        jobs.HPTO_ROLE_LABEL: role,
    }
    env = {"PET_NNODES": str(job.world), "PET_NPROC_PER_NODE": job.nproc_per_node}
    if rank is not None:
        tags[jobs.HPTO_RANK_LABEL] = str(rank)
        env["PET_NODE_RANK"] = str(rank)
    for container in spec.get("containers") or []:
        have = {e.get("name") for e in container.get("env") or []}
        extra = [{"name": k, "value": v} for k, v in env.items() if k not in have]
        container["env"] = [*(container.get("env") or []), *extra]
    metadata: dict[str, Any] = {
        "name": pod_name(job, replica, slot, generation),
        "namespace": job.namespace,
        "labels": tags,
        "ownerReferences": [owner_reference(job)],
    }
    if meta.get("annotations"):
        metadata["annotations"] = dict(meta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def owner_reference(job: JobSpec) -> dict[str, Any]:
    return {
        "apiVersion": JOB_API_VERSION,
        "kind": jobs.HPTO_KIND,
        "name": job.name,
        "uid": job.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def promotion_labels(rank: int) -> dict[str, str]:
    """The labels that make a spare the worker of ``rank``."""
    return {jobs.HPTO_ROLE_LABEL: jobs.HPTO_WORKER, jobs.HPTO_RANK_LABEL: str(rank)}


# ---------------------------------------------------------------- who plays which part


def current_pods(spec: JobSpec, views: Sequence[PodView], generation: int) -> list[PodView]:
    """The pods of this generation that have a place in the spec (the rest are deleted)."""
    out = []
    for v in views:
        replica = spec.replica(v.replica)
        if replica is None or v.generation != generation or not 0 <= v.slot < replica.slots:
            continue
        if v.rank is not None and v.rank not in replica.ranks():
            continue
        out.append(v)
    return out


def is_doomed(v: PodView, counted: set[str]) -> bool:
    """A pod to delete now: a faulty spare, or a faulty worker whose fault is counted."""
    return not v.deleting and v.fault is not None and (v.rank is None or v.name in counted)


def holders(
    spec: JobSpec, pods: Sequence[PodView], promoted: Mapping[str, int]
) -> dict[int, PodView]:
    """Each rank's worker: a healthy pod with that rank (or promoted to it), the lowest slot."""
    out: dict[int, PodView] = {}
    for v in sorted(pods, key=lambda v: (v.replica, v.slot)):
        rank = promoted.get(v.name, v.rank)
        if rank is not None and v.healthy and rank not in out:
            out[rank] = v
    return out


def all_ranks(spec: JobSpec) -> list[int]:
    return [r for replica in spec.replicas for r in replica.ranks()]


def vacant_ranks(spec: JobSpec, pods: Sequence[PodView], promoted: Mapping[str, int]) -> list[int]:
    held = holders(spec, pods, promoted)
    return [r for r in all_ranks(spec) if r not in held]


def vacant_in(replica: ReplicaSpec, vacant: Iterable[int]) -> list[int]:
    return [r for r in vacant if r in replica.ranks()]


def available_spares(
    spec: JobSpec, pods: Sequence[PodView], taken: set[str]
) -> dict[str, list[PodView]]:
    """Per replica spec, the spares that can take a rank now: healthy and Running."""
    out: dict[str, list[PodView]] = {r.name: [] for r in spec.replicas}
    for v in sorted(pods, key=lambda v: v.slot):
        if v.rank is None and v.healthy and v.phase == "Running" and v.name not in taken:
            out.setdefault(v.replica, []).append(v)
    return out
