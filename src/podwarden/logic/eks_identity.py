"""Who an EKS token's signer is in Kubernetes: the identity mapping of EKS's authenticator.

On EKS, ``kubectl`` sends ``aws eks get-token``'s token; the cluster's authenticator
(aws-iam-authenticator) has STS tell it who signed the token and maps that caller to a Kubernetes
username and groups. This module is the mapping (pure); ``wire.eks_token`` reads and verifies the
token and ``api.eks_authn`` answers the apiserver's TokenReview.

Sources, all kubernetes-sigs/aws-iam-authenticator unless said otherwise:

* the caller's *canonical* ARN is what mappings are keyed by (``pkg/arn`` ``Canonicalize``): an
  assumed-role ARN ``arn:aws:sts::<acct>:assumed-role/<role>/<session>`` becomes the role's
  ``arn:aws:iam::<acct>:role/<role>`` (a role's path is not in a session ARN, so it is lost); IAM
  users, roles and root stay as they are. Lookups ignore case (``lowercaseRoleMap``);
* templates in usernames and groups (``pkg/server`` ``renderTemplate``): ``{{AccountID}}``,
  ``{{SessionName}}`` (the session name with ``@`` turned into ``-``), ``{{SessionNameRaw}}``
  and ``{{AccessKeyID}}``. ``{{EC2PrivateDNSName}}`` needs an EC2 lookup of the instance named
  by the session; podwarden's identities are not EC2 instances, so a mapping that uses it does
  not authenticate (the authenticator fails the same way when the session is no instance id);
* the uid is ``aws-iam-authenticator:<account>:<principal id>`` and ``extra`` carries ``arn``,
  ``canonicalArn``, ``sessionName``, ``accessKeyId`` and ``principalId``.

EKS's own rules on top (EKS user guide, "Grant IAM users access to Kubernetes with EKS access
entries" and "Set a custom username for EKS access entries"):

* an access entry's ``username`` defaults to the user's ARN, or for a role to
  ``arn:aws:sts::<acct>:assumed-role/<role>/{{SessionName}}`` (:attr:`Principal.default_username`;
  ``control.eks.access`` stores that default on the entry, here it is only rendered); its
  ``kubernetesGroups`` are the groups;
* an entry for a role matches its sessions whatever the role's path (EKS keys entries by the
  principal, not by the path-less session ARN);
* ``CONFIG_MAP`` clusters have no access entries: the cluster's creator is an administrator
  that appears nowhere ("the IAM principal that creates the cluster is automatically granted
  system:masters permissions"); EKS's authenticator logs it as ``kubernetes-admin``.

Access policies are enforced on EKS by an authorizer of EKS's, not by RBAC. podwarden grants
them through groups instead, whose permissions are plain RBAC (:data:`POLICY_GROUPS`):

* ``AmazonEKSClusterAdminPolicy`` at cluster scope: ``system:masters``, the group the apiserver
  lets do anything, which is what the policy gives;
* the policies whose permissions the access policy table (``policy/tables/
  eks_access_policies.yaml``) says are those of ``admin``, ``edit`` or ``view`` at cluster scope:
  the group ``podwarden:access-policy:<role>``, bound to the ClusterRole of that name by a
  ClusterRoleBinding that every control plane with the token webhook gets
  (:func:`policy_bindings`, applied by ``local.runtime``);
* not mapped (documented, grants nothing yet): any policy at *namespace* scope (it would need a
  RoleBinding per namespace, kept in step with the association and with namespaces that
  match EKS's wildcards), and the policies the table marks ``none`` (Auto Mode, EMR, HyperPod
  service policies);
* the ``aws-auth`` ConfigMap (``CONFIG_MAP`` and ``API_AND_CONFIG_MAP`` clusters) is not read:
  podwarden's API server holds no client of each cluster's Kubernetes in the request path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podwarden.model.aws import arns
from podwarden.policy import eks_catalog

UID_PREFIX = "aws-iam-authenticator"
CLUSTER_ADMIN_GROUP = "system:masters"
CREATOR_USERNAME = "kubernetes-admin"
POLICY_GROUP_PREFIX = "podwarden:access-policy:"
# access policy table's `kubernetes` -> the group an association at cluster scope gives
POLICY_GROUPS: Mapping[str, str] = {
    "cluster-admin": CLUSTER_ADMIN_GROUP,
    "admin": POLICY_GROUP_PREFIX + "admin",
    "edit": POLICY_GROUP_PREFIX + "edit",
    "view": POLICY_GROUP_PREFIX + "view",
}
EC2_DNS_TEMPLATE = "{{EC2PrivateDNSName}}"


@dataclass(frozen=True)
class Caller:
    """The signer of a token, as STS GetCallerIdentity reports it."""

    arn: str
    account: str
    user_id: str  # AIDA... for a user, <RoleId>:<session> for a role session, the account for root
    access_key_id: str

    @property
    def canonical_arn(self) -> str:
        return canonical_arn(self.arn)

    @property
    def principal_id(self) -> str:
        return self.user_id.split(":", 1)[0]

    @property
    def session_name(self) -> str:
        parts = self.user_id.split(":", 1)
        return parts[1] if len(parts) == 2 else ""


@dataclass(frozen=True)
class KubeUser:
    """What the TokenReview answers: ``status.user``."""

    username: str
    uid: str
    groups: tuple[str, ...]
    extra: Mapping[str, list[str]] = field(default_factory=dict)

    def to_doc(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "uid": self.uid,
            "groups": list(self.groups),
            "extra": {k: list(v) for k, v in self.extra.items()},
        }


@dataclass(frozen=True)
class Principal:
    """An IAM principal an access entry can name: a user, a role or the account's root."""

    arn: str
    account: str
    kind: str  # user | role | root
    name: str

    @property
    def default_username(self) -> str:
        """A user's ARN; for a role its assumed-role ARN, path dropped, with {{SessionName}}."""
        if self.kind == "role":
            return arns.assumed_role(self.account, self.name, "{{SessionName}}")
        return self.arn


def principal(arn: str) -> Principal | None:
    """An IAM user, role or account root ARN; None for anything else (an STS session too)."""
    found = arns.parse_iam(arn, "user", "role")
    if found is not None:
        return Principal(arn, found.account, found.type, found.name)
    parts = arns.parse(arn)
    if parts is None or not arns.is_account_root(arn):
        return None
    return Principal(arn, parts.account, "root", "root")


def canonical_arn(arn: str) -> str:
    """An assumed-role session's role ARN (path-less); any other ARN unchanged."""
    session = arns.parse_assumed_role(arn)
    return session.role_arn if session is not None else arn


def render(template: str, caller: Caller) -> str | None:
    """A username or group with the authenticator's templates filled; None when it names
    ``{{EC2PrivateDNSName}}``, which no podwarden identity has."""
    if EC2_DNS_TEMPLATE in template:
        return None
    return (
        template.replace("{{AccountID}}", caller.account)
        .replace("{{SessionName}}", caller.session_name.replace("@", "-"))
        .replace("{{SessionNameRaw}}", caller.session_name)
        .replace("{{AccessKeyID}}", caller.access_key_id)
    )


def _principal_key(arn: str) -> tuple[str, str, str] | None:
    """(account, kind, name) of an IAM ARN, lowercased, path dropped."""
    found = principal(arn)
    return None if found is None else (found.account, found.kind, found.name.lower())


def matching_entry(
    caller: Caller, entries: Iterable[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The access entry whose ``principalArn`` is the caller (roles: whatever their path)."""
    canonical = caller.canonical_arn
    wanted = canonical.lower()
    key = _principal_key(canonical)
    fallback = None
    for entry in entries:
        arn = str(entry.get("principalArn", ""))
        if arn.lower() == wanted:
            return entry
        if key is not None and key[1] == "role" and _principal_key(arn) == key:
            fallback = entry
    return fallback


def policy_groups(associations: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """Groups that carry the permissions of an entry's associated access policies (the ones
    podwarden maps: see the module docstring)."""
    access = eks_catalog.load_access()
    groups: list[str] = []
    for assoc in associations:
        if (assoc.get("accessScope") or {}).get("type") != "cluster":
            continue  # namespace scope: not mapped yet
        policy = access.policy_by_arn(str(assoc.get("policyArn", "")))
        group = POLICY_GROUPS.get(policy.kubernetes) if policy is not None else None
        if group is not None and group not in groups:
            groups.append(group)
    return tuple(groups)


def _user(caller: Caller, username: str, groups: Iterable[str]) -> KubeUser:
    return KubeUser(
        username=username,
        uid=f"{UID_PREFIX}:{caller.account}:{caller.principal_id}",
        groups=tuple(dict.fromkeys(groups)),
        extra={
            "arn": [caller.arn],
            "canonicalArn": [caller.canonical_arn],
            "sessionName": [caller.session_name],
            "accessKeyId": [caller.access_key_id],
            "principalId": [caller.principal_id],
        },
    )


def from_access_entry(caller: Caller, entry: Mapping[str, Any]) -> KubeUser | None:
    """The Kubernetes user an access entry makes of the caller; None when it cannot render."""
    username = render(str(entry.get("username") or caller.canonical_arn), caller)
    if username is None:
        return None
    groups: list[str] = []
    for pattern in entry.get("kubernetesGroups") or []:
        group = render(str(pattern), caller)
        if group is None:
            return None
        groups.append(group)
    private = entry.get("_podwarden") or {}
    groups.extend(policy_groups(private.get("associatedAccessPolicies") or []))
    return _user(caller, username, groups)


def identify(
    caller: Caller, cluster: Mapping[str, Any], entries: Iterable[Mapping[str, Any]]
) -> KubeUser | None:
    """The Kubernetes user of ``caller`` on ``cluster`` (its ``eks:cluster`` doc), given the
    cluster's access entries; None means not authenticated (an unknown principal)."""
    mode = (cluster.get("accessConfig") or {}).get("authenticationMode", "CONFIG_MAP")
    if mode in ("API", "API_AND_CONFIG_MAP"):
        entry = matching_entry(caller, entries)
        if entry is not None:
            return from_access_entry(caller, entry)
    creator = str((cluster.get("_podwarden") or {}).get("creator_arn") or "")
    if mode == "CONFIG_MAP" and creator and creator.lower() == caller.canonical_arn.lower():
        return _user(caller, CREATOR_USERNAME, [CLUSTER_ADMIN_GROUP])
    return None


def policy_bindings() -> list[dict[str, Any]]:
    """The ClusterRoleBindings that give the policy groups their ClusterRole (idempotent to
    create: fixed names)."""
    out = []
    for role, group in POLICY_GROUPS.items():
        if not group.startswith(POLICY_GROUP_PREFIX):
            continue  # system:masters needs no binding
        out.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {
                    "name": group,
                    "labels": {"app.kubernetes.io/managed-by": "podwarden"},
                },
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": role,
                },
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}
                ],
            }
        )
    return out
