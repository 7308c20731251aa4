"""Nodes through ``kubernetes.aio``: list by label, create, patch labels and taints, delete.

The ``*_without_preload_content`` calls skip the typed models (1,000 nodes decode several times
faster as plain JSON) and do not raise on HTTP errors, so every answer goes through ``_check``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import ClientError, ClientResponse
from kubernetes.aio import client, config

from podwarden.model.errors import NotFound, TemporaryError, TerminalError

# answers that retrying the same request cannot change (bad request, forbidden, invalid)
PERMANENT = frozenset({400, 403, 405, 415, 422})


async def check_response(
    resp: ClientResponse, what: str, *, ok_statuses: tuple[int, ...] = ()
) -> bytes:
    body = await resp.read()
    resp.release()
    if resp.status < 300 or resp.status in ok_statuses:
        return body
    detail = body[:300].decode("utf-8", "replace")
    if resp.status == 404:
        raise NotFound(f"{what}: not found ({detail})")
    if resp.status in PERMANENT:
        raise TerminalError(f"{what}: the Kubernetes API refused it (HTTP {resp.status}): {detail}")
    raise TemporaryError(f"{what}: HTTP {resp.status}: {detail}", delay=1.0)


async def server_side_apply(
    patch: Callable[..., Awaitable[Any]],
    *args: str,
    body: dict[str, Any],
    what: str,
    field_manager: str = "podwarden",
) -> None:
    """Server-side apply ``body`` through a generated ``patch_*_without_preload_content`` call
    (``args``: what it takes before the body: group, version, namespace, plural, name as the
    call needs), forced, as ``field_manager``: one idempotent call that creates or updates."""
    try:
        resp = await patch(
            *args,
            body,
            field_manager=field_manager,
            force=True,
            _content_type="application/apply-patch+yaml",
        )
        await check_response(resp, what)
    except ClientError as exc:
        raise TemporaryError(f"{what}: {exc}") from exc


async def read_object(
    read: Callable[..., Awaitable[ClientResponse]], *args: str, what: str
) -> dict[str, Any] | None:
    """The object a generated ``read_*_without_preload_content`` call (``args``: what it takes:
    name, then namespace where the kind has one) answers, or None when there is none (404)."""
    try:
        resp = await read(*args)
        body = await check_response(resp, what, ok_statuses=(404,))
    except ClientError as exc:
        raise TemporaryError(f"{what}: {exc}") from exc
    if resp.status == 404:
        return None
    found: dict[str, Any] = json.loads(body)
    return found


async def api_client(kubeconfig: Path) -> Any:
    """A ``kubernetes.aio`` ``ApiClient`` for the current context of ``kubeconfig``; the caller
    closes it. Its aiohttp session does not trust the environment: with ``trust_env`` aiohttp
    looks up proxy variables and reads ``~/.netrc`` for every request (a thread hop and a file
    read each: 4-5 % of podwarden serve's CPU during a 1,000-node scale-up, py-spy), and the
    apiservers podwarden talks to are its own, on loopback, never behind a proxy."""
    configuration = client.Configuration()
    await config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig), client_configuration=configuration
    )
    configuration.client_session_kwargs = {"trust_env": False}
    return client.ApiClient(configuration=configuration)


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


class KubeNodes:
    def __init__(self, api: Any) -> None:
        self._api = api
        self._core = client.CoreV1Api(api)
        self.api = api  # shared with the other resource clients (KubePods)

    @classmethod
    async def from_kubeconfig(cls, path: Path) -> KubeNodes:
        return cls(await api_client(path))

    async def close(self) -> None:
        await self._api.close()

    async def list(self, label_selector: str) -> list[dict[str, Any]]:
        what = f"list nodes {label_selector}"
        try:
            resp = await self._core.list_node_without_preload_content(label_selector=label_selector)
            body = json.loads(await check_response(resp, what))
        except ClientError as exc:
            raise TemporaryError(f"{what}: {exc}") from exc
        items: list[dict[str, Any]] = body.get("items", [])
        return items

    async def get(self, name: str) -> dict[str, Any]:
        try:
            resp = await self._core.read_node_without_preload_content(name)
            node: dict[str, Any] = json.loads(await check_response(resp, f"read node {name}"))
        except ClientError as exc:
            raise TemporaryError(f"read node {name}: {exc}") from exc
        return node

    async def event(
        self,
        node: str,
        *,
        reason: str,
        message: str,
        warning: bool,
        component: str,
        first_seen: float | None = None,
    ) -> None:
        """Record a core/v1 Event (in the default namespace) about a node."""
        now = time.time()
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{node}.", "namespace": "default"},
            "involvedObject": {"kind": "Node", "name": node, "apiVersion": "v1"},
            "reason": reason,
            "message": message[:1024],
            "type": "Warning" if warning else "Normal",
            "source": {"component": component, "host": node},
            "firstTimestamp": _iso(first_seen if first_seen is not None else now),
            "lastTimestamp": _iso(now),
            "count": 1,
        }
        event = client.CoreV1Event.from_dict(body)
        assert event is not None
        try:
            resp = await self._core.create_namespaced_event_without_preload_content(
                "default", event
            )
            await check_response(resp, "create event")
        except ClientError as exc:
            raise TemporaryError(f"create event: {exc}") from exc

    async def create(self, manifest: dict[str, Any]) -> None:
        """Create a node; one that exists already is left as it is (idempotent)."""
        name = manifest["metadata"]["name"]
        node = client.V1Node.from_dict(manifest)
        assert node is not None
        try:
            resp = await self._core.create_node_without_preload_content(node)
            await check_response(resp, f"create node {name}", ok_statuses=(409,))
        except ClientError as exc:
            raise TemporaryError(f"create node {name}: {exc}") from exc

    async def patch(self, name: str, patch: dict[str, Any]) -> None:
        """JSON merge patch (RFC 7386) of a node: lists such as taints are replaced whole, and a
        label set to None is removed."""
        try:
            resp = await self._core.patch_node_without_preload_content(
                name, patch, _content_type="application/merge-patch+json"
            )
            await check_response(resp, f"patch node {name}")
        except ClientError as exc:
            raise TemporaryError(f"patch node {name}: {exc}") from exc

    async def patch_status(
        self, name: str, patch: dict[str, Any], *, merge_conditions: bool = False
    ) -> None:
        """Patch a node's status subresource. JSON merge patch replaces the conditions list;
        ``merge_conditions`` uses a strategic merge patch, which merges conditions by type."""
        kind = "strategic-merge-patch" if merge_conditions else "merge-patch"
        try:
            resp = await self._core.patch_node_status_without_preload_content(
                name, patch, _content_type=f"application/{kind}+json"
            )
            await check_response(resp, f"patch status of node {name}")
        except ClientError as exc:
            raise TemporaryError(f"patch status of node {name}: {exc}") from exc

    async def delete(self, name: str) -> None:
        """Delete a node; one that is gone already counts as deleted."""
        try:
            resp = await self._core.delete_node_without_preload_content(name)
            await check_response(resp, f"delete node {name}", ok_statuses=(404,))
        except ClientError as exc:
            raise TemporaryError(f"delete node {name}: {exc}") from exc
