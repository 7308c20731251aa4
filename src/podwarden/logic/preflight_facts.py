"""The facts the preflight rules judge: what the collectors (``podwarden.checks.collect``) found
in EKS, EC2, IAM and the live cluster for one CreateCluster request.

Every fact that comes from a call may instead be :class:`Unknown`: the resource does not exist
(``missing``: a rule can fail on it) or it could not be read (an error, an operation the
endpoint does not serve, a live cluster not inspected: a rule warns). Plain data, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from podwarden.logic.kube_snapshot import KubeSnapshot

T = TypeVar("T")


@dataclass(frozen=True)
class Unknown:
    reason: str
    missing: bool = False  # the resource does not exist (else: it could not be read)


@dataclass(frozen=True)
class Addon:
    name: str
    version: str
    status: str


@dataclass(frozen=True)
class EksCluster:
    name: str
    arn: str
    status: str
    version: str
    authentication_mode: str
    ip_family: str
    vpc_id: str | None
    subnet_ids: tuple[str, ...] = ()
    oidc_issuer: str = ""
    addons: Mapping[str, Addon] | Unknown = field(default_factory=dict, hash=False)
    access_entries: Mapping[str, str] | Unknown = field(  # principal ARN -> type
        default_factory=dict, hash=False
    )
    node_group_roles: tuple[str, ...] | Unknown = ()  # managed node groups' nodeRole ARNs
    pod_identity_associations: tuple[str, ...] | Unknown = ()  # "namespace/serviceAccount"


@dataclass(frozen=True)
class Subnet:
    subnet_id: str
    vpc_id: str
    availability_zone: str
    ipv6_cidrs: tuple[str, ...]
    route_table: str  # the table in effect: the explicit association, else the VPC's main one
    internet_routes: tuple[str, ...]  # "<destination> -> <igw-id>" of active routes
    egress_only_routes: tuple[str, ...] = ()
    ipv6_only: bool = False  # no IPv4 CIDR block (EC2's Ipv6Native)


@dataclass(frozen=True)
class SecurityGroup:
    group_id: str
    vpc_id: str


@dataclass(frozen=True)
class Role:
    arn: str
    name: str
    trusted_services: tuple[str, ...]  # Service principals allowed sts:AssumeRole
    attached: tuple[str, ...]  # managed policy ARNs
    allowed: tuple[str, ...] = ()  # actions (patterns) Allowed by its policies
    denied: tuple[str, ...] = ()  # actions (patterns) Denied by its policies
    unread: tuple[str, ...] = ()  # policies whose document could not be read, with why


@dataclass(frozen=True)
class Facts:
    """``request`` is the CreateCluster request (for UpdateCluster: the cluster's members with
    the update's groups), None when only an EKS cluster is checked."""

    request: Mapping[str, Any] | None
    eks: EksCluster | Unknown
    subnets: Mapping[str, Subnet | Unknown] = field(default_factory=dict, hash=False)
    security_groups: Mapping[str, SecurityGroup | Unknown] = field(default_factory=dict, hash=False)
    roles: Mapping[str, Role | Unknown] = field(default_factory=dict, hash=False)
    oidc_providers: tuple[str, ...] | Unknown = ()  # IAM OIDC provider URLs (no https://)
    kube: KubeSnapshot | Unknown = Unknown("not inspected")
    local_agent: bool = False  # podwarden's in-server health agent serves the nodes
    account: str = ""
    region: str = ""

    # ------------------------------------------------------------ the request's parts

    def groups(self) -> list[Mapping[str, Any]]:
        """The request's instance groups (a file the CLI reads is not shape-checked: groups
        without a name are called "(unnamed)")."""
        groups = (self.request or {}).get("InstanceGroups") or []
        return [{"InstanceGroupName": "(unnamed)", **g} for g in groups if isinstance(g, Mapping)]

    def automatic_recovery(self) -> bool:
        """NodeRecovery Automatic (absent counts as None, as the reconciler reads it)."""
        return (self.request or {}).get("NodeRecovery") == "Automatic"

    def cluster_subnets(self) -> tuple[str, ...]:
        return tuple(((self.request or {}).get("VpcConfig") or {}).get("Subnets") or [])

    def cluster_security_groups(self) -> tuple[str, ...]:
        return tuple(((self.request or {}).get("VpcConfig") or {}).get("SecurityGroupIds") or [])

    def subnet_uses(self) -> Iterator[tuple[str, str]]:
        """(where, subnet id) of every subnet the request names: VpcConfig, then each group's
        OverrideVpcConfig."""
        for s in self.cluster_subnets():
            yield "VpcConfig", s
        for g in self.groups():
            for s in (g.get("OverrideVpcConfig") or {}).get("Subnets") or []:
                yield f"instance group {g['InstanceGroupName']} OverrideVpcConfig", s

    def security_group_uses(self) -> Iterator[tuple[str, str]]:
        for sg in self.cluster_security_groups():
            yield "VpcConfig", sg
        for g in self.groups():
            for sg in (g.get("OverrideVpcConfig") or {}).get("SecurityGroupIds") or []:
                yield f"instance group {g['InstanceGroupName']} OverrideVpcConfig", sg

    def execution_roles(self) -> dict[str, list[str]]:
        """ExecutionRole ARN -> the instance groups that use it."""
        out: dict[str, list[str]] = {}
        for g in self.groups():
            if g.get("ExecutionRole"):
                out.setdefault(str(g["ExecutionRole"]), []).append(str(g["InstanceGroupName"]))
        return out


def known(value: T | Unknown) -> T | None:
    return None if isinstance(value, Unknown) else value
