"""Internet gateways and egress-only internet gateways.

An internet gateway's record has the attached VPC as its parent ("" while detached), so "the VPC's
gateway" is one indexed listing. Its attachment reads ``{"State": "available", "VpcId": ...}`` —
AWS reports an attached internet gateway's attachment as ``available``, not ``attached`` — while
an egress-only gateway's reads ``attached``. A VPC has at most one internet gateway and a gateway
at most one VPC (Resource.AlreadyAssociated); detaching while a public NAT gateway still maps
public addresses in the VPC is a DependencyViolation, as in AWS. Routes through a detached or
deleted gateway turn ``blackhole``; attaching the gateway again makes them ``active``.
"""

from __future__ import annotations

from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.ec2.describe import Describe, describer, project
from podwarden.control.ec2.filters import TAGS, named
from podwarden.control.ec2.parameters import with_token
from podwarden.control.ec2.records import create, fetch, listing, remove, save
from podwarden.control.ec2.resources import (
    EGRESS_ONLY_GATEWAY,
    INTERNET_GATEWAY,
    NAT_GATEWAY,
    VPC,
    new_id,
)
from podwarden.control.ec2.routes import set_route_state
from podwarden.control.ec2.tags import initial_tags
from podwarden.model.errors import Conflict, InUse

# --- internet gateways ------------------------------------------------------------------------


def create_internet_gateway(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    doc = {
        "InternetGatewayId": new_id("igw"),
        "OwnerId": ctx.account,
        "Attachments": [],
        "Tags": initial_tags(INTERNET_GATEWAY, params),
    }
    create(ctx, INTERNET_GATEWAY, doc)
    return {"InternetGateway": project(doc)}


def attach_internet_gateway(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = fetch(ctx, INTERNET_GATEWAY, params.get("InternetGatewayId"))
    vpc_id = fetch(ctx, VPC, params.get("VpcId")).key
    if rec.parent:
        raise InUse(
            f"resource {rec.key} is already attached to network {rec.parent}",
            reason="already-associated",
        )
    if listing(ctx, INTERNET_GATEWAY, vpc_id):
        raise InUse(
            f"Network {vpc_id} already has an internet gateway attached",
            reason="already-associated",
        )
    rec.doc["Attachments"] = [{"State": "available", "VpcId": vpc_id}]
    rec.parent = vpc_id
    save(ctx, rec)
    set_route_state(ctx, vpc_id, "GatewayId", rec.key, "active")
    return {}


def _maps_public_addresses(ctx: Context, vpc_id: str) -> bool:
    return any(
        n.doc["ConnectivityType"] == "public" and n.doc["State"] == "available"
        for n in listing(ctx, NAT_GATEWAY, vpc_id)
    )


def detach_internet_gateway(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = fetch(ctx, INTERNET_GATEWAY, params.get("InternetGatewayId"))
    vpc_id = fetch(ctx, VPC, params.get("VpcId")).key
    if rec.parent != vpc_id:
        raise Conflict(reason="gateway-not-attached", id=rec.key, vpc=vpc_id)
    if _maps_public_addresses(ctx, vpc_id):
        raise InUse(reason="maps-public-addresses", vpc=vpc_id)
    rec.doc["Attachments"] = []
    rec.parent = ""
    save(ctx, rec)
    set_route_state(ctx, vpc_id, "GatewayId", rec.key, "blackhole")
    return {}


def delete_internet_gateway(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = fetch(ctx, INTERNET_GATEWAY, params.get("InternetGatewayId"))
    if rec.parent:
        raise InUse(reason="has-dependencies", noun="internetGateway", id=rec.key)
    remove(ctx, INTERNET_GATEWAY, rec.key)
    return {}


INTERNET_GATEWAY_FILTERS = {
    **named("State", "VpcId", within=("Attachments",), prefix="attachment."),
    **named("InternetGatewayId", "OwnerId"),
    **TAGS,
}

# --- egress-only internet gateways ------------------------------------------------------------


def create_egress_only_internet_gateway(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    vpc_id = fetch(ctx, VPC, params.get("VpcId")).key
    doc = {
        "EgressOnlyInternetGatewayId": new_id("eigw"),
        "Attachments": [{"State": "attached", "VpcId": vpc_id}],
        "Tags": initial_tags(EGRESS_ONLY_GATEWAY, params),
    }
    create(ctx, EGRESS_ONLY_GATEWAY, doc, vpc_id)
    return with_token({"EgressOnlyInternetGateway": project(doc)}, params)


def delete_egress_only_internet_gateway(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = fetch(ctx, EGRESS_ONLY_GATEWAY, params.get("EgressOnlyInternetGatewayId"))
    remove(ctx, EGRESS_ONLY_GATEWAY, rec.key)
    set_route_state(ctx, rec.parent, "EgressOnlyInternetGatewayId", rec.key, "blackhole")
    return {"ReturnCode": True}


OPERATIONS: Operations = {
    "CreateInternetGateway": create_internet_gateway,
    "AttachInternetGateway": attach_internet_gateway,
    "DetachInternetGateway": detach_internet_gateway,
    "DeleteInternetGateway": delete_internet_gateway,
    "DescribeInternetGateways": describer(
        Describe(
            INTERNET_GATEWAY, "InternetGateways", "InternetGatewayIds", INTERNET_GATEWAY_FILTERS
        )
    ),
    "CreateEgressOnlyInternetGateway": create_egress_only_internet_gateway,
    "DescribeEgressOnlyInternetGateways": describer(
        Describe(
            EGRESS_ONLY_GATEWAY,
            "EgressOnlyInternetGateways",
            "EgressOnlyInternetGatewayIds",
            dict(TAGS),
        )
    ),
    "DeleteEgressOnlyInternetGateway": delete_egress_only_internet_gateway,
}
