"""The Kubernetes calls of job auto-resume (``training.auto_resume``) through ``kubernetes.aio``:
Kubeflow PyTorchJobs (list, watch, get, patch, status), their pods (list, watch, delete), nodes
(list, watch, get), Events, the job-auto-restart RBAC, and the client that impersonates
HyperPod's service user.

Every call but the RBAC apply is made by a ``KubeTrainingJobs`` built on the impersonating
client, so the apiserver holds it to HyperPod's job-auto-restart ClusterRole (a call outside it
is a 403, a ``TerminalError``). Plain dicts in and out, as in ``kube.nodes``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import ClientError, ClientResponse
from kubernetes.aio import client

from podwarden.kube.nodes import check_response, read_object, server_side_apply
from podwarden.model.errors import TemporaryError
from podwarden.model.jobs import KUBEFLOW_GROUP, KUBEFLOW_VERSION, PYTORCHJOBS

IMPERSONATE_USER: Final = "Impersonate-User"
MERGE_PATCH: Final = "application/merge-patch+json"


def impersonating_client(api: Any, user: str) -> Any:
    """A second ``ApiClient`` on ``api``'s configuration (server, credentials) whose every
    request carries ``Impersonate-User: user``; the caller closes it. The admin may impersonate
    anyone, and the apiserver then authorizes each request as that user alone."""
    imp = client.ApiClient(api.configuration)
    imp.set_default_header(IMPERSONATE_USER, user)  # type: ignore[no-untyped-call]
    return imp


async def apply_cluster_rbac(api: Any, objects: Iterable[dict[str, Any]]) -> None:
    """Server-side apply (forced, field manager ``podwarden``) of ClusterRoles and
    ClusterRoleBindings: one idempotent call each, so it can run at every start."""
    rbac = client.RbacAuthorizationV1Api(api)
    methods = {
        "ClusterRole": rbac.patch_cluster_role_without_preload_content,
        "ClusterRoleBinding": rbac.patch_cluster_role_binding_without_preload_content,
    }
    for obj in objects:
        name, kind = obj["metadata"]["name"], obj["kind"]
        await server_side_apply(methods[kind], name, body=obj, what=f"apply {kind} {name}")


class WatchExpired(TemporaryError):
    """The watch's resourceVersion is too old (HTTP 410): list again."""


@dataclass(frozen=True)
class Listing:
    items: list[dict[str, Any]]
    resource_version: str


class KubeTrainingJobs:
    """The calls auto-resume makes; ``api`` is the impersonating client."""

    NODES: Final = "nodes"
    PODS: Final = "pods"
    JOBS: Final = PYTORCHJOBS

    def __init__(self, api: Any, *, pod_selector: str = "") -> None:
        self._core = client.CoreV1Api(api)
        self._custom = client.CustomObjectsApi(api)
        self._pod_selector = pod_selector

    def _lister(self, kind: str) -> Callable[..., Awaitable[ClientResponse]]:
        if kind == self.NODES:
            return self._core.list_node_without_preload_content
        if kind == self.PODS:
            core = self._core

            async def pods(**kw: Any) -> ClientResponse:
                return await core.list_pod_for_all_namespaces_without_preload_content(
                    label_selector=self._pod_selector, **kw
                )

            return pods
        custom = self._custom

        async def jobs(**kw: Any) -> ClientResponse:
            return await custom.list_cluster_custom_object_without_preload_content(
                KUBEFLOW_GROUP, KUBEFLOW_VERSION, PYTORCHJOBS, **kw
            )

        return jobs

    async def listing(self, kind: str) -> Listing:
        """Every object of ``kind`` (pods: those the pod selector picks) and the list's
        resourceVersion, where a watch starts."""
        what = f"list {kind}"
        try:
            body = json.loads(await check_response(await self._lister(kind)(), what))
        except ClientError as exc:
            raise TemporaryError(f"{what}: {exc}") from exc
        return Listing(body.get("items") or [], body["metadata"].get("resourceVersion", ""))

    async def watch(
        self, kind: str, resource_version: str, seconds: int
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """The changes to ``kind`` after ``resource_version``, as (ADDED | MODIFIED | DELETED |
        BOOKMARK, object), until the server ends the watch after ``seconds``. A
        resourceVersion too old raises ``WatchExpired``."""
        what = f"watch {kind}"
        try:
            resp = await self._lister(kind)(
                watch=True,
                resource_version=resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=seconds,
                _request_timeout=seconds + 30,
            )
            if resp.status >= 300:
                await check_response(resp, what)
            try:
                async for line in resp.content:
                    if line.strip():
                        yield _event(json.loads(line), what)
            finally:
                resp.release()
        except (ClientError, TimeoutError) as exc:
            raise TemporaryError(f"{what}: {exc}") from exc

    async def get_job(self, namespace: str, name: str) -> dict[str, Any]:
        what = f"read PyTorchJob {namespace}/{name}"
        try:
            resp = await self._custom.get_namespaced_custom_object_without_preload_content(
                KUBEFLOW_GROUP, KUBEFLOW_VERSION, namespace, PYTORCHJOBS, name
            )
            job: dict[str, Any] = json.loads(await check_response(resp, what))
        except ClientError as exc:
            raise TemporaryError(f"{what}: {exc}") from exc
        return job

    async def patch_job(
        self, namespace: str, name: str, patch: dict[str, Any], *, status: bool = False
    ) -> None:
        """JSON merge patch of a job (``status``: of its status subresource). A patch that
        names ``metadata.resourceVersion`` fails with a TemporaryError (409) when the job
        changed since: plan again from a fresh read."""
        what = f"patch {'status of ' if status else ''}PyTorchJob {namespace}/{name}"
        custom = self._custom
        method = (
            custom.patch_namespaced_custom_object_status_without_preload_content
            if status
            else custom.patch_namespaced_custom_object_without_preload_content
        )
        try:
            resp = await method(
                KUBEFLOW_GROUP,
                KUBEFLOW_VERSION,
                namespace,
                PYTORCHJOBS,
                name,
                patch,
                _content_type=MERGE_PATCH,
            )
            await check_response(resp, what)
        except ClientError as exc:
            raise TemporaryError(f"{what}: {exc}") from exc

    async def pods_of_job(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        what = f"list pods {selector} in {namespace}"
        try:
            resp = await self._core.list_namespaced_pod_without_preload_content(
                namespace, label_selector=selector
            )
            body = json.loads(await check_response(resp, what))
        except ClientError as exc:
            raise TemporaryError(f"{what}: {exc}") from exc
        items: list[dict[str, Any]] = body.get("items") or []
        return items

    async def delete_pod(self, namespace: str, name: str, uid: str) -> None:
        """Force-delete (grace period 0) the pod ``name`` if it is still the one with ``uid``:
        Kubeflow recreates pods under the same names, and a recreated one must stay. Gone
        already, or replaced (409), counts as deleted."""
        what = f"delete pod {namespace}/{name}"
        options = client.V1DeleteOptions.from_dict(
            {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}}
        )
        try:
            resp = await self._core.delete_namespaced_pod_without_preload_content(
                name, namespace, grace_period_seconds=0, body=options
            )
            await check_response(resp, what, ok_statuses=(404, 409))
        except ClientError as exc:
            raise TemporaryError(f"{what}: {exc}") from exc

    async def node(self, name: str) -> dict[str, Any] | None:
        """The node, or None when it does not exist."""
        read = self._core.read_node_without_preload_content
        return await read_object(read, name, what=f"read node {name}")

    async def event(self, namespace: str, body: dict[str, Any]) -> None:
        """Create a core/v1 Event; one of the same name exists already (409) counts as made,
        so an Event with a deterministic name is recorded once however often it is sent."""
        what = f"create event {namespace}/{body['metadata'].get('name', '')}"
        event = client.CoreV1Event.from_dict(body)
        assert event is not None
        try:
            resp = await self._core.create_namespaced_event_without_preload_content(
                namespace, event
            )
            await check_response(resp, what, ok_statuses=(409,))
        except ClientError as exc:
            raise TemporaryError(f"{what}: {exc}") from exc


def _event(event: dict[str, Any], what: str) -> tuple[str, dict[str, Any]]:
    kind, obj = event.get("type", ""), event.get("object") or {}
    if kind == "ERROR":
        code, message = obj.get("code"), obj.get("message", "")
        if code == 410:
            raise WatchExpired(f"{what}: {message}")
        raise TemporaryError(f"{what}: HTTP {code}: {message}")
    return kind, obj
