"""Collectors of EC2 and IAM facts: subnets with the route table in effect, security groups,
execution roles with their trust and permissions, IAM OIDC providers. Read-only calls."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from podwarden.checks.collect_eks import pages
from podwarden.checks.transport import Call, CallFailed
from podwarden.logic.preflight_facts import Role, SecurityGroup, Subnet, Unknown
from podwarden.logic.preflight_rules_iam import role_name

OIDC_MARKER = ":oidc-provider/"


# ---------------------------------------------------------------- EC2


def _each(
    call: Call, operation: str, ids: list[str], *, ids_member: str, items: str, key: str
) -> dict[str, dict[str, Any] | Unknown]:
    """Describe ``ids`` in one call; when one is missing (the whole call fails), one by one so
    each missing id is named."""
    if not ids:
        return {}
    try:
        found = call("ec2", operation, {ids_member: ids}).get(items) or []
        return {d[key]: d for d in found}
    except CallFailed as exc:
        if not exc.missing or len(ids) == 1:
            gone = exc.missing
            what = f"does not exist ({exc.code})" if gone else f"could not be read ({exc.reason})"
            return {i: Unknown(what, missing=gone) for i in ids}
    out: dict[str, dict[str, Any] | Unknown] = {}
    for i in ids:
        out |= _each(call, operation, [i], ids_member=ids_member, items=items, key=key)
    return out


def _route_tables(call: Call, filters: list[dict[str, Any]]) -> list[Any]:
    params = {"Filters": filters}
    return pages(
        call, "ec2", "DescribeRouteTables", params, items="RouteTables", cursor="NextToken"
    )


def _route_table(call: Call, subnet: str, vpc: str, main: dict[str, Any]) -> dict[str, Any]:
    tables = _route_tables(call, [{"Name": "association.subnet-id", "Values": [subnet]}])
    if tables:
        return dict(tables[0])
    if vpc not in main:
        found = _route_tables(
            call,
            [
                {"Name": "vpc-id", "Values": [vpc]},
                {"Name": "association.main", "Values": ["true"]},
            ],
        )
        main[vpc] = dict(found[0]) if found else {"RouteTableId": "(none)", "Routes": []}
    return dict(main[vpc])


def _destination(route: Mapping[str, Any]) -> str:
    for member in ("DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId"):
        if route.get(member):
            return str(route[member])
    return "?"


def subnets(call: Call, ids: Iterable[str]) -> dict[str, Subnet | Unknown]:
    wanted = list(dict.fromkeys(ids))
    described = _each(
        call, "DescribeSubnets", wanted, ids_member="SubnetIds", items="Subnets", key="SubnetId"
    )
    main: dict[str, dict[str, Any]] = {}
    out: dict[str, Subnet | Unknown] = {}
    for sid in wanted:
        doc = described.get(sid, Unknown("not returned by DescribeSubnets", missing=True))
        if isinstance(doc, Unknown):
            out[sid] = doc
            continue
        try:
            table = _route_table(call, sid, str(doc.get("VpcId", "")), main)
        except CallFailed as exc:
            out[sid] = Unknown(f"its route table could not be read ({exc.reason})")
            continue
        active = [r for r in table.get("Routes") or [] if r.get("State") != "blackhole"]
        out[sid] = Subnet(
            subnet_id=sid,
            vpc_id=str(doc.get("VpcId", "")),
            availability_zone=str(doc.get("AvailabilityZone", "")),
            ipv6_cidrs=tuple(
                str(a["Ipv6CidrBlock"])
                for a in doc.get("Ipv6CidrBlockAssociationSet") or []
                if (a.get("Ipv6CidrBlockState") or {}).get("State", "associated") == "associated"
            ),
            route_table=str(table.get("RouteTableId", "")),
            internet_routes=tuple(
                f"{_destination(r)} -> {r['GatewayId']}"
                for r in active
                if str(r.get("GatewayId", "")).startswith("igw-")
            ),
            egress_only_routes=tuple(
                f"{_destination(r)} -> {r['EgressOnlyInternetGatewayId']}"
                for r in active
                if r.get("EgressOnlyInternetGatewayId")
            ),
            ipv6_only=bool(doc.get("Ipv6Native")) or not doc.get("CidrBlock"),
        )
    return out


def security_groups(call: Call, ids: Iterable[str]) -> dict[str, SecurityGroup | Unknown]:
    wanted = list(dict.fromkeys(ids))
    described = _each(
        call,
        "DescribeSecurityGroups",
        wanted,
        ids_member="GroupIds",
        items="SecurityGroups",
        key="GroupId",
    )
    out: dict[str, SecurityGroup | Unknown] = {}
    for gid in wanted:
        doc = described.get(gid, Unknown("not returned by DescribeSecurityGroups", missing=True))
        out[gid] = doc if isinstance(doc, Unknown) else SecurityGroup(gid, str(doc.get("VpcId")))
    return out


# ---------------------------------------------------------------- IAM


def policy_document(value: object) -> dict[str, Any]:
    """A policy document as botocore returns it (a dict) or as IAM serves it (URL-encoded
    JSON text, what the in-process handlers return)."""
    if isinstance(value, dict):
        return value
    parsed = json.loads(unquote(str(value)))
    return parsed if isinstance(parsed, dict) else {}


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = document.get("Statement") or []
    return [found] if isinstance(found, dict) else list(found)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, list) else []


def trusted_services(document: Mapping[str, Any]) -> tuple[str, ...]:
    """Service principals the trust policy allows to assume the role."""
    out: list[str] = []
    for st in _statements(document):
        actions = _strings(st.get("Action"))
        if st.get("Effect") != "Allow" or not {"sts:AssumeRole", "sts:*", "*"} & set(actions):
            continue
        principal = st.get("Principal")
        if isinstance(principal, dict):
            out += _strings(principal.get("Service"))
    return tuple(dict.fromkeys(out))


def _actions(document: Mapping[str, Any], effect: str) -> list[str]:
    return [
        a
        for st in _statements(document)
        if st.get("Effect") == effect
        for a in _strings(st.get("Action"))
    ]


def role(call: Call, arn: str, managed_policy: str) -> Role | Unknown:
    name = role_name(arn)
    try:
        doc = call("iam", "GetRole", {"RoleName": name})["Role"]
        attached = [
            str(p["PolicyArn"])
            for p in pages(
                call,
                "iam",
                "ListAttachedRolePolicies",
                {"RoleName": name},
                items="AttachedPolicies",
                cursor="Marker",
            )
        ]
    except CallFailed as exc:
        if exc.missing:
            return Unknown(f"role {name} does not exist ({exc.code})", missing=True)
        return Unknown(f"role {name} could not be read ({exc.reason})")
    allowed: list[str] = []
    denied: list[str] = []
    unread: list[str] = []
    if not any(p.endswith(f":policy/{managed_policy}") for p in attached):
        for _, document in _documents(call, name, attached, unread):
            allowed += _actions(document, "Allow")
            denied += _actions(document, "Deny")
    return Role(
        arn=str(doc.get("Arn", arn)),
        name=name,
        trusted_services=trusted_services(policy_document(doc.get("AssumeRolePolicyDocument"))),
        attached=tuple(attached),
        allowed=tuple(dict.fromkeys(allowed)),
        denied=tuple(dict.fromkeys(denied)),
        unread=tuple(unread),
    )


def _documents(
    call: Call, role_name_: str, attached: list[str], unread: list[str]
) -> list[tuple[str, dict[str, Any]]]:
    """The role's permission documents: its managed policies' default versions and its inline
    policies. Those that cannot be read are named in ``unread``."""
    out: list[tuple[str, dict[str, Any]]] = []
    for policy_arn in attached:
        try:
            policy = call("iam", "GetPolicy", {"PolicyArn": policy_arn})["Policy"]
            version = call(
                "iam",
                "GetPolicyVersion",
                {"PolicyArn": policy_arn, "VersionId": policy["DefaultVersionId"]},
            )["PolicyVersion"]
            out.append((policy_arn, policy_document(version.get("Document"))))
        except CallFailed as exc:
            unread.append(f"{policy_arn}: {exc.reason}")
    try:
        names = pages(
            call,
            "iam",
            "ListRolePolicies",
            {"RoleName": role_name_},
            items="PolicyNames",
            cursor="Marker",
        )
        for name in names:
            inline = call("iam", "GetRolePolicy", {"RoleName": role_name_, "PolicyName": name})
            out.append((name, policy_document(inline.get("PolicyDocument"))))
    except CallFailed as exc:
        unread.append(f"inline policies: {exc.reason}")
    return out


def oidc_providers(call: Call) -> tuple[str, ...] | Unknown:
    try:
        found = call("iam", "ListOpenIDConnectProviders", {}).get("OpenIDConnectProviderList")
    except CallFailed as exc:
        return Unknown(exc.reason)
    arns = [str(p.get("Arn", "")) for p in found or []]
    return tuple(a.split(OIDC_MARKER, 1)[1] for a in arns if OIDC_MARKER in a)
