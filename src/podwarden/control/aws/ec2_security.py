"""Security groups and their rules.

A group's doc is the ``SecurityGroup`` shape except for its rules: they are kept as AWS keeps
them, one ``SecurityGroupRule`` per source (a CIDR block, an IPv6 block or a referenced group),
under ``Rules``, each with its ``sgr-`` id. ``IpPermissions`` / ``IpPermissionsEgress`` are built
from them on the way out, one permission per (protocol, ports) with its sources grouped. Rules
are compared by protocol, ports and source: authorizing one that exists fails with
InvalidPermission.Duplicate; revoking rules some of which do not exist revokes the others and
lists the unknown ones in ``UnknownIpPermissions``, and revoking only unknown rules fails with
InvalidPermission.NotFound.

Protocol names and numbers are normalized as EC2 does (``6`` -> ``tcp``, ``all`` -> ``-1``); tcp
and udp rules need both ports; ``-1`` rules cover every port (``-1``/``-1`` in a rule, no ports
in a permission). A new group allows all outbound IPv4 traffic; a VPC's ``default`` group also
allows all inbound traffic from itself (and all outbound IPv6 traffic when the VPC has an IPv6
block), as AWS creates it. ``GroupName`` inputs name groups of the default VPC, which podwarden
does not create, so they answer InvalidGroup.NotFound (or VPCIdNotSpecified for a
CreateSecurityGroup without ``VpcId``), as in an account whose default VPC was deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from podwarden.control.aws.ec2_common import (
    SECURITY_GROUP,
    VPC,
    Describe,
    Doc,
    Handler,
    arn,
    create,
    describe,
    fetch,
    initial_tags,
    invalid,
    ipv4_block,
    ipv6_block,
    new_id,
    project,
    records,
    remove,
    save,
)
from podwarden.control.aws.ec2_filters import TAGS, at, where
from podwarden.control.context import Context
from podwarden.model.errors import ServiceError
from podwarden.store.resources import Record

PROTOCOLS = {
    "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp",
    "icmpv6": "icmpv6", "58": "icmpv6", "-1": "-1", "all": "-1",
}  # fmt: skip
PORTED = frozenset({"tcp", "udp"})
TYPED = frozenset({"icmp", "icmpv6"})  # ports are ICMP type and code
ALL_PORTS = (-1, -1)
SOURCE_KEYS = ("CidrIpv4", "CidrIpv6", "PrefixListId", "ReferencedGroupInfo")


# --- rules ------------------------------------------------------------------------------------


def _protocol(value: object) -> str:
    text = str(value).lower()
    if text in PROTOCOLS:
        return PROTOCOLS[text]
    if text.isdigit() and 0 <= int(text) <= 255:
        return text
    raise invalid(f"Invalid value '{value}' for IP protocol. Unknown protocol.")


def _ports(protocol: str, perm: Doc) -> tuple[int, int]:
    low, high = perm.get("FromPort"), perm.get("ToPort")
    if protocol in PORTED:
        if low is None or high is None:
            raise invalid(
                "Invalid value 'null' for portRange. Must specify both from and to ports with "
                "TCP/UDP."
            )
        if not 0 <= low <= high <= 65535:
            raise invalid(f"Invalid value '{low}-{high}' for portRange. Ports must be 0-65535.")
        return low, high
    if protocol in TYPED:
        return (-1 if low is None else low), (-1 if high is None else high)
    return -1, -1


def _described(entry: Doc, source: Doc) -> Doc:
    return {**source, "Description": entry["Description"]} if entry.get("Description") else source


def _group_source(ctx: Context, group: Doc, pair: Doc) -> Doc:
    """A referenced group of the same VPC, by id or by name."""
    if pair.get("GroupId"):
        ref = fetch(ctx, SECURITY_GROUP, pair["GroupId"]).doc
    else:
        ref = _by_name(ctx, group["VpcId"], str(pair.get("GroupName")))
    if ref["VpcId"] != group["VpcId"]:
        raise invalid(
            f"You have specified two resources that belong to different networks: "
            f"{group['GroupId']}, {ref['GroupId']}"
        )
    info = {"GroupId": ref["GroupId"], "UserId": ctx.account}
    return {"ReferencedGroupInfo": info, "ReferencedGroupName": ref["GroupName"]}


def _sources(ctx: Context, group: Doc, perm: Doc) -> list[Doc]:
    """One partial rule per source of an IpPermission."""
    out = [
        _described(r, {"CidrIpv4": str(ipv4_block(r.get("CidrIp"), "cidrIp"))})
        for r in perm.get("IpRanges") or []
    ]
    out += [
        _described(r, {"CidrIpv6": str(ipv6_block(r.get("CidrIpv6"), "cidrIpv6"))})
        for r in perm.get("Ipv6Ranges") or []
    ]
    for entry in perm.get("PrefixListIds") or []:
        raise ServiceError(
            "InvalidPrefixListId.NotFound",
            f"The prefix list ID '{entry.get('PrefixListId')}' does not exist",
        )
    out += [_described(p, _group_source(ctx, group, p)) for p in perm.get("UserIdGroupPairs") or []]
    if not out:
        raise ServiceError(
            "MissingParameter",
            "The request must contain a source: ipRanges, ipv6Ranges, prefixListIds or groups",
        )
    return out


def _rule(
    ctx: Context, group_id: str, source: Doc, *, egress: bool, protocol: str, ports: tuple[int, int]
) -> Doc:
    return {
        "SecurityGroupRuleId": new_id("sgr"),
        "GroupId": group_id,
        "GroupOwnerId": ctx.account,
        "IsEgress": egress,
        "IpProtocol": protocol,
        "FromPort": ports[0],
        "ToPort": ports[1],
        **source,
    }


def _rules(ctx: Context, group: Doc, perms: list[Doc], egress: bool) -> list[Doc]:
    """The rules a list of IpPermission inputs describes: one per source."""
    rules = []
    for perm in perms:
        protocol = _protocol(perm.get("IpProtocol", "-1"))
        ports = _ports(protocol, perm)
        rules += [
            _rule(ctx, group["GroupId"], source, egress=egress, protocol=protocol, ports=ports)
            for source in _sources(ctx, group, perm)
        ]
    return rules


def _identity(rule: Doc) -> tuple[Any, ...]:
    source = tuple(str(rule.get(k)) for k in SOURCE_KEYS[:3])
    group = (rule.get("ReferencedGroupInfo") or {}).get("GroupId")
    return (rule["IsEgress"], rule["IpProtocol"], rule["FromPort"], rule["ToPort"], *source, group)


def _peer(rule: Doc) -> str:
    """How EC2 names a rule in InvalidPermission.Duplicate."""
    peer = next((str(rule[k]) for k in SOURCE_KEYS[:3] if rule.get(k)), None)
    peer = peer or rule["ReferencedGroupInfo"]["GroupId"]
    protocol = "ALL" if rule["IpProtocol"] == "-1" else rule["IpProtocol"].upper()
    ports = f", from port: {rule['FromPort']}, to port: {rule['ToPort']}"
    return f"peer: {peer}, {protocol}{ports if rule['IpProtocol'] != '-1' else ''}, ALLOW"


def _permissions_input(params: dict[str, Any]) -> list[Doc]:
    """IpPermissions, or the one permission of the flat legacy members."""
    if params.get("IpPermissions"):
        return list(params["IpPermissions"])
    perm: Doc = {"IpProtocol": params.get("IpProtocol", "-1")}
    perm |= {k: params[k] for k in ("FromPort", "ToPort") if params.get(k) is not None}
    if params.get("CidrIp"):
        perm["IpRanges"] = [{"CidrIp": params["CidrIp"]}]
    if params.get("SourceSecurityGroupName"):
        perm["UserIdGroupPairs"] = [{"GroupName": params["SourceSecurityGroupName"]}]
    return [perm]


# --- projection -------------------------------------------------------------------------------

# Rule source member -> (IpPermission list, entry member).
SOURCE_LISTS = {
    "CidrIpv4": ("IpRanges", "CidrIp"),
    "CidrIpv6": ("Ipv6Ranges", "CidrIpv6"),
    "PrefixListId": ("PrefixListIds", "PrefixListId"),
}


def _entry(rule: Doc) -> tuple[str, Doc]:
    for key, (target, member) in SOURCE_LISTS.items():
        if rule.get(key):
            return target, _described(rule, {member: rule[key]})
    info = rule["ReferencedGroupInfo"]
    return "UserIdGroupPairs", _described(
        rule, {"UserId": info["UserId"], "GroupId": info["GroupId"]}
    )


def permissions(rules: list[Doc], egress: bool) -> list[Doc]:
    grouped: dict[tuple[Any, ...], Doc] = {}
    for rule in rules:
        if rule["IsEgress"] is not egress:
            continue
        key = (rule["IpProtocol"], rule["FromPort"], rule["ToPort"])
        ports = {} if rule["IpProtocol"] == "-1" else {"FromPort": key[1], "ToPort": key[2]}
        perm = grouped.setdefault(
            key,
            {
                "IpProtocol": rule["IpProtocol"],
                **ports,
                "IpRanges": [],
                "Ipv6Ranges": [],
                "PrefixListIds": [],
                "UserIdGroupPairs": [],
            },
        )
        target, entry = _entry(rule)
        perm[target].append(entry)
    return list(grouped.values())


def project_group(doc: Doc) -> Doc:
    out = project({k: v for k, v in doc.items() if k != "Rules"})
    out["IpPermissions"] = permissions(doc["Rules"], egress=False)
    out["IpPermissionsEgress"] = permissions(doc["Rules"], egress=True)
    return out


def project_rule(rule: Doc) -> Doc:
    return project({k: v for k, v in rule.items() if k != "ReferencedGroupName"})


# --- groups -----------------------------------------------------------------------------------


def _group_doc(ctx: Context, vpc: Doc, name: str, description: str, tags: list[Any]) -> Doc:
    group_id = new_id("sg")
    return {
        "GroupId": group_id,
        "GroupName": name,
        "Description": description,
        "VpcId": vpc["VpcId"],
        "OwnerId": ctx.account,
        "SecurityGroupArn": arn(ctx, "security-group", group_id),
        "Tags": tags,
        "Rules": [
            _rule(
                ctx,
                group_id,
                {"CidrIpv4": "0.0.0.0/0"},
                egress=True,
                protocol="-1",
                ports=ALL_PORTS,
            )
        ],
    }


def default_group(ctx: Context, vpc: Doc) -> Doc:
    """A VPC's ``default`` group: all inbound from itself, all outbound (IPv6 too if the VPC has
    an IPv6 block)."""
    doc = _group_doc(ctx, vpc, "default", "default VPC security group", [])
    group_id = doc["GroupId"]
    itself = {
        "ReferencedGroupInfo": {"GroupId": group_id, "UserId": ctx.account},
        "ReferencedGroupName": "default",
    }
    inbound = _rule(ctx, group_id, itself, egress=False, protocol="-1", ports=ALL_PORTS)
    ipv6 = [_rule(ctx, group_id, {"CidrIpv6": "::/0"}, egress=True, protocol="-1", ports=ALL_PORTS)]
    doc["Rules"] = [inbound, *doc["Rules"], *(ipv6 if vpc["Ipv6CidrBlockAssociationSet"] else [])]
    return doc


def _default_vpc(ctx: Context) -> str | None:
    return next((r.key for r in records(ctx, VPC) if r.doc.get("IsDefault")), None)


def _by_name(ctx: Context, vpc_id: str | None, name: str) -> Doc:
    """The group called ``name`` in ``vpc_id`` (None: the default VPC)."""
    where_vpc = vpc_id or _default_vpc(ctx)
    for rec in records(ctx, SECURITY_GROUP, where_vpc or ""):
        if rec.doc["GroupName"] == name:
            return rec.doc
    suffix = f" in default VPC '{where_vpc}'" if where_vpc and not vpc_id else ""
    raise ServiceError(
        "InvalidGroup.NotFound", f"The security group '{name}' does not exist{suffix}"
    )


def _named_group(ctx: Context, params: dict[str, Any]) -> Record:
    """The group a GroupId or (default VPC) GroupName names."""
    if params.get("GroupId") or not params.get("GroupName"):
        return fetch(ctx, SECURITY_GROUP, params.get("GroupId"))
    doc = _by_name(ctx, None, params["GroupName"])
    return fetch(ctx, SECURITY_GROUP, doc["GroupId"])


def create_security_group(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name, description = params.get("GroupName") or "", params.get("Description") or ""
    vpc_id = params.get("VpcId") or _default_vpc(ctx)
    if vpc_id is None:
        raise ServiceError("VPCIdNotSpecified", "No default VPC for this user")
    vpc = fetch(ctx, VPC, vpc_id).doc
    if name == "default":
        raise invalid("Cannot use reserved security group name: default")
    if name.startswith("sg-"):
        raise invalid("Group names may not be in the format sg-*.")
    if any(r.doc["GroupName"] == name for r in records(ctx, SECURITY_GROUP, vpc_id)):
        raise ServiceError(
            "InvalidGroup.Duplicate",
            f"The security group '{name}' already exists for VPC '{vpc_id}'",
        )
    doc = _group_doc(ctx, vpc, name, description, initial_tags(SECURITY_GROUP, params))
    create(ctx, SECURITY_GROUP, doc, vpc_id)
    out = {"GroupId": doc["GroupId"], "SecurityGroupArn": doc["SecurityGroupArn"]}
    return out | ({"Tags": doc["Tags"]} if doc["Tags"] else {})


def delete_security_group(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = _named_group(ctx, params)
    if rec.doc["GroupName"] == "default":
        raise ServiceError(
            "CannotDelete",
            f'the specified group: "{rec.key}" name: "default" cannot be deleted by a user',
        )
    for other in records(ctx, SECURITY_GROUP, rec.parent):
        refs = [(r.get("ReferencedGroupInfo") or {}).get("GroupId") for r in other.doc["Rules"]]
        if other.key != rec.key and rec.key in refs:
            raise ServiceError("DependencyViolation", f"resource {rec.key} has a dependent object")
    remove(ctx, SECURITY_GROUP, rec.key)
    return {"Return": True, "GroupId": rec.key}


def _authorize(egress: bool) -> Handler:
    def handler(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        rec = _named_group(ctx, params)
        new = _rules(ctx, rec.doc, _permissions_input(params), egress)
        existing = {_identity(r) for r in rec.doc["Rules"]}
        seen: set[tuple[Any, ...]] = set()
        for rule in new:
            if _identity(rule) in existing | seen:
                raise ServiceError(
                    "InvalidPermission.Duplicate",
                    f'the specified rule "{_peer(rule)}" already exists',
                )
            seen.add(_identity(rule))
        rec.doc["Rules"].extend(new)
        save(ctx, rec)
        return {"Return": True, "SecurityGroupRules": [project_rule(r) for r in new]}

    return handler


def _revoked_by_ids(rec: Record, ids: list[str], egress: bool) -> list[Doc]:
    mine = {r["SecurityGroupRuleId"]: r for r in rec.doc["Rules"] if r["IsEgress"] is egress}
    unknown = [i for i in ids if i not in mine]
    if unknown:
        raise ServiceError(
            "InvalidSecurityGroupRuleId.NotFound",
            f"The security group rule ID '{unknown[0]}' does not exist",
        )
    return [mine[i] for i in ids]


def _revoke(egress: bool) -> Handler:
    def handler(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        rec = _named_group(ctx, params)
        unknown: list[Doc] = []
        if params.get("SecurityGroupRuleIds"):
            gone = _revoked_by_ids(rec, list(params["SecurityGroupRuleIds"]), egress)
        else:
            wanted = _rules(ctx, rec.doc, _permissions_input(params), egress)
            have = {_identity(r): r for r in rec.doc["Rules"]}
            gone = [have[_identity(w)] for w in wanted if _identity(w) in have]
            unknown = [w for w in wanted if _identity(w) not in have]
            if not gone:
                raise ServiceError(
                    "InvalidPermission.NotFound",
                    "The specified rule does not exist in this security group.",
                )
        ids = {r["SecurityGroupRuleId"] for r in gone}
        rec.doc["Rules"] = [r for r in rec.doc["Rules"] if r["SecurityGroupRuleId"] not in ids]
        save(ctx, rec)
        out: dict[str, Any] = {
            "Return": True,
            "RevokedSecurityGroupRules": [_revoked(r) for r in gone],
        }
        if unknown:
            out["UnknownIpPermissions"] = permissions(unknown, egress)
        return out

    return handler


def _revoked(rule: Doc) -> Doc:
    """A RevokedSecurityGroupRule: the rule's members that shape has."""
    keys = ("SecurityGroupRuleId", "GroupId", "IsEgress", "IpProtocol", "FromPort", "ToPort")
    out = {k: rule[k] for k in keys}
    out |= {
        k: rule[k] for k in ("CidrIpv4", "CidrIpv6", "PrefixListId", "Description") if rule.get(k)
    }
    if rule.get("ReferencedGroupInfo"):
        out["ReferencedGroupId"] = rule["ReferencedGroupInfo"]["GroupId"]
    return out


# ip-permission filter suffix -> path in a rule.
RULE_FIELDS = {
    "cidr": ("CidrIpv4",),
    "from-port": ("FromPort",),
    "group-id": ("ReferencedGroupInfo", "GroupId"),
    "group-name": ("ReferencedGroupName",),
    "ipv6-cidr": ("CidrIpv6",),
    "prefix-list-id": ("PrefixListId",),
    "protocol": ("IpProtocol",),
    "to-port": ("ToPort",),
    "user-id": ("ReferencedGroupInfo", "UserId"),
}


def _direction(egress: bool) -> Callable[[Mapping[str, Any]], bool]:
    return lambda rule: rule["IsEgress"] is egress


GROUP_FILTERS = {
    **{f"ip-permission.{k}": where("Rules", _direction(False), *p) for k, p in RULE_FIELDS.items()},
    **{
        f"egress.ip-permission.{k}": where("Rules", _direction(True), *p)
        for k, p in RULE_FIELDS.items()
    },
    "description": at("Description"),
    "group-id": at("GroupId"),
    "group-name": at("GroupName"),
    "owner-id": at("OwnerId"),
    "vpc-id": at("VpcId"),
    **TAGS,
}
DESCRIBE = Describe(
    SECURITY_GROUP, "SecurityGroups", "GroupIds", GROUP_FILTERS, project=project_group
)


def describe_security_groups(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    names = params.get("GroupNames") or []
    ids = [_by_name(ctx, None, n)["GroupId"] for n in names]
    request = {**params, "GroupIds": [*(params.get("GroupIds") or []), *ids]} if ids else params
    return describe(ctx, request, DESCRIBE)


OPERATIONS: dict[str, Handler] = {
    "CreateSecurityGroup": create_security_group,
    "DescribeSecurityGroups": describe_security_groups,
    "DeleteSecurityGroup": delete_security_group,
    "AuthorizeSecurityGroupIngress": _authorize(egress=False),
    "AuthorizeSecurityGroupEgress": _authorize(egress=True),
    "RevokeSecurityGroupIngress": _revoke(egress=False),
    "RevokeSecurityGroupEgress": _revoke(egress=True),
}
