"""Security groups.

A group's doc is the ``SecurityGroup`` shape except for its rules: they are kept as AWS keeps
them, one rule per source, under ``Rules`` (see ``sg_rules``), and ``IpPermissions`` /
``IpPermissionsEgress`` are built from them on the way out. Authorizing a rule that exists fails
with InvalidPermission.Duplicate; revoking rules some of which do not exist revokes the others and
lists the unknown ones in ``UnknownIpPermissions``, and revoking only unknown rules fails with
InvalidPermission.NotFound. Referenced groups must be in the group's VPC.

A new group allows all outbound IPv4 traffic; a VPC's ``default`` group also allows all inbound
traffic from itself (and all outbound IPv6 traffic when the VPC has an IPv6 block), as AWS
creates it, and cannot be deleted (CannotDelete). A group another group's rule references cannot
be deleted (DependencyViolation). ``GroupName`` inputs name groups of the default VPC, which
podwarden does not create, so they answer InvalidGroup.NotFound (or VPCIdNotSpecified for a
CreateSecurityGroup without ``VpcId``), as in an account whose default VPC was deleted.
"""

from __future__ import annotations

from typing import Any

from podwarden.control.context import Context, Handler, Operations
from podwarden.control.ec2 import sg_rules as sgr
from podwarden.control.ec2.describe import Describe, describe, project
from podwarden.control.ec2.filters import TAGS, named
from podwarden.control.ec2.records import Doc, arn, create, fetch, listing, remove, save
from podwarden.control.ec2.resources import SECURITY_GROUP, VPC, new_id
from podwarden.control.ec2.tags import initial_tags
from podwarden.control.ec2.text import group_text
from podwarden.model.errors import InUse, Invalid, NotFound
from podwarden.store.resources import Record


def _rules_of(ctx: Context, group: Doc, perms: list[Doc], egress: bool) -> list[Doc]:
    def resolve(pair: Doc) -> Doc:
        return _group_source(ctx, group, pair)

    return sgr.rules(ctx.account, group["GroupId"], perms, egress, resolve)


def _group_source(ctx: Context, group: Doc, pair: Doc) -> Doc:
    """A referenced group of the same VPC, by id or by name."""
    if pair.get("GroupId"):
        ref = fetch(ctx, SECURITY_GROUP, pair["GroupId"]).doc
    else:
        ref = _by_name(ctx, group["VpcId"], str(pair.get("GroupName")))
    if ref["VpcId"] != group["VpcId"]:
        raise Invalid(
            f"You have specified two resources that belong to different networks: "
            f"{group['GroupId']}, {ref['GroupId']}"
        )
    info = {"GroupId": ref["GroupId"], "UserId": ctx.account}
    return {"ReferencedGroupInfo": info, "ReferencedGroupName": ref["GroupName"]}


# --- projection -------------------------------------------------------------------------------


def project_group(doc: Doc) -> Doc:
    out = project({k: v for k, v in doc.items() if k != "Rules"})
    out["IpPermissions"] = sgr.permissions(doc["Rules"], egress=False)
    out["IpPermissionsEgress"] = sgr.permissions(doc["Rules"], egress=True)
    return out


# --- groups -----------------------------------------------------------------------------------


def _everything(ctx: Context, group_id: str, source: Doc, *, egress: bool) -> Doc:
    """A rule for all protocols and ports from (to) ``source``."""
    return sgr.rule(
        ctx.account, group_id, source, egress=egress, protocol="-1", ports=sgr.ALL_PORTS
    )


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
        "Rules": [_everything(ctx, group_id, {"CidrIpv4": "0.0.0.0/0"}, egress=True)],
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
    inbound = _everything(ctx, group_id, itself, egress=False)
    ipv6 = [_everything(ctx, group_id, {"CidrIpv6": "::/0"}, egress=True)]
    doc["Rules"] = [inbound, *doc["Rules"], *(ipv6 if vpc["Ipv6CidrBlockAssociationSet"] else [])]
    return doc


def _default_vpc(ctx: Context) -> str | None:
    return next((r.key for r in listing(ctx, VPC) if r.doc.get("IsDefault")), None)


def _by_name(ctx: Context, vpc_id: str | None, name: str) -> Doc:
    """The group called ``name`` in ``vpc_id`` (None: the default VPC)."""
    where_vpc = vpc_id or _default_vpc(ctx)
    for rec in listing(ctx, SECURITY_GROUP, where_vpc or ""):
        if rec.doc["GroupName"] == name:
            return rec.doc
    if where_vpc and not vpc_id:
        raise NotFound(reason="security-group-not-found-in-default-vpc", ids=[name], vpc=where_vpc)
    raise NotFound(reason=SECURITY_GROUP.not_found, ids=[name])


def _named_group(ctx: Context, params: dict[str, Any]) -> Record:
    """The group a GroupId or (default VPC) GroupName names."""
    if params.get("GroupId") or not params.get("GroupName"):
        return fetch(ctx, SECURITY_GROUP, params.get("GroupId"))
    doc = _by_name(ctx, None, params["GroupName"])
    return fetch(ctx, SECURITY_GROUP, doc["GroupId"])


def create_security_group(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name = group_text(params.get("GroupName") or "", "GroupName", "security group name")
    description = group_text(
        params.get("Description") or "", "GroupDescription", "security group description"
    )
    vpc_id = params.get("VpcId") or _default_vpc(ctx)
    if vpc_id is None:
        raise Invalid(reason="no-default-vpc")
    vpc = fetch(ctx, VPC, vpc_id).doc
    if name == "default":
        raise Invalid("Cannot use reserved security group name: default")
    if name.startswith("sg-"):
        raise Invalid("Group names may not be in the format sg-*.")
    if any(r.doc["GroupName"] == name for r in listing(ctx, SECURITY_GROUP, vpc_id)):
        raise InUse(reason="security-group-duplicate", name=name, vpc=vpc_id)
    doc = _group_doc(ctx, vpc, name, description, initial_tags(SECURITY_GROUP, params))
    create(ctx, SECURITY_GROUP, doc, vpc_id)
    out = {"GroupId": doc["GroupId"], "SecurityGroupArn": doc["SecurityGroupArn"]}
    return out | ({"Tags": doc["Tags"]} if doc["Tags"] else {})


def delete_security_group(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = _named_group(ctx, params)
    if rec.doc["GroupName"] == "default":
        raise Invalid(reason="default-group-undeletable", id=rec.key)
    for other in listing(ctx, SECURITY_GROUP, rec.parent):
        refs = [(r.get("ReferencedGroupInfo") or {}).get("GroupId") for r in other.doc["Rules"]]
        if other.key != rec.key and rec.key in refs:
            raise InUse(reason="security-group-referenced", id=rec.key)
    remove(ctx, SECURITY_GROUP, rec.key)
    return {"Return": True, "GroupId": rec.key}


def _authorize(egress: bool) -> Handler:
    def handler(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        rec = _named_group(ctx, params)
        new = _rules_of(ctx, rec.doc, sgr.permissions_input(params), egress)
        existing = {sgr.identity(r) for r in rec.doc["Rules"]}
        seen: set[tuple[Any, ...]] = set()
        for made in new:
            if sgr.identity(made) in existing | seen:
                raise InUse(reason="permission-duplicate", rule=sgr.peer(made))
            seen.add(sgr.identity(made))
        rec.doc["Rules"].extend(new)
        save(ctx, rec)
        return {"Return": True, "SecurityGroupRules": [sgr.project_rule(r) for r in new]}

    return handler


def _revoked_by_ids(rec: Record, ids: list[str], egress: bool) -> list[Doc]:
    mine = {r["SecurityGroupRuleId"]: r for r in rec.doc["Rules"] if r["IsEgress"] is egress}
    unknown = [i for i in ids if i not in mine]
    if unknown:
        raise NotFound(reason="rule-not-found", ids=[unknown[0]])
    return [mine[i] for i in ids]


def _revoke(egress: bool) -> Handler:
    def handler(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        rec = _named_group(ctx, params)
        unknown: list[Doc] = []
        if params.get("SecurityGroupRuleIds"):
            gone = _revoked_by_ids(rec, list(params["SecurityGroupRuleIds"]), egress)
        else:
            wanted = _rules_of(ctx, rec.doc, sgr.permissions_input(params), egress)
            have = {sgr.identity(r): r for r in rec.doc["Rules"]}
            gone = [have[sgr.identity(w)] for w in wanted if sgr.identity(w) in have]
            unknown = [w for w in wanted if sgr.identity(w) not in have]
            if not gone:
                raise NotFound(reason="permission-not-found")
        ids = {r["SecurityGroupRuleId"] for r in gone}
        rec.doc["Rules"] = [r for r in rec.doc["Rules"] if r["SecurityGroupRuleId"] not in ids]
        save(ctx, rec)
        out: dict[str, Any] = {
            "Return": True,
            "RevokedSecurityGroupRules": [sgr.revoked(r) for r in gone],
        }
        if unknown:
            out["UnknownIpPermissions"] = sgr.permissions(unknown, egress)
        return out

    return handler


GROUP_FILTERS = {
    **sgr.RULE_FILTERS,
    **named("Description", "GroupId", "GroupName", "OwnerId", "VpcId"),
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


OPERATIONS: Operations = {
    "CreateSecurityGroup": create_security_group,
    "DescribeSecurityGroups": describe_security_groups,
    "DeleteSecurityGroup": delete_security_group,
    "AuthorizeSecurityGroupIngress": _authorize(egress=False),
    "AuthorizeSecurityGroupEgress": _authorize(egress=True),
    "RevokeSecurityGroupIngress": _revoke(egress=False),
    "RevokeSecurityGroupEgress": _revoke(egress=True),
}
