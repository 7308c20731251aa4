"""Route tables, routes and associations.

A route table's doc is the ``RouteTable`` shape: ``Routes`` (the ``local`` route of each VPC block
first, ``Origin: CreateRouteTable``) and ``Associations``. The VPC's main table carries the
association ``{"Main": true}`` without a subnet; a subnet without an explicit association uses
the main table, and, as in AWS, that implicit use is not listed anywhere — callers find the main
table with the filter ``association.main=true``. A subnet has at most one explicit association
(Resource.AlreadyAssociated); deleting a subnet drops its association.

Route targets: internet gateways (``igw-``, attached to the table's VPC), NAT gateways and
egress-only internet gateways of the same VPC are checked; the kinds podwarden does not emulate
(instances, interfaces, peering, transit gateways, virtual private gateways...) cannot exist in
the local account, so naming one answers that kind's NotFound, as AWS answers for an id it does
not know. A route whose target goes away (NAT gateway deleted, gateway detached or deleted) turns
``blackhole`` and back to ``active`` when an internet gateway is attached again, as in AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from podwarden.control.aws.ec2_common import (
    EGRESS_ONLY_GATEWAY,
    INTERNET_GATEWAY,
    NAT_GATEWAY,
    ROUTE_TABLE,
    SUBNET,
    VPC,
    Describe,
    Doc,
    Handler,
    describer,
    fetch,
    initial_tags,
    invalid,
    ipv4_block,
    ipv6_block,
    new_id,
    not_found,
    project,
    records,
    remove,
    save,
)
from podwarden.control.aws.ec2_common import create as create_record
from podwarden.control.aws.ec2_common import dependency as dependency_error
from podwarden.control.aws.ec2_filters import TAGS, at
from podwarden.control.context import Context
from podwarden.model.errors import ServiceError
from podwarden.store.resources import Record

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
    for rec in records(ctx, ROUTE_TABLE, vpc_id):
        kept = [a for a in rec.doc["Associations"] if a.get("SubnetId") != subnet_id]
        if len(kept) != len(rec.doc["Associations"]):
            rec.doc["Associations"] = kept
            save(ctx, rec)


def set_route_state(ctx: Context, vpc_id: str, member: str, target: str, state: str) -> None:
    """Routes of the VPC through ``target`` become ``state`` (``blackhole``/``active``)."""
    for rec in records(ctx, ROUTE_TABLE, vpc_id):
        hits = [r for r in rec.doc["Routes"] if r.get(member) == target and r["State"] != state]
        for route in hits:
            route["State"] = state
        if hits:
            save(ctx, rec)


def with_token(out: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    return {**out, "ClientToken": params["ClientToken"]} if params.get("ClientToken") else out


# --- tables -----------------------------------------------------------------------------------


def create_route_table(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    vpc = fetch(ctx, VPC, params.get("VpcId")).doc
    doc = new_route_table(ctx, vpc, tags=initial_tags(ROUTE_TABLE, params))
    create_record(ctx, ROUTE_TABLE, doc, vpc["VpcId"])
    return with_token({"RouteTable": project(doc)}, params)


def delete_route_table(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = fetch(ctx, ROUTE_TABLE, params.get("RouteTableId"))
    if rec.doc["Associations"]:
        raise dependency_error("routeTable", rec.key)
    remove(ctx, ROUTE_TABLE, rec.key)
    return {}


# --- routes -----------------------------------------------------------------------------------

# Destination member -> (parser, wire parameter name, name in InvalidRoute.NotFound messages).
DESTINATIONS: dict[str, tuple[Callable[[object, str], Any], str, str]] = {
    "DestinationCidrBlock": (ipv4_block, "destinationCidrBlock", "destination-cidr-block"),
    "DestinationIpv6CidrBlock": (
        ipv6_block,
        "destinationIpv6CidrBlock",
        "destination-ipv6-cidr-block",
    ),
}


def _destination(params: dict[str, Any]) -> tuple[str, str]:
    """(member, normalized block) of the one destination the request names."""
    if params.get("DestinationPrefixListId"):
        raise ServiceError(
            "InvalidPrefixListID.NotFound",
            f"The prefix list ID '{params['DestinationPrefixListId']}' does not exist",
        )
    given = [
        (member, str(parse(params[member], wire)))
        for member, (parse, wire, _) in DESTINATIONS.items()
        if params.get(member)
    ]
    if len(given) != 1:
        raise ServiceError(
            "InvalidParameterCombination" if given else "MissingParameter",
            "The request must contain exactly one of destinationCidrBlock, "
            "destinationIpv6CidrBlock or destinationPrefixListId",
        )
    return given[0]


def _same_network(table: Doc, target_id: str, target_vpc: str | None) -> None:
    if target_vpc != table["VpcId"]:
        raise invalid(
            f"route table {table['RouteTableId']} and network gateway {target_id} belong to "
            "different networks"
        )


def _internet_gateway(ctx: Context, table: Doc, target: str, dest: str) -> str:
    rec = fetch(ctx, INTERNET_GATEWAY, target, "GatewayId")
    _same_network(table, target, rec.parent or None)
    return "active"


def _egress_only(ctx: Context, table: Doc, target: str, dest: str) -> str:
    if dest != "DestinationIpv6CidrBlock":
        raise invalid(f"Egress-only internet gateway {target} supports IPv6 destinations only.")
    rec = fetch(ctx, EGRESS_ONLY_GATEWAY, target, "EgressOnlyInternetGatewayId")
    _same_network(table, target, rec.parent)
    return "active"


def _nat_gateway(ctx: Context, table: Doc, target: str, dest: str) -> str:
    rec = fetch(ctx, NAT_GATEWAY, target, "NatGatewayId")
    if rec.doc["State"] in ("deleted", "deleting", "failed"):
        raise not_found(NAT_GATEWAY, [target])
    _same_network(table, target, rec.parent)
    return "active"


def _absent(code: str, template: str) -> Callable[[Context, Doc, str, str], str]:
    def check(ctx: Context, table: Doc, target: str, dest: str) -> str:
        raise ServiceError(code, template.format(target))

    return check


_VPN_GATEWAY = _absent("InvalidVpnGatewayID.NotFound", "The vpnGateway ID '{}' does not exist")
_UNKNOWN_GATEWAY = _absent("InvalidGatewayID.NotFound", "The gateway ID '{}' does not exist")
GATEWAYS = {"igw": _internet_gateway, "vgw": _VPN_GATEWAY}


def _gateway(ctx: Context, table: Doc, target: str, dest: str) -> str:
    check = GATEWAYS.get(target.split("-", 1)[0], _UNKNOWN_GATEWAY)
    return check(ctx, table, target, dest)


# Target member -> check(ctx, table, target id, destination member) -> route state.
TARGETS: dict[str, Callable[[Context, Doc, str, str], str]] = {
    "GatewayId": _gateway,
    "NatGatewayId": _nat_gateway,
    "EgressOnlyInternetGatewayId": _egress_only,
    "InstanceId": _absent("InvalidInstanceID.NotFound", "The instance ID '{}' does not exist"),
    "NetworkInterfaceId": _absent(
        "InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '{}' does not exist"
    ),
    "VpcPeeringConnectionId": _absent(
        "InvalidVpcPeeringConnectionID.NotFound", "The vpcPeeringConnection ID '{}' does not exist"
    ),
    "TransitGatewayId": _absent(
        "InvalidTransitGatewayID.NotFound", "Transit Gateway {} was deleted or does not exist."
    ),
    "LocalGatewayId": _absent(
        "InvalidLocalGatewayID.NotFound", "The localGateway ID '{}' does not exist"
    ),
    "CarrierGatewayId": _absent(
        "InvalidCarrierGatewayID.NotFound", "The carrierGateway ID '{}' does not exist"
    ),
    "VpcEndpointId": _absent(
        "InvalidVpcEndpointId.NotFound", "The vpcEndpoint ID '{}' does not exist"
    ),
    "CoreNetworkArn": _absent("InvalidParameterValue", "Core network {} does not exist"),
    "OdbNetworkArn": _absent("InvalidParameterValue", "ODB network {} does not exist"),
}


def _route(ctx: Context, table: Doc, params: dict[str, Any]) -> Doc:
    """The route the request describes, its target checked."""
    dest_member, dest = _destination(params)
    named = [m for m in TARGETS if params.get(m)]
    if len(named) != 1:
        raise ServiceError(
            "InvalidParameterCombination" if named else "MissingParameter",
            "The request must contain exactly one route target (gatewayId, natGatewayId, "
            "egressOnlyInternetGatewayId, instanceId, networkInterfaceId, "
            "vpcPeeringConnectionId, transitGatewayId...)",
        )
    member = named[0]
    state = TARGETS[member](ctx, table, params[member], dest_member)
    return {dest_member: dest, member: params[member], "Origin": "CreateRoute", "State": state}


def _index(table: Doc, member: str, dest: str) -> int | None:
    for i, route in enumerate(table["Routes"]):
        if route.get(member) == dest:
            return i
    return None


def create_route(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = fetch(ctx, ROUTE_TABLE, params.get("RouteTableId"))
    route = _route(ctx, rec.doc, params)
    member, dest = _destination(params)
    if _index(rec.doc, member, dest) is not None:
        raise ServiceError("RouteAlreadyExists", f"The route identified by {dest} already exists.")
    rec.doc["Routes"].append(route)
    save(ctx, rec)
    return {"Return": True}


def _existing(rec: Record, params: dict[str, Any], action: str) -> tuple[int, str]:
    """Index and destination of the route a Replace/Delete names; local routes are refused."""
    member, dest = _destination(params)
    index = _index(rec.doc, member, dest)
    if index is None:
        if action == "replace":
            raise invalid(
                f"There is no route defined for '{dest}' in the route table. "
                "Use CreateRoute instead."
            )
        name = DESTINATIONS[member][2]
        raise ServiceError(
            "InvalidRoute.NotFound", f"no route with {name} {dest} in route table {rec.key}"
        )
    if rec.doc["Routes"][index].get("GatewayId") == "local":
        raise invalid(f"cannot {action} local route {dest} in route table {rec.key}")
    return index, dest


def replace_route(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = fetch(ctx, ROUTE_TABLE, params.get("RouteTableId"))
    index, _ = _existing(rec, params, "replace")
    rec.doc["Routes"][index] = _route(ctx, rec.doc, params)
    save(ctx, rec)
    return {}


def delete_route(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = fetch(ctx, ROUTE_TABLE, params.get("RouteTableId"))
    index, _ = _existing(rec, params, "remove")
    del rec.doc["Routes"][index]
    save(ctx, rec)
    return {}


# --- associations -----------------------------------------------------------------------------


def _association_target(ctx: Context, table: Doc, params: dict[str, Any]) -> tuple[str, str]:
    """(member, id) of the subnet or gateway to associate, checked against the table's VPC."""
    if bool(params.get("SubnetId")) == bool(params.get("GatewayId")):
        raise ServiceError(
            "InvalidParameterCombination" if params.get("SubnetId") else "MissingParameter",
            "The request must contain exactly one of subnetId or gatewayId",
        )
    if params.get("SubnetId"):
        subnet = fetch(ctx, SUBNET, params["SubnetId"]).doc
        if subnet["VpcId"] != table["VpcId"]:
            raise invalid(
                f"Route table {table['RouteTableId']} and subnet {subnet['SubnetId']} belong to "
                "different networks"
            )
        return "SubnetId", subnet["SubnetId"]
    gateway = fetch(ctx, INTERNET_GATEWAY, params["GatewayId"], "GatewayId")
    _same_network(table, gateway.key, gateway.parent or None)
    return "GatewayId", gateway.key


def associate_route_table(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = fetch(ctx, ROUTE_TABLE, params.get("RouteTableId"))
    member, target = _association_target(ctx, rec.doc, params)
    siblings = records(ctx, ROUTE_TABLE, rec.doc["VpcId"])
    if any(a.get(member) == target for t in siblings for a in t.doc["Associations"]):
        raise ServiceError(
            "Resource.AlreadyAssociated",
            f"the specified association for route table {rec.key} conflicts with an existing "
            "association",
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
    for rec in records(ctx, ROUTE_TABLE):
        for association in rec.doc["Associations"]:
            if association["RouteTableAssociationId"] != wanted:
                continue
            if association["Main"]:
                raise invalid(f"cannot disassociate the main route table association {wanted}")
            rec.doc["Associations"].remove(association)
            save(ctx, rec)
            return {}
    raise ServiceError(
        "InvalidAssociationID.NotFound", f"The association ID '{wanted}' does not exist"
    )


# Route filter suffix -> Route member.
ROUTE_MEMBERS = {
    "destination-cidr-block": "DestinationCidrBlock",
    "destination-ipv6-cidr-block": "DestinationIpv6CidrBlock",
    "destination-prefix-list-id": "DestinationPrefixListId",
    "egress-only-internet-gateway-id": "EgressOnlyInternetGatewayId",
    "gateway-id": "GatewayId",
    "instance-id": "InstanceId",
    "nat-gateway-id": "NatGatewayId",
    "transit-gateway-id": "TransitGatewayId",
    "origin": "Origin",
    "state": "State",
    "vpc-peering-connection-id": "VpcPeeringConnectionId",
}
# Association filter suffix -> RouteTableAssociation member.
ASSOCIATION_MEMBERS = {
    "gateway-id": "GatewayId",
    "route-table-association-id": "RouteTableAssociationId",
    "route-table-id": "RouteTableId",
    "subnet-id": "SubnetId",
    "main": "Main",
}
ROUTE_TABLE_FILTERS = {
    **{f"route.{k}": at("Routes", m) for k, m in ROUTE_MEMBERS.items()},
    **{f"association.{k}": at("Associations", m) for k, m in ASSOCIATION_MEMBERS.items()},
    "owner-id": at("OwnerId"),
    "route-table-id": at("RouteTableId"),
    "vpc-id": at("VpcId"),
    **TAGS,
}

OPERATIONS: dict[str, Handler] = {
    "CreateRouteTable": create_route_table,
    "DescribeRouteTables": describer(
        Describe(ROUTE_TABLE, "RouteTables", "RouteTableIds", ROUTE_TABLE_FILTERS)
    ),
    "DeleteRouteTable": delete_route_table,
    "CreateRoute": create_route,
    "ReplaceRoute": replace_route,
    "DeleteRoute": delete_route,
    "AssociateRouteTable": associate_route_table,
    "DisassociateRouteTable": disassociate_route_table,
}
