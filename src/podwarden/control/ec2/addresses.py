"""Elastic IP addresses.

Addresses are ``vpc``-domain allocations (``eipalloc-``) with a public IP drawn from
``198.18.0.0/15`` (RFC 2544's benchmarking block: never routed on the internet, so a local address
can never be mistaken for a real one), unique in the account's region. An address is associated
with a network interface only by a NAT gateway here (``associate`` / ``disassociate``); an
associated address cannot be released (InvalidIPAddress.InUse).
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.ec2.describe import Describe, describe
from podwarden.control.ec2.filters import TAGS, named
from podwarden.control.ec2.parameters import unsupported
from podwarden.control.ec2.records import create, fetch, find, listing, remove, save
from podwarden.control.ec2.resources import ADDRESS, new_id
from podwarden.control.ec2.tags import initial_tags
from podwarden.model.errors import InUse, Invalid, NotFound
from podwarden.store.resources import Record

PUBLIC_POOL = ipaddress.IPv4Network("198.18.0.0/15")
# What an association adds to an address, and its disassociation removes.
ASSOCIATION_MEMBERS = (
    "AssociationId", "NetworkInterfaceId", "NetworkInterfaceOwnerId", "PrivateIpAddress",
)  # fmt: skip


def _public_ip(ctx: Context) -> str:
    taken = {r.doc["PublicIp"] for r in listing(ctx, ADDRESS)}
    while True:
        host = PUBLIC_POOL.network_address + 1 + secrets.randbelow(PUBLIC_POOL.num_addresses - 2)
        if str(host) not in taken:
            return str(host)


def allocate_address(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    unsupported(params, ("Address", "PublicIpv4Pool", "CustomerOwnedIpv4Pool", "IpamPoolId"))
    domain = params.get("Domain") or "vpc"
    if domain != "vpc":
        raise Invalid(f"Value ({domain}) for parameter domain is invalid.")
    border = params.get("NetworkBorderGroup") or ctx.region
    if border != ctx.region:
        raise Invalid(f"Value ({border}) for parameter networkBorderGroup is invalid.")
    doc = {
        "AllocationId": new_id("eipalloc"),
        "PublicIp": _public_ip(ctx),
        "Domain": domain,
        "PublicIpv4Pool": "amazon",
        "NetworkBorderGroup": border,
        "Tags": initial_tags(ADDRESS, params),
    }
    create(ctx, ADDRESS, doc)
    return {k: v for k, v in doc.items() if k != "Tags"}


def _address(ctx: Context, params: dict[str, Any]) -> Record:
    """The address an AllocationId or a PublicIp names."""
    if params.get("AllocationId") or not params.get("PublicIp"):
        return fetch(ctx, ADDRESS, params.get("AllocationId"))
    for rec in listing(ctx, ADDRESS):
        if rec.doc["PublicIp"] == params["PublicIp"]:
            return rec
    raise NotFound(reason="public-ip-not-found", ip=params["PublicIp"])


def release_address(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = _address(ctx, params)
    if rec.doc.get("AssociationId"):
        raise InUse(reason="address-in-use", ip=rec.doc["PublicIp"])
    remove(ctx, ADDRESS, rec.key)
    return {}


def associate(ctx: Context, address: Record, interface: str, private_ip: str) -> str:
    """Map ``address`` to a network interface of this account; its new association id."""
    association = new_id("eipassoc")
    address.doc |= {
        "AssociationId": association,
        "NetworkInterfaceId": interface,
        "NetworkInterfaceOwnerId": ctx.account,
        "PrivateIpAddress": private_ip,
    }
    save(ctx, address)
    return association


def disassociate(ctx: Context, allocation_id: str) -> None:
    """Unmap the address ``allocation_id``, if it still exists."""
    address = find(ctx, ADDRESS, allocation_id)
    if address is not None:
        for member in ASSOCIATION_MEMBERS:
            address.doc.pop(member, None)
        save(ctx, address)


ADDRESS_FILTERS = {
    **named(
        "AllocationId", "AssociationId", "Domain", "InstanceId", "NetworkBorderGroup",
        "NetworkInterfaceId", "NetworkInterfaceOwnerId", "PrivateIpAddress", "PublicIp",
    ),
    **TAGS,
}  # fmt: skip
DESCRIBE_ADDRESSES = Describe(ADDRESS, "Addresses", "AllocationIds", ADDRESS_FILTERS, paged=False)


def describe_addresses(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    wanted = params.get("PublicIps") or []
    known = {r.doc["PublicIp"] for r in listing(ctx, ADDRESS)}
    absent = [ip for ip in wanted if ip not in known]
    if absent:
        raise NotFound(reason="public-ip-not-found", ip=absent[0])
    out = describe(ctx, params, DESCRIBE_ADDRESSES)
    if wanted:
        out["Addresses"] = [a for a in out["Addresses"] if a["PublicIp"] in wanted]
    return out


OPERATIONS: Operations = {
    "AllocateAddress": allocate_address,
    "ReleaseAddress": release_address,
    "DescribeAddresses": describe_addresses,
}
