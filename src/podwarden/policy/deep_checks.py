"""The deep health checks (``tables/deep_checks.yaml``): schema and loader.

Per DeepHealthCheckType: whether its result is each node's own or one for the nodes checked
together (``scope``), its simulated duration as a multiple of the reconciler's
``deep_check_duration``, and what a request for it must meet (``requires``). A table that
breaks the schema fails at load with a :class:`TableError` naming the file, the check and the
field.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, cast

from podwarden.policy.yaml_tables import (
    KeyLines,
    compose_yaml,
    is_int,
    is_number,
    packaged,
)

TABLE = "deep_checks.yaml"
SCHEMA_VERSION = 1

Scope = Literal["node", "group"]
SCOPES: tuple[Scope, ...] = ("node", "group")
ACCELERATORS = frozenset({"gpu", "neuron", "cpu"})
_REQUIRES = frozenset({"min_nodes", "accelerators", "efa"})


@dataclass(frozen=True)
class Requirements:
    """What a request for a check must meet: how many instances are checked together, which
    accelerator kinds of the instance catalog, whether the type needs EFA."""

    min_nodes: int = 1
    accelerators: frozenset[str] = ACCELERATORS
    efa: bool = False


@dataclass(frozen=True)
class CheckSpec:
    name: str
    scope: Scope
    duration: float  # a multiple of the reconciler's deep_check_duration
    requires: Requirements

    @property
    def together(self) -> bool:
        """One result for the nodes checked together (a multi-node check)."""
        return self.scope == "group"


@dataclass(frozen=True)
class DeepCheckTable:
    source: str
    checks: Mapping[str, CheckSpec]  # in the order a run goes through them

    def ordered(self, names: Iterable[str]) -> tuple[str, ...]:
        """``names`` once each, in run order; names the table lacks go last, as given."""
        wanted = list(dict.fromkeys(names))
        known = [n for n in self.checks if n in wanted]
        return (*known, *(n for n in wanted if n not in self.checks))

    def spec(self, name: str) -> CheckSpec | None:
        return self.checks.get(name)


@functools.cache
def load_deep_checks() -> DeepCheckTable:
    """The packaged table, parsed once."""
    return parse_deep_checks(*packaged(TABLE))


def parse_deep_checks(text: str, source: str) -> DeepCheckTable:
    """Parse and check a deep-checks table; ``source`` names it in error messages."""
    node, data = compose_yaml(text, source)
    at = KeyLines(source, "checks", "check")
    at.scan(node)
    if not isinstance(data, dict):
        at.fail((), "expected a mapping with schema_version and checks")
    for key in sorted(map(str, set(data) - {"schema_version", "checks"})):
        at.fail((key,), f"unknown top-level key '{key}'")
    if data.get("schema_version") != SCHEMA_VERSION:
        at.fail(("schema_version",), f"schema_version must be {SCHEMA_VERSION}")
    entries = data.get("checks")
    if not isinstance(entries, dict) or not entries:
        at.fail(("checks",), "checks must be a non-empty mapping")
    checks = {str(name): _entry(str(name), raw, at) for name, raw in entries.items()}
    return DeepCheckTable(source=source, checks=MappingProxyType(checks))


def _entry(name: str, raw: object, at: KeyLines) -> CheckSpec:
    fields = at.fields(name, raw, frozenset({"scope", "duration"}), frozenset({"requires"}))
    scope = fields["scope"]
    if scope not in SCOPES:
        at.field(name, "scope", f"expected one of {', '.join(SCOPES)}, got {scope!r}")
    duration = fields["duration"]
    if not is_number(duration) or duration <= 0:
        at.field(name, "duration", f"expected a number > 0, got {duration!r}")
    return CheckSpec(
        name, cast(Scope, scope), float(duration), _requires(name, fields.get("requires"), at)
    )


def _requires(name: str, raw: object, at: KeyLines) -> Requirements:
    if raw is None:
        return Requirements()
    if not isinstance(raw, dict) or not raw or set(map(str, raw)) - _REQUIRES:
        at.field(name, "requires", f"expected a mapping of {', '.join(sorted(_REQUIRES))}")
    req = cast(dict[str, Any], raw)
    nodes = req.get("min_nodes", 1)
    if not is_int(nodes) or nodes < 1:
        at.field(name, "requires", f"min_nodes must be an integer >= 1, got {nodes!r}")
    kinds = req.get("accelerators", sorted(ACCELERATORS))
    if not isinstance(kinds, list) or not kinds or not set(kinds) <= ACCELERATORS:
        at.field(
            name, "requires", f"accelerators must be a list of {', '.join(sorted(ACCELERATORS))}"
        )
    efa = req.get("efa", False)
    if not isinstance(efa, bool):
        at.field(name, "requires", f"efa must be true or false, got {efa!r}")
    return Requirements(nodes, frozenset(kinds), efa)
