"""Route tables and their associations.

A route table's doc is the ``RouteTable`` shape: ``Routes`` (the ``local`` route of each VPC block
first, ``Origin: CreateRouteTable``; the others are ``podwarden.control.ec2.routes``') and
``Associations``. The VPC's main table carries the association ``{"Main": true}`` without a
subnet; a subnet without an explicit association uses the main table, and, as in AWS, that
implicit use is not listed anywhere — callers find the main table with the filter
``association.main=true``. A subnet has at most one explicit association
(Resource.AlreadyAssociated); deleting a subnet drops its association.
"""

from __future__ import annotations

from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.ec2.describe import Describe, describer, project
from podwarden.control.ec2.filters import TAGS, named
from podwarden.control.ec2.parameters import with_token
from podwarden.control.ec2.records import Doc, create, fetch, listing, remove, save
from podwarden.control.ec2.resources import INTERNET_GATEWAY, ROUTE_TABLE, SUBNET, VPC, new_id
from podwarden.control.ec2.tags import initial_tags
from podwarden.model.errors import InUse, Invalid, NotFound

ASSOCIATED = {"State": "associated"}


def local_routes(vpc: Doc) -> list[Doc]:
    local = {"GatewayId": "local", "Origin": "CreateRouteTable", "State": "active"}
    v4 = [{"DestinationCidrBlock": a["CidrBlock"], **local} for a in vpc["CidrBlockAssociationSet"]]
    v6 = [
        {"DestinationIpv6CidrBlock": a["Ipv6CidrBlock"], **local}
        for a in vpc.get("Ipv6CidrBlockAssociationSet", [])
    ]
    return v4 + v6


def new_route_table(
    ctx: Context, vpc: Doc, *, main: bool = False, tags: list[dict[str, str]] | None = None
) -> Doc:
    rtb_id = new_id("rtb")
    main_association = {
        "Main": True,
        "RouteTableAssociationId": new_id("rtbassoc"),
        "RouteTableId": rtb_id,
        "AssociationState": ASSOCIATED,
    }
    return {
        "RouteTableId": rtb_id,
        "VpcId": vpc["VpcId"],
        "OwnerId": ctx.account,
        "Routes": local_routes(vpc),
        "Associations": [main_association] if main else [],
        "PropagatingVgws": [],
        "Tags": tags or [],
    }


def is_main(doc: Doc) -> bool:
    return any(a.get("Main") for a in doc["Associations"])


def forget_subnet(ctx: Context, vpc_id: str, subnet_id: str) -> None:
    """Drop a deleted subnet's explicit association."""
    for rec in listing(ctx, ROUTE_TABLE, vpc_id):
        kept = [a for a in rec.doc["Associations"] if a.get("SubnetId") != subnet_id]
        if len(kept) != len(rec.doc["Associations"]):
            rec.doc["Associations"] = kept
            save(ctx, rec)


def same_network(table: Doc, target_id: str, target_vpc: str | None) -> None:
    """A gateway a route or an association of ``table`` names is in the table's VPC."""
    if target_vpc != table["VpcId"]:
        raise Invalid(
            f"route table {table['RouteTableId']} and network gateway {target_id} belong to "
            "different networks"
        )


# --- tables -----------------------------------------------------------------------------------


def create_route_table(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    vpc = fetch(ctx, VPC, params.get("VpcId")).doc
    doc = new_route_table(ctx, vpc, tags=initial_tags(ROUTE_TABLE, params))
    create(ctx, ROUTE_TABLE, doc, vpc["VpcId"])
    return with_token({"RouteTable": project(doc)}, params)


def delete_route_table(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = fetch(ctx, ROUTE_TABLE, params.get("RouteTableId"))
    if rec.doc["Associations"]:
        raise InUse(reason="has-dependencies", noun="routeTable", id=rec.key)
    remove(ctx, ROUTE_TABLE, rec.key)
    return {}


# --- associations -----------------------------------------------------------------------------


def _association_target(ctx: Context, table: Doc, params: dict[str, Any]) -> tuple[str, str]:
    """(member, id) of the subnet or gateway to associate, checked against the table's VPC."""
    if bool(params.get("SubnetId")) == bool(params.get("GatewayId")):
        raise Invalid(
            "The request must contain exactly one of subnetId or gatewayId",
            reason="parameter-combination" if params.get("SubnetId") else "missing-choice",
        )
    if params.get("SubnetId"):
        subnet = fetch(ctx, SUBNET, params["SubnetId"]).doc
        if subnet["VpcId"] != table["VpcId"]:
            raise Invalid(
                f"Route table {table['RouteTableId']} and subnet {subnet['SubnetId']} belong to "
                "different networks"
            )
        return "SubnetId", subnet["SubnetId"]
    gateway = fetch(ctx, INTERNET_GATEWAY, params["GatewayId"], "GatewayId")
    same_network(table, gateway.key, gateway.parent or None)
    return "GatewayId", gateway.key


def associate_route_table(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = fetch(ctx, ROUTE_TABLE, params.get("RouteTableId"))
    member, target = _association_target(ctx, rec.doc, params)
    siblings = listing(ctx, ROUTE_TABLE, rec.doc["VpcId"])
    if any(a.get(member) == target for t in siblings for a in t.doc["Associations"]):
        raise InUse(
            f"the specified association for route table {rec.key} conflicts with an existing "
            "association",
            reason="already-associated",
        )
    association = {
        "Main": False,
        "RouteTableAssociationId": new_id("rtbassoc"),
        "RouteTableId": rec.key,
        member: target,
        "AssociationState": ASSOCIATED,
    }
    rec.doc["Associations"].append(association)
    save(ctx, rec)
    return {"AssociationId": association["RouteTableAssociationId"], "AssociationState": ASSOCIATED}


def disassociate_route_table(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    wanted = params.get("AssociationId")
    for rec in listing(ctx, ROUTE_TABLE):
        for association in rec.doc["Associations"]:
            if association["RouteTableAssociationId"] != wanted:
                continue
            if association["Main"]:
                raise Invalid(f"cannot disassociate the main route table association {wanted}")
            rec.doc["Associations"].remove(association)
            save(ctx, rec)
            return {}
    raise NotFound(reason="association-not-found", ids=[wanted])


ROUTE_TABLE_FILTERS = {
    **named(
        "DestinationCidrBlock", "DestinationIpv6CidrBlock", "DestinationPrefixListId",
        "EgressOnlyInternetGatewayId", "GatewayId", "InstanceId", "NatGatewayId",
        "TransitGatewayId", "Origin", "State", "VpcPeeringConnectionId",
        within=("Routes",), prefix="route.",
    ),
    **named(
        "GatewayId", "RouteTableAssociationId", "RouteTableId", "SubnetId", "Main",
        within=("Associations",), prefix="association.",
    ),
    **named("OwnerId", "RouteTableId", "VpcId"),
    **TAGS,
}  # fmt: skip

OPERATIONS: Operations = {
    "CreateRouteTable": create_route_table,
    "DescribeRouteTables": describer(
        Describe(ROUTE_TABLE, "RouteTables", "RouteTableIds", ROUTE_TABLE_FILTERS)
    ),
    "DeleteRouteTable": delete_route_table,
    "AssociateRouteTable": associate_route_table,
    "DisassociateRouteTable": disassociate_route_table,
}
