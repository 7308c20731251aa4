"""Routes of a route table: CreateRoute, ReplaceRoute, DeleteRoute, and the state of routes whose
target comes or goes.

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

from podwarden.control.context import Context, Operations
from podwarden.control.ec2.cidrs import ipv4_block, ipv6_block
from podwarden.control.ec2.records import Doc, fetch, listing, save
from podwarden.control.ec2.resources import (
    EGRESS_ONLY_GATEWAY,
    INTERNET_GATEWAY,
    NAT_GATEWAY,
    ROUTE_TABLE,
)
from podwarden.control.ec2.route_tables import same_network
from podwarden.model.errors import InUse, Invalid, NotFound
from podwarden.store.resources import Record

# check(ctx, table, target id, destination member) -> the route's state
Target = Callable[[Context, Doc, str, str], str]


def set_route_state(ctx: Context, vpc_id: str, member: str, target: str, state: str) -> None:
    """Routes of the VPC through ``target`` become ``state`` (``blackhole``/``active``)."""
    for rec in listing(ctx, ROUTE_TABLE, vpc_id):
        hits = [r for r in rec.doc["Routes"] if r.get(member) == target and r["State"] != state]
        for route in hits:
            route["State"] = state
        if hits:
            save(ctx, rec)


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
        raise NotFound(reason="prefix-list-not-found", ids=[params["DestinationPrefixListId"]])
    given = [
        (member, str(parse(params[member], wire)))
        for member, (parse, wire, _) in DESTINATIONS.items()
        if params.get(member)
    ]
    if len(given) != 1:
        raise Invalid(
            "The request must contain exactly one of destinationCidrBlock, "
            "destinationIpv6CidrBlock or destinationPrefixListId",
            reason="parameter-combination" if given else "missing-choice",
        )
    return given[0]


def _internet_gateway(ctx: Context, table: Doc, target: str, dest: str) -> str:
    rec = fetch(ctx, INTERNET_GATEWAY, target, "GatewayId")
    same_network(table, target, rec.parent or None)
    return "active"


def _egress_only(ctx: Context, table: Doc, target: str, dest: str) -> str:
    if dest != "DestinationIpv6CidrBlock":
        raise Invalid(f"Egress-only internet gateway {target} supports IPv6 destinations only.")
    rec = fetch(ctx, EGRESS_ONLY_GATEWAY, target, "EgressOnlyInternetGatewayId")
    same_network(table, target, rec.parent)
    return "active"


def _nat_gateway(ctx: Context, table: Doc, target: str, dest: str) -> str:
    rec = fetch(ctx, NAT_GATEWAY, target, "NatGatewayId")
    if rec.doc["State"] in ("deleted", "deleting", "failed"):
        raise NotFound(reason=NAT_GATEWAY.not_found, ids=[target])
    same_network(table, target, rec.parent)
    return "active"


def _absent(reason: str) -> Target:
    """A target of a kind podwarden does not emulate: its NotFound (``reason``), always."""

    def check(ctx: Context, table: Doc, target: str, dest: str) -> str:
        raise NotFound(reason=reason, ids=[target])

    return check


GATEWAYS = {"igw": _internet_gateway, "vgw": _absent("vpn-gateway-not-found")}
_UNKNOWN_GATEWAY = _absent("gateway-not-found")


def _gateway(ctx: Context, table: Doc, target: str, dest: str) -> str:
    check = GATEWAYS.get(target.split("-", 1)[0], _UNKNOWN_GATEWAY)
    return check(ctx, table, target, dest)


# Target member -> its check.
TARGETS: dict[str, Target] = {
    "GatewayId": _gateway,
    "NatGatewayId": _nat_gateway,
    "EgressOnlyInternetGatewayId": _egress_only,
    "InstanceId": _absent("instance-not-found"),
    "NetworkInterfaceId": _absent("network-interface-not-found"),
    "VpcPeeringConnectionId": _absent("peering-connection-not-found"),
    "TransitGatewayId": _absent("transit-gateway-not-found"),
    "LocalGatewayId": _absent("local-gateway-not-found"),
    "CarrierGatewayId": _absent("carrier-gateway-not-found"),
    "VpcEndpointId": _absent("vpc-endpoint-not-found"),
    "CoreNetworkArn": _absent("core-network-not-found"),
    "OdbNetworkArn": _absent("odb-network-not-found"),
}


def _route(ctx: Context, table: Doc, params: dict[str, Any]) -> Doc:
    """The route the request describes, its target checked."""
    dest_member, dest = _destination(params)
    named = [m for m in TARGETS if params.get(m)]
    if len(named) != 1:
        raise Invalid(
            "The request must contain exactly one route target (gatewayId, natGatewayId, "
            "egressOnlyInternetGatewayId, instanceId, networkInterfaceId, "
            "vpcPeeringConnectionId, transitGatewayId...)",
            reason="parameter-combination" if named else "missing-choice",
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
        raise InUse(reason="route-exists", destination=dest)
    rec.doc["Routes"].append(route)
    save(ctx, rec)
    return {"Return": True}


def _existing(rec: Record, params: dict[str, Any], action: str) -> tuple[int, str]:
    """Index and destination of the route a Replace/Delete names; local routes are refused."""
    member, dest = _destination(params)
    index = _index(rec.doc, member, dest)
    if index is None:
        if action == "replace":
            raise Invalid(
                f"There is no route defined for '{dest}' in the route table. "
                "Use CreateRoute instead."
            )
        name = DESTINATIONS[member][2]
        raise NotFound(reason="route-not-found", filter=name, destination=dest, table=rec.key)
    if rec.doc["Routes"][index].get("GatewayId") == "local":
        raise Invalid(f"cannot {action} local route {dest} in route table {rec.key}")
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


OPERATIONS: Operations = {
    "CreateRoute": create_route,
    "ReplaceRoute": replace_route,
    "DeleteRoute": delete_route,
}
