"""The agent of the simulated nodes follows the node watch (agent/watch_rules.py): an injected
fault is handled on its watch event, a (re)list assesses every node, and a resync re-assesses
only the nodes whose verdict can change without a new signal."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

import pytest

from podwarden.agent import watch_rules
from podwarden.agent.exporter import metadata_patch
from podwarden.agent.inject import signal_for
from podwarden.agent.service import LocalHealthAgent
from podwarden.agent.sources.simulated import inject_patch
from podwarden.kube.informer import OnEvent
from podwarden.logic.faults import Signal, assess, classify
from podwarden.model.labels import (
    COMPUTE_TYPE,
    DEEP_HEALTH,
    FAULT_DETAILS,
    HEALTH,
    INJECT_LABEL,
    INSTANCE_TYPE,
    PENDING_REBOOT,
    PENDING_REPLACEMENT,
    SCHEDULABLE,
)
from podwarden.policy.fault_policy import load_policy
from podwarden.providers import local

POLICY = load_policy()
NOW = 100_000.0
WINDOW = 3600.0  # the shipped policy's window of xid-79 and xid-13
GPU, CPU = "ml.g5.xlarge", "ml.c5.large"
DEADLINE = 5.0  # seconds any wait below allows before it fails, saying what it awaited


def node(name: str, instance_type: str = GPU, **labels: str) -> dict[str, Any]:
    """A node as podwarden launches it: healthy, no taints."""
    base = {INSTANCE_TYPE: instance_type, COMPUTE_TYPE: "hyperpod", HEALTH: SCHEDULABLE}
    return {
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "resourceVersion": "1",
            "labels": {**base, **labels},
            "annotations": {},
        },
        "spec": {},
        "status": {},
    }


def apply(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A merge patch of labels, annotations and taints, as the API server applies it."""
    out = copy.deepcopy(current)
    meta = out["metadata"]
    for key in ("labels", "annotations"):
        for k, v in patch.get("metadata", {}).get(key, {}).items():
            if v is None:
                meta[key].pop(k, None)
            else:
                meta[key][k] = v
    if "taints" in patch.get("spec", {}):
        out["spec"]["taints"] = patch["spec"]["taints"]
    meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
    return out


def faulted(name: str, xid: int, at: float, instance_type: str = GPU) -> dict[str, Any]:
    """A node as the agent left it after a fault at ``at`` (its verdict then)."""
    fault = classify(Signal(at=at, xid=xid, device="0000:b9:00"), POLICY)
    assert fault is not None
    fresh = node(name, instance_type)
    return apply(fresh, metadata_patch(fresh, assess([fault], POLICY, at)))


def injected(name: str, instance_type: str = GPU, **kind: Any) -> dict[str, Any]:
    return apply(node(name, instance_type), inject_patch([], signal_for(at=NOW, **kind)))


def due(n: dict[str, Any], now: float = NOW) -> float | None:
    monitored = n["metadata"]["labels"][INSTANCE_TYPE] != CPU
    return watch_rules.due_at(n, POLICY, now, monitored)


# ---- the rule: which nodes a resync re-assesses, and when -------------------------------------


def test_a_healthy_node_is_never_due() -> None:
    assert due(node("n")) is None


def test_a_quarantined_node_is_due_when_its_fault_leaves_the_window() -> None:
    n = faulted("n", 79, at=NOW - 10)
    assert n["metadata"]["labels"][HEALTH] == PENDING_REPLACEMENT
    assert due(n) == NOW - 10 + WINDOW
    assert due(faulted("n", 13, at=NOW - 10)) == NOW - 10 + WINDOW  # an event-only fault too


def test_a_fault_past_its_window_makes_the_node_due_now() -> None:
    assert due(faulted("n", 79, at=NOW - WINDOW - 1)) == NOW  # a restarted agent's stale verdict


@pytest.mark.parametrize(
    "stale",
    [
        {"metadata": {"labels": {HEALTH: "Unschedulable"}}},  # a verdict with no fault behind it
        {"metadata": {"labels": {HEALTH: None}}},  # no health label at all
        {"spec": {"taints": [{"key": HEALTH, "value": "Unschedulable", "effect": "NoSchedule"}]}},
        {"metadata": {"annotations": {FAULT_DETAILS: "not json"}}},
    ],
)
def test_a_node_the_agent_would_write_to_is_due_now(stale: dict[str, Any]) -> None:
    assert due(apply(node("n"), stale)) == NOW


def test_a_requested_recovery_is_not_due() -> None:
    """A recovery asked for by label (no fault behind it) is the reconciler's, not the agent's."""
    assert due(node("n", **{HEALTH: PENDING_REBOOT})) is None


def test_a_node_under_deep_checks_is_held_until_they_end() -> None:
    checking = {HEALTH: "Unschedulable", DEEP_HEALTH: "InProgress"}
    assert due(apply(node("n"), {"metadata": {"labels": checking}})) is None
    info = faulted("n", 13, at=NOW - 10)  # a recorded fault that does not quarantine
    assert due(apply(info, {"metadata": {"labels": checking}})) is None


def test_types_the_agent_does_not_monitor_are_never_due_but_injections_are_consumed() -> None:
    """R17 (docs/requirements.md): GPU and Trainium only."""
    assert due(faulted("n", 79, at=NOW - WINDOW - 1, instance_type=CPU)) is None
    assert due(injected("n", CPU, xid=79)) == NOW
    assert due(injected("n", GPU, xid=79)) == NOW


# ---- the agent on a watched cache -------------------------------------------------------------


class FakeWatch:
    """``LocalInstances`` as the agent reads it: a cache and its listeners."""

    def __init__(self, *nodes: dict[str, Any]) -> None:
        self.nodes = {n["metadata"]["name"]: n for n in nodes}
        self.listeners: list[tuple[OnEvent, Callable[[], None]]] = []

    def cached(self) -> list[dict[str, Any]]:
        return list(self.nodes.values())

    def listen(self, on_event: OnEvent, on_list: Callable[[], None]) -> Callable[[], None]:
        self.listeners.append((on_event, on_list))
        on_list()  # already listed
        return lambda: self.listeners.remove((on_event, on_list))

    def event(self, kind: str, n: dict[str, Any]) -> None:
        self.nodes[n["metadata"]["name"]] = n
        for on_event, _ in self.listeners:
            on_event(kind, n)


class FakeKube:
    """KubeNodes as the agent writes through it; it never lists."""

    def __init__(self) -> None:
        self.patches: list[tuple[str, dict[str, Any]]] = []
        self.events: list[tuple[str, str]] = []
        self.written = asyncio.Event()

    async def patch(self, name: str, patch: dict[str, Any]) -> None:
        self.patches.append((name, patch))
        self.written.set()

    async def patch_status(self, name: str, patch: dict[str, Any], **_: Any) -> None:
        pass

    async def event(self, node: str, *, reason: str, **_: Any) -> None:
        self.events.append((node, reason))

    async def list(self, selector: str) -> list[dict[str, Any]]:
        raise AssertionError(f"the agent listed nodes ({selector})")


def agent(kube: FakeKube, watch: FakeWatch, clock: list[float], resync: float) -> LocalHealthAgent:
    return LocalHealthAgent(
        kube,  # type: ignore[arg-type]
        watch,
        POLICY,
        lambda instance_type: instance_type != CPU,
        lambda _instance_type: 1,
        clock=lambda: clock[0],
        resync=resync,
    )


async def until(done: Callable[[], bool], what: str) -> None:
    for _ in range(int(DEADLINE / 0.01)):
        if done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within {DEADLINE} s: {what}")


async def written(kube: FakeKube, what: str) -> None:
    try:
        await asyncio.wait_for(kube.written.wait(), DEADLINE)
    except TimeoutError:
        raise AssertionError(f"no patch within {DEADLINE} s: awaited {what}") from None
    kube.written.clear()


def test_an_injected_fault_is_handled_on_its_watch_event_without_a_resync() -> None:
    watch, kube, clock = FakeWatch(node("a"), node("b")), FakeKube(), [NOW]

    async def run() -> None:
        a = agent(kube, watch, clock, resync=3600)
        task = asyncio.create_task(a.run())
        await until(lambda: bool(watch.listeners) and not a.pending, "the first pass")
        watch.event("MODIFIED", injected("b", xid=79))
        await written(kube, "the injected node quarantined")
        task.cancel()

    asyncio.run(run())
    ((name, patch),) = kube.patches
    assert name == "b" and patch["metadata"]["labels"][HEALTH] == PENDING_REPLACEMENT
    assert patch["metadata"]["labels"][INJECT_LABEL] is None  # the injection is consumed
    assert kube.events == [("b", "XidGpuFallenOffBus")]


def test_the_first_pass_clears_a_stale_verdict_from_the_cache() -> None:
    """A restarted agent: every node is assessed once from the watch's list, none listed."""
    stale = faulted("stale", 79, at=NOW - WINDOW - 1)
    watch, kube, clock = (
        FakeWatch(node("ok"), stale, faulted("fresh", 79, NOW - 5)),
        FakeKube(),
        [NOW],
    )

    async def run() -> None:
        task = asyncio.create_task(agent(kube, watch, clock, resync=3600).run())
        await written(kube, "the stale verdict cleared")
        task.cancel()

    asyncio.run(run())
    ((name, patch),) = kube.patches
    assert name == "stale" and patch["metadata"]["labels"][HEALTH] == SCHEDULABLE
    assert patch["metadata"]["annotations"][FAULT_DETAILS] is None


def test_a_resync_re_assesses_only_the_nodes_that_are_due() -> None:
    recent, older = faulted("recent", 79, NOW - 60), faulted("older", 13, NOW - 600)
    hand = apply(node("hand"), {"metadata": {"labels": {HEALTH: "Unschedulable"}}})
    cpu = apply(node("cpu", CPU), {"metadata": {"labels": {HEALTH: "Unschedulable"}}})
    watch = FakeWatch(*(node(f"n{i}") for i in range(50)), recent, older, hand, cpu)
    a = agent(FakeKube(), watch, [NOW], resync=5)
    a.watched.listen(a.on_event, a.on_list)
    assert set(a.due_now(NOW)) == {"hand"}
    assert set(a.due_now(NOW - 600 + WINDOW + 1)) == {"hand", "older"}
    assert set(a.due_now(NOW - 60 + WINDOW + 1)) == {"hand", "older", "recent"}
    watch.event("MODIFIED", node("hand"))  # the verdict was corrected: nothing left to do
    watch.event("DELETED", older)
    assert set(a.due_now(NOW + 2 * WINDOW)) == {"recent"}


def test_a_resync_clears_a_fault_once_it_ages_out() -> None:
    watch, kube, clock = FakeWatch(faulted("n", 79, NOW - 10)), FakeKube(), [NOW]

    async def run() -> None:
        task = asyncio.create_task(agent(kube, watch, clock, resync=0.01).run())
        await asyncio.sleep(0.05)  # resyncs inside the window write nothing
        assert kube.patches == []
        clock[0] = NOW - 10 + WINDOW + 1
        await written(kube, "the aged-out fault cleared")
        task.cancel()

    asyncio.run(run())
    assert kube.patches[0][1]["metadata"]["labels"][HEALTH] == SCHEDULABLE


def test_an_injection_on_a_type_not_monitored_is_only_consumed() -> None:
    watch, kube, clock = FakeWatch(node("cpu", CPU)), FakeKube(), [NOW]

    async def run() -> None:
        a = agent(kube, watch, clock, resync=3600)
        task = asyncio.create_task(a.run())
        await until(lambda: bool(watch.listeners) and not a.pending, "the first pass")
        watch.event("MODIFIED", injected("cpu", CPU, xid=79))
        await written(kube, "the injection consumed")
        task.cancel()

    asyncio.run(run())
    ((_, patch),) = kube.patches
    assert patch["metadata"]["labels"] == {INJECT_LABEL: None}
    assert kube.events == []


# ---- one watch of the nodes per Kubernetes, shared with the agent -----------------------------


class FakeInformer:
    def __init__(self, *nodes: dict[str, Any]) -> None:
        self.objects = {n["metadata"]["uid"]: n for n in nodes}
        self.synced = asyncio.Event()
        self.runs = 0

    async def run(
        self, wake: Callable[[], None], on_event: OnEvent, on_list: Callable[[], None]
    ) -> None:
        self.runs += 1
        self.synced.set()
        on_list()
        changed = apply(node("a"), {"metadata": {"labels": {INJECT_LABEL: "true"}}})
        self.objects[changed["metadata"]["uid"]] = changed
        on_event("MODIFIED", changed)


def test_local_instances_shares_its_node_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    informer = FakeInformer(node("a"))
    monkeypatch.setattr(local, "node_informer", lambda _api, _selector: informer)
    monkeypatch.setattr(local, "KubePods", lambda _api: None)
    instances = local.LocalInstances(type("Nodes", (), {"api": None})())
    seen: list[str] = []

    def broken(_kind: str, _node: dict[str, Any]) -> None:
        raise RuntimeError("a listener's own failure")

    instances.listen(broken, lambda: None)
    stop = instances.listen(
        lambda kind, n: seen.append(f"{kind} {n['metadata']['name']}"), lambda: seen.append("list")
    )
    changed: list[str | None] = []
    asyncio.run(instances.watch(changed.append))
    assert informer.runs == 1
    assert seen == ["list", "MODIFIED a"]
    assert changed == [None, None]  # the reconciler still hears of the list and of the change
    stop()
    late: list[str] = []
    instances.listen(lambda *_: None, lambda: late.append("list"))  # listed already: at once
    assert late == ["list"]
