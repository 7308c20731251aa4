"""DaemonSets and Deployments through ``kubernetes.aio`` (what EKS add-ons install; their
namespaces, service accounts and CRDs through ``kube.objects``), and the apiserver's version.

Objects are applied with server-side apply (``application/apply-patch+yaml``, field manager
``podwarden``, forced): one idempotent call creates or updates, so a reconciler can repeat it.
Plain dicts go in and out (no typed models), as in ``kube.nodes``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from aiohttp import ClientError
from kubernetes.aio import client

from podwarden.kube.inspect import LiveSnapshot
from podwarden.kube.nodes import api_client, check_response, read_object, server_side_apply
from podwarden.kube.objects import KINDS as OBJECT_KINDS
from podwarden.kube.objects import KubeObjects
from podwarden.logic.kube_snapshot import KubeSnapshot
from podwarden.model.errors import TemporaryError

_PLURAL: Final = {"DaemonSet": "daemon_set", "Deployment": "deployment"}


class KubeWorkloads:
    def __init__(self, api: Any) -> None:
        self._api = api
        self._apps = client.AppsV1Api(api)
        self._version = client.VersionApi(api)
        self._objects = KubeObjects(api)
        self._live: LiveSnapshot | None = None  # started by the first snapshot()

    @classmethod
    async def from_kubeconfig(cls, path: Path) -> KubeWorkloads:
        return cls(await api_client(path))

    async def close(self) -> None:
        if self._live is not None:
            await self._live.stop()
            self._live = None
        await self._api.close()

    async def version(self) -> str:
        """The apiserver's ``gitVersion`` (``v1.32.9``)."""
        try:
            resp = await self._version.get_code_without_preload_content()
            info: dict[str, Any] = json.loads(await check_response(resp, "read version"))
        except ClientError as exc:
            raise TemporaryError(f"read version: {exc}") from exc
        return str(info["gitVersion"])

    async def snapshot(self) -> KubeSnapshot:
        """What the preflight needs to know of the live cluster, from caches the first call
        starts and :meth:`close` stops (``kube.inspect.LiveSnapshot``)."""
        if self._live is None:
            self._live = LiveSnapshot.of_api(self._api)
        return await self._live.read()

    async def apply(self, obj: dict[str, Any]) -> None:
        if obj["kind"] in OBJECT_KINDS:
            await self._objects.apply(obj)
            return
        kind, meta = obj["kind"], obj["metadata"]
        method = getattr(self._apps, f"patch_namespaced_{_PLURAL[kind]}_without_preload_content")
        what = f"apply {kind} {meta['namespace']}/{meta['name']}"
        await server_side_apply(method, meta["name"], meta["namespace"], body=obj, what=what)

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        """Delete an object; one that is gone already counts as deleted."""
        if kind in OBJECT_KINDS:
            await self._objects.delete(kind, namespace, name)
            return
        what = f"delete {kind} {namespace}/{name}"
        method = getattr(self._apps, f"delete_namespaced_{_PLURAL[kind]}_without_preload_content")
        try:
            resp = await method(name, namespace)
            await check_response(resp, what, ok_statuses=(404,))
        except ClientError as exc:
            raise TemporaryError(f"{what}: {exc}") from exc

    async def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        if kind in OBJECT_KINDS:
            return await self._objects.get(kind, namespace, name)
        method = getattr(self._apps, f"read_namespaced_{_PLURAL[kind]}_without_preload_content")
        return await read_object(method, name, namespace, what=f"read {kind} {namespace}/{name}")
