"""CIDR blocks as EC2 reads them.

Every CIDR input (CreateVpc, CreateSubnet, routes' destinations, security group rules) is read
by ``ipv4_block`` / ``ipv6_block``: like EC2, they take a block whose host bits are set and
normalize it to its network address (10.250.1.0/16 -> 10.250.0.0/16, 10.0.1.7/24 -> 10.0.1.0/24).
A value that is no block at all is InvalidParameterValue, naming the parameter as the wire does.
"""

from __future__ import annotations

import ipaddress

from podwarden.model.errors import Invalid

IPv4 = ipaddress.IPv4Network
IPv6 = ipaddress.IPv6Network


def _not_cidr(value: object, param: str) -> Invalid:
    return Invalid(
        f"Value ({value}) for parameter {param} is invalid. This is not a valid CIDR block."
    )


def ipv4_block(value: object, param: str) -> IPv4:
    """The IPv4 block ``value`` names, host bits cleared."""
    try:
        return IPv4(str(value), strict=False)
    except ValueError:
        raise _not_cidr(value, param) from None


def ipv6_block(value: object, param: str) -> IPv6:
    """The IPv6 block ``value`` names, host bits cleared."""
    try:
        return IPv6(str(value), strict=False)
    except ValueError:
        raise _not_cidr(value, param) from None
