"""EC2 networking of the local AWS account: handlers called directly, every output checked
against botocore's output shape."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session  # type: ignore[import-untyped]
import pytest

from podwarden.control.context import Context
from podwarden.control.ec2 import OPERATIONS
from podwarden.control.ec2 import filters as ec2_filters
from podwarden.model.errors import PodwardenError
from podwarden.policy.ec2_zones import parse_zones, zones
from podwarden.store.sql import Store, sqlite_url
from podwarden.wire.errors import WireError, wire_error
from tests.aws_helpers import ACCOUNT, assert_shape, make_context

ID = r"[0-9a-f]{17}"


@pytest.fixture(autouse=True, scope="module")
def _one_botocore_session() -> Iterator[None]:
    """assert_shape loads EC2's model (0.2 s) from a new session each call; one session caches it."""
    session = botocore.session.get_session()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "get_session", lambda: session)
        yield


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return make_context(tmp_path)


def call(ctx: Context, op: str, **params: Any) -> dict[str, Any]:
    out = OPERATIONS[op](ctx, params)
    assert_shape("ec2", op, out)
    return out


def fails(ctx: Context, op: str, code: str, **params: Any) -> WireError:
    """The error ``op`` fails with, as the wire words it (``podwarden.wire.errors_ec2``)."""
    with pytest.raises(PodwardenError) as info:
        OPERATIONS[op](ctx, params)
    err = wire_error("ec2", info.value)
    assert err.code == code, err.message
    return err


def tags(kind: str, **kv: str) -> list[dict[str, Any]]:
    return [{"ResourceType": kind, "Tags": [{"Key": k, "Value": v} for k, v in kv.items()]}]


def flt(name: str, *values: str) -> dict[str, Any]:
    return {"Name": name, "Values": list(values)}


def vpc(ctx: Context, cidr: str = "10.0.0.0/16", **params: Any) -> Any:
    return call(ctx, "CreateVpc", CidrBlock=cidr, **params)["Vpc"]


def subnet(ctx: Context, vpc_id: str, cidr: str, **params: Any) -> Any:
    return call(ctx, "CreateSubnet", VpcId=vpc_id, CidrBlock=cidr, **params)["Subnet"]


def ids(out: dict[str, Any], result: str, member: str) -> list[str]:
    return [item[member] for item in out[result]]


def main_table(ctx: Context, vpc_id: str) -> Any:
    filters = [flt("vpc-id", vpc_id), flt("association.main", "true")]
    (table,) = call(ctx, "DescribeRouteTables", Filters=filters)["RouteTables"]
    return table


def igw_attached(ctx: Context, vpc_id: str) -> str:
    igw = call(ctx, "CreateInternetGateway")["InternetGateway"]["InternetGatewayId"]
    call(ctx, "AttachInternetGateway", InternetGatewayId=igw, VpcId=vpc_id)
    return str(igw)


# --- VPCs -------------------------------------------------------------------------------------


def test_create_vpc_makes_main_route_table_and_default_group(ctx: Context) -> None:
    v = vpc(ctx, AmazonProvidedIpv6CidrBlock=True, TagSpecifications=tags("vpc", Name="hp"))
    assert v["VpcId"].startswith("vpc-") and len(v["VpcId"]) == 21
    assert (v["State"], v["CidrBlock"], v["OwnerId"], v["IsDefault"]) == (
        "available", "10.0.0.0/16", ACCOUNT, False,
    )  # fmt: skip
    assert v["Tags"] == [{"Key": "Name", "Value": "hp"}]
    (v6,) = v["Ipv6CidrBlockAssociationSet"]
    block = ipaddress.IPv6Network(v6["Ipv6CidrBlock"])
    assert block.prefixlen == 56 and block.subnet_of(ipaddress.IPv6Network("2600:1f14::/32"))
    table = main_table(ctx, v["VpcId"])
    assert table["Routes"] == [
        {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "Origin": "CreateRouteTable",
         "State": "active"},
        {"DestinationIpv6CidrBlock": str(block), "GatewayId": "local",
         "Origin": "CreateRouteTable", "State": "active"},
    ]  # fmt: skip
    (assoc,) = table["Associations"]
    assert assoc["Main"] is True and assoc["RouteTableAssociationId"].startswith("rtbassoc-")
    assert "SubnetId" not in assoc
    (group,) = call(ctx, "DescribeSecurityGroups", Filters=[flt("vpc-id", v["VpcId"])])[
        "SecurityGroups"
    ]
    assert (group["GroupName"], group["Description"]) == ("default", "default VPC security group")
    assert group["IpPermissions"][0]["UserIdGroupPairs"] == [
        {"UserId": ACCOUNT, "GroupId": group["GroupId"]}
    ]
    egress = group["IpPermissionsEgress"][0]
    assert egress["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    assert egress["Ipv6Ranges"] == [{"CidrIpv6": "::/0"}]


def test_untagged_resources_have_no_tag_set(ctx: Context) -> None:
    assert "Tags" not in vpc(ctx)


def test_vpc_blocks_are_checked(ctx: Context) -> None:
    err = fails(ctx, "CreateVpc", "InvalidVpc.Range", CidrBlock="10.0.0.0/8")
    assert err.message == "The CIDR '10.0.0.0/8' is invalid."
    fails(ctx, "CreateVpc", "InvalidVpc.Range", CidrBlock="10.0.0.0/29")
    err = fails(ctx, "CreateVpc", "InvalidParameterValue", CidrBlock="10.0.0.300/16")
    assert "This is not a valid CIDR block" in err.message
    fails(ctx, "CreateVpc", "MissingParameter")
    fails(ctx, "CreateVpc", "UnsupportedOperation", CidrBlock="10.0.0.0/16", Ipv4IpamPoolId="x")


def test_ipv6_blocks_differ_between_vpcs(ctx: Context) -> None:
    blocks = {
        vpc(ctx, AmazonProvidedIpv6CidrBlock=True)["Ipv6CidrBlockAssociationSet"][0][
            "Ipv6CidrBlock"
        ]
        for _ in range(5)
    }
    assert len(blocks) == 5


def test_describe_vpcs_by_id(ctx: Context) -> None:
    a, b = vpc(ctx)["VpcId"], vpc(ctx, "10.1.0.0/16")["VpcId"]
    assert ids(call(ctx, "DescribeVpcs", VpcIds=[b]), "Vpcs", "VpcId") == [b]
    assert ids(call(ctx, "DescribeVpcs"), "Vpcs", "VpcId") == [a, b]
    err = fails(ctx, "DescribeVpcs", "InvalidVpcID.NotFound", VpcIds=[a, "vpc-0123456789abcdef0"])
    assert err.message == "The vpc ID 'vpc-0123456789abcdef0' does not exist"
    assert err.status == 400
    err = fails(
        ctx, "DescribeVpcs", "InvalidVpcID.NotFound", VpcIds=["vpc-11111111", "vpc-22222222"]
    )
    assert err.message == "The vpc IDs 'vpc-11111111, vpc-22222222' do not exist"
    err = fails(ctx, "DescribeVpcs", "InvalidVpcID.Malformed", VpcIds=["vpc-xyz"])
    assert err.message == 'Invalid id: "vpc-xyz" (expecting "vpc-...")'


def test_delete_vpc_refuses_while_resources_remain(ctx: Context) -> None:
    v = vpc(ctx)["VpcId"]
    blockers = [
        ("CreateSubnet", {"VpcId": v, "CidrBlock": "10.0.0.0/24"}, "DeleteSubnet", "SubnetId"),
        ("CreateRouteTable", {"VpcId": v}, "DeleteRouteTable", "RouteTableId"),
        ("CreateSecurityGroup", {"VpcId": v, "GroupName": "x", "Description": "x"},
         "DeleteSecurityGroup", "GroupId"),
        ("CreateEgressOnlyInternetGateway", {"VpcId": v}, "DeleteEgressOnlyInternetGateway",
         "EgressOnlyInternetGatewayId"),
    ]  # fmt: skip
    for create, params, delete, member in blockers:
        out = call(ctx, create, **params)
        made = next(iter(out.values())) if member != "GroupId" else out
        err = fails(ctx, "DeleteVpc", "DependencyViolation", VpcId=v)
        assert err.message == f"The vpc '{v}' has dependencies and cannot be deleted."
        call(ctx, delete, **{member: made[member]})
    igw = igw_attached(ctx, v)
    fails(ctx, "DeleteVpc", "DependencyViolation", VpcId=v)
    call(ctx, "DetachInternetGateway", InternetGatewayId=igw, VpcId=v)
    call(ctx, "DeleteVpc", VpcId=v)
    assert call(ctx, "DescribeVpcs")["Vpcs"] == []
    assert call(ctx, "DescribeRouteTables")["RouteTables"] == []
    assert call(ctx, "DescribeSecurityGroups")["SecurityGroups"] == []
    fails(ctx, "DeleteVpc", "InvalidVpcID.NotFound", VpcId=v)


# --- subnets ----------------------------------------------------------------------------------


def test_subnet_blocks_and_zones(ctx: Context) -> None:
    v = vpc(ctx, AmazonProvidedIpv6CidrBlock=True)
    v6 = ipaddress.IPv6Network(v["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"])
    first64 = str(next(v6.subnets(new_prefix=64)))
    s = subnet(ctx, v["VpcId"], "10.0.1.0/24", AvailabilityZone="us-west-2b", Ipv6CidrBlock=first64)
    assert s["SubnetId"].startswith("subnet-")
    assert s["SubnetArn"] == f"arn:aws:ec2:us-west-2:{ACCOUNT}:subnet/{s['SubnetId']}"
    assert (s["AvailabilityZone"], s["AvailabilityZoneId"]) == ("us-west-2b", "usw2-az2")
    assert s["AvailableIpAddressCount"] == 256 - 5
    assert s["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"] == first64
    by_id = subnet(ctx, v["VpcId"], "10.0.2.0/28", AvailabilityZoneId="usw2-az4")
    assert by_id["AvailabilityZone"] == "us-west-2d" and by_id["AvailableIpAddressCount"] == 11
    err = fails(ctx, "CreateSubnet", "InvalidSubnet.Conflict", VpcId=v["VpcId"],
                CidrBlock="10.0.1.128/25")  # fmt: skip
    assert err.message == "The CIDR '10.0.1.128/25' conflicts with another subnet"
    err = fails(ctx, "CreateSubnet", "InvalidSubnet.Range", VpcId=v["VpcId"],
                CidrBlock="10.1.0.0/24")  # fmt: skip
    assert err.message == "The CIDR '10.1.0.0/24' is invalid."
    fails(ctx, "CreateSubnet", "InvalidSubnet.Range", VpcId=v["VpcId"], CidrBlock="10.0.9.0/29")
    fails(ctx, "CreateSubnet", "InvalidParameterValue", VpcId=v["VpcId"], CidrBlock="10.0.3")
    fails(ctx, "CreateSubnet", "InvalidSubnet.Range", VpcId=v["VpcId"], CidrBlock="10.0.4.0/24",
          Ipv6CidrBlock="2600:1f00::/64")  # fmt: skip
    fails(ctx, "CreateSubnet", "InvalidSubnet.Conflict", VpcId=v["VpcId"],
          CidrBlock="10.0.4.0/24", Ipv6CidrBlock=first64)  # fmt: skip
    err = fails(ctx, "CreateSubnet", "InvalidParameterValue", VpcId=v["VpcId"],
                CidrBlock="10.0.5.0/24", AvailabilityZone="us-west-2z")  # fmt: skip
    assert "us-west-2a, us-west-2b, us-west-2c, us-west-2d" in err.message
    fails(ctx, "CreateSubnet", "InvalidVpcID.NotFound", VpcId="vpc-00000000",
          CidrBlock="10.0.5.0/24")  # fmt: skip


def test_subnets_without_a_zone_spread_over_zones(ctx: Context) -> None:
    v = vpc(ctx)["VpcId"]
    made = [subnet(ctx, v, f"10.0.{i}.0/24")["AvailabilityZone"] for i in range(4)]
    assert sorted(made) == [z.name for z in zones("us-west-2")]


def test_modify_subnet_attribute_and_filter_on_it(ctx: Context) -> None:
    v = vpc(ctx)["VpcId"]
    public, private = subnet(ctx, v, "10.0.0.0/24"), subnet(ctx, v, "10.0.1.0/24")
    call(ctx, "ModifySubnetAttribute", SubnetId=public["SubnetId"],
         MapPublicIpOnLaunch={"Value": True})  # fmt: skip
    out = call(ctx, "DescribeSubnets", Filters=[flt("map-public-ip-on-launch", "true")])
    assert ids(out, "Subnets", "SubnetId") == [public["SubnetId"]]
    out = call(ctx, "DescribeSubnets", Filters=[flt("map-public-ip-on-launch", "false")])
    assert ids(out, "Subnets", "SubnetId") == [private["SubnetId"]]


def test_delete_subnet(ctx: Context) -> None:
    v = vpc(ctx)["VpcId"]
    s = subnet(ctx, v, "10.0.0.0/24")["SubnetId"]
    call(ctx, "DeleteSubnet", SubnetId=s)
    err = fails(ctx, "DeleteSubnet", "InvalidSubnetID.NotFound", SubnetId=s)
    assert err.message == f"The subnet ID '{s}' does not exist"


# --- filters ----------------------------------------------------------------------------------


def test_subnet_filters(ctx: Context) -> None:
    v1, v2 = vpc(ctx)["VpcId"], vpc(ctx, "10.1.0.0/16")["VpcId"]
    a = subnet(ctx, v1, "10.0.0.0/24", AvailabilityZone="us-west-2a",
               TagSpecifications=tags("subnet", Name="private-a", tier="private"))  # fmt: skip
    b = subnet(ctx, v1, "10.0.1.0/24", AvailabilityZone="us-west-2b",
               TagSpecifications=tags("subnet", Name="private-b", tier="private"))  # fmt: skip
    c = subnet(ctx, v2, "10.1.0.0/24", AvailabilityZone="us-west-2a",
               TagSpecifications=tags("subnet", Name="public-a"))  # fmt: skip
    a, b, c = a["SubnetId"], b["SubnetId"], c["SubnetId"]
    cases: list[tuple[list[dict[str, Any]], list[str]]] = [
        ([flt("vpc-id", v1)], [a, b]),
        ([flt("subnet-id", c, a)], [a, c]),
        ([flt("availability-zone", "us-west-2a")], [a, c]),
        ([flt("availabilityZone", "us-west-2b")], [b]),
        ([flt("availability-zone-id", "usw2-az2")], [b]),
        ([flt("cidr-block", "10.1.0.0/24")], [c]),
        ([flt("state", "available")], [a, b, c]),
        ([flt("tag:Name", "private-*")], [a, b]),
        ([flt("tag:Name", "private-?")], [a, b]),
        ([flt("tag:Name", "*-a")], [a, c]),
        ([flt("tag:tier", "private"), flt("availability-zone", "us-west-2b")], [b]),
        ([flt("tag-key", "tier")], [a, b]),
        ([flt("tag:Name", "private")], []),
        ([flt("owner-id", ACCOUNT), flt("vpc-id", v2)], [c]),
        ([flt("available-ip-address-count", "251")], [a, b, c]),
        ([flt("default-for-az", "false"), flt("cidr-block", "10.0.*")], [a, b]),
    ]
    for filters, expected in cases:
        assert ids(call(ctx, "DescribeSubnets", Filters=filters), "Subnets", "SubnetId") == expected
    both = call(ctx, "DescribeSubnets", SubnetIds=[a, c], Filters=[flt("vpc-id", v1)])
    assert ids(both, "Subnets", "SubnetId") == [a]
    err = fails(ctx, "DescribeSubnets", "InvalidParameterValue", Filters=[flt("no-such", "x")])
    assert err.message == "The filter 'no-such' is invalid"


def test_filter_values_escape_wildcards() -> None:
    docs = [{"Tags": [{"Key": "k", "Value": v}]} for v in ("a*b", "axb", "a?b")]
    table = ec2_filters.TAGS

    def picked(value: str) -> list[str]:
        chosen = ec2_filters.select(docs, [flt("tag:k", value)], table)
        return [d["Tags"][0]["Value"] for d in chosen]

    assert picked("a*b") == ["a*b", "axb", "a?b"]
    assert picked("a\\*b") == ["a*b"]
    assert picked("a\\?b") == ["a?b"]
    assert picked("a?b") == ["a*b", "axb", "a?b"]
    assert picked("A*") == []  # case-sensitive
    assert ec2_filters.select(docs, [flt("tag:k")], table) == []


def test_vpc_filters(ctx: Context) -> None:
    a = vpc(ctx, TagSpecifications=tags("vpc", env="dev"))["VpcId"]
    b = vpc(ctx, "10.1.0.0/16", AmazonProvidedIpv6CidrBlock=True)["VpcId"]
    cases: list[tuple[list[dict[str, Any]], list[str]]] = [
        ([flt("cidr", "10.1.0.0/16")], [b]),
        ([flt("cidr-block-association.cidr-block", "10.0.0.0/16")], [a]),
        ([flt("ipv6-cidr-block-association.ipv6-pool", "Amazon")], [b]),
        ([flt("is-default", "false")], [a, b]),
        ([flt("tag:env", "dev")], [a]),
        ([flt("vpc-id", "vpc-*")], [a, b]),
        ([flt("dhcp-options-id", "default"), flt("state", "available")], [a, b]),
    ]
    for filters, expected in cases:
        assert ids(call(ctx, "DescribeVpcs", Filters=filters), "Vpcs", "VpcId") == expected


# --- pagination -------------------------------------------------------------------------------


def test_describe_pages(ctx: Context) -> None:
    made = [vpc(ctx, f"10.{i}.0.0/16")["VpcId"] for i in range(7)]
    assert "NextToken" not in call(ctx, "DescribeVpcs")
    first = call(ctx, "DescribeVpcs", MaxResults=5)
    assert ids(first, "Vpcs", "VpcId") == made[:5]
    second = call(ctx, "DescribeVpcs", MaxResults=5, NextToken=first["NextToken"])
    assert ids(second, "Vpcs", "VpcId") == made[5:] and "NextToken" not in second
    fails(ctx, "DescribeVpcs", "InvalidPaginationToken", MaxResults=5, NextToken="garbage")
    other = [flt("vpc-id", *made[:6])]
    fails(ctx, "DescribeVpcs", "InvalidPaginationToken", MaxResults=5, Filters=other,
          NextToken=first["NextToken"])  # fmt: skip
    page1 = call(ctx, "DescribeVpcs", MaxResults=5, Filters=other)
    page2 = call(ctx, "DescribeVpcs", MaxResults=5, Filters=other, NextToken=page1["NextToken"])
    assert ids(page1, "Vpcs", "VpcId") + ids(page2, "Vpcs", "VpcId") == made[:6]


# --- route tables -----------------------------------------------------------------------------


def test_routes(ctx: Context) -> None:
    v = vpc(ctx, AmazonProvidedIpv6CidrBlock=True)["VpcId"]
    rtb = call(ctx, "CreateRouteTable", VpcId=v)["RouteTable"]
    assert rtb["Associations"] == [] and len(rtb["Routes"]) == 2
    t = rtb["RouteTableId"]
    loose = call(ctx, "CreateInternetGateway")["InternetGateway"]["InternetGatewayId"]
    err = fails(ctx, "CreateRoute", "InvalidParameterValue", RouteTableId=t,
                DestinationCidrBlock="0.0.0.0/0", GatewayId=loose)  # fmt: skip
    assert (
        err.message == f"route table {t} and network gateway {loose} belong to different networks"
    )
    call(ctx, "AttachInternetGateway", InternetGatewayId=loose, VpcId=v)
    assert call(ctx, "CreateRoute", RouteTableId=t, DestinationCidrBlock="0.0.0.0/0",
                GatewayId=loose) == {"Return": True}  # fmt: skip
    err = fails(ctx, "CreateRoute", "RouteAlreadyExists", RouteTableId=t,
                DestinationCidrBlock="0.0.0.0/0", GatewayId=loose)  # fmt: skip
    assert err.message == "The route identified by 0.0.0.0/0 already exists."
    eigw = call(ctx, "CreateEgressOnlyInternetGateway", VpcId=v)["EgressOnlyInternetGateway"]
    e = eigw["EgressOnlyInternetGatewayId"]
    call(ctx, "CreateRoute", RouteTableId=t, DestinationIpv6CidrBlock="::/0",
         EgressOnlyInternetGatewayId=e)  # fmt: skip
    fails(ctx, "CreateRoute", "InvalidParameterValue", RouteTableId=t,
          DestinationCidrBlock="1.0.0.0/8", EgressOnlyInternetGatewayId=e)  # fmt: skip
    fails(ctx, "CreateRoute", "InvalidInstanceID.NotFound", RouteTableId=t,
          DestinationCidrBlock="1.0.0.0/8", InstanceId="i-0123456789abcdef0")  # fmt: skip
    fails(ctx, "CreateRoute", "InvalidVpnGatewayID.NotFound", RouteTableId=t,
          DestinationCidrBlock="1.0.0.0/8", GatewayId="vgw-0123456789abcdef0")  # fmt: skip
    fails(ctx, "CreateRoute", "MissingParameter", RouteTableId=t, DestinationCidrBlock="1.0.0.0/8")
    fails(ctx, "CreateRoute", "InvalidParameterCombination", RouteTableId=t,
          DestinationCidrBlock="1.0.0.0/8", GatewayId=loose, NatGatewayId="nat-00000000")  # fmt: skip
    routes = call(ctx, "DescribeRouteTables", RouteTableIds=[t])["RouteTables"][0]["Routes"]
    assert routes[2:] == [
        {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": loose, "Origin": "CreateRoute",
         "State": "active"},
        {"DestinationIpv6CidrBlock": "::/0", "EgressOnlyInternetGatewayId": e,
         "Origin": "CreateRoute", "State": "active"},
    ]  # fmt: skip
    err = fails(ctx, "ReplaceRoute", "InvalidParameterValue", RouteTableId=t,
                DestinationCidrBlock="1.0.0.0/8", GatewayId=loose)  # fmt: skip
    assert "Use CreateRoute instead" in err.message
    err = fails(ctx, "DeleteRoute", "InvalidRoute.NotFound", RouteTableId=t,
                DestinationCidrBlock="1.0.0.0/8")  # fmt: skip
    assert err.message == f"no route with destination-cidr-block 1.0.0.0/8 in route table {t}"
    err = fails(ctx, "DeleteRoute", "InvalidParameterValue", RouteTableId=t,
                DestinationCidrBlock="10.0.0.0/16")  # fmt: skip
    assert err.message == f"cannot remove local route 10.0.0.0/16 in route table {t}"
    call(ctx, "DeleteRoute", RouteTableId=t, DestinationIpv6CidrBlock="::/0")
    assert len(call(ctx, "DescribeRouteTables", RouteTableIds=[t])["RouteTables"][0]["Routes"]) == 3
    fails(ctx, "CreateRoute", "InvalidRouteTableID.NotFound", RouteTableId="rtb-00000000",
          DestinationCidrBlock="1.0.0.0/8", GatewayId=loose)  # fmt: skip


def test_route_table_associations(ctx: Context) -> None:
    v, other = vpc(ctx)["VpcId"], vpc(ctx, "10.1.0.0/16")["VpcId"]
    s = subnet(ctx, v, "10.0.0.0/24")["SubnetId"]
    foreign = subnet(ctx, other, "10.1.0.0/24")["SubnetId"]
    t1 = call(ctx, "CreateRouteTable", VpcId=v)["RouteTable"]["RouteTableId"]
    t2 = call(ctx, "CreateRouteTable", VpcId=v, ClientToken="tok")["RouteTable"]["RouteTableId"]
    out = call(ctx, "AssociateRouteTable", RouteTableId=t1, SubnetId=s)
    assert out["AssociationId"].startswith("rtbassoc-")
    assert out["AssociationState"] == {"State": "associated"}
    err = fails(ctx, "AssociateRouteTable", "Resource.AlreadyAssociated", RouteTableId=t2,
                SubnetId=s)  # fmt: skip
    assert t2 in err.message
    fails(ctx, "AssociateRouteTable", "InvalidParameterValue", RouteTableId=t2, SubnetId=foreign)
    by_subnet = call(ctx, "DescribeRouteTables", Filters=[flt("association.subnet-id", s)])
    assert ids(by_subnet, "RouteTables", "RouteTableId") == [t1]
    by_false = call(ctx, "DescribeRouteTables", Filters=[flt("association.main", "false")])
    assert ids(by_false, "RouteTables", "RouteTableId") == [t1]
    err = fails(ctx, "DeleteRouteTable", "DependencyViolation", RouteTableId=t1)
    assert err.message == f"The routeTable '{t1}' has dependencies and cannot be deleted."
    main_assoc = main_table(ctx, v)["Associations"][0]["RouteTableAssociationId"]
    fails(ctx, "DisassociateRouteTable", "InvalidParameterValue", AssociationId=main_assoc)
    call(ctx, "DisassociateRouteTable", AssociationId=out["AssociationId"])
    err = fails(ctx, "DisassociateRouteTable", "InvalidAssociationID.NotFound",
                AssociationId=out["AssociationId"])  # fmt: skip
    assert err.message == f"The association ID '{out['AssociationId']}' does not exist"
    call(ctx, "AssociateRouteTable", RouteTableId=t2, SubnetId=s)
    call(ctx, "DeleteSubnet", SubnetId=s)  # drops its association
    call(ctx, "DeleteRouteTable", RouteTableId=t2)
    err = fails(ctx, "DescribeRouteTables", "InvalidRouteTableID.NotFound", RouteTableIds=[t2])
    assert err.message == f"The routeTable ID '{t2}' does not exist"


def test_route_table_filters(ctx: Context) -> None:
    v = vpc(ctx)["VpcId"]
    igw = igw_attached(ctx, v)
    public = call(ctx, "CreateRouteTable", VpcId=v,
                  TagSpecifications=tags("route-table", Name="public"))  # fmt: skip
    t = public["RouteTable"]["RouteTableId"]
    call(ctx, "CreateRoute", RouteTableId=t, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    main = main_table(ctx, v)["RouteTableId"]
    cases: list[tuple[list[dict[str, Any]], list[str]]] = [
        ([flt("route.gateway-id", igw)], [t]),
        ([flt("route.gateway-id", "igw-*")], [t]),
        ([flt("route.gateway-id", "local")], [main, t]),
        ([flt("route.destination-cidr-block", "0.0.0.0/0")], [t]),
        ([flt("route.origin", "CreateRoute"), flt("route.state", "active")], [t]),
        ([flt("association.main", "true")], [main]),
        ([flt("tag:Name", "public")], [t]),
        ([flt("route-table-id", main, t), flt("vpc-id", v)], [main, t]),
    ]
    for filters, expected in cases:
        got = call(ctx, "DescribeRouteTables", Filters=filters)
        assert ids(got, "RouteTables", "RouteTableId") == expected, filters


# --- gateways ---------------------------------------------------------------------------------


def test_internet_gateway_lifecycle(ctx: Context) -> None:
    v, w = vpc(ctx)["VpcId"], vpc(ctx, "10.1.0.0/16")["VpcId"]
    igw = call(ctx, "CreateInternetGateway", TagSpecifications=tags("internet-gateway", Name="i"))
    g = igw["InternetGateway"]["InternetGatewayId"]
    assert igw["InternetGateway"]["Attachments"] == []
    call(ctx, "AttachInternetGateway", InternetGatewayId=g, VpcId=v)
    (seen,) = call(ctx, "DescribeInternetGateways", InternetGatewayIds=[g])["InternetGateways"]
    assert seen["Attachments"] == [{"State": "available", "VpcId": v}]
    assert seen["OwnerId"] == ACCOUNT
    err = fails(ctx, "AttachInternetGateway", "Resource.AlreadyAssociated",
                InternetGatewayId=g, VpcId=w)  # fmt: skip
    assert err.message == f"resource {g} is already attached to network {v}"
    second = call(ctx, "CreateInternetGateway")["InternetGateway"]["InternetGatewayId"]
    fails(ctx, "AttachInternetGateway", "Resource.AlreadyAssociated", InternetGatewayId=second,
          VpcId=v)  # fmt: skip
    for name, value, expected in (
        ("attachment.vpc-id", v, [g]),
        ("attachment.state", "available", [g]),
        ("internet-gateway-id", second, [second]),
        ("tag:Name", "i", [g]),
    ):
        got = call(ctx, "DescribeInternetGateways", Filters=[flt(name, value)])
        assert ids(got, "InternetGateways", "InternetGatewayId") == expected
    err = fails(ctx, "DeleteInternetGateway", "DependencyViolation", InternetGatewayId=g)
    assert err.message == f"The internetGateway '{g}' has dependencies and cannot be deleted."
    err = fails(ctx, "DetachInternetGateway", "Gateway.NotAttached", InternetGatewayId=g, VpcId=w)
    assert err.message == f"resource {g} is not attached to network {w}"
    main = main_table(ctx, v)["RouteTableId"]
    call(ctx, "CreateRoute", RouteTableId=main, DestinationCidrBlock="0.0.0.0/0", GatewayId=g)
    call(ctx, "DetachInternetGateway", InternetGatewayId=g, VpcId=v)
    assert main_table(ctx, v)["Routes"][-1]["State"] == "blackhole"
    call(ctx, "AttachInternetGateway", InternetGatewayId=g, VpcId=v)
    assert main_table(ctx, v)["Routes"][-1]["State"] == "active"
    call(ctx, "DetachInternetGateway", InternetGatewayId=g, VpcId=v)
    call(ctx, "DeleteInternetGateway", InternetGatewayId=g)
    err = fails(ctx, "DescribeInternetGateways", "InvalidInternetGatewayID.NotFound",
                InternetGatewayIds=[g])  # fmt: skip
    assert err.message == f"The internetGateway ID '{g}' does not exist"


def test_egress_only_internet_gateways(ctx: Context) -> None:
    v = vpc(ctx, AmazonProvidedIpv6CidrBlock=True)["VpcId"]
    out = call(ctx, "CreateEgressOnlyInternetGateway", VpcId=v, ClientToken="t",
               TagSpecifications=tags("egress-only-internet-gateway", Name="e"))  # fmt: skip
    assert out["ClientToken"] == "t"
    e = out["EgressOnlyInternetGateway"]["EgressOnlyInternetGatewayId"]
    assert out["EgressOnlyInternetGateway"]["Attachments"] == [{"State": "attached", "VpcId": v}]
    got = call(ctx, "DescribeEgressOnlyInternetGateways", Filters=[flt("tag:Name", "e")])
    assert ids(got, "EgressOnlyInternetGateways", "EgressOnlyInternetGatewayId") == [e]
    # AWS documents only tag filters for this call
    fails(ctx, "DescribeEgressOnlyInternetGateways", "InvalidParameterValue",
          Filters=[flt("attachment.vpc-id", v)])  # fmt: skip
    main = main_table(ctx, v)["RouteTableId"]
    call(ctx, "CreateRoute", RouteTableId=main, DestinationIpv6CidrBlock="::/0",
         EgressOnlyInternetGatewayId=e)  # fmt: skip
    fails(ctx, "DeleteVpc", "DependencyViolation", VpcId=v)
    assert call(ctx, "DeleteEgressOnlyInternetGateway", EgressOnlyInternetGatewayId=e) == {
        "ReturnCode": True
    }
    assert main_table(ctx, v)["Routes"][-1]["State"] == "blackhole"
    fails(ctx, "DescribeEgressOnlyInternetGateways", "InvalidGatewayID.NotFound",
          EgressOnlyInternetGatewayIds=[e])  # fmt: skip


def test_addresses(ctx: Context) -> None:
    a = call(ctx, "AllocateAddress", Domain="vpc", TagSpecifications=tags("elastic-ip", n="1"))
    b = call(ctx, "AllocateAddress")
    assert a["AllocationId"].startswith("eipalloc-") and a["Domain"] == "vpc"
    assert ipaddress.IPv4Address(a["PublicIp"]) in ipaddress.IPv4Network("198.18.0.0/15")
    assert a["PublicIp"] != b["PublicIp"]
    got = call(ctx, "DescribeAddresses", PublicIps=[b["PublicIp"]])["Addresses"]
    assert [x["AllocationId"] for x in got] == [b["AllocationId"]]
    got = call(ctx, "DescribeAddresses", Filters=[flt("tag:n", "1")])["Addresses"]
    assert [x["AllocationId"] for x in got] == [a["AllocationId"]]
    fails(ctx, "DescribeAddresses", "InvalidAddress.NotFound", PublicIps=["192.0.2.1"])
    call(ctx, "ReleaseAddress", AllocationId=b["AllocationId"])
    err = fails(ctx, "DescribeAddresses", "InvalidAllocationID.NotFound",
                AllocationIds=[b["AllocationId"]])  # fmt: skip
    assert err.message == f"The allocation ID '{b['AllocationId']}' does not exist"
    fails(ctx, "AllocateAddress", "InvalidParameterValue", Domain="standard")


def test_nat_gateways(ctx: Context) -> None:
    v = vpc(ctx)["VpcId"]
    s = subnet(ctx, v, "10.0.0.0/24")["SubnetId"]
    eip = call(ctx, "AllocateAddress")
    alloc = eip["AllocationId"]
    failed = call(ctx, "CreateNatGateway", SubnetId=s, AllocationId=alloc)["NatGateway"]
    assert (failed["State"], failed["FailureCode"]) == ("failed", "Gateway.NotAttached")
    assert failed["FailureMessage"] == f"Network {v} has no Internet gateway attached"
    igw = igw_attached(ctx, v)
    out = call(ctx, "CreateNatGateway", SubnetId=s, AllocationId=alloc, ClientToken="c",
               TagSpecifications=tags("natgateway", Name="nat"))  # fmt: skip
    nat = out["NatGateway"]
    n = nat["NatGatewayId"]
    assert (nat["State"], nat["VpcId"], nat["ConnectivityType"]) == ("available", v, "public")
    (address,) = nat["NatGatewayAddresses"]
    assert (address["AllocationId"], address["PublicIp"], address["PrivateIp"]) == (
        alloc, eip["PublicIp"], "10.0.0.4",
    )  # fmt: skip
    (held,) = call(ctx, "DescribeAddresses", AllocationIds=[alloc])["Addresses"]
    assert held["AssociationId"] == address["AssociationId"]
    assert held["NetworkInterfaceId"] == address["NetworkInterfaceId"]
    (sub,) = call(ctx, "DescribeSubnets", SubnetIds=[s])["Subnets"]
    assert sub["AvailableIpAddressCount"] == 250
    err = fails(ctx, "CreateNatGateway", "Resource.AlreadyAssociated", SubnetId=s,
                AllocationId=alloc)  # fmt: skip
    assert err.message == f"Elastic IP address [{alloc}] is already associated"
    fails(ctx, "ReleaseAddress", "InvalidIPAddress.InUse", AllocationId=alloc)
    fails(ctx, "DeleteSubnet", "DependencyViolation", SubnetId=s)
    err = fails(ctx, "DetachInternetGateway", "DependencyViolation", InternetGatewayId=igw, VpcId=v)
    assert "mapped public address" in err.message
    private = call(ctx, "CreateNatGateway", SubnetId=s, ConnectivityType="private")["NatGateway"]
    assert private["NatGatewayAddresses"][0]["PrivateIp"] == "10.0.0.5"
    fails(ctx, "CreateNatGateway", "MissingParameter", SubnetId=s)
    by_state = call(ctx, "DescribeNatGateways", Filter=[flt("state", "available")])
    assert ids(by_state, "NatGateways", "NatGatewayId") == [n, private["NatGatewayId"]]
    by_tag = call(ctx, "DescribeNatGateways", Filter=[flt("tag:Name", "nat"), flt("vpc-id", v)])
    assert ids(by_tag, "NatGateways", "NatGatewayId") == [n]
    main = main_table(ctx, v)["RouteTableId"]
    call(ctx, "CreateRoute", RouteTableId=main, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=n)
    assert call(ctx, "DeleteNatGateway", NatGatewayId=n) == {"NatGatewayId": n}
    (gone,) = call(ctx, "DescribeNatGateways", NatGatewayIds=[n])["NatGateways"]
    assert gone["State"] == "deleted" and gone["DeleteTime"] >= gone["CreateTime"]
    assert main_table(ctx, v)["Routes"][-1]["State"] == "blackhole"
    (freed,) = call(ctx, "DescribeAddresses", AllocationIds=[alloc])["Addresses"]
    assert "AssociationId" not in freed and "PrivateIpAddress" not in freed
    fails(ctx, "CreateRoute", "NatGatewayNotFound", RouteTableId=main,
          DestinationCidrBlock="1.0.0.0/8", NatGatewayId=n)  # fmt: skip
    later = dataclasses.replace(ctx, now=lambda: ctx.now() + 3601)
    err = fails(later, "DescribeNatGateways", "NatGatewayNotFound", NatGatewayIds=[n])
    assert err.message == f"NAT gateway {n} was not found"


# --- security groups --------------------------------------------------------------------------


def ssh(cidr: str = "10.0.0.0/16") -> list[dict[str, Any]]:
    return [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": cidr}]}]


def test_security_group_lifecycle(ctx: Context) -> None:
    v = vpc(ctx)["VpcId"]
    out = call(ctx, "CreateSecurityGroup", VpcId=v, GroupName="efa", Description="EFA",
               TagSpecifications=tags("security-group", Name="efa"))  # fmt: skip
    g = out["GroupId"]
    assert out["Tags"] == [{"Key": "Name", "Value": "efa"}]
    assert out["SecurityGroupArn"] == f"arn:aws:ec2:us-west-2:{ACCOUNT}:security-group/{g}"
    err = fails(ctx, "CreateSecurityGroup", "InvalidGroup.Duplicate", VpcId=v, GroupName="efa",
                Description="x")  # fmt: skip
    assert err.message == f"The security group 'efa' already exists for VPC '{v}'"
    fails(ctx, "CreateSecurityGroup", "InvalidParameterValue", VpcId=v, GroupName="default",
          Description="x")  # fmt: skip
    fails(ctx, "CreateSecurityGroup", "InvalidParameterValue", VpcId=v, GroupName="sg-1",
          Description="x")  # fmt: skip
    fails(ctx, "CreateSecurityGroup", "VPCIdNotSpecified", GroupName="x", Description="x")
    (group,) = call(ctx, "DescribeSecurityGroups", GroupIds=[g])["SecurityGroups"]
    assert group["IpPermissions"] == []
    assert group["IpPermissionsEgress"] == [
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}], "Ipv6Ranges": [],
         "PrefixListIds": [], "UserIdGroupPairs": []}
    ]  # fmt: skip
    err = fails(ctx, "DescribeSecurityGroups", "InvalidGroup.NotFound",
                GroupIds=["sg-0123456789abcdef0"])  # fmt: skip
    assert err.message == "The security group 'sg-0123456789abcdef0' does not exist"
    fails(ctx, "DescribeSecurityGroups", "InvalidGroup.NotFound", GroupNames=["efa"])
    fails(ctx, "DescribeSecurityGroups", "InvalidGroupId.Malformed", GroupIds=["sg-bad"])
    default = call(ctx, "DescribeSecurityGroups", Filters=[flt("group-name", "default")])
    d = default["SecurityGroups"][0]["GroupId"]
    err = fails(ctx, "DeleteSecurityGroup", "CannotDelete", GroupId=d)
    assert err.message == f'the specified group: "{d}" name: "default" cannot be deleted by a user'
    assert call(ctx, "DeleteSecurityGroup", GroupId=g) == {"Return": True, "GroupId": g}


def test_security_group_rules(ctx: Context) -> None:
    v = vpc(ctx)["VpcId"]
    g = call(ctx, "CreateSecurityGroup", VpcId=v, GroupName="a", Description="a")["GroupId"]
    h = call(ctx, "CreateSecurityGroup", VpcId=v, GroupName="b", Description="b")["GroupId"]
    out = call(ctx, "AuthorizeSecurityGroupIngress", GroupId=g, IpPermissions=ssh())
    (rule,) = out["SecurityGroupRules"]
    assert rule["SecurityGroupRuleId"].startswith("sgr-")
    assert (rule["IpProtocol"], rule["FromPort"], rule["CidrIpv4"]) == ("tcp", 22, "10.0.0.0/16")
    err = fails(ctx, "AuthorizeSecurityGroupIngress", "InvalidPermission.Duplicate", GroupId=g,
                IpPermissions=ssh())  # fmt: skip
    assert "peer: 10.0.0.0/16, TCP, from port: 22, to port: 22, ALLOW" in err.message
    call(ctx, "AuthorizeSecurityGroupIngress", GroupId=g, IpProtocol="6", FromPort=443,
         ToPort=443, CidrIp="0.0.0.0/0")  # fmt: skip
    call(ctx, "AuthorizeSecurityGroupIngress", GroupId=g, IpPermissions=[
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": h, "Description": "peer"}]},
        {"IpProtocol": "all", "UserIdGroupPairs": [{"GroupName": "a"}]},
    ])  # fmt: skip
    call(ctx, "AuthorizeSecurityGroupEgress", GroupId=g,
         IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": g}]}])  # fmt: skip
    fails(ctx, "AuthorizeSecurityGroupIngress", "InvalidParameterValue", GroupId=g,
          IpPermissions=[{"IpProtocol": "tcp", "IpRanges": [{"CidrIp": "1.0.0.0/8"}]}])  # fmt: skip
    fails(ctx, "AuthorizeSecurityGroupIngress", "InvalidParameterValue", GroupId=g,
          IpPermissions=[{"IpProtocol": "bogus", "IpRanges": [{"CidrIp": "1.0.0.0/8"}]}])  # fmt: skip
    (group,) = call(ctx, "DescribeSecurityGroups", GroupIds=[g])["SecurityGroups"]
    assert group["IpPermissions"] == [
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/16"}],
         "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
         "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []},
        {"IpProtocol": "-1", "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [],
         "UserIdGroupPairs": [{"UserId": ACCOUNT, "GroupId": h, "Description": "peer"},
                              {"UserId": ACCOUNT, "GroupId": g}]},
    ]  # fmt: skip
    cases: list[tuple[str, str, list[str]]] = [
        ("ip-permission.cidr", "0.0.0.0/0", [g]),
        ("ip-permission.from-port", "22", [g]),
        ("ip-permission.protocol", "tcp", [g]),
        ("ip-permission.group-id", h, [g]),
        ("ip-permission.group-name", "b", [g]),
        ("egress.ip-permission.group-id", g, [g]),
        ("egress.ip-permission.cidr", "0.0.0.0/0", [g, h]),
        ("ip-permission.cidr", "10.*", [g]),
        ("group-name", "b", [h]),
        ("description", "?", [g, h]),
    ]
    for name, value, expected in cases:
        got = call(ctx, "DescribeSecurityGroups",
                   Filters=[flt(name, value), flt("vpc-id", v), flt("group-name", "a", "b")])  # fmt: skip
        assert ids(got, "SecurityGroups", "GroupId") == expected, name
    err = fails(ctx, "DeleteSecurityGroup", "DependencyViolation", GroupId=h)
    assert err.message == f"resource {h} has a dependent object"
    partial = call(ctx, "RevokeSecurityGroupIngress", GroupId=g,
                   IpPermissions=ssh() + ssh("1.0.0.0/8"))  # fmt: skip
    assert partial["Return"] is True
    assert [r["CidrIpv4"] for r in partial["RevokedSecurityGroupRules"]] == ["10.0.0.0/16"]
    assert partial["UnknownIpPermissions"][0]["IpRanges"] == [{"CidrIp": "1.0.0.0/8"}]
    fails(ctx, "RevokeSecurityGroupIngress", "InvalidPermission.NotFound", GroupId=g,
          IpPermissions=ssh())  # fmt: skip
    pair = [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": h}]}]
    call(ctx, "RevokeSecurityGroupIngress", GroupId=g, IpPermissions=pair)
    egress = call(ctx, "DescribeSecurityGroups", GroupIds=[g])["SecurityGroups"][0]
    rule_ids = [r["SecurityGroupRuleId"] for r in call(
        ctx, "AuthorizeSecurityGroupEgress", GroupId=g, IpPermissions=ssh()
    )["SecurityGroupRules"]]  # fmt: skip
    call(ctx, "RevokeSecurityGroupEgress", GroupId=g, SecurityGroupRuleIds=rule_ids)
    assert call(ctx, "DescribeSecurityGroups", GroupIds=[g])["SecurityGroups"][0] == egress
    fails(ctx, "RevokeSecurityGroupEgress", "InvalidSecurityGroupRuleId.NotFound", GroupId=g,
          SecurityGroupRuleIds=rule_ids)  # fmt: skip
    call(ctx, "DeleteSecurityGroup", GroupId=h)


def test_security_group_pages(ctx: Context) -> None:
    v = vpc(ctx)["VpcId"]
    for i in range(6):
        call(ctx, "CreateSecurityGroup", VpcId=v, GroupName=f"g{i}", Description="x")
    first = call(ctx, "DescribeSecurityGroups", MaxResults=5)
    rest = call(ctx, "DescribeSecurityGroups", MaxResults=5, NextToken=first["NextToken"])
    names = [g["GroupName"] for g in first["SecurityGroups"] + rest["SecurityGroups"]]
    assert names == ["default", *(f"g{i}" for i in range(6))]


# --- tags, DryRun, zones ----------------------------------------------------------------------


def test_create_and_delete_tags(ctx: Context) -> None:
    v = vpc(ctx)["VpcId"]
    s = subnet(ctx, v, "10.0.0.0/24")["SubnetId"]
    alloc = call(ctx, "AllocateAddress")["AllocationId"]
    new = [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    call(ctx, "CreateTags", Resources=[v, s, alloc], Tags=new)
    call(ctx, "CreateTags", Resources=[v], Tags=[{"Key": "a", "Value": "9"}])
    assert call(ctx, "DescribeVpcs", VpcIds=[v])["Vpcs"][0]["Tags"] == [
        {"Key": "b", "Value": "2"}, {"Key": "a", "Value": "9"},
    ]  # fmt: skip
    call(ctx, "DeleteTags", Resources=[v], Tags=[{"Key": "a", "Value": "1"}, {"Key": "b"}])
    assert call(ctx, "DescribeVpcs", VpcIds=[v])["Vpcs"][0]["Tags"] == [{"Key": "a", "Value": "9"}]
    call(ctx, "DeleteTags", Resources=[s])
    assert "Tags" not in call(ctx, "DescribeSubnets", SubnetIds=[s])["Subnets"][0]
    tagged = call(ctx, "DescribeAddresses", Filters=[flt("tag-key", "b")])["Addresses"]
    assert [a["AllocationId"] for a in tagged] == [alloc]
    fails(ctx, "CreateTags", "InvalidSubnetID.NotFound", Resources=[v, "subnet-00000000"],
          Tags=new)  # fmt: skip
    assert call(ctx, "DescribeVpcs", VpcIds=[v])["Vpcs"][0]["Tags"] == [{"Key": "a", "Value": "9"}]
    fails(ctx, "CreateTags", "InvalidID", Resources=["ami-12345678"], Tags=new)
    fails(ctx, "CreateVpc", "InvalidParameterValue", CidrBlock="10.0.0.0/16",
          TagSpecifications=tags("subnet", a="b"))  # fmt: skip


def test_dry_run(ctx: Context) -> None:
    err = fails(ctx, "CreateVpc", "DryRunOperation", CidrBlock="10.0.0.0/16", DryRun=True)
    assert (err.status, err.message) == (
        412,
        "Request would have succeeded, but DryRun flag is set.",
    )
    assert call(ctx, "DescribeVpcs")["Vpcs"] == []
    fails(ctx, "DescribeSubnets", "DryRunOperation", DryRun=True)


def test_availability_zones(ctx: Context) -> None:
    out = call(ctx, "DescribeAvailabilityZones")["AvailabilityZones"]
    assert [(z["ZoneName"], z["ZoneId"]) for z in out] == [
        ("us-west-2a", "usw2-az1"), ("us-west-2b", "usw2-az2"), ("us-west-2c", "usw2-az3"),
        ("us-west-2d", "usw2-az4"),
    ]  # fmt: skip
    assert out[0]["State"] == "available" and out[0]["RegionName"] == "us-west-2"
    named = call(ctx, "DescribeAvailabilityZones", ZoneIds=["usw2-az3"])["AvailabilityZones"]
    assert [z["ZoneName"] for z in named] == ["us-west-2c"]
    filtered = call(ctx, "DescribeAvailabilityZones", Filters=[flt("zone-name", "*[ab]")])
    assert filtered["AvailabilityZones"] == []  # no character classes: '[' is literal
    filtered = call(ctx, "DescribeAvailabilityZones", Filters=[flt("zone-name", "*b", "*c")])
    assert [z["ZoneId"] for z in filtered["AvailabilityZones"]] == ["usw2-az2", "usw2-az3"]
    fails(ctx, "DescribeAvailabilityZones", "InvalidParameterValue", ZoneNames=["us-west-2z"])
    tokyo = make_context(Path(), region="ap-northeast-1", store=ctx.store)
    assert [z["ZoneId"] for z in call(tokyo, "DescribeAvailabilityZones")["AvailabilityZones"]] == [
        "apne1-az1", "apne1-az2", "apne1-az3",
    ]  # fmt: skip


def test_zone_table_is_checked() -> None:
    with pytest.raises(ValueError, match="zone letter"):
        parse_zones("default_letters: [a, bb]\nabbreviations: {}\nregions: {}\n", "t.yaml")
    with pytest.raises(ValueError, match="keys"):
        parse_zones("regions: {}\n", "t.yaml")


def test_regions_and_accounts_are_separate(ctx: Context, tmp_path: Path) -> None:
    vpc(ctx)
    other = make_context(tmp_path, region="us-east-1", store=ctx.store)
    assert call(other, "DescribeVpcs")["Vpcs"] == []
    stranger = make_context(tmp_path, account="111111111111", store=ctx.store)
    assert call(stranger, "DescribeVpcs")["Vpcs"] == []


# --- persistence ------------------------------------------------------------------------------


def test_a_restart_keeps_every_resource(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    v = vpc(ctx, AmazonProvidedIpv6CidrBlock=True)["VpcId"]
    s = subnet(ctx, v, "10.0.0.0/24")["SubnetId"]
    igw = igw_attached(ctx, v)
    alloc = call(ctx, "AllocateAddress")["AllocationId"]
    nat = call(ctx, "CreateNatGateway", SubnetId=s, AllocationId=alloc)["NatGateway"]
    g = call(ctx, "CreateSecurityGroup", VpcId=v, GroupName="g", Description="g")["GroupId"]
    call(ctx, "AuthorizeSecurityGroupIngress", GroupId=g, IpPermissions=ssh())
    eigw = call(ctx, "CreateEgressOnlyInternetGateway", VpcId=v)["EgressOnlyInternetGateway"]
    ops = [
        ("DescribeVpcs", "Vpcs"), ("DescribeSubnets", "Subnets"),
        ("DescribeRouteTables", "RouteTables"), ("DescribeInternetGateways", "InternetGateways"),
        ("DescribeEgressOnlyInternetGateways", "EgressOnlyInternetGateways"),
        ("DescribeAddresses", "Addresses"), ("DescribeNatGateways", "NatGateways"),
        ("DescribeSecurityGroups", "SecurityGroups"),
    ]  # fmt: skip
    before = {op: call(ctx, op)[result] for op, result in ops}
    restarted = make_context(tmp_path, store=Store(sqlite_url(tmp_path)))
    after = {op: call(restarted, op)[result] for op, result in ops}
    assert after == before
    assert [x["InternetGatewayId"] for x in after["DescribeInternetGateways"]] == [igw]
    assert after["DescribeNatGateways"][0]["NatGatewayId"] == nat["NatGatewayId"]
    assert after["DescribeEgressOnlyInternetGateways"] == [eigw]


# --- the HyperPod VPC of AWS's setup template -------------------------------------------------


def _table_of(tables: list[dict[str, Any]], subnet_id: str) -> dict[str, Any]:
    """The table a subnet uses: its explicit association, else the VPC's main table."""
    explicit = [t for t in tables for a in t["Associations"] if a.get("SubnetId") == subnet_id]
    main = [t for t in tables for a in t["Associations"] if a["Main"]]
    return (explicit or main)[0]


def _is_private(table: dict[str, Any]) -> bool:
    """No default route (IPv4 or IPv6) to an internet gateway; egress-only gateways are fine."""
    default = {"0.0.0.0/0", "::/0"}
    return not any(
        (r.get("DestinationCidrBlock") in default or r.get("DestinationIpv6CidrBlock") in default)
        and r.get("GatewayId", "").startswith("igw-")
        for r in table["Routes"]
    )


def test_hyperpod_vpc_as_in_the_setup_template(ctx: Context) -> None:
    """AWS's HyperPod EKS VPC stack: one public subnet routed to an internet gateway (holding the
    NAT gateway), two private subnets in two zones routed to the NAT gateway (plus ::/0 to an
    egress-only gateway), and a security group that allows all traffic within itself (EFA)."""
    v = vpc(ctx, "10.192.0.0/16", AmazonProvidedIpv6CidrBlock=True,
            TagSpecifications=tags("vpc", Name="hyperpod-vpc"))["VpcId"]  # fmt: skip
    igw = igw_attached(ctx, v)
    eigw = call(ctx, "CreateEgressOnlyInternetGateway", VpcId=v)["EgressOnlyInternetGateway"][
        "EgressOnlyInternetGatewayId"
    ]
    public = subnet(ctx, v, "10.192.10.0/24", AvailabilityZone="us-west-2a")["SubnetId"]
    call(ctx, "ModifySubnetAttribute", SubnetId=public, MapPublicIpOnLaunch={"Value": True})
    private = [
        subnet(ctx, v, cidr, AvailabilityZoneId=zone)["SubnetId"]
        for cidr, zone in (("10.192.64.0/18", "usw2-az1"), ("10.192.128.0/18", "usw2-az2"))
    ]
    public_rt = call(ctx, "CreateRouteTable", VpcId=v)["RouteTable"]["RouteTableId"]
    call(ctx, "CreateRoute", RouteTableId=public_rt, DestinationCidrBlock="0.0.0.0/0",
         GatewayId=igw)  # fmt: skip
    call(ctx, "AssociateRouteTable", RouteTableId=public_rt, SubnetId=public)
    alloc = call(ctx, "AllocateAddress", Domain="vpc")["AllocationId"]
    nat = call(ctx, "CreateNatGateway", SubnetId=public, AllocationId=alloc)["NatGateway"]
    assert nat["State"] == "available"
    private_rt = call(ctx, "CreateRouteTable", VpcId=v)["RouteTable"]["RouteTableId"]
    call(ctx, "CreateRoute", RouteTableId=private_rt, DestinationCidrBlock="0.0.0.0/0",
         NatGatewayId=nat["NatGatewayId"])  # fmt: skip
    call(ctx, "CreateRoute", RouteTableId=private_rt, DestinationIpv6CidrBlock="::/0",
         EgressOnlyInternetGatewayId=eigw)  # fmt: skip
    for s in private:
        call(ctx, "AssociateRouteTable", RouteTableId=private_rt, SubnetId=s)
    unassociated = subnet(ctx, v, "10.192.20.0/24", AvailabilityZone="us-west-2c")["SubnetId"]
    sg = call(ctx, "CreateSecurityGroup", VpcId=v, GroupName="hyperpod-efa",
              Description="EFA")["GroupId"]  # fmt: skip
    itself = [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": sg}]}]
    call(ctx, "AuthorizeSecurityGroupIngress", GroupId=sg, IpPermissions=itself)
    call(ctx, "AuthorizeSecurityGroupEgress", GroupId=sg, IpPermissions=itself)

    # What a preflight check reads, with the filters it would send to AWS.
    (found,) = call(ctx, "DescribeVpcs", Filters=[flt("tag:Name", "hyperpod-vpc")])["Vpcs"]
    assert found["VpcId"] == v
    subnets = call(ctx, "DescribeSubnets", Filters=[flt("vpc-id", v)])["Subnets"]
    assert {s["AvailabilityZone"] for s in subnets if s["SubnetId"] in private} == {
        "us-west-2a", "us-west-2b",
    }  # fmt: skip
    tables = call(ctx, "DescribeRouteTables", Filters=[flt("vpc-id", v)])["RouteTables"]
    verdict = {s["SubnetId"]: _is_private(_table_of(tables, s["SubnetId"])) for s in subnets}
    assert verdict == {public: False, private[0]: True, private[1]: True, unassociated: True}
    assert _table_of(tables, unassociated)["RouteTableId"] == main_table(ctx, v)["RouteTableId"]
    routed = call(ctx, "DescribeRouteTables", Filters=[flt("route.gateway-id", igw)])
    assert [a["SubnetId"] for a in routed["RouteTables"][0]["Associations"]] == [public]
    by_nat = call(ctx, "DescribeRouteTables",
                  Filters=[flt("route.nat-gateway-id", nat["NatGatewayId"])])  # fmt: skip
    assert sorted(a["SubnetId"] for a in by_nat["RouteTables"][0]["Associations"]) == sorted(
        private
    )
    one = call(ctx, "DescribeRouteTables", Filters=[flt("association.subnet-id", private[1])])
    assert ids(one, "RouteTables", "RouteTableId") == [private_rt]
    gateways = call(ctx, "DescribeInternetGateways", Filters=[flt("attachment.vpc-id", v)])
    assert ids(gateways, "InternetGateways", "InternetGatewayId") == [igw]
    assert ids(call(ctx, "DescribeEgressOnlyInternetGateways"), "EgressOnlyInternetGateways",
               "EgressOnlyInternetGatewayId") == [eigw]  # fmt: skip
    (efa,) = call(ctx, "DescribeSecurityGroups",
                  Filters=[flt("vpc-id", v), flt("group-name", "hyperpod-efa")])["SecurityGroups"]  # fmt: skip
    assert efa["IpPermissions"][0]["UserIdGroupPairs"] == [{"UserId": ACCOUNT, "GroupId": sg}]
    assert efa["IpPermissionsEgress"][-1]["UserIdGroupPairs"] == [
        {"UserId": ACCOUNT, "GroupId": sg}
    ]


# --- issue 17: CIDRs normalized, every subnet attribute stored, stored strings checked ---------


def test_non_canonical_cidrs_are_normalized_to_the_network(ctx: Context) -> None:
    """EC2 takes a block with host bits set and answers its network address, everywhere a CIDR
    comes in: CreateVpc, CreateSubnet, routes and security group rules."""
    v = vpc(ctx, "10.250.1.0/16", AmazonProvidedIpv6CidrBlock=True)
    assert v["CidrBlock"] == "10.250.0.0/16"
    assert v["CidrBlockAssociationSet"][0]["CidrBlock"] == "10.250.0.0/16"
    v6 = ipaddress.IPv6Network(v["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"])
    first64 = next(v6.subnets(new_prefix=64))
    host = f"{first64.network_address + 7}/64"
    s = subnet(ctx, v["VpcId"], "10.250.1.7/24", Ipv6CidrBlock=host)
    assert s["CidrBlock"] == "10.250.1.0/24"
    assert s["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"] == str(first64)
    fails(
        ctx, "CreateSubnet", "InvalidSubnet.Conflict", VpcId=v["VpcId"], CidrBlock="10.250.1.9/24"
    )
    igw = igw_attached(ctx, v["VpcId"])
    t = call(ctx, "CreateRouteTable", VpcId=v["VpcId"])["RouteTable"]["RouteTableId"]
    call(ctx, "CreateRoute", RouteTableId=t, DestinationCidrBlock="192.168.7.1/16", GatewayId=igw)
    fails(ctx, "CreateRoute", "RouteAlreadyExists", RouteTableId=t,
          DestinationCidrBlock="192.168.0.0/16", GatewayId=igw)  # fmt: skip
    call(ctx, "ReplaceRoute", RouteTableId=t, DestinationCidrBlock="192.168.200.200/16",
         GatewayId=igw)  # fmt: skip
    routes = call(ctx, "DescribeRouteTables", RouteTableIds=[t])["RouteTables"][0]["Routes"]
    assert [r.get("DestinationCidrBlock") for r in routes if r["GatewayId"] == igw] == [
        "192.168.0.0/16"
    ]
    call(ctx, "DeleteRoute", RouteTableId=t, DestinationCidrBlock="192.168.1.1/16")
    g = call(ctx, "CreateSecurityGroup", VpcId=v["VpcId"], GroupName="n", Description="n")
    perms = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
              "IpRanges": [{"CidrIp": "10.1.2.3/8"}],
              "Ipv6Ranges": [{"CidrIpv6": "2001:db8::1/32"}]}]  # fmt: skip
    made = call(ctx, "AuthorizeSecurityGroupIngress", GroupId=g["GroupId"], IpPermissions=perms)
    rules = made["SecurityGroupRules"]
    assert [(r.get("CidrIpv4"), r.get("CidrIpv6")) for r in rules] == [
        ("10.0.0.0/8", None), (None, "2001:db8::/32"),
    ]  # fmt: skip
    fails(ctx, "AuthorizeSecurityGroupIngress", "InvalidPermission.Duplicate",
          GroupId=g["GroupId"], CidrIp="10.9.9.9/8", IpProtocol="tcp", FromPort=22,
          ToPort=22)  # fmt: skip
    fails(ctx, "CreateVpc", "InvalidParameterValue", CidrBlock="10.0.0.0/33")


def test_modify_subnet_attribute_stores_every_attribute(ctx: Context) -> None:
    """Each attribute ModifySubnetAttribute takes shows in DescribeSubnets afterwards (the DNS
    names ones under PrivateDnsNameOptionsOnLaunch); one attribute a call."""
    from podwarden.control.ec2.subnets import SUBNET_ATTRIBUTES  # noqa: PLC0415
    from podwarden.wire.models import service_model  # noqa: PLC0415

    members = set(service_model("ec2").operation_model("ModifySubnetAttribute").input_shape.members)
    assert set(SUBNET_ATTRIBUTES) == members - {"SubnetId", "DryRun"}
    v = vpc(ctx)["VpcId"]
    s = subnet(ctx, v, "10.0.0.0/24")["SubnetId"]
    on = {"Value": True}
    for member, value in (
        ("EnableResourceNameDnsARecordOnLaunch", on),
        ("EnableResourceNameDnsAAAARecordOnLaunch", on),
        ("PrivateDnsHostnameTypeOnLaunch", "resource-name"),
        ("AssignIpv6AddressOnCreation", on),
        ("EnableDns64", on),
        ("MapPublicIpOnLaunch", on),
        ("EnableLniAtDeviceIndex", 1),
    ):
        call(ctx, "ModifySubnetAttribute", SubnetId=s, **{member: value})
    (got,) = call(ctx, "DescribeSubnets", SubnetIds=[s])["Subnets"]
    assert got["PrivateDnsNameOptionsOnLaunch"] == {
        "HostnameType": "resource-name",
        "EnableResourceNameDnsARecord": True,
        "EnableResourceNameDnsAAAARecord": True,
    }
    assert got["AssignIpv6AddressOnCreation"] and got["EnableDns64"] and got["MapPublicIpOnLaunch"]
    assert got["EnableLniAtDeviceIndex"] == 1
    filtered = call(ctx, "DescribeSubnets", Filters=[
        flt("private-dns-name-options-on-launch.enable-resource-name-dns-a-record", "true")
    ])  # fmt: skip
    assert ids(filtered, "Subnets", "SubnetId") == [s]
    call(ctx, "ModifySubnetAttribute", SubnetId=s, DisableLniAtDeviceIndex=on)
    call(ctx, "ModifySubnetAttribute", SubnetId=s,
         EnableResourceNameDnsARecordOnLaunch={"Value": False})  # fmt: skip
    (got,) = call(ctx, "DescribeSubnets", SubnetIds=[s])["Subnets"]
    assert "EnableLniAtDeviceIndex" not in got
    assert got["PrivateDnsNameOptionsOnLaunch"]["EnableResourceNameDnsARecord"] is False
    err = fails(ctx, "ModifySubnetAttribute", "InvalidParameterCombination", SubnetId=s,
                MapPublicIpOnLaunch={"Value": False}, EnableDns64={"Value": False})  # fmt: skip
    assert err.message.endswith("Provided attributes: [mapPublicIpOnLaunch, enableDns64]")
    (after,) = call(ctx, "DescribeSubnets", SubnetIds=[s])["Subnets"]
    assert after["MapPublicIpOnLaunch"] and after["EnableDns64"]


GROUP_SET = "a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"Description": "a\x01b"},
            f"Invalid security group description. Valid descriptions are strings less than 256 "
            f"characters from the following set:  {GROUP_SET}",
        ),
        ({"Description": "it's"}, "Invalid security group description."),
        ({"Description": "x" * 256}, "Invalid security group description."),
        (
            {"Description": "caf\u00e9"},
            "Value (caf\u00e9) for parameter GroupDescription is invalid. Character sets beyond "
            "ASCII are not supported.",
        ),
        ({"GroupName": "a\tb"}, "Invalid security group name. Valid names are strings less"),
        ({"GroupName": "\u00e9"}, "for parameter GroupName is invalid. Character sets beyond"),
        (
            {"TagSpecifications": tags("security-group", k="a\x02b")},
            "Value ( a\x02b ) for parameter value is invalid. Tag values cannot contain the "
            "character U+0002 (XML 1.0 cannot carry it).",
        ),
        (
            {"TagSpecifications": tags("security-group", **{"k\ud800": "v"})},
            "Tag keys cannot contain the character U+D800",
        ),
        (
            {"TagSpecifications": tags("security-group", **{"AWS:x": "v"})},
            "Value ( AWS:x ) for parameter key is invalid. Tag keys starting with 'aws:' are "
            "reserved for internal use",
        ),
        (
            {"TagSpecifications": tags("security-group", k="v" * 257)},
            "Tag value exceeds the maximum length of 256 characters",
        ),
        (
            {"TagSpecifications": tags("security-group", **{"k" * 129: "v"})},
            "Tag key exceeds the maximum length of 128 characters",
        ),
    ],
)
def test_security_group_strings_are_checked_and_nothing_is_stored(
    ctx: Context, params: dict[str, Any], message: str
) -> None:
    v = vpc(ctx)["VpcId"]
    request = {"VpcId": v, "GroupName": "g", "Description": "d", **params}
    err = fails(ctx, "CreateSecurityGroup", "InvalidParameterValue", **request)
    assert err.message.startswith(message) or message in err.message, err.message
    groups = call(ctx, "DescribeSecurityGroups", Filters=[flt("vpc-id", v)])["SecurityGroups"]
    assert [g["GroupName"] for g in groups] == ["default"]


def test_allowed_strings_are_stored_as_given(ctx: Context) -> None:
    v = vpc(ctx)["VpcId"]
    text = "Ab0. _-:/()#,@[]+=&;{}!$*"
    g = call(ctx, "CreateSecurityGroup", VpcId=v, GroupName=text, Description=text,
             TagSpecifications=tags("security-group", **{"k\u00e9 \t": "v\u00e9\n\r"}))  # fmt: skip
    (group,) = call(ctx, "DescribeSecurityGroups", GroupIds=[g["GroupId"]])["SecurityGroups"]
    assert (group["GroupName"], group["Description"]) == (text, text)
    assert group["Tags"] == [{"Key": "k\u00e9 \t", "Value": "v\u00e9\n\r"}]


def test_rule_descriptions_and_create_tags_are_checked(ctx: Context) -> None:
    v = vpc(ctx)["VpcId"]
    g = call(ctx, "CreateSecurityGroup", VpcId=v, GroupName="g", Description="d")["GroupId"]
    for entry in ({"CidrIp": "10.0.0.0/8"}, {"CidrIpv6": "::/0"}, {"GroupId": g}):
        key = {"CidrIp": "IpRanges", "CidrIpv6": "Ipv6Ranges", "GroupId": "UserIdGroupPairs"}
        perm = {"IpProtocol": "-1", key[next(iter(entry))]: [{**entry, "Description": "a\x01"}]}
        err = fails(ctx, "AuthorizeSecurityGroupIngress", "InvalidParameterValue", GroupId=g,
                    IpPermissions=[perm])  # fmt: skip
        assert err.message == (
            "Invalid rule description. Valid descriptions are strings less than 256 characters "
            f"from the following set:  {GROUP_SET}"
        )
    (group,) = call(ctx, "DescribeSecurityGroups", GroupIds=[g])["SecurityGroups"]
    assert group["IpPermissions"] == []
    err = fails(ctx, "CreateTags", "InvalidParameterValue", Resources=[v, g],
                Tags=[{"Key": "ok", "Value": "1"}, {"Key": "bad", "Value": "\x0b"}])  # fmt: skip
    assert "Tag values cannot contain the character U+000B" in err.message
    fails(ctx, "CreateTags", "InvalidParameterValue", Resources=[v], Tags=[{"Key": ""}])
    assert "Tags" not in call(ctx, "DescribeVpcs", VpcIds=[v])["Vpcs"][0]
    call(ctx, "CreateTags", Resources=[v], Tags=[{"Key": "only-key"}])
    assert call(ctx, "DescribeVpcs", VpcIds=[v])["Vpcs"][0]["Tags"] == [
        {"Key": "only-key", "Value": ""}
    ]
