"""The preflight inside the server: CreateCluster and UpdateCluster call ``ctx.preflight``
(:func:`make_preflight`), which runs every rule against the local account with the in-process
transport and refuses the request (:class:`Invalid`, a ValidationException) when a requirement
is not met. Warnings come back as text for the cluster's events.

The live-cluster facts come from the EKS reconciler: it stores each ACTIVE cluster's
``KubeSnapshot.to_doc()`` (plus ``observed_at``) as the record ``eks:observed`` (scope
``<account>/<region>``, key the EKS cluster name). Without one the live checks say "not
inspected yet" (warnings).

The composition root turns enforcement on by giving ``Services.preflight`` a
:func:`make_preflight` callable; without it (the default) nothing is checked.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from podwarden.checks.collect import collect, eks_name, eks_reference
from podwarden.checks.transport import in_process
from podwarden.control.context import Context, Operations, Preflight
from podwarden.logic.kube_snapshot import KubeSnapshot
from podwarden.logic.preflight import Report
from podwarden.logic.preflight_facts import Unknown
from podwarden.logic.preflight_rules import evaluate
from podwarden.model.aws import arns, kinds
from podwarden.model.errors import Invalid
from podwarden.policy.preflight import load_tables

# the services the preflight reads (``checks.collect.OPERATIONS_USED``)
SERVICES = ("eks", "ec2", "iam", "sts")
NOT_OBSERVED = "the EKS reconciler has not observed it yet"


def observed(ctx: Context, name: str | Unknown) -> KubeSnapshot | Unknown:
    if isinstance(name, Unknown):
        return Unknown("no EKS cluster to inspect")
    rec = ctx.store.resources.get(kinds.EKS_OBSERVED, ctx.scope, name)
    if rec is None:
        return Unknown(NOT_OBSERVED)
    return KubeSnapshot.from_doc(rec.doc)


def local_eks_name(ctx: Context, request: Mapping[str, Any]) -> str | Unknown:
    """The request's EKS cluster when it is in the caller's account and Region (HyperPod
    attaches to an EKS cluster of its own account and Region)."""
    name = eks_name(request)
    arn = eks_reference(request)
    found = arns.parse_eks_cluster(arn or "")
    if found is not None and (found.account, found.region) != (ctx.account, ctx.region):
        return Unknown(
            f"{arn} is in account {found.account}, Region {found.region}; this request is for "
            f"account {ctx.account}, Region {ctx.region}",
            missing=True,
        )
    return name


def check(
    ctx: Context,
    request: Mapping[str, Any],
    operations: Mapping[str, Operations],
    *,
    local_agent: bool = False,
) -> Report:
    name = local_eks_name(ctx, request)
    facts = collect(
        in_process(ctx, {s: operations[s] for s in SERVICES}),
        request,
        name,
        kube=observed(ctx, name),
        local_agent=local_agent,
        account=ctx.account,
        region=ctx.region,
    )
    return evaluate(facts, load_tables())


def enforce(
    ctx: Context,
    request: dict[str, Any],
    operations: Mapping[str, Operations],
    *,
    local_agent: bool = False,
) -> list[str]:
    """Refuse ``request`` (Invalid, naming every failed requirement with its evidence) or
    return the warnings to record as cluster events."""
    report = check(ctx, request, operations, local_agent=local_agent)
    if not report.ok:
        raise Invalid(report.refusal())
    return report.warning_texts()


def make_preflight(operations: Mapping[str, Operations], *, local_agent: bool = False) -> Preflight:
    """What ``Services.preflight`` takes. ``operations``: the API's operation table (the
    preflight reads the local account through the same handlers, in process). ``local_agent``:
    podwarden's in-server health agent serves the simulated nodes (``podwarden up``/``serve``
    without ``--no-agent``), which meets the health-agent requirement (R16)."""
    return functools.partial(enforce, operations=operations, local_agent=local_agent)
