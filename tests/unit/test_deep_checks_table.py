"""The deep-checks table (policy/tables/deep_checks.yaml) and its loader."""

from __future__ import annotations

import botocore.session  # type: ignore[import-untyped]
import pytest

from podwarden.policy.deep_checks import load_deep_checks, parse_deep_checks
from podwarden.policy.yaml_tables import TableError

GOOD = """\
schema_version: 1
checks:
  A: {scope: node, duration: 1.0}
  B: {scope: group, duration: 0.5, requires: {min_nodes: 2, accelerators: [gpu], efa: true}}
"""


def test_every_deep_health_check_type_of_the_model_is_in_the_table() -> None:
    model = botocore.session.get_session().get_service_model("sagemaker")
    types = model.shape_for("DeepHealthCheckType").enum
    assert list(load_deep_checks().checks) == types  # and in the model's order: run order


def test_the_packaged_table_says_what_aws_documents() -> None:
    table = load_deep_checks()
    stress = table.checks["InstanceStress"]
    mntv = table.checks["MultiNodeTrainingValidation"]
    # the ~2 h of the instance-level stress test is the reconciler's deep_check_duration itself
    assert (stress.scope, stress.duration, stress.requires.min_nodes) == ("node", 1.0, 1)
    assert table.checks["InstanceConnectivity"].scope == "node"
    assert mntv.together and mntv.requires.min_nodes == 2 and mntv.requires.efa
    assert mntv.requires.accelerators == frozenset({"gpu", "neuron"})


def test_ordered_keeps_run_order_and_drops_repeats() -> None:
    table = parse_deep_checks(GOOD, "t.yaml")
    assert table.ordered(["B", "A", "B", "X"]) == ("A", "B", "X")
    assert table.checks["B"].requires.accelerators == frozenset({"gpu"})
    assert table.checks["A"].requires.accelerators == frozenset({"gpu", "neuron", "cpu"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "schema_version: 2\nchecks: {A: {scope: node, duration: 1}}\n",
            "schema_version must be 1",
        ),
        ("schema_version: 1\nchecks: {}\n", "checks must be a non-empty mapping"),
        (
            "schema_version: 1\nchecks: {A: {scope: pod, duration: 1}}\n",
            "check 'A', field 'scope': expected one of node, group",
        ),
        (
            "schema_version: 1\nchecks: {A: {scope: node, duration: 0}}\n",
            "check 'A', field 'duration': expected a number > 0",
        ),
        (
            "schema_version: 1\nchecks: {A: {scope: node}}\n",
            "check 'A', field 'duration': missing required field",
        ),
        (
            "schema_version: 1\nchecks: {A: {scope: node, duration: 1, when: x}}\n",
            "check 'A', field 'when': unknown field",
        ),
        (
            "schema_version: 1\nchecks: {A: {scope: node, duration: 1, requires: {min_nodes: 0}}}\n",
            "min_nodes must be an integer >= 1",
        ),
        (
            "schema_version: 1\nchecks: {A: {scope: node, duration: 1, requires: {accelerators: [tpu]}}}\n",
            "accelerators must be a list of cpu, gpu, neuron",
        ),
        (
            "schema_version: 1\nchecks: {A: {scope: node, duration: 1, requires: {efa: 1}}}\n",
            "efa must be true or false",
        ),
        (
            "schema_version: 1\nchecks: {A: {scope: node, duration: 1, requires: {gpus: 1}}}\n",
            "field 'requires': expected a mapping of accelerators, efa, min_nodes",
        ),
        (
            "schema_version: 1\nextra: 1\nchecks: {A: {scope: node, duration: 1}}\n",
            "unknown top-level key 'extra'",
        ),
    ],
)
def test_a_broken_table_is_refused_saying_where(text: str, message: str) -> None:
    with pytest.raises(TableError, match=r"^t\.yaml") as err:
        parse_deep_checks(text, "t.yaml")
    assert message in str(err.value)
