"""A pass of the training simulator (``TrainingSimulator.tick``) costs what the jobs' pods cost,
not what the cluster's nodes do (issue #14): nodes are found by name in an index the node watch
keeps (``kube.informer.NameIndex``), and judged (``node_fault``) only where a job's pod is bound
(``logic.training_jobs.job_node_faults``), with the same verdicts as judging every node.

The simulator runs over its caches filled by the test; Kubernetes writes go to a fake."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from podwarden.kube.informer import Informer, NameIndex
from podwarden.logic import training_jobs
from podwarden.logic.training_jobs import is_kwok, job_node_faults, job_pod, node_fault
from podwarden.model import jobs
from podwarden.model.labels import HEALTH, KWOK_ANNOTATION, PENDING_REPLACEMENT, SCHEDULABLE
from podwarden.training.simulator import TrainingSimulator
from tests.unit.test_training_plan import pod_manifest

NODES = 2_000


def node(name: str, *, kwok: bool = True, health: str = SCHEDULABLE) -> dict[str, Any]:
    annotations = dict([KWOK_ANNOTATION]) if kwok else {}
    return {
        "metadata": {
            "name": name,
            "uid": f"uid-{name}",
            "annotations": annotations,
            "labels": {HEALTH: health},
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def cluster() -> list[dict[str, Any]]:
    """``NODES`` kwok nodes ``n0``... (``n1`` to be replaced) and one that is not kwok's."""
    nodes = [node(f"n{i}") for i in range(NODES)]
    nodes[1] = node("n1", health=PENDING_REPLACEMENT)
    return [*nodes, node("real", kwok=False)]


class NoScan(dict[str, dict[str, Any]]):
    """An informer's objects that fail a pass over them: a tick must not make one."""

    def values(self) -> Any:
        raise AssertionError("a tick went over every node")

    items = values
    __iter__ = values


class FakeKube:
    """The simulator's writes, recorded."""

    def __init__(self) -> None:
        self.annotated: dict[str, dict[str, str]] = {}
        self.config_maps: list[dict[str, Any]] = []

    async def read_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        return None

    async def apply_config_map(self, obj: dict[str, Any]) -> None:
        self.config_maps.append(obj)

    async def apply_logs(self, obj: dict[str, Any]) -> None:
        pass

    async def annotate_pod(
        self, namespace: str, name: str, uid: str, annotations: dict[str, str]
    ) -> None:
        self.annotated[name] = annotations


def test_a_tick_judges_only_the_nodes_its_jobs_pods_are_bound_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    judged: list[str] = []

    def counted(name: str, n: Any) -> str | None:
        judged.append(name)
        return node_fault(name, n)

    monkeypatch.setattr(training_jobs, "node_fault", counted)
    sim = TrainingSimulator(object(), log_dir=tmp_path / "logs")
    kube = FakeKube()
    sim._kube = kube  # type: ignore[assignment]
    sim._nodes.objects = {n["metadata"]["uid"]: n for n in cluster()}
    sim._node_index.relist()  # what the node watch's list does
    sim._nodes.objects = NoScan(sim._nodes.objects)
    pods = [pod_manifest("llama-worker-0", "n0"), pod_manifest("llama-worker-1", "n1")]
    sim._pod_informers[0].objects = {p["metadata"]["uid"]: p for p in pods}

    asyncio.run(sim.tick(100.0))
    assert sorted(judged) == ["n0", "n1"]
    ended = kube.annotated["llama-worker-1"]
    assert ended[jobs.TRAINING_STATE] == jobs.TRAINING_FAILED
    assert f"node n1 is {PENDING_REPLACEMENT}" in ended[jobs.TRAINING_MESSAGE]
    assert "llama-worker-0" not in kube.annotated

    judged.clear()
    asyncio.run(sim.tick(101.0))
    assert sorted(judged) == ["n0", "n1"]


def test_job_node_faults_agree_with_judging_every_node() -> None:
    nodes = {n["metadata"]["name"]: n for n in cluster()}
    everything = {name: node_fault(name, n) for name, n in nodes.items() if is_kwok(n)}
    placed = ["n0", "n1", "n7", "real", "gone", None, "n0"]
    pods = [
        found
        for i, where in enumerate(placed)
        if (found := job_pod(pod_manifest(f"w-{i}", where))) is not None
    ]
    faults = job_node_faults(pods, nodes)
    assert set(faults) == {"n0", "n1", "n7"}
    for p in pods:
        assert (p.node in faults) == (p.node in everything)
        assert faults.get(str(p.node)) == everything.get(str(p.node))


def test_the_name_index_follows_lists_and_events() -> None:
    informer = Informer("nodes", lambda **_: None)
    index = NameIndex(informer)
    informer.objects = {"u-a": node("a"), "u-b": node("b")}
    index.relist()
    assert sorted(index.by_name) == ["a", "b"]
    index.event("MODIFIED", node("a", health=PENDING_REPLACEMENT))
    assert index.by_name["a"]["metadata"]["labels"][HEALTH] == PENDING_REPLACEMENT
    newer = {**node("b"), "metadata": {**node("b")["metadata"], "uid": "uid-b2"}}
    index.event("ADDED", newer)  # b re-created under its name...
    index.event("DELETED", node("b"))  # ...and the old one's deletion seen late
    assert index.by_name["b"]["metadata"]["uid"] == "uid-b2"
    index.event("DELETED", newer)
    index.event("ADDED", node("c"))
    assert sorted(index.by_name) == ["a", "c"]
