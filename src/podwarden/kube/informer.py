"""A list-then-watch cache of one kind of Kubernetes object (client-go's reflector, small).

``Informer`` lists, then watches from the list's resourceVersion with bookmarks, applies each
event to a dict by uid and tells its owner: ``wake()`` after every change (and after each list),
and, when given, ``on_event(type, object)`` for each watch event (``ADDED``, ``MODIFIED``,
``DELETED``). When the server ends the watch (``timeoutSeconds``) it watches again from the last
resourceVersion; when that is too old (HTTP 410, or an ERROR event with code 410) or the
connection fails it lists again, after a bounded backoff.

``keep`` reduces each object to what its owner reads, or to None to hold nothing of it (a cache
of a kind with many objects of which few matter, e.g. every pod); ``page`` lists in pages of
that many objects (``limit``/``continue``), so a large list is never held whole.
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
# what a cache holds of an object (None: nothing)
Keep = Callable[[dict[str, Any]], dict[str, Any] | None]

WATCH_SECONDS: Final = 240  # the server ends each watch after this; the client allows more
BACKOFF: Final = (0.2, 5.0)  # first and longest wait before listing again after a failure


class _Expired(Exception):
    """The watch's resourceVersion is too old: list again."""


class Informer:
    """A cache of one kind of object (by uid), kept by list and watch. ``objects`` is complete
    once ``synced`` is set; ``wake`` is called after every change."""

    def __init__(
        self,
        what: str,
        call: Callable[..., Any],
        *,
        keep: Keep | None = None,
        page: int | None = None,
        **params: Any,
    ) -> None:
        self.what = what
        self._call = call
        self._params = params
        self._keep = keep
        self._page = page
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
        objects: dict[str, dict[str, Any]] = {}
        token: str | None = None
        while True:
            paging = {"limit": self._page, "_continue": token} if self._page else {}
            resp = await self._call(**paging, **self._params)
            body = json.loads(await check_response(resp, f"list {self.what}"))
            for obj in body.get("items") or []:
                self._put(objects, obj)
            token = body["metadata"].get("continue") or None
            if token is None:
                break
        self.objects = objects
        self.synced.set()
        return str(body["metadata"]["resourceVersion"])

    def _put(self, objects: dict[str, dict[str, Any]], obj: dict[str, Any]) -> None:
        uid = obj["metadata"]["uid"]
        # no owner reads managedFields, often the largest part of an object (each field
        # manager's fields): a cache of 5,000 nodes is much smaller without them
        obj["metadata"].pop("managedFields", None)
        kept = obj if self._keep is None else self._keep(obj)
        if kept is None:
            objects.pop(uid, None)
        else:
            objects[uid] = kept

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
            if kind == "DELETED":
                self.objects.pop(obj["metadata"]["uid"], None)
            else:
                self._put(self.objects, obj)
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


class NameIndex:
    """The objects of an informer (a cluster-scoped kind, no ``keep``) by name, kept up to date
    by its ``on_list`` (:meth:`relist`) and ``on_event`` (:meth:`event`): finding an object by
    name costs no pass over every object."""

    def __init__(self, informer: Informer) -> None:
        self._informer = informer
        self.by_name: dict[str, dict[str, Any]] = {}

    def relist(self) -> None:
        self.by_name = {o["metadata"]["name"]: o for o in self._informer.objects.values()}

    def event(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        if kind != "DELETED":
            self.by_name[meta["name"]] = obj
        elif (self.by_name.get(meta["name"]) or {}).get("metadata", {}).get("uid") == meta["uid"]:
            del self.by_name[meta["name"]]  # not a newer object of the same name


def node_informer(api: Any, label_selector: str) -> Informer:
    """A cache of the nodes that ``label_selector`` picks."""
    call = client.CoreV1Api(api).list_node_without_preload_content
    return Informer(f"nodes {label_selector}", call, label_selector=label_selector)
