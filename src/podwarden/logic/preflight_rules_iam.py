"""Preflight rules about each instance group's ExecutionRole: it exists and trusts SageMaker
(R7), it has AmazonSageMakerClusterInstanceRolePolicy or permissions allowing every action of
it (R7), and it is not a role EKS-managed nodes use (R9)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from podwarden.logic.iam_patterns import action_matches
from podwarden.logic.preflight import Outcome, Rule, failed, listed, passed, skipped, warned
from podwarden.logic.preflight_facts import Facts, Role, Unknown
from podwarden.logic.preflight_rules_eks import eks_of
from podwarden.policy.preflight import Tables

NO_GROUPS = "the request has no instance groups"


def _roles(facts: Facts) -> list[tuple[str, list[str], Role | Unknown]]:
    return [
        (arn, groups, facts.roles.get(arn, Unknown("not read")))
        for arn, groups in facts.execution_roles().items()
    ]


def _who(arn: str, groups: list[str]) -> str:
    return f"{arn} (instance group{'s' if len(groups) > 1 else ''} {', '.join(groups)})"


def role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def execution_role_trust(facts: Facts, tables: Tables) -> Outcome:
    roles = _roles(facts)
    if not roles:
        return skipped(NO_GROUPS)
    service = tables.preflight.execution_role.trusted_service
    problems: list[str] = []
    unread: list[str] = []
    good: list[str] = []
    for arn, groups, role in roles:
        if isinstance(role, Unknown):
            line = f"ExecutionRole {_who(arn, groups)}: {role.reason}"
            (problems if role.missing else unread).append(line)
        elif service not in role.trusted_services:
            trusted = listed(role.trusted_services)
            problems.append(f"ExecutionRole {_who(arn, groups)} trusts {trusted}, not {service}")
        else:
            good.append(f"{role.name} trusts {service}")
    if problems:
        return failed(
            problems,
            f"Create the role with a trust policy allowing {service} to call sts:AssumeRole "
            "(aws iam create-role, or aws iam update-assume-role-policy for an existing one).",
        )
    return warned(unread + good) if unread else passed(*good)


def document_actions(document: Mapping[str, Any]) -> list[str]:
    """The actions a policy document's Allow statements name (``Action``, not ``NotAction``)."""
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    out: list[str] = []
    for st in statements:
        if st.get("Effect") != "Allow":
            continue
        actions = st.get("Action", [])
        out += [actions] if isinstance(actions, str) else list(actions)
    return out


def uncovered(required: Iterable[str], role: Role) -> list[str]:
    """The required actions the role's policies do not allow (or explicitly deny)."""
    return [
        a
        for a in dict.fromkeys(required)
        if not any(action_matches(p, a) for p in role.allowed)
        or any(action_matches(p, a) for p in role.denied)
    ]


def execution_role_policy(facts: Facts, tables: Tables) -> Outcome:
    roles = _roles(facts)
    if not roles:
        return skipped(NO_GROUPS)
    name = tables.preflight.execution_role.managed_policy
    managed = tables.managed_policies.get(name)
    required = document_actions(managed.document) if managed else []
    problems, good, notes, names = [], [], [], []
    for arn, groups, role in roles:
        if isinstance(role, Unknown):
            notes.append(f"{arn}: not checked (see execution-role-trust)")
            continue
        if any(p.endswith(f":policy/{name}") for p in role.attached):
            good.append(f"{role.name} has {name} attached")
            continue
        missing = uncovered(required, role)
        if not missing and required:
            good.append(f"{role.name} allows every action of {name}")
            continue
        line = f"ExecutionRole {_who(arn, groups)} does not have {name} attached"
        if required:
            line += (
                f" and does not allow {len(missing)} of its {len(dict.fromkeys(required))} "
                f"actions: {listed(missing[:5])}"
                + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            )
        problems.append(line)
        names.append(role.name)
        problems += [f"{role.name}: policy {u}" for u in role.unread]
    if problems:
        return failed(
            problems,
            f"aws iam attach-role-policy --role-name {names[0] if len(names) == 1 else '<role>'} "
            f"--policy-arn arn:aws:iam::aws:policy/{name}",
        )
    return passed(*good, *notes)


def _node_roles(facts: Facts, tables: Tables) -> tuple[dict[str, list[str]], list[str]]:
    """Roles EKS-managed nodes use (why each is one), and notes on what could not be read."""
    eks = eks_of(facts)
    node_roles: dict[str, list[str]] = {}
    notes: list[str] = []
    if eks is None:
        return node_roles, notes
    if isinstance(eks.node_group_roles, Unknown):
        notes.append(f"node groups not listed ({eks.node_group_roles.reason})")
    else:
        for arn in eks.node_group_roles:
            node_roles.setdefault(arn, []).append("the nodeRole of a managed node group")
    if isinstance(eks.access_entries, Unknown):
        notes.append(f"access entries not listed ({eks.access_entries.reason})")
    else:
        for arn, kind in eks.access_entries.items():
            if kind in tables.preflight.execution_role.node_entry_types:
                node_roles.setdefault(arn, []).append(f"the principal of an {kind} access entry")
    return node_roles, notes


def execution_role_not_node_role(facts: Facts, tables: Tables) -> Outcome:
    roles = _roles(facts)
    if not roles:
        return skipped(NO_GROUPS)
    rules = tables.preflight.execution_role
    node_roles, notes = _node_roles(facts, tables)
    problems, warnings, good = [], [], []
    for arn, groups, role in roles:
        if arn in node_roles:
            problems.append(f"ExecutionRole {_who(arn, groups)} is {' and '.join(node_roles[arn])}")
            continue
        if isinstance(role, Role):
            node_policies = [
                p for p in role.attached if any(p.endswith(f"/{n}") for n in rules.node_policies)
            ]
            if node_policies:
                warnings.append(
                    f"ExecutionRole {_who(arn, groups)} has {listed(node_policies)} attached, "
                    "the policy of EKS node roles"
                )
                continue
        good.append(f"{role_name(arn)} is not an EKS node role")
    fix = (
        "Give HyperPod instance groups their own role based on the IAM role for SageMaker "
        "HyperPod, and keep the Amazon EKS node IAM role for EKS nodes."
    )
    if problems:
        return failed(problems, fix)
    if warnings:
        return warned(warnings + notes, fix)
    return passed(*good, *notes)


RULES = (
    Rule(
        "execution-role-trust",
        "R7",
        "Each instance group's ExecutionRole exists and trusts sagemaker.amazonaws.com.",
        execution_role_trust,
    ),
    Rule(
        "execution-role-policy",
        "R7",
        "Each ExecutionRole has AmazonSageMakerClusterInstanceRolePolicy or allows every "
        "action of it.",
        execution_role_policy,
    ),
    Rule(
        "execution-role-not-node-role",
        "R9",
        "No ExecutionRole is the role of EKS-managed nodes.",
        execution_role_not_node_role,
    ),
)
