"""Every preflight rule, in report order, and :func:`evaluate`: facts -> report.

One rule per requirement of issue #5, each citing the founding document (docs/preflight.md has
the table): the EKS cluster (R2-R5, R8), networking (R2, R6, R14), execution roles (R7, R9),
instance groups (R10, R11, R19) and the live cluster (R10-R13, R16, R17).
"""

from __future__ import annotations

from podwarden.logic import (
    preflight_rules_eks,
    preflight_rules_groups,
    preflight_rules_iam,
    preflight_rules_live,
    preflight_rules_net,
)
from podwarden.logic.preflight import Report, Rule, run
from podwarden.logic.preflight_facts import EksCluster, Facts
from podwarden.policy.preflight import Tables

RULES: tuple[Rule, ...] = (
    *preflight_rules_eks.RULES,
    *preflight_rules_net.RULES,
    *preflight_rules_iam.RULES,
    *preflight_rules_groups.RULES,
    *preflight_rules_live.RULES,
)
BY_ID = {r.id: r for r in RULES}
assert len(BY_ID) == len(RULES), "duplicate preflight rule id"


def subject(facts: Facts) -> dict[str, str]:
    """What the report is about: the HyperPod cluster, the EKS cluster, account, Region."""
    out = {"account": facts.account, "region": facts.region}
    if facts.request is not None and facts.request.get("ClusterName"):
        out["cluster"] = str(facts.request["ClusterName"])
    if isinstance(facts.eks, EksCluster):
        out["eks_cluster"] = facts.eks.arn
    return {k: v for k, v in out.items() if v}


def evaluate(facts: Facts, tables: Tables) -> Report:
    return run(RULES, facts, tables, subject(facts))
