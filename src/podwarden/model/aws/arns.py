"""Every ARN of the local account, built and parsed in one place (SageMaker's are in
``podwarden.model.ids``).

``parse`` splits any ARN into its six parts (``arn:partition:service:region:account:resource``);
the typed parsers on top of it answer None for a string that is not that kind of ARN, so a caller
chooses its own error. Names and paths follow IAM's and EKS's patterns (botocore's models:
``roleNameType`` ``[\\w+=,.@-]+``, ``pathType``, EKS's cluster name
``[0-9A-Za-z][A-Za-z0-9\\-_]*``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PARTITION = "aws"
_PARTITION = re.compile(r"aws(?:-[a-z]+)*")
_ACCOUNT = re.compile(r"[0-9]{12}")
_IAM_NAME = re.compile(r"[\w+=,.@-]+")
_EKS_NAME = re.compile(r"[0-9A-Za-z][A-Za-z0-9_-]*")
_IAM_PATHED = re.compile(
    r"(?P<type>user|role|policy|instance-profile)(?P<path>/(?:[^/]+/)*)(?P<name>[^/]+)"
)
_SESSION = re.compile(r"assumed-role/(?P<role>[\w+=,.@-]+)/(?P<session>[\w+=,.@-]+)")


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"


def parse(text: str) -> Arn | None:
    """The parts of an ARN, or None when ``text`` is not one (six ``:``-separated fields, the
    first ``arn``, a known partition, a service and a resource)."""
    fields = text.split(":", 5)
    if len(fields) != 6 or fields[0] != "arn" or not _PARTITION.fullmatch(fields[1]):
        return None
    _, partition, service, region, account, resource = fields
    if not service or not resource:
        return None
    return Arn(partition, service, region, account, resource)


# ---------------------------------------------------------------- EKS


@dataclass(frozen=True)
class EksCluster:
    region: str
    account: str
    name: str

    @property
    def scope(self) -> str:
        return f"{self.account}/{self.region}"


def eks_cluster(region: str, account: str, name: str, partition: str = PARTITION) -> str:
    return str(Arn(partition, "eks", region, account, f"cluster/{name}"))


def parse_eks_cluster(text: str) -> EksCluster | None:
    """An EKS cluster ARN (what a HyperPod ``Orchestrator.Eks.ClusterArn`` names), any
    partition; None when ``text`` is not one."""
    arn = parse(text)
    if arn is None or arn.service != "eks" or not arn.region or not _ACCOUNT.fullmatch(arn.account):
        return None
    kind, _, name = arn.resource.partition("/")
    if kind != "cluster" or not _EKS_NAME.fullmatch(name):
        return None
    return EksCluster(arn.region, arn.account, name)


def eks_child(region: str, account: str, kind: str, *parts: str) -> str:
    """An ARN of something inside a cluster: ``access-entry/<cluster>/<type>/<account>/<id>``,
    ``podidentityassociation/<cluster>/<id>``, ``addon/<cluster>/<addon>/<id>``..."""
    return str(Arn(PARTITION, "eks", region, account, "/".join((kind, *parts))))


# ---------------------------------------------------------------- IAM and STS


@dataclass(frozen=True)
class IamEntity:
    """A path-bearing IAM ARN: a user, role, customer policy or instance profile."""

    partition: str
    account: str  # "aws" for AWS managed policies
    type: str  # user | role | policy | instance-profile
    path: str  # "/" or "/a/b/"
    name: str

    @property
    def arn(self) -> str:
        return str(
            Arn(self.partition, "iam", "", self.account, f"{self.type}{self.path}{self.name}")
        )


def iam(account: str, type_: str, name: str, path: str = "/", partition: str = PARTITION) -> str:
    """``arn:aws:iam::<account>:<type><path><name>``."""
    return IamEntity(partition, account, type_, path, name).arn


def role(account: str, name: str, path: str = "/") -> str:
    return iam(account, "role", name, path)


def account_root(account: str, partition: str = PARTITION) -> str:
    return str(Arn(partition, "iam", "", account, "root"))


def parse_iam(text: str, *types: str) -> IamEntity | None:
    """A user, role, policy or instance-profile ARN (limited to ``types`` when given); None
    when ``text`` is none of those. The account is 12 digits, or ``aws`` for a policy."""
    arn = parse(text)
    if arn is None or arn.service != "iam" or arn.region:
        return None
    m = _IAM_PATHED.fullmatch(arn.resource)
    if m is None or (types and m["type"] not in types):
        return None
    managed = m["type"] == "policy" and arn.account == "aws"
    if not (managed or _ACCOUNT.fullmatch(arn.account)):
        return None
    return IamEntity(arn.partition, arn.account, m["type"], m["path"], m["name"])


def parse_role(text: str) -> IamEntity | None:
    """A role ARN whose name is a valid role name; None otherwise."""
    found = parse_iam(text, "role")
    return found if found is not None and _IAM_NAME.fullmatch(found.name) else None


def is_account_root(text: str) -> bool:
    arn = parse(text)
    return (
        arn is not None
        and arn.service == "iam"
        and not arn.region
        and arn.resource == "root"
        and bool(_ACCOUNT.fullmatch(arn.account))
    )


@dataclass(frozen=True)
class AssumedRole:
    """An STS role session: ``arn:aws:sts::<account>:assumed-role/<role>/<session>``."""

    partition: str
    account: str
    role_name: str
    session: str

    @property
    def arn(self) -> str:
        return assumed_role(self.account, self.role_name, self.session, self.partition)

    @property
    def role_arn(self) -> str:
        """The role behind the session (its path is not in the session's ARN: ``/``)."""
        return iam(self.account, "role", self.role_name, "/", self.partition)


def assumed_role(account: str, role_name: str, session: str, partition: str = PARTITION) -> str:
    return str(Arn(partition, "sts", "", account, f"assumed-role/{role_name}/{session}"))


def parse_assumed_role(text: str) -> AssumedRole | None:
    arn = parse(text)
    if arn is None or arn.service != "sts" or arn.region or not _ACCOUNT.fullmatch(arn.account):
        return None
    m = _SESSION.fullmatch(arn.resource)
    if m is None:
        return None
    return AssumedRole(arn.partition, arn.account, m["role"], m["session"])


def oidc_provider(account: str, host_path: str) -> str:
    """``arn:aws:iam::<account>:oidc-provider/<host and path of the issuer URL>``."""
    return str(Arn(PARTITION, "iam", "", account, f"oidc-provider/{host_path}"))


def parse_oidc_provider(text: str) -> tuple[str, str] | None:
    """(account, host and path) of an OIDC provider ARN, or None."""
    arn = parse(text)
    if arn is None or arn.service != "iam" or arn.region or not _ACCOUNT.fullmatch(arn.account):
        return None
    kind, _, host_path = arn.resource.partition("/")
    return (arn.account, host_path) if kind == "oidc-provider" and host_path else None


def ec2(region: str, account: str, resource: str, resource_id: str) -> str:
    """``arn:aws:ec2:<region>:<account>:<resource>/<id>`` (``subnet``, ``security-group``...)."""
    return str(Arn(PARTITION, "ec2", region, account, f"{resource}/{resource_id}"))
