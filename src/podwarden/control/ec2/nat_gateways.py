"""NAT gateways.

NAT gateways skip AWS's ``pending`` phase: CreateNatGateway answers ``available`` at once (nothing
is provisioned locally), and DeleteNatGateway answers ``deleted`` at once, skipping ``deleting``.
Otherwise they behave as AWS's: a public NAT gateway needs an unassociated allocation
(Resource.AlreadyAssociated otherwise) and, in a VPC without an attached internet gateway, ends
``failed`` with ``Gateway.NotAttached`` / ``Network vpc-… has no Internet gateway attached`` (the
failure AWS documents for that case). A live gateway takes a private address of its subnet (the
first free one after the four AWS reserves at the start) and holds its allocation's association
(``eipassoc-``) and network interface (``eni-``); deleting it frees both and turns routes through
it into ``blackhole``. Deleted gateways stay visible for an hour, as AWS keeps them.
"""

from __future__ import annotations

from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.ec2 import addresses
from podwarden.control.ec2.cidrs import IPv4
from podwarden.control.ec2.describe import Describe, describer, epoch_to_datetime, project
from podwarden.control.ec2.filters import TAGS, named
from podwarden.control.ec2.parameters import unsupported, with_token
from podwarden.control.ec2.records import Doc, create, fetch, find, listing, missing, save
from podwarden.control.ec2.resources import ADDRESS, INTERNET_GATEWAY, NAT_GATEWAY, SUBNET, new_id
from podwarden.control.ec2.routes import set_route_state
from podwarden.control.ec2.tags import initial_tags
from podwarden.model.errors import InUse, Invalid, LimitExceeded
from podwarden.store.resources import Record

DELETED_VISIBLE_S = 3600.0
LIVE_STATES = frozenset({"pending", "available", "deleting"})  # holding addresses
RESERVED_AT_START = 4  # network, VPC router, DNS, future use
UNSUPPORTED_NAT = (
    "SecondaryAllocationIds", "SecondaryPrivateIpAddresses", "SecondaryPrivateIpAddressCount",
    "PrivateIpAddress", "AvailabilityZoneAddresses",
)  # fmt: skip


def _allocation(ctx: Context, params: dict[str, Any], connectivity: str) -> Record | None:
    """The free allocation a public NAT gateway takes; None for a private one."""
    if connectivity == "private":
        if params.get("AllocationId"):
            raise Invalid(
                "AllocationId cannot be specified for a NAT gateway with ConnectivityType private",
                reason="parameter-combination",
            )
        return None
    if not params.get("AllocationId"):
        raise missing("AllocationId")
    rec = fetch(ctx, ADDRESS, params["AllocationId"])
    if rec.doc.get("AssociationId"):
        raise InUse(
            f"Elastic IP address [{rec.key}] is already associated", reason="already-associated"
        )
    return rec


def _private_ip(ctx: Context, subnet: Doc) -> str:
    """The subnet's first address after the reserved ones that no live NAT gateway holds."""
    if not subnet.get("CidrBlock"):
        raise Invalid(f"Subnet {subnet['SubnetId']} has no IPv4 CIDR block for a NAT gateway.")
    block = IPv4(subnet["CidrBlock"])
    used = {
        a["PrivateIp"]
        for n in listing(ctx, NAT_GATEWAY, subnet["VpcId"])
        if n.doc["SubnetId"] == subnet["SubnetId"] and n.doc["State"] == "available"
        for a in n.doc["NatGatewayAddresses"]
    }
    for offset in range(RESERVED_AT_START, block.num_addresses - 1):
        candidate = str(block.network_address + offset)
        if candidate not in used:
            return candidate
    raise LimitExceeded(reason="insufficient-addresses")


def _take_addresses(ctx: Context, subnet: Record, address: Record | None, nat: Doc) -> None:
    """A live gateway's interface: a private address of its subnet and, if public, the EIP."""
    interface = new_id("eni")
    entry: Doc = {
        "NetworkInterfaceId": interface,
        "PrivateIp": _private_ip(ctx, subnet.doc),
        "IsPrimary": True,
        "Status": "succeeded",
    }
    if address is not None:
        association = addresses.associate(ctx, address, interface, entry["PrivateIp"])
        entry |= {
            "AllocationId": address.key,
            "PublicIp": address.doc["PublicIp"],
            "AssociationId": association,
        }
    nat["NatGatewayAddresses"] = [entry]
    subnet.doc["AvailableIpAddressCount"] -= 1
    save(ctx, subnet)


def create_nat_gateway(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    unsupported(params, UNSUPPORTED_NAT)
    subnet = fetch(ctx, SUBNET, params.get("SubnetId"))
    connectivity = params.get("ConnectivityType") or "public"
    address = _allocation(ctx, params, connectivity)
    vpc_id = subnet.doc["VpcId"]
    nat: Doc = {
        "NatGatewayId": new_id("nat"),
        "VpcId": vpc_id,
        "SubnetId": subnet.key,
        "ConnectivityType": connectivity,
        "State": "available",
        "CreateTime": ctx.now(),
        "NatGatewayAddresses": [],
        "Tags": initial_tags(NAT_GATEWAY, params),
    }
    if connectivity == "public" and not listing(ctx, INTERNET_GATEWAY, vpc_id):
        nat |= {
            "State": "failed",
            "FailureCode": "Gateway.NotAttached",
            "FailureMessage": f"Network {vpc_id} has no Internet gateway attached",
        }
    else:
        _take_addresses(ctx, subnet, address, nat)
    create(ctx, NAT_GATEWAY, nat, vpc_id)
    return with_token({"NatGateway": project_nat(nat)}, params)


def _release(ctx: Context, nat: Doc) -> None:
    """Give back what a live gateway holds: its EIP association and its subnet address."""
    for entry in nat["NatGatewayAddresses"]:
        addresses.disassociate(ctx, entry.get("AllocationId", ""))
    subnet = find(ctx, SUBNET, nat["SubnetId"])
    if subnet is not None and nat["NatGatewayAddresses"]:
        subnet.doc["AvailableIpAddressCount"] += 1
        save(ctx, subnet)


def delete_nat_gateway(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = fetch(ctx, NAT_GATEWAY, params.get("NatGatewayId"))
    if rec.doc["State"] != "deleted":
        if rec.doc["State"] == "available":
            _release(ctx, rec.doc)
        rec.doc |= {"State": "deleted", "DeleteTime": ctx.now()}
        save(ctx, rec)
        set_route_state(ctx, rec.parent, "NatGatewayId", rec.key, "blackhole")
    return {"NatGatewayId": rec.key}


def project_nat(doc: Doc) -> Doc:
    times = {k: epoch_to_datetime(doc[k]) for k in ("CreateTime", "DeleteTime") if k in doc}
    return project(doc) | times


def _visible(ctx: Context, rec: Record) -> bool:
    deleted = rec.doc.get("DeleteTime")
    return deleted is None or ctx.now() - deleted < DELETED_VISIBLE_S


NAT_FILTERS = {**named("NatGatewayId", "State", "SubnetId", "VpcId"), **TAGS}
DESCRIBE_NATS = Describe(
    NAT_GATEWAY,
    "NatGateways",
    "NatGatewayIds",
    NAT_FILTERS,
    filter_member="Filter",
    project=project_nat,
    visible=_visible,
)

OPERATIONS: Operations = {
    "CreateNatGateway": create_nat_gateway,
    "DescribeNatGateways": describer(DESCRIBE_NATS),
    "DeleteNatGateway": delete_nat_gateway,
}
