"""EC2's resource types: for each, its record kind, its id (prefix and member) and its tag type.

Records: one per resource in ``ctx.store.resources``, kind ``ec2:<type>``
(``podwarden.model.aws.kinds``), scope the caller's region (``ctx.scope``), key the resource id,
parent the VPC id where the resource lives in one. Ids are ``<prefix>-`` and 17 lowercase hex
digits, as EC2's current ids; EC2's older 8-digit form is accepted as input.

Each type's errors are ``podwarden.wire.errors_ec2``'s entries named after its record kind's
type: ``vpc-not-found`` (the ``ids`` missing), ``vpc-malformed`` (an ``id`` not of the type's
form). ``BY_PREFIX`` finds the type of any id (CreateTags, DeleteTags).
"""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass

from podwarden.model.aws import kinds
from podwarden.model.errors import Invalid


@dataclass(frozen=True)
class Resource:
    """One EC2 resource type."""

    kind: str  # the record kind, ``ec2:<type>``
    prefix: str  # of its ids: ``vpc``
    id_member: str  # the member of its output shape holding the id: ``VpcId``
    tag: str = ""  # TagSpecifications' ResourceType, where it is not the record's type

    @property
    def type(self) -> str:
        """``vpc`` of ``ec2:vpc``: the stem of the type's error reasons."""
        return self.kind.partition(":")[2]

    @property
    def tag_type(self) -> str:
        return self.tag or self.type

    @property
    def not_found(self) -> str:
        return f"{self.type}-not-found"

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(rf"{self.prefix}-[0-9a-f]{{8}}(?:[0-9a-f]{{9}})?")

    def check_id(self, value: str) -> str:
        """``value``, or the type's Malformed error when it is not an id of this type."""
        if not self.pattern.fullmatch(value):
            raise Invalid(reason=f"{self.type}-malformed", id=value, prefix=self.prefix)
        return value


VPC = Resource(kinds.EC2_VPC, "vpc", "VpcId")
SUBNET = Resource(kinds.EC2_SUBNET, "subnet", "SubnetId")
ROUTE_TABLE = Resource(kinds.EC2_ROUTE_TABLE, "rtb", "RouteTableId")
INTERNET_GATEWAY = Resource(kinds.EC2_INTERNET_GATEWAY, "igw", "InternetGatewayId")
EGRESS_ONLY_GATEWAY = Resource(kinds.EC2_EGRESS_ONLY_GATEWAY, "eigw", "EgressOnlyInternetGatewayId")
NAT_GATEWAY = Resource(kinds.EC2_NAT_GATEWAY, "nat", "NatGatewayId", tag="natgateway")
ADDRESS = Resource(kinds.EC2_ADDRESS, "eipalloc", "AllocationId", tag="elastic-ip")
SECURITY_GROUP = Resource(kinds.EC2_SECURITY_GROUP, "sg", "GroupId")

TYPES = (
    VPC, SUBNET, ROUTE_TABLE, INTERNET_GATEWAY, EGRESS_ONLY_GATEWAY, NAT_GATEWAY, ADDRESS,
    SECURITY_GROUP,
)  # fmt: skip
BY_PREFIX = {t.prefix: t for t in TYPES}


def new_id(prefix: str) -> str:
    """``<prefix>-`` and 17 lowercase hex digits, as EC2's current ids."""
    return f"{prefix}-{secrets.token_hex(9)[:17]}"
