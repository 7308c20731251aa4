"""What a request for deep health checks must meet: OnStartDeepHealthChecks of CreateCluster and
UpdateCluster, and StartClusterHealthCheck's configurations, by ``policy/tables/deep_checks.yaml``
(an instance type a check does not run on, fewer instances checked together than a multi-node
check needs). AWS publishes no message for these: the messages are podwarden's, in the style of
the other ValidationExceptions (docs/sources.md, "Deep health check types").

Pure: specifications, records and the tables in; problems and the selection out. The handlers
raise the problems together as one ValidationException.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podwarden.logic.deep_checks import checked
from podwarden.model.cluster import Instance
from podwarden.policy.catalog import InstanceType
from podwarden.policy.deep_checks import CheckSpec, DeepCheckTable

# the catalog entry of an instance type; None: unknown (reported by the type rules)
Lookup = Callable[[str], InstanceType | None]
_KIND = {"gpu": "GPU", "neuron": "Trainium", "cpu": "CPU"}


def _type_problem(group: str, spec: CheckSpec, entry: InstanceType | None) -> str | None:
    need = spec.requires
    if entry is None or (
        entry.accelerator in need.accelerators and (entry.efa_interfaces > 0 or not need.efa)
    ):
        return None
    kinds = " or ".join(_KIND[k] for k in _KIND if k in need.accelerators)
    efa = " with EFA" if need.efa else ""
    return (
        f"Instance group {group}: {spec.name} is not supported on instance type {entry.name}; "
        f"it runs on {kinds} instance types{efa}."
    )


def on_start_problems(
    groups: Iterable[Mapping[str, Any]], lookup: Lookup, table: DeepCheckTable
) -> list[str]:
    """Problems of instance groups' OnStartDeepHealthChecks: an instance type a check does not
    run on, or an InstanceCount below what a multi-node check needs (0 is allowed: there is no
    instance to check)."""
    problems: list[str] = []
    for g in groups:
        name, count = g["InstanceGroupName"], int(g.get("InstanceCount", 0))
        entry = lookup(str(g.get("InstanceType", "")))
        for spec in checked(table, g.get("OnStartDeepHealthChecks") or []):
            if problem := _type_problem(name, spec, entry):
                problems.append(problem)
            if 0 < count < spec.requires.min_nodes:
                problems.append(
                    f"Instance group {name}: {spec.name} in OnStartDeepHealthChecks runs across "
                    f"at least {spec.requires.min_nodes} instances checked together; the "
                    f"InstanceCount is {count}."
                )
    return problems


@dataclass
class Selection:
    """The instances a StartClusterHealthCheck request checks: each one's checks (its group's
    configurations merged, in run order), the instances checked together with it by the
    multi-node checks (itself included), and the request's problems."""

    checks: dict[str, list[str]] = field(default_factory=dict)
    peers: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def select(
    configs: Sequence[Mapping[str, Any]],
    cluster: str,
    group_types: Mapping[str, str],
    instances: Sequence[Instance],
    *,
    lookup: Lookup,
    table: DeepCheckTable,
) -> Selection:
    """Merge the configurations (``group_types``: the cluster's groups and their instance
    types) and check them: groups and instances that exist, and each group's checks against
    its instance type and the number of instances checked together."""
    out = Selection()
    wanted: dict[str, list[str]] = {}  # instance id -> the checks asked for it
    groups: dict[str, None] = {}  # the groups with instances to check, in request order
    for config in configs:
        name = config["InstanceGroupName"]
        if name not in group_types:
            out.problems.append(f"Instance group {name} does not exist in cluster {cluster}.")
            continue
        members = [i.instance_id for i in instances if i.group == name]
        chosen = config.get("InstanceIds") or members
        out.problems += [
            f"Instance {i} is not in instance group {name}." for i in chosen if i not in members
        ]
        for iid in (i for i in chosen if i in members):
            wanted.setdefault(iid, []).extend(config["DeepHealthChecks"])
            groups[name] = None
    for name in groups:
        ids = [i.instance_id for i in instances if i.group == name and i.instance_id in wanted]
        _merge_group(out, name, ids, wanted, entry=lookup(group_types[name]), table=table)
    return out


def _merge_group(
    out: Selection,
    group: str,
    ids: list[str],
    wanted: Mapping[str, list[str]],
    *,
    entry: InstanceType | None,
    table: DeepCheckTable,
) -> None:
    """One group's instances: their merged checks and peers, and the group's problems."""
    for iid in ids:
        out.checks[iid] = list(table.ordered(wanted[iid]))
    every = table.ordered(c for iid in ids for c in out.checks[iid])
    for spec in checked(table, every):
        if problem := _type_problem(group, spec, entry):
            out.problems.append(problem)
        batch = [iid for iid in ids if spec.name in out.checks[iid]]
        if spec.together:
            for iid in batch:
                out.peers[iid] = sorted({*out.peers.get(iid, []), *batch})
        if len(batch) < spec.requires.min_nodes:
            out.problems.append(
                f"Instance group {group}: {spec.name} runs across at least "
                f"{spec.requires.min_nodes} instances checked together; the request selects "
                f"{len(batch)} ({', '.join(batch)})."
            )
