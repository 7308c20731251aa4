"""What the training simulator reads and writes in Kubernetes, through ``kubernetes.aio``:
watched caches of job pods and nodes, pod annotations, the jobs' checkpoint ConfigMaps and
kwok's ``Logs`` objects. Plain dicts in and out; HTTP errors become ``model.errors``.

``Informer`` is a list-then-watch cache (client-go's reflector, small): it lists, then watches
from the list's resourceVersion with bookmarks, applies each event to a dict by uid and wakes
its owner; when the server ends the watch (``timeoutSeconds``) it watches again from the last
resourceVersion, and when that is too old (HTTP 410, or an ERROR event with code 410) or the
connection fails it lists again, after a bounded backoff.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

from aiohttp import ClientError
from kubernetes.aio import client

from podwarden.kube.nodes import check_response, server_side_apply
from podwarden.model.errors import NotFound, PodwardenError, TemporaryError
from podwarden.model.jobs import KWOK_GROUP, KWOK_LOGS, KWOK_VERSION

log = logging.getLogger("podwarden.kube.training")

FIELD_MANAGER: Final = "podwarden-training"
WATCH_SECONDS: Final = 240  # the server ends each watch after this; the client allows more
BACKOFF: Final = (0.2, 5.0)  # first and longest wait before listing again after a failure


class _Expired(Exception):
    """The watch's resourceVersion is too old: list again."""


class Informer:
    """A cache of one kind of object (by uid), kept by list and watch. ``objects`` is complete
    once ``synced`` is set; ``wake`` is called after every change."""

    def __init__(self, what: str, call: Callable[..., Any], **params: Any) -> None:
        self.what = what
        self._call = call
        self._params = params
        self.objects: dict[str, dict[str, Any]] = {}
        self.synced = asyncio.Event()

    async def run(self, wake: Callable[[], None]) -> None:
        """List and watch until cancelled."""
        delay = BACKOFF[0]
        while True:
            try:
                version = await self._list()
                wake()
                delay = BACKOFF[0]
                while True:
                    version = await self._watch(version, wake)
            except _Expired:
                continue
            except (PodwardenError, ClientError, TimeoutError, ValueError, KeyError) as exc:
                log.warning("%s: %s; listing again in %.1f s", self.what, exc, delay)
                await asyncio.sleep(delay)
                delay = min(BACKOFF[1], delay * 2)

    async def _list(self) -> str:
        resp = await self._call(**self._params)
        body = json.loads(await check_response(resp, f"list {self.what}"))
        self.objects = {o["metadata"]["uid"]: o for o in body.get("items", [])}
        self.synced.set()
        return str(body["metadata"]["resourceVersion"])

    async def _watch(self, version: str, wake: Callable[[], None]) -> str:
        """One watch request; returns the resourceVersion to watch from next."""
        async for event in self._stream(version):
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise _Expired
                raise TemporaryError(f"watch {self.what}: {obj.get('message', obj)}")
            version = obj.get("metadata", {}).get("resourceVersion", version)
            if kind == "BOOKMARK":
                continue
            uid = obj["metadata"]["uid"]
            if kind == "DELETED":
                self.objects.pop(uid, None)
            else:
                self.objects[uid] = obj
            wake()
        return version

    async def _stream(self, version: str) -> AsyncIterator[dict[str, Any]]:
        resp = await self._call(
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=WATCH_SECONDS,
            _request_timeout=WATCH_SECONDS + 30,
            **self._params,
        )
        try:
            if resp.status == 410:
                raise _Expired
            if resp.status >= 300:
                await check_response(resp, f"watch {self.what}")
            pending = b""
            async for chunk in resp.content.iter_any():
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)
        finally:
            resp.release()


class TrainingKube:
    def __init__(self, api: Any) -> None:
        self._core = client.CoreV1Api(api)
        self._custom = client.CustomObjectsApi(api)

    def pods(self, label: str) -> Informer:
        """A cache of the pods (all namespaces) that carry ``label``."""
        call = self._core.list_pod_for_all_namespaces_without_preload_content
        return Informer(f"pods with {label}", call, label_selector=label)

    def nodes(self) -> Informer:
        return Informer("nodes", self._core.list_node_without_preload_content)

    async def annotate_pod(
        self, namespace: str, name: str, uid: str, annotations: dict[str, str]
    ) -> None:
        """Merge ``annotations`` into the pod; the uid in the patch is a precondition, so a
        pod that was replaced by one of the same name is left alone (NotFound/Conflict)."""
        what = f"annotate pod {namespace}/{name}"
        patch = {"metadata": {"uid": uid, "annotations": annotations}}
        try:
            resp = await self._core.patch_namespaced_pod_without_preload_content(
                name, namespace, patch, _content_type="application/merge-patch+json"
            )
            await check_response(resp, what)
        except ClientError as exc:
            raise TemporaryError(f"{what}: {exc}") from exc

    async def read_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        what = f"read ConfigMap {namespace}/{name}"
        try:
            resp = await self._core.read_namespaced_config_map_without_preload_content(
                name, namespace
            )
            found: dict[str, Any] = json.loads(await check_response(resp, what))
        except NotFound:
            return None
        except ClientError as exc:
            raise TemporaryError(f"{what}: {exc}") from exc
        return found

    async def apply_config_map(self, obj: dict[str, Any]) -> None:
        """Create or update a ConfigMap by server-side apply (idempotent)."""
        meta = obj["metadata"]
        await server_side_apply(
            self._core.patch_namespaced_config_map_without_preload_content,
            meta["name"],
            meta["namespace"],
            body=obj,
            what=f"apply ConfigMap {meta['namespace']}/{meta['name']}",
            field_manager=FIELD_MANAGER,
        )

    async def apply_logs(self, obj: dict[str, Any]) -> None:
        """Create or update a kwok ``Logs`` object (``kwok.x-k8s.io/v1alpha1``)."""
        meta = obj["metadata"]
        await server_side_apply(
            self._custom.patch_namespaced_custom_object_without_preload_content,
            KWOK_GROUP,
            KWOK_VERSION,
            meta["namespace"],
            KWOK_LOGS,
            meta["name"],
            body=obj,
            what=f"apply Logs {meta['namespace']}/{meta['name']}",
            field_manager=FIELD_MANAGER,
        )
