"""EC2's error codes: what each domain error raised by ``podwarden.control.ec2`` becomes on the
wire (see ``podwarden.wire.error_table``).

Error codes and messages are AWS's. Sources, where the wording is not in botocore's model:
observed CLI output quoted in public issues and docs (``The vpc ID 'vpc-…' does not exist``,
``NAT gateway nat-… was not found``: gruntwork-io/cloud-nuke#325), the OpenStack ec2-api
project's table of AWS errors (``ec2api/exception.py``), and moto's ``moto/ec2/exceptions.py``
(moto 5.2, installed with podwarden's bench group). NotFound codes are the ones botocore's own
EC2 waiters expect (``InvalidVpcID.NotFound``, ``InvalidGroup.NotFound`` — not
``InvalidGroupId.NotFound`` — and ``NatGatewayNotFound`` for NAT gateways); the one exception
is botocore's InternetGatewayExists waiter, which expects ``InvalidInternetGateway.NotFound`` where
AWS answers ``InvalidInternetGatewayID.NotFound`` (as quoted CLI output shows), so podwarden
answers what AWS answers. AWS words several missing ids in the plural (``The instance IDs
'i-1, i-2' do not exist``); every resource type here does the same.

Each resource type of ``podwarden.control.ec2.resources`` has two reasons, named after its record
kind (``ec2:vpc`` -> ``vpc-not-found`` with the detail ``ids``, ``vpc-malformed`` with ``id`` and
``prefix``). A plain ``Invalid`` is ``InvalidParameterValue`` with the error's own message, the
code EC2 answers for most bad inputs; an entry without a template likewise keeps the message its
handler computed.
"""

from __future__ import annotations

from podwarden.model.errors import Invalid, InvalidToken, PodwardenError
from podwarden.wire.error_table import Code, Family

Codes = dict[str | type[PodwardenError], Code]
MALFORMED = 'Invalid id: "{id}" (expecting "{prefix}-...")'


def _missing(code: str, noun: str) -> Code:
    """``The <noun> '<id>' does not exist``, in the plural for several ids."""
    return Code(
        code,
        message=f"The {noun} '{{ids}}' does not exist",
        many=f"The {noun}s '{{ids}}' do not exist",
    )


def _absent(code: str, noun: str) -> Code:
    """``The <noun> ID '<id>' does not exist``: a resource podwarden does not emulate, which
    therefore never exists in the local account."""
    return Code(code, message=f"The {noun} ID '{{ids}}' does not exist")


_RESOURCES: Codes = {
    "vpc-not-found": _missing("InvalidVpcID.NotFound", "vpc ID"),
    "vpc-malformed": Code("InvalidVpcID.Malformed", message=MALFORMED),
    "subnet-not-found": _missing("InvalidSubnetID.NotFound", "subnet ID"),
    "subnet-malformed": Code("InvalidSubnetID.Malformed", message=MALFORMED),
    "route-table-not-found": _missing("InvalidRouteTableID.NotFound", "routeTable ID"),
    "route-table-malformed": Code("InvalidRouteTableID.Malformed", message=MALFORMED),
    "internet-gateway-not-found": _missing(
        "InvalidInternetGatewayID.NotFound", "internetGateway ID"
    ),
    "internet-gateway-malformed": Code("InvalidInternetGatewayID.Malformed", message=MALFORMED),
    "egress-only-internet-gateway-not-found": _missing("InvalidGatewayID.NotFound", "eigw ID"),
    "egress-only-internet-gateway-malformed": Code(
        "InvalidEgressOnlyInternetGatewayId.Malformed", message=MALFORMED
    ),
    "nat-gateway-not-found": Code(
        "NatGatewayNotFound",
        message="NAT gateway {ids} was not found",
        many="NAT gateways {ids} were not found",
    ),
    "nat-gateway-malformed": Code("NatGatewayMalformed", message=MALFORMED),
    "address-not-found": _missing("InvalidAllocationID.NotFound", "allocation ID"),
    "address-malformed": Code("InvalidAllocationID.Malformed", message=MALFORMED),
    "security-group-not-found": _missing("InvalidGroup.NotFound", "security group"),
    "security-group-malformed": Code("InvalidGroupId.Malformed", message=MALFORMED),
}

# Route targets of kinds podwarden does not emulate: an id of one never exists here.
_ROUTE_TARGETS: Codes = {
    "vpn-gateway-not-found": _absent("InvalidVpnGatewayID.NotFound", "vpnGateway"),
    "gateway-not-found": _absent("InvalidGatewayID.NotFound", "gateway"),
    "instance-not-found": _absent("InvalidInstanceID.NotFound", "instance"),
    "network-interface-not-found": _absent(
        "InvalidNetworkInterfaceID.NotFound", "networkInterface"
    ),
    "peering-connection-not-found": _absent(
        "InvalidVpcPeeringConnectionID.NotFound", "vpcPeeringConnection"
    ),
    "transit-gateway-not-found": Code(
        "InvalidTransitGatewayID.NotFound",
        message="Transit Gateway {ids} was deleted or does not exist.",
    ),
    "local-gateway-not-found": _absent("InvalidLocalGatewayID.NotFound", "localGateway"),
    "carrier-gateway-not-found": _absent("InvalidCarrierGatewayID.NotFound", "carrierGateway"),
    "vpc-endpoint-not-found": _absent("InvalidVpcEndpointId.NotFound", "vpcEndpoint"),
    "core-network-not-found": Code(
        "InvalidParameterValue", message="Core network {ids} does not exist"
    ),
    "odb-network-not-found": Code(
        "InvalidParameterValue", message="ODB network {ids} does not exist"
    ),
    # Routes' code spells ``ID``; security group rules' (below) ``Id``, both as AWS answers.
    "prefix-list-not-found": _absent("InvalidPrefixListID.NotFound", "prefix list"),
}

_REQUESTS: Codes = {
    "dry-run": Code(
        "DryRunOperation", 412, message="Request would have succeeded, but DryRun flag is set."
    ),
    "missing-parameter": Code(
        "MissingParameter", message="The request must contain the parameter {name}"
    ),
    "missing-choice": Code("MissingParameter"),  # none of several alternatives named
    "parameter-combination": Code("InvalidParameterCombination"),
    "unsupported-parameter": Code(
        "UnsupportedOperation",
        message="The parameter {member} is not supported by podwarden's local EC2.",
    ),
    "unknown-id": Code("InvalidID", message="The ID '{id}' is not valid"),
    "unknown-filter": Code("InvalidParameterValue", message="The filter '{name}' is invalid"),
    "has-dependencies": Code(
        "DependencyViolation", message="The {noun} '{id}' has dependencies and cannot be deleted."
    ),
    "already-associated": Code("Resource.AlreadyAssociated"),
}

_NETWORK: Codes = {
    "vpc-range": Code("InvalidVpc.Range", message="The CIDR '{cidr}' is invalid."),
    "subnet-range": Code("InvalidSubnet.Range", message="The CIDR '{cidr}' is invalid."),
    "subnet-conflict": Code(
        "InvalidSubnet.Conflict", message="The CIDR '{cidr}' conflicts with another subnet"
    ),
    "route-exists": Code(
        "RouteAlreadyExists", message="The route identified by {destination} already exists."
    ),
    "route-not-found": Code(
        "InvalidRoute.NotFound",
        message="no route with {filter} {destination} in route table {table}",
    ),
    "association-not-found": _absent("InvalidAssociationID.NotFound", "association"),
    "gateway-not-attached": Code(
        "Gateway.NotAttached", message="resource {id} is not attached to network {vpc}"
    ),
    "maps-public-addresses": Code(
        "DependencyViolation",
        message="Network {vpc} has some mapped public address(es). Please unmap those public "
        "address(es) before detaching the gateway.",
    ),
    "public-ip-not-found": Code("InvalidAddress.NotFound", message="Address '{ip}' not found."),
    "address-in-use": Code("InvalidIPAddress.InUse", message="Address {ip} is in use."),
    "insufficient-addresses": Code(
        "InsufficientFreeAddressesInSubnet",
        message="Subnet has insufficient free addresses to create this NAT gateway",
    ),
}

_SECURITY_GROUPS: Codes = {
    "security-group-not-found-in-default-vpc": Code(
        "InvalidGroup.NotFound",
        message="The security group '{ids}' does not exist in default VPC '{vpc}'",
    ),
    "no-default-vpc": Code("VPCIdNotSpecified", message="No default VPC for this user"),
    "security-group-duplicate": Code(
        "InvalidGroup.Duplicate",
        message="The security group '{name}' already exists for VPC '{vpc}'",
    ),
    "default-group-undeletable": Code(
        "CannotDelete",
        message='the specified group: "{id}" name: "default" cannot be deleted by a user',
    ),
    "security-group-referenced": Code(
        "DependencyViolation", message="resource {id} has a dependent object"
    ),
    "permission-duplicate": Code(
        "InvalidPermission.Duplicate", message='the specified rule "{rule}" already exists'
    ),
    "permission-not-found": Code(
        "InvalidPermission.NotFound",
        message="The specified rule does not exist in this security group.",
    ),
    "rule-not-found": _absent("InvalidSecurityGroupRuleId.NotFound", "security group rule"),
    "rule-prefix-list-not-found": _absent("InvalidPrefixListId.NotFound", "prefix list"),
}

EC2 = Family(
    {
        **_RESOURCES,
        **_ROUTE_TARGETS,
        **_REQUESTS,
        **_NETWORK,
        **_SECURITY_GROUPS,
        InvalidToken: Code(
            "InvalidPaginationToken",
            message="The specified pagination token is not valid or is expired.",
        ),
        Invalid: Code("InvalidParameterValue"),
    }
)
