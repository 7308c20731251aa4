"""HyperPodPyTorchJobs and their pods through ``kubernetes.aio``: what podwarden's HyperPod
training operator (``training.hpto``) reads and writes. Plain dicts in and out; HTTP errors
become the domain errors of ``model.errors`` (``kube.nodes.check_response``).

- is the training operator installed (its CRD, its Deployment in ``aws-hyperpod``)?
- the jobs, their pods (every pod labelled ``HPJob``) and the nodes, listed once per pass;
- pods created (an existing one is left as it is: names are deterministic), deleted (with no
  grace period when their node cannot confirm it), relabelled;
- a job's status written with its resourceVersion as a precondition, so a pass planned on a
  stale read changes nothing (``Conflict``);
- Events about a job, and kwok ``Logs`` objects that point a pod's logs at a file.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import ClientError
from kubernetes.aio import client

from podwarden.kube.nodes import check_response
from podwarden.kube.objects import KubeObjects
from podwarden.model import jobs
from podwarden.model.errors import Conflict, TemporaryError

COMPONENT = "hp-training-operator"
JOB_API_VERSION = f"{jobs.HPTO_GROUP}/{jobs.HPTO_VERSION}"


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


class KubeHyperPodJobs:
    def __init__(self, api: Any) -> None:
        self._core = client.CoreV1Api(api)
        self._apps = client.AppsV1Api(api)
        self._custom = client.CustomObjectsApi(api)
        self._objects = KubeObjects(api)

    async def _call(self, what: str, call: Any, *, ok: tuple[int, ...] = ()) -> tuple[int, Any]:
        """Run one ``*_without_preload_content`` call: (HTTP status, decoded JSON body)."""
        try:
            resp = await call
            body = await check_response(resp, what, ok_statuses=ok)
        except ClientError as exc:
            raise TemporaryError(f"{what}: {exc}") from exc
        return resp.status, json.loads(body) if body else {}

    # ------------------------------------------------------------ is the operator installed

    async def crd_installed(self) -> bool:
        crd = await self._objects.get("CustomResourceDefinition", "", jobs.HPTO_CRD)
        return crd is not None

    async def apply_crd(self, manifest: dict[str, Any]) -> None:
        await self._objects.apply(manifest)

    async def operator_deployed(self) -> bool:
        name, ns = jobs.HPTO_OPERATOR, jobs.HPTO_NAMESPACE
        call = self._apps.read_namespaced_deployment_without_preload_content(name, ns)
        status, _ = await self._call(f"read Deployment {ns}/{name}", call, ok=(404,))
        return status != 404

    async def operator_pods(self) -> list[dict[str, Any]]:
        """The operator's pods, as ``hyp get-operator-logs`` finds them."""
        ns, selector = jobs.HPTO_NAMESPACE, jobs.HPTO_CONTROL_PLANE_LABEL
        call = self._core.list_namespaced_pod_without_preload_content(ns, label_selector=selector)
        _, body = await self._call(f"list pods {ns} {selector}", call)
        items: list[dict[str, Any]] = body.get("items", [])
        return items

    # ------------------------------------------------------------ what a pass reads

    async def jobs(self) -> list[dict[str, Any]]:
        call = self._custom.list_custom_object_for_all_namespaces_without_preload_content(
            jobs.HPTO_GROUP, jobs.HPTO_VERSION, jobs.HPTO_PLURAL
        )
        _, body = await self._call(f"list {jobs.HPTO_PLURAL}", call)
        items: list[dict[str, Any]] = body.get("items", [])
        return items

    async def job_pods(self) -> list[dict[str, Any]]:
        call = self._core.list_pod_for_all_namespaces_without_preload_content(
            label_selector=jobs.HPTO_JOB_LABEL
        )
        _, body = await self._call(f"list pods {jobs.HPTO_JOB_LABEL}", call)
        items: list[dict[str, Any]] = body.get("items", [])
        return items

    async def nodes(self) -> list[dict[str, Any]]:
        _, body = await self._call("list nodes", self._core.list_node_without_preload_content())
        items: list[dict[str, Any]] = body.get("items", [])
        return items

    # ------------------------------------------------------------ pods

    async def create_pod(self, manifest: dict[str, Any]) -> bool:
        """Create a pod; False when one of that name exists already (left as it is).

        The manifest goes to the apiserver as it is, not through the client's typed V1Pod: the
        template is the user's (``hyp`` writes quantities as numbers, ``nvidia.com/gpu: 1``,
        which the API accepts and the typed model refuses), and the typed model would drop
        pod fields newer than the client."""
        meta = manifest["metadata"]
        what = f"create pod {meta['namespace']}/{meta['name']}"
        status, _ = await self._call(what, self._post(meta["namespace"], manifest), ok=(409,))
        return status != 409

    async def _post(self, namespace: str, manifest: dict[str, Any]) -> Any:
        api = self._core.api_client
        request = await api.param_serialize(
            method="POST",
            resource_path="/api/v1/namespaces/{namespace}/pods",
            path_params={"namespace": namespace},
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            body=manifest,
            auth_settings=["BearerToken"],
        )
        return (await api.call_api(*request, _preload_content=False)).response

    async def delete_pod(self, namespace: str, name: str, *, force: bool) -> None:
        """Delete a pod; ``force``: with no grace period (its node is gone or NotReady, so no
        kubelet would confirm a graceful deletion). One that is gone counts as deleted."""
        call = self._core.delete_namespaced_pod_without_preload_content(
            name, namespace, grace_period_seconds=0 if force else None
        )
        await self._call(f"delete pod {namespace}/{name}", call, ok=(404,))

    async def label_pod(self, namespace: str, name: str, labels: dict[str, str]) -> None:
        call = self._core.patch_namespaced_pod_without_preload_content(
            name,
            namespace,
            {"metadata": {"labels": labels}},
            _content_type="application/merge-patch+json",
        )
        await self._call(f"label pod {namespace}/{name}", call)

    # ------------------------------------------------------------ the job

    async def write_status(self, job: dict[str, Any], status: dict[str, Any]) -> None:
        """Replace the job's status, if the job is still the one read (its resourceVersion);
        ``Conflict`` when it changed meanwhile."""
        meta = job["metadata"]
        old = job.get("status") or {}
        patch = {
            "metadata": {"resourceVersion": meta["resourceVersion"]},
            "status": {**{k: None for k in old if k not in status}, **status},
        }
        call = self._custom.patch_namespaced_custom_object_status_without_preload_content(
            jobs.HPTO_GROUP,
            jobs.HPTO_VERSION,
            meta["namespace"],
            jobs.HPTO_PLURAL,
            meta["name"],
            patch,
            _content_type="application/merge-patch+json",
        )
        what = f"write status of {jobs.HPTO_KIND} {meta['namespace']}/{meta['name']}"
        code, _ = await self._call(what, call, ok=(409,))
        if code == 409:
            raise Conflict(f"{what}: the job changed since it was read")

    async def event(self, job: dict[str, Any], reason: str, message: str, *, warning: bool) -> None:
        """A core/v1 Event about the job, in its namespace (``kubectl describe`` shows it)."""
        meta, now = job["metadata"], _iso(time.time())
        body = client.CoreV1Event.from_dict(
            {
                "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
                "involvedObject": {
                    "apiVersion": JOB_API_VERSION,
                    "kind": jobs.HPTO_KIND,
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "uid": meta["uid"],
                },
                "reason": reason,
                "message": message[:1024],
                "type": "Warning" if warning else "Normal",
                "source": {"component": COMPONENT},
                "firstTimestamp": now,
                "lastTimestamp": now,
                "count": 1,
            }
        )
        assert body is not None
        call = self._core.create_namespaced_event_without_preload_content(meta["namespace"], body)
        await self._call(f"create event {reason}", call)

    # ------------------------------------------------------------ logs of simulated pods

    async def point_logs(self, pod: dict[str, Any], path: str) -> bool:
        """Make kwok serve ``path`` as the logs of every container of ``pod`` (a ``Logs``
        object named as the pod); False when kwok's Logs CRD is not installed."""
        meta = pod["metadata"]
        containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
        body = {
            "apiVersion": f"{jobs.KWOK_GROUP}/{jobs.KWOK_VERSION}",
            "kind": "Logs",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "spec": {"logs": [{"containers": containers, "logsFile": path, "follow": True}]},
        }
        call = self._custom.create_namespaced_custom_object_without_preload_content(
            jobs.KWOK_GROUP, jobs.KWOK_VERSION, meta["namespace"], jobs.KWOK_LOGS, body
        )
        what = f"create Logs {meta['namespace']}/{meta['name']}"
        status, _ = await self._call(what, call, ok=(404, 409))
        return status != 404
