"""The shipped training simulation table and kwok Stage set load exactly as start-up loads
them; a broken table fails at load naming the file and the field."""

from __future__ import annotations

import pytest
import yaml

from podwarden.model import jobs
from podwarden.policy import kwok_stages
from podwarden.policy.training_simulation import (
    POD_LINES,
    RUN_LINES,
    TABLE,
    Who,
    load_simulation,
    parse_simulation,
)
from podwarden.policy.yaml_tables import TableError, packaged


def test_shipped_table() -> None:
    sim = load_simulation()
    assert sim.defaults.steps > sim.defaults.checkpoint_every > 0
    assert set(sim.lines) == set(RUN_LINES) | set(POD_LINES)
    assert sim.lines["checkpoint_begin"].who == Who.RANK_ZERO
    assert sim.node_fault.exit_code >= 128  # retryable under Kubeflow's ExitCode policy
    assert sim.completed.exit_code == 0
    assert sim.overrides["steps"] == "PODWARDEN_TRAIN_STEPS"
    assert "PET_NNODES" in sim.nodes_from_env


def test_overrides_parse_and_bad_values_are_reported() -> None:
    sim = load_simulation()
    params, ignored = sim.params_for(
        {
            "PODWARDEN_TRAIN_STEPS": "50",
            "PODWARDEN_TRAIN_STEP_SECONDS": "0.05",
            "PODWARDEN_TRAIN_CHECKPOINT_EVERY": "0",
            "PODWARDEN_TRAIN_RESTART_SECONDS": "nan",
        }
    )
    assert (params.steps, params.step_seconds) == (50, 0.05)
    assert params.checkpoint_every == sim.defaults.checkpoint_every
    assert params.restart_seconds == sim.defaults.restart_seconds
    assert [(o.variable, o.problem) for o in ignored] == [
        ("PODWARDEN_TRAIN_CHECKPOINT_EVERY", "must be >= 1"),
        ("PODWARDEN_TRAIN_RESTART_SECONDS", "must be >= 0"),
    ]


def _shipped() -> dict[str, object]:
    data = yaml.safe_load(packaged(TABLE)[0])
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("defaults", "steps"), 0, "defaults, field 'steps': must be an integer >= 1"),
        (("defaults", "step_seconds"), 0, "field 'step_seconds': must be a number > 0"),
        (("defaults", "loss", "decay_steps"), 0, "defaults.loss, field 'decay_steps'"),
        (("overrides", "speed"), "X", "unknown parameter(s) speed"),
        (("exits", "node_fault", "exit_code"), 300, "exits.node_fault, field 'exit_code'"),
        (("lines", "step", "text"), "step {stp}", "lines.step, field 'text': unknown field {stp}"),
        (("lines", "step", "text"), "{loss:d}", "lines.step, field 'text': does not render"),
        (("lines", "step", "who"), "rank_one", "lines.step, field 'who'"),
        (("lines", "waiting", "who"), "every_pod", "lines.waiting: unknown field(s) who"),
        (("lines", "tea"), {"text": "x"}, "lines: unknown field(s) tea"),
    ],
)
def test_a_broken_table_names_file_and_field(
    path: tuple[str, ...], value: object, message: str
) -> None:
    data = _shipped()
    target: dict[str, object] = data
    for key in path[:-1]:
        nested = target[key]
        assert isinstance(nested, dict)
        target = nested
    target[path[-1]] = value
    with pytest.raises(TableError) as failure:
        parse_simulation(yaml.safe_dump(data), "tables/training_simulation.yaml")
    assert "tables/training_simulation.yaml" in str(failure.value)
    assert message in str(failure.value)


def test_kwok_stages_keep_kwoks_defaults_and_add_the_training_stages() -> None:
    stages = {s["metadata"]["name"]: s for s in kwok_stages.stages()}
    assert list(stages)[:3] == list(kwok_stages.BUILTIN_POD_STAGES)
    assert all(
        s["spec"]["resourceRef"] == {"apiGroup": "v1", "kind": "Pod"} for s in stages.values()
    )
    for name, phase in (
        ("podwarden-training-succeeded", "Succeeded"),
        ("podwarden-training-failed", "Failed"),
    ):
        selector = stages[name]["spec"]["selector"]["matchExpressions"]
        assert selector[0]["key"] == f'.metadata.annotations["{jobs.TRAINING_STATE}"]'
        assert selector[0]["values"] == [name.rsplit("-", 1)[1]]
        template = stages[name]["spec"]["next"]["statusTemplate"]
        assert f"phase: {phase}" in template
        for key in (jobs.TRAINING_EXIT_CODE, jobs.TRAINING_REASON, jobs.TRAINING_MESSAGE):
            assert f'"{key}"' in template
    # what the kwok config gets parses to the same documents
    assert [d for d in yaml.safe_load_all(kwok_stages.stages_yaml()) if d] == list(stages.values())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: Stage\napiVersion: v1\n", "document 1: field 'apiVersion'"),
        ("kind: KwokConfiguration\n", "document 1: expected kind: Stage"),
        (
            "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nmetadata: {name: pod-ready}\n"
            "spec: {resourceRef: {}, selector: {}}\n",
            "stage 'pod-ready': field 'spec.next'",
        ),
        (
            "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nmetadata: {name: pod-ready}\n"
            "spec: {resourceRef: {}, selector: {}, next: {}}\n",
            "kwok's default Pod stage(s) pod-complete, pod-delete missing",
        ),
    ],
)
def test_a_broken_stage_set_fails_at_load(text: str, message: str) -> None:
    with pytest.raises(TableError, match=r"kwok_pod_stages\.yaml") as failure:
        kwok_stages.parse_stages(text, "tables/kwok_pod_stages.yaml")
    assert message in str(failure.value)
