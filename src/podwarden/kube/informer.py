"""A list-then-watch cache of one kind of Kubernetes object (client-go's reflector, small).

``Informer`` lists, then watches from the list's resourceVersion with bookmarks, applies each
event to a dict by uid and tells its owner: ``wake()`` after every change (and after each list),
and, when given, ``on_event(type, object)`` for each watch event (``ADDED``, ``MODIFIED``,
``DELETED``). When the server ends the watch (``timeoutSeconds``) it watches again from the last
resourceVersion; when that is too old (HTTP 410, or an ERROR event with code 410) or the
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

from podwarden.kube.nodes import check_response
from podwarden.model.errors import PodwardenError, TemporaryError

log = logging.getLogger("podwarden.kube.informer")

# a watch event as the owner sees it: (ADDED | MODIFIED | DELETED, the object)
OnEvent = Callable[[str, dict[str, Any]], None]

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

    async def run(
        self,
        wake: Callable[[], None],
        on_event: OnEvent | None = None,
        on_list: Callable[[], None] | None = None,
    ) -> None:
        """List and watch until cancelled; ``on_list`` after each (re)list, which may have
        missed any number of events."""
        delay = BACKOFF[0]
        while True:
            try:
                version = await self._list()
                if on_list is not None:
                    on_list()
                wake()
                delay = BACKOFF[0]
                while True:
                    version = await self._watch(version, wake, on_event)
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

    async def _watch(self, version: str, wake: Callable[[], None], on_event: OnEvent | None) -> str:
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
            if on_event is not None:
                on_event(str(kind), obj)
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


def node_informer(api: Any, label_selector: str) -> Informer:
    """A cache of the nodes that ``label_selector`` picks."""
    call = client.CoreV1Api(api).list_node_without_preload_content
    return Informer(f"nodes {label_selector}", call, label_selector=label_selector)
