"""training.auto_resume_watch.WatchedSet: the view a list-then-watch keeps, and its index by name."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from podwarden.kube.training_jobs import Listing
from podwarden.logic.node_view import health_view
from podwarden.training.auto_resume_watch import Change, Keep, WatchedSet

WAIT_S = 10.0


def node(name: str, version: str, ready: str = "True") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "resourceVersion": version, "uid": f"uid-{name}"},
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }


class OneRound:
    """A Kubernetes that lists ``items`` once, then streams ``events`` and holds the watch."""

    def __init__(self, items: list[dict[str, Any]], events: list[tuple[str, Any]]) -> None:
        self.items, self.events = items, events
        self.streamed = asyncio.Event()

    async def listing(self, kind: str) -> Listing:
        return Listing(list(self.items), "1")

    async def watch(
        self, kind: str, resource_version: str, seconds: int
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        for event in self.events:
            yield event
        self.streamed.set()
        await asyncio.Event().wait()  # until cancelled


def watched(
    items: list[dict[str, Any]],
    events: list[tuple[str, Any]],
    *,
    on_change: Change = lambda old, new: None,
    keep: Keep | None = None,
) -> WatchedSet:
    """The set after its list and every event."""
    kube = OneRound(items, events)
    view = WatchedSet(kube, "nodes", on_change, keep=keep)  # type: ignore[arg-type]

    async def run() -> None:
        task = asyncio.create_task(view.run())
        await asyncio.wait_for(kube.streamed.wait(), WAIT_S)
        task.cancel()

    asyncio.run(run())
    return view


def test_by_name_follows_the_list_and_every_event() -> None:
    a1, b1, c1 = node("a", "1"), node("b", "1"), node("c", "1")
    a2, d1 = node("a", "2", ready="False"), node("d", "1")
    view = watched([a1, b1, c1], [("MODIFIED", a2), ("DELETED", b1), ("ADDED", d1)])
    assert view.by_name() == {"a": a2, "c": c1, "d": d1}
    assert view.by_name() == {o["metadata"]["name"]: o for o in view.objects.values()}
    assert view.by_name() is view.by_name()  # kept as events arrive, not built per call
    assert view.synced


def test_a_deleted_node_that_was_never_seen_changes_nothing_known() -> None:
    a1 = node("a", "1")
    view = watched([a1], [("DELETED", node("ghost", "5"))])
    assert view.by_name() == {"a": a1}


def test_a_node_gone_from_a_relist_leaves_the_index() -> None:
    a1, b1 = node("a", "1"), node("b", "1")
    kube = OneRound([a1, b1], [])
    view = WatchedSet(kube, "nodes", lambda old, new: None)  # type: ignore[arg-type]

    async def twice() -> None:
        task = asyncio.create_task(view.run())
        await asyncio.wait_for(kube.streamed.wait(), WAIT_S)
        task.cancel()
        kube.items, kube.streamed = [b1], asyncio.Event()  # the next round's list lacks "a"
        task = asyncio.create_task(view.run())
        await asyncio.wait_for(kube.streamed.wait(), WAIT_S)
        task.cancel()

    asyncio.run(twice())
    assert view.by_name() == {"b": b1}


def test_a_watched_set_keeps_what_keep_makes_of_each_listed_and_watched_object() -> None:
    """Auto-resume's nodes: each as ``logic.node_view.health_view`` makes it, and every change
    reported as views."""
    a1, b1 = kwok_node("a", "1"), kwok_node("b", "1")
    a2 = kwok_node("a", "2", ready="False")
    seen: list[tuple[Any, Any]] = []
    changes = [("MODIFIED", a2), ("DELETED", b1)]
    view = watched([a1, b1], changes, keep=health_view, on_change=lambda *c: seen.append(c))
    assert view.by_name() == {"a": health_view(a2)}
    assert list(view.objects.values()) == [health_view(a2)]
    assert "capacity" not in view.by_name()["a"]["status"]
    assert seen[-2:] == [(health_view(a1), health_view(a2)), (health_view(b1), None)]


def kwok_node(name: str, version: str, ready: str = "True") -> dict[str, Any]:
    """``node`` with what a kwok node also has, which the view leaves out."""
    whole = node(name, version, ready)
    whole["metadata"]["managedFields"] = [{"manager": "kwok", "operation": "Update"}]
    whole["status"]["capacity"] = {"cpu": "192", "nvidia.com/gpu": "8"}
    whole["status"]["nodeInfo"] = {"kubeletVersion": "kwok-v0.7.0"}
    return whole
