"""Security group rules, as AWS keeps them: one ``SecurityGroupRule`` per source (a CIDR block,
an IPv6 block or a referenced group), each with its ``sgr-`` id.

``rules`` turns IpPermission inputs into such rules, ``permissions`` groups rules back into the
IpPermissions a group shows (one per protocol and ports). Rules are compared by protocol, ports
and source (``identity``). Protocol names and numbers are normalized as EC2 does (``6`` ->
``tcp``, ``all`` -> ``-1``); tcp and udp need both ports; ``-1`` rules cover every port
(``-1``/``-1`` in a rule, no ports in a permission). ``RULE_FILTERS`` are DescribeSecurityGroups'
``ip-permission.*`` and ``egress.ip-permission.*`` filters over a group's rules. Nothing here
reads the store: referenced groups are resolved by the caller's ``resolve``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from podwarden.control.ec2.cidrs import ipv4_block, ipv6_block
from podwarden.control.ec2.describe import project
from podwarden.control.ec2.filters import where
from podwarden.control.ec2.records import Doc
from podwarden.control.ec2.resources import new_id
from podwarden.control.ec2.text import rule_description
from podwarden.model.errors import Invalid, NotFound

Resolver = Callable[[Doc], Doc]

PROTOCOLS = {
    "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp",
    "icmpv6": "icmpv6", "58": "icmpv6", "-1": "-1", "all": "-1",
}  # fmt: skip
PORTED = frozenset({"tcp", "udp"})
TYPED = frozenset({"icmp", "icmpv6"})  # ports are ICMP type and code
ALL_PORTS = (-1, -1)
SOURCE_KEYS = ("CidrIpv4", "CidrIpv6", "PrefixListId", "ReferencedGroupInfo")


def _protocol(value: object) -> str:
    text = str(value).lower()
    if text in PROTOCOLS:
        return PROTOCOLS[text]
    if text.isdigit() and 0 <= int(text) <= 255:
        return text
    raise Invalid(f"Invalid value '{value}' for IP protocol. Unknown protocol.")


def _ports(protocol: str, perm: Doc) -> tuple[int, int]:
    low, high = perm.get("FromPort"), perm.get("ToPort")
    if protocol in PORTED:
        if low is None or high is None:
            raise Invalid(
                "Invalid value 'null' for portRange. Must specify both from and to ports with "
                "TCP/UDP."
            )
        if not 0 <= low <= high <= 65535:
            raise Invalid(f"Invalid value '{low}-{high}' for portRange. Ports must be 0-65535.")
        return low, high
    if protocol in TYPED:
        return (-1 if low is None else low), (-1 if high is None else high)
    return -1, -1


def described(entry: Doc, source: Doc) -> Doc:
    return {**source, "Description": entry["Description"]} if entry.get("Description") else source


def _sources(perm: Doc, resolve: Resolver) -> list[Doc]:
    """One partial rule per source of an IpPermission; ``resolve`` turns a group pair into the
    referenced group's source. Descriptions are checked first, as ``text`` says."""
    for key in ("IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs"):
        for entry in perm.get(key) or []:
            rule_description(entry)
    out = [
        described(r, {"CidrIpv4": str(ipv4_block(r.get("CidrIp"), "cidrIp"))})
        for r in perm.get("IpRanges") or []
    ]
    out += [
        described(r, {"CidrIpv6": str(ipv6_block(r.get("CidrIpv6"), "cidrIpv6"))})
        for r in perm.get("Ipv6Ranges") or []
    ]
    if perm.get("PrefixListIds"):  # managed prefix lists are not emulated: none exists
        first = perm["PrefixListIds"][0].get("PrefixListId")
        raise NotFound(reason="rule-prefix-list-not-found", ids=[first])
    out += [described(p, resolve(p)) for p in perm.get("UserIdGroupPairs") or []]
    if not out:
        raise Invalid(
            "The request must contain a source: ipRanges, ipv6Ranges, prefixListIds or groups",
            reason="missing-choice",
        )
    return out


def rule(
    account: str, group_id: str, source: Doc, *, egress: bool, protocol: str, ports: tuple[int, int]
) -> Doc:
    return {
        "SecurityGroupRuleId": new_id("sgr"),
        "GroupId": group_id,
        "GroupOwnerId": account,
        "IsEgress": egress,
        "IpProtocol": protocol,
        "FromPort": ports[0],
        "ToPort": ports[1],
        **source,
    }


def rules(
    account: str, group_id: str, perms: list[Doc], egress: bool, resolve: Resolver
) -> list[Doc]:
    """The rules a list of IpPermission inputs describes: one per source."""
    made = []
    for perm in perms:
        protocol = _protocol(perm.get("IpProtocol", "-1"))
        ports = _ports(protocol, perm)
        made += [
            rule(account, group_id, source, egress=egress, protocol=protocol, ports=ports)
            for source in _sources(perm, resolve)
        ]
    return made


def identity(rule: Doc) -> tuple[Any, ...]:
    source = tuple(str(rule.get(k)) for k in SOURCE_KEYS[:3])
    group = (rule.get("ReferencedGroupInfo") or {}).get("GroupId")
    return (rule["IsEgress"], rule["IpProtocol"], rule["FromPort"], rule["ToPort"], *source, group)


def peer(rule: Doc) -> str:
    """How EC2 names a rule in InvalidPermission.Duplicate."""
    peer = next((str(rule[k]) for k in SOURCE_KEYS[:3] if rule.get(k)), None)
    peer = peer or rule["ReferencedGroupInfo"]["GroupId"]
    protocol = "ALL" if rule["IpProtocol"] == "-1" else rule["IpProtocol"].upper()
    ports = f", from port: {rule['FromPort']}, to port: {rule['ToPort']}"
    return f"peer: {peer}, {protocol}{ports if rule['IpProtocol'] != '-1' else ''}, ALLOW"


def permissions_input(params: dict[str, Any]) -> list[Doc]:
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


# Rule source member -> (IpPermission list, entry member).
SOURCE_LISTS = {
    "CidrIpv4": ("IpRanges", "CidrIp"),
    "CidrIpv6": ("Ipv6Ranges", "CidrIpv6"),
    "PrefixListId": ("PrefixListIds", "PrefixListId"),
}


def _entry(rule: Doc) -> tuple[str, Doc]:
    for key, (target, member) in SOURCE_LISTS.items():
        if rule.get(key):
            return target, described(rule, {member: rule[key]})
    info = rule["ReferencedGroupInfo"]
    return "UserIdGroupPairs", described(
        rule, {"UserId": info["UserId"], "GroupId": info["GroupId"]}
    )


def permissions(all_rules: list[Doc], egress: bool) -> list[Doc]:
    """IpPermissions of one direction: one per (protocol, ports), its sources grouped."""
    grouped: dict[tuple[Any, ...], Doc] = {}
    for one in all_rules:
        if one["IsEgress"] is not egress:
            continue
        key = (one["IpProtocol"], one["FromPort"], one["ToPort"])
        ports = {} if one["IpProtocol"] == "-1" else {"FromPort": key[1], "ToPort": key[2]}
        perm = grouped.setdefault(
            key,
            {
                "IpProtocol": one["IpProtocol"],
                **ports,
                "IpRanges": [],
                "Ipv6Ranges": [],
                "PrefixListIds": [],
                "UserIdGroupPairs": [],
            },
        )
        target, entry = _entry(one)
        perm[target].append(entry)
    return list(grouped.values())


def project_rule(rule: Doc) -> Doc:
    return project({k: v for k, v in rule.items() if k != "ReferencedGroupName"})


def revoked(rule: Doc) -> Doc:
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


RULE_FILTERS = {
    **{f"ip-permission.{k}": where("Rules", _direction(False), *p) for k, p in RULE_FIELDS.items()},
    **{
        f"egress.ip-permission.{k}": where("Rules", _direction(True), *p)
        for k, p in RULE_FIELDS.items()
    },
}
