"""The preflight's collectors: one CreateCluster request (or just an EKS cluster) in,
:class:`~podwarden.logic.preflight_facts.Facts` out, through any :data:`Call` transport.

Every call goes through :func:`guarded`, which lets only the operations of
:data:`OPERATIONS_USED` through (all Describe/List/Get: a test checks), so the preflight cannot
change anything in the account it checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.checks import collect_aws, collect_eks
from podwarden.checks.transport import Call, CallFailed
from podwarden.logic.kube_snapshot import KubeSnapshot
from podwarden.logic.preflight_facts import Facts, Unknown
from podwarden.model.aws import arns
from podwarden.policy.preflight import load_preflight

OPERATIONS_USED = frozenset(
    {
        ("eks", "DescribeCluster"),
        ("eks", "ListAddons"),
        ("eks", "DescribeAddon"),
        ("eks", "ListAccessEntries"),
        ("eks", "DescribeAccessEntry"),
        ("eks", "ListNodegroups"),
        ("eks", "DescribeNodegroup"),
        ("eks", "ListPodIdentityAssociations"),
        ("ec2", "DescribeSubnets"),
        ("ec2", "DescribeRouteTables"),
        ("ec2", "DescribeSecurityGroups"),
        ("iam", "GetRole"),
        ("iam", "ListAttachedRolePolicies"),
        ("iam", "GetPolicy"),
        ("iam", "GetPolicyVersion"),
        ("iam", "ListRolePolicies"),
        ("iam", "GetRolePolicy"),
        ("iam", "ListOpenIDConnectProviders"),
        ("sts", "GetCallerIdentity"),
    }
)


def guarded(call: Call) -> Call:
    def checked(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        if (service, operation) not in OPERATIONS_USED:
            raise ValueError(f"the preflight does not call {service} {operation}")
        return call(service, operation, params)

    return checked


def eks_reference(request: Mapping[str, Any] | None) -> str | None:
    """Orchestrator.Eks.ClusterArn of a request, None when it has none."""
    orchestrator = (request or {}).get("Orchestrator") or {}
    arn = (orchestrator.get("Eks") or {}).get("ClusterArn")
    return str(arn) if arn else None


def eks_name(request: Mapping[str, Any] | None, override: str | None = None) -> str | Unknown:
    """The EKS cluster to check: ``override`` (``--eks-cluster``) or the request's ARN."""
    if override:
        return override
    arn = eks_reference(request)
    if arn is None:
        return Unknown("the request names no EKS cluster (Orchestrator.Eks.ClusterArn)", True)
    found = arns.parse_eks_cluster(arn)
    if found is None:
        return Unknown(f"{arn} is not an EKS cluster ARN", missing=True)
    return found.name


def account_of(call: Call) -> str:
    try:
        return str(call("sts", "GetCallerIdentity", {}).get("Account", ""))
    except CallFailed:
        return ""


def collect(
    call: Call,
    request: Mapping[str, Any] | None,
    eks: str | Unknown,
    *,
    kube: KubeSnapshot | Unknown,
    local_agent: bool = False,
    account: str = "",
    region: str = "",
) -> Facts:
    """The facts about ``request`` and EKS cluster ``eks`` (a name, or why there is none)."""
    call = guarded(call)
    cluster = eks if isinstance(eks, Unknown) else collect_eks.eks_cluster(call, eks)
    facts = Facts(request=request, eks=cluster, kube=kube, local_agent=local_agent)
    managed = load_preflight().execution_role.managed_policy
    return Facts(
        request=request,
        eks=cluster,
        subnets=collect_aws.subnets(call, (s for _, s in facts.subnet_uses())),
        security_groups=collect_aws.security_groups(
            call, (g for _, g in facts.security_group_uses())
        ),
        roles={arn: collect_aws.role(call, arn, managed) for arn in facts.execution_roles()},
        oidc_providers=collect_aws.oidc_providers(call),
        kube=kube,
        local_agent=local_agent,
        account=account or account_of(call),
        region=region,
    )
