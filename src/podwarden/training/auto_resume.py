"""HyperPod's job auto-resume for Kubeflow PyTorchJobs on one Kubernetes
(docs/sources.md, "Job auto-resume"; the rules are ``logic.auto_resume``).

``JobAutoResume.run`` applies HyperPod's job-auto-restart ClusterRole and binding as the admin,
then acts only as the Kubernetes user ``hyperpod-service-linked-role`` (impersonated), so it
holds HyperPod's permissions and no more. It watches nodes, the pods Kubeflow labels and the
PyTorchJobs (``auto_resume_watch``), and plans from that view whenever something changes and
every ``resync`` seconds. The view may lag, so before acting on a job it plans that job again
from fresh reads (the job, its pods, their nodes), and the write that counts a restart carries
the job's resourceVersion: a stale plan fails instead of counting one fault twice.

A restart: record it on the job (count and the pods it removes), force-delete every pod of the
job (Kubeflow recreates them on healthy nodes), a Warning Event on the job, and a cluster event
per faulted HyperPod node. Retries used up: a Failed condition on the job, its active pods
deleted, an Event and cluster events. The Events have deterministic names, so a pass that
repeats an interrupted action records them once; the cluster events are sent only by the pass
that counts the restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from podwarden import metrics
from podwarden.kube.training_jobs import KubeTrainingJobs, apply_cluster_rbac, impersonating_client
from podwarden.logic import auto_resume as ar
from podwarden.logic.node_view import health_view
from podwarden.model import ids
from podwarden.model.errors import NotFound, PodwardenError
from podwarden.model.jobs import (
    AUTO_RESUME_HANDLED_PODS,
    AUTO_RESUME_RESTARTS,
    KUBEFLOW_GROUP,
    KUBEFLOW_JOB_NAME,
    KUBEFLOW_VERSION,
    PYTORCHJOB_KIND,
    SERVICE_LINKED_USER,
)
from podwarden.model.labels import CLUSTER_ID, HEALTH
from podwarden.policy.job_auto_restart_rbac import load_rbac
from podwarden.training.auto_resume_watch import WatchedSet

log = logging.getLogger("podwarden.training.auto_resume")

ClusterEventFn = Callable[[str, str, str, str], Awaitable[None]]
COMPONENT = "podwarden-job-auto-resume"
RESTART_REASON = "JobAutoResumeRestart"
LOST_TTL = 600.0  # seconds a pod deleted from a faulted node counts as evidence
KNOWN_NODES = 10_000  # node name -> cluster id entries kept (replaced nodes included)


class JobAutoResume:
    def __init__(
        self,
        api: Any,
        *,
        record_cluster_event: ClusterEventFn | None = None,
        clock: Callable[[], float] = time.time,
        resync: float = 10.0,
        watch_timeout: int = 60,
        backoff: tuple[float, float] = (0.2, 10.0),
    ) -> None:
        self.admin = api
        self.record_cluster_event = record_cluster_event
        self.clock = clock
        self.resync = resync
        self.watch_timeout = watch_timeout
        self.backoff = backoff
        self._wake = asyncio.Event()
        self._lost: dict[str, tuple[ar.LostPod, float]] = {}
        self._clusters: OrderedDict[str, str] = OrderedDict()
        self.kube: KubeTrainingJobs | None = None
        self.nodes: WatchedSet | None = None
        self.pods: WatchedSet | None = None
        self.jobs: WatchedSet | None = None

    async def run(self) -> None:
        """Until cancelled. API errors are logged and retried with a bounded backoff."""
        imp = impersonating_client(self.admin, SERVICE_LINKED_USER)
        try:
            await self._apply_rbac()
            self.kube = kube = KubeTrainingJobs(imp, pod_selector=KUBEFLOW_JOB_NAME)
            self.nodes = WatchedSet(
                kube, kube.NODES, self._node_changed, keep=health_view, **self._watch_args()
            )
            self.pods = WatchedSet(kube, kube.PODS, self._pod_changed, **self._watch_args())
            self.jobs = WatchedSet(kube, kube.JOBS, self._job_changed, **self._watch_args())
            watches = [
                asyncio.create_task(s.run(), name=f"auto-resume watch {s.kind}")
                for s in (self.nodes, self.pods, self.jobs)
            ]
            try:
                await self._loop()
            finally:
                for task in watches:
                    task.cancel()
                for task in watches:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        finally:
            await imp.close()

    def _watch_args(self) -> dict[str, Any]:
        return {"timeout": self.watch_timeout, "backoff": self.backoff}

    async def _apply_rbac(self) -> None:
        delay = self.backoff[0]
        while True:
            try:
                await apply_cluster_rbac(self.admin, load_rbac().objects)
                return
            except PodwardenError as exc:
                log.warning("auto-resume: RBAC not applied: %s (again in %.1f s)", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])

    async def _loop(self) -> None:
        delay = self.backoff[0]
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation that
            # arrives as the awaited event fires (cpython gh-86296), and the loop never ends
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.resync):
                    await self._wake.wait()
            self._wake.clear()
            try:
                done = await self.reconcile()
            except Exception:  # a bug must not end auto-resume on this Kubernetes
                log.exception("auto-resume pass failed")
                done = False
            if done:
                delay = self.backoff[0]
            else:  # something failed or was stale: plan again soon
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff[1])
                self._wake.set()

    # --- the view ------------------------------------------------------------------------------

    def _node_changed(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        node = new or old
        assert node is not None
        self._remember_cluster(node)
        if new is None or old is None or _health(old) != _health(new):
            self._wake.set()  # not for heartbeats

    def _remember_cluster(self, node: dict[str, Any]) -> None:
        """The HyperPod cluster of a node, kept after the node is gone (a replaced node's
        cluster events need it)."""
        cluster = (node["metadata"].get("labels") or {}).get(CLUSTER_ID)
        if cluster:
            name = node["metadata"]["name"]
            self._clusters[name] = cluster
            self._clusters.move_to_end(name)
            while len(self._clusters) > KNOWN_NODES:
                self._clusters.popitem(last=False)

    def _pod_changed(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        if new is None and old is not None:
            self._remember_lost(old)
        self._wake.set()

    def _job_changed(self, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
        self._wake.set()

    def _remember_lost(self, pod: dict[str, Any]) -> None:
        """A job's pod deleted while its node is faulted (a drain evicting it before a pass saw
        it there): kept as evidence of the fault for ``LOST_TTL`` seconds."""
        if self.nodes is None or not self.nodes.synced:
            return
        owners = [o for o in pod["metadata"].get("ownerReferences") or [] if o.get("controller")]
        if not owners or owners[0].get("kind") != PYTORCHJOB_KIND:
            return
        fault = ar.pod_fault(pod, self.nodes.by_name())
        if fault is not None:
            uid = pod["metadata"]["uid"]
            self._lost[uid] = (ar.LostPod(owners[0]["uid"], uid, fault), self.clock())

    def _lost_pods(self, now: float) -> list[ar.LostPod]:
        for uid, (_, at) in list(self._lost.items()):
            if now - at > LOST_TTL:
                del self._lost[uid]
        return [lost for lost, _ in self._lost.values()]

    # --- a pass ----------------------------------------------------------------------------------

    async def reconcile(self) -> bool:
        """Plan from the view and carry out each action after planning its job again from
        fresh reads; False when an action failed or the view is not complete yet."""
        views = (self.nodes, self.pods, self.jobs)
        if self.kube is None or not all(v is not None and v.synced for v in views):
            return False
        assert self.nodes is not None and self.pods is not None and self.jobs is not None
        now = self.clock()
        lost = self._lost_pods(now)
        nodes = self.nodes.by_name()
        actions = ar.plan(self.jobs.objects.values(), self.pods.objects.values(), nodes, now, lost)
        ok = True
        for action in actions:
            try:
                fresh = await self._replan(action.job, now, lost)
                if fresh is not None:
                    await self.apply(fresh)
            except PodwardenError as exc:
                log.warning("auto-resume of PyTorchJob %s: %s", action.job, exc)
                ok = False
        return ok

    async def _replan(self, ref: ar.JobRef, now: float, lost: list[ar.LostPod]) -> ar.Action | None:
        assert self.kube is not None
        try:
            job = await self.kube.get_job(ref.namespace, ref.name)
        except NotFound:
            return None
        if not ar.watched(job):
            return None
        found = await self.kube.pods_of_job(ref.namespace, f"{KUBEFLOW_JOB_NAME}={ref.name}")
        pods = ar.pods_of(job, found)
        names = sorted({p["spec"]["nodeName"] for p in pods if p["spec"].get("nodeName")})
        got = await asyncio.gather(*(self.kube.node(n) for n in names))
        nodes = {n: node for n, node in zip(names, got, strict=True) if node is not None}
        for node in nodes.values():
            self._remember_cluster(node)
        return ar.plan_job(job, pods, nodes, now, lost)

    async def apply(self, action: ar.Action) -> None:
        assert self.kube is not None
        job = action.job
        if isinstance(action, ar.RestartJob):
            if not action.resumed:
                record = {
                    AUTO_RESUME_RESTARTS: str(action.attempt),
                    AUTO_RESUME_HANDLED_PODS: ",".join(action.handled),
                }
                meta = {"resourceVersion": job.resource_version, "annotations": record}
                await self.kube.patch_job(job.namespace, job.name, {"metadata": meta})
            await self._delete(action.pods)
            await self.kube.event(job.namespace, self._event(action, f"{action.attempt}"))
            if not action.resumed:
                log.warning("auto-resume: %s", action.reason)
                metrics.current().job_restarted(job.namespace, job.name, action.attempt)
                self._lost = {u: v for u, v in self._lost.items() if u not in action.handled}
                await self._cluster_events(action, "Warn")
            return
        if action.status is not None:
            await self.kube.patch_job(job.namespace, job.name, action.status, status=True)
        await self._delete(action.pods)
        await self.kube.event(job.namespace, self._event(action, "failed"))
        if action.status is not None:
            log.warning("auto-resume: %s", action.reason)
            await self._cluster_events(action, "Error")

    async def _delete(self, pods: tuple[ar.PodRef, ...]) -> None:
        assert self.kube is not None
        kube = self.kube
        await asyncio.gather(*(kube.delete_pod(p.namespace, p.name, p.uid) for p in pods))

    def _event(self, action: ar.Action, suffix: str) -> dict[str, Any]:
        job, stamp = action.job, ar.iso(self.clock())
        reason = RESTART_REASON if isinstance(action, ar.RestartJob) else ar.FAILED_REASON
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{job.name}.{job.uid[:8]}.auto-resume-{suffix}",
                "namespace": job.namespace,
            },
            "involvedObject": {
                "apiVersion": f"{KUBEFLOW_GROUP}/{KUBEFLOW_VERSION}",
                "kind": PYTORCHJOB_KIND,
                "name": job.name,
                "namespace": job.namespace,
                "uid": job.uid,
            },
            "reason": reason,
            "message": action.reason[:1024],
            "type": "Warning",
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }

    async def _cluster_events(self, action: ar.Action, level: str) -> None:
        """One HyperPod cluster event per faulted node of a HyperPod cluster. Best effort: a
        failure to record one never undoes or repeats the restart."""
        if self.record_cluster_event is None:
            return
        if isinstance(action, ar.RestartJob):
            outcome = (
                "restarting the whole job on healthy nodes "
                f"(auto-resume restart {action.attempt} of {action.max_retries})"
            )
        else:
            outcome = "its auto-resume restarts are used up, so the job failed"
        for fault in action.faults:
            cluster = self._clusters.get(fault.node)
            instance = ids.instance_id_of_node(fault.node)
            if not cluster or instance is None:
                continue
            text = f"PyTorchJob {action.job}: {fault.detail}; {outcome}"
            try:
                await self.record_cluster_event(cluster, instance, level, text)
            except Exception:
                log.exception("auto-resume: recording a cluster event failed")


def _health(node: dict[str, Any]) -> tuple[object, ...]:
    """What of a node auto-resume looks at: a change here wakes a pass (heartbeats do not)."""
    labels = node["metadata"].get("labels") or {}
    conditions = (node.get("status") or {}).get("conditions") or []
    ready = next((c.get("status") for c in conditions if c.get("type") == "Ready"), None)
    taints = tuple(sorted(t.get("key", "") for t in (node.get("spec") or {}).get("taints") or []))
    return labels.get(HEALTH), ready, taints
