"""Who a token's signer is in Kubernetes (logic.eks_identity): aws-iam-authenticator's mapping
with EKS's access entries and podwarden's groups for access policies."""

from __future__ import annotations

from typing import Any

from podwarden.logic.eks_identity import (
    CLUSTER_ADMIN_GROUP,
    Caller,
    canonical_arn,
    identify,
    matching_entry,
    policy_bindings,
    policy_groups,
    render,
)

ACCT = "111122223333"
POLICY = "arn:aws:eks::aws:cluster-access-policy/"
USER = Caller(f"arn:aws:iam::{ACCT}:user/ops/alice", ACCT, "AIDAALICE", "AKIAALICE")
SESSION = Caller(
    f"arn:aws:sts::{ACCT}:assumed-role/deployer/bob@example.com",
    ACCT,
    "AROADEPLOYER:bob@example.com",
    "ASIABOB",
)


def cluster(mode: str = "API", creator: str = "") -> dict[str, Any]:
    return {
        "name": "c1",
        "arn": f"arn:aws:eks:us-west-2:{ACCT}:cluster/c1",
        "accessConfig": {"authenticationMode": mode},
        "_podwarden": {"creator_arn": creator},
    }


def entry(
    arn: str, username: str, groups: list[str] | None = None, *policies: Any
) -> dict[str, Any]:
    return {
        "principalArn": arn,
        "username": username,
        "kubernetesGroups": groups or [],
        "type": "STANDARD",
        "_podwarden": {"associatedAccessPolicies": list(policies)},
    }


def assoc(name: str, scope: str = "cluster", namespaces: list[str] | None = None) -> Any:
    access_scope: dict[str, Any] = {"type": scope}
    if namespaces:
        access_scope["namespaces"] = namespaces
    return {"policyArn": POLICY + name, "accessScope": access_scope}


ROLE_ENTRY = entry(
    f"arn:aws:iam::{ACCT}:role/deployer",
    f"arn:aws:sts::{ACCT}:assumed-role/deployer/{{{{SessionName}}}}",
)


def test_canonical_arn_as_the_authenticator_makes_it() -> None:
    assert SESSION.canonical_arn == f"arn:aws:iam::{ACCT}:role/deployer"
    assert canonical_arn(USER.arn) == USER.arn
    assert canonical_arn(f"arn:aws:iam::{ACCT}:root") == f"arn:aws:iam::{ACCT}:root"
    assert (SESSION.principal_id, SESSION.session_name) == ("AROADEPLOYER", "bob@example.com")
    assert (USER.principal_id, USER.session_name) == ("AIDAALICE", "")


def test_templates() -> None:
    text = "{{AccountID}}:{{SessionName}}:{{SessionNameRaw}}:{{AccessKeyID}}"
    assert render(text, SESSION) == f"{ACCT}:bob-example.com:bob@example.com:ASIABOB"
    assert render("system:node:{{EC2PrivateDNSName}}", SESSION) is None


def test_role_entry_gives_the_default_session_username() -> None:
    user = identify(SESSION, cluster(), [ROLE_ENTRY])
    assert user is not None
    assert user.username == f"arn:aws:sts::{ACCT}:assumed-role/deployer/bob-example.com"
    assert user.groups == ()
    assert user.uid == f"aws-iam-authenticator:{ACCT}:AROADEPLOYER"
    assert user.extra["canonicalArn"] == [SESSION.canonical_arn]
    assert user.extra["sessionName"] == ["bob@example.com"]
    assert user.to_doc()["extra"]["accessKeyId"] == ["ASIABOB"]


def test_role_entry_matches_whatever_the_roles_path_and_case() -> None:
    with_path = entry(f"arn:aws:iam::{ACCT}:role/team/ci/Deployer", "ci")
    assert matching_entry(SESSION, [with_path]) is with_path
    exact = entry(f"arn:aws:iam::{ACCT}:role/deployer", "exact")
    assert matching_entry(SESSION, [with_path, exact]) is exact
    other_account = entry("arn:aws:iam::999999999999:role/deployer", "x")
    assert matching_entry(SESSION, [other_account]) is None
    user_entry = entry(f"arn:aws:iam::{ACCT}:user/ops/ALICE", "alice")
    assert matching_entry(USER, [user_entry]) is user_entry
    assert matching_entry(USER, [entry(f"arn:aws:iam::{ACCT}:user/alice", "other")]) is None


def test_groups_and_policies() -> None:
    found = entry(
        USER.arn,
        USER.arn,
        ["team-{{AccountID}}"],
        assoc("AmazonEKSClusterAdminPolicy"),
        assoc("AmazonEKSViewPolicy"),
        assoc("AmazonEKSEditPolicy", "namespace", ["dev"]),  # not mapped yet
        assoc("AmazonSagemakerHyperpodClusterPolicy"),  # `none` in the table
    )
    user = identify(USER, cluster("API_AND_CONFIG_MAP"), [found])
    assert user is not None
    assert user.groups == (f"team-{ACCT}", CLUSTER_ADMIN_GROUP, "podwarden:access-policy:view")
    assert policy_groups([assoc("AmazonEKSAdminPolicy"), assoc("AmazonEKSEditPolicy")]) == (
        "podwarden:access-policy:admin",
        "podwarden:access-policy:edit",
    )


def test_unknown_principal_and_unrenderable_entries_are_not_authenticated() -> None:
    assert identify(USER, cluster(), [ROLE_ENTRY]) is None
    node = entry(USER.arn, "system:node:{{EC2PrivateDNSName}}", ["system:nodes"])
    assert identify(USER, cluster(), [node]) is None


def test_config_map_cluster_knows_only_its_creator() -> None:
    creator = cluster("CONFIG_MAP", creator=SESSION.canonical_arn)
    user = identify(SESSION, creator, [])
    assert user is not None
    assert (user.username, user.groups) == ("kubernetes-admin", (CLUSTER_ADMIN_GROUP,))
    assert identify(USER, creator, []) is None
    # entries do not exist on CONFIG_MAP clusters; the creator is no admin in API mode
    assert identify(SESSION, cluster("CONFIG_MAP"), [ROLE_ENTRY]) is None
    assert identify(SESSION, cluster("API", creator=SESSION.canonical_arn), []) is None


def test_policy_bindings_bind_each_policy_group_to_its_cluster_role() -> None:
    bindings = {b["metadata"]["name"]: b for b in policy_bindings()}
    assert set(bindings) == {
        "podwarden:access-policy:admin",
        "podwarden:access-policy:edit",
        "podwarden:access-policy:view",
    }
    view = bindings["podwarden:access-policy:view"]
    assert view["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "view",
    }
    assert view["subjects"][0]["name"] == "podwarden:access-policy:view"
