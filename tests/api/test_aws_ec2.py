"""EC2 networking through boto3 over real HTTP (ec2 protocol): the HyperPod VPC of AWS's setup
templates built call by call, Describe* with filters and paginators, EC2's error codes on the
wire, and every id kept across a restart of the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.api.aws_server import AwsServer

VPC_CIDR = "10.192.0.0/16"
PUBLIC_CIDR = "10.192.10.0/24"
PRIVATE_CIDRS = ("10.192.64.0/18", "10.192.128.0/18")


def error(err: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    resp = err.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"]


def message(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Message"])


def named(name: str, kind: str) -> list[dict[str, Any]]:
    return [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": name}]}]


def flt(name: str, *values: str) -> dict[str, Any]:
    return {"Name": name, "Values": list(values)}


def build_hyperpod_vpc(ec2: Any, prefix: str = "hyperpod") -> dict[str, Any]:
    """The network of AWS's HyperPod EKS setup template: one VPC, a public subnet routed to an
    internet gateway and holding a NAT gateway (with an Elastic IP), two private subnets in two
    zones routed to the NAT gateway, and the cluster's security group (all traffic between its
    members, FSx for Lustre's ports, HTTPS from the VPC)."""
    vpc = ec2.create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=named(f"{prefix}-vpc", "vpc"))["Vpc"]
    vpc_id = vpc["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    public = ec2.create_subnet(
        VpcId=vpc_id,
        CidrBlock=PUBLIC_CIDR,
        AvailabilityZone=zones[0],
        TagSpecifications=named(f"{prefix}-public-1", "subnet"),
    )["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=public, MapPublicIpOnLaunch={"Value": True})
    private = [
        ec2.create_subnet(
            VpcId=vpc_id,
            CidrBlock=cidr,
            AvailabilityZone=zone,
            TagSpecifications=named(f"{prefix}-private-{i + 1}", "subnet"),
        )["Subnet"]["SubnetId"]
        for i, (cidr, zone) in enumerate(zip(PRIVATE_CIDRS, zones[:2], strict=True))
    ]
    igw = ec2.create_internet_gateway(TagSpecifications=named(f"{prefix}-igw", "internet-gateway"))[
        "InternetGateway"
    ]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    public_rtb = ec2.create_route_table(
        VpcId=vpc_id, TagSpecifications=named(f"{prefix}-public-rt", "route-table")
    )["RouteTable"]["RouteTableId"]
    assert ec2.create_route(
        RouteTableId=public_rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw
    )["Return"]
    ec2.associate_route_table(RouteTableId=public_rtb, SubnetId=public)
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(
        SubnetId=public, AllocationId=eip, TagSpecifications=named(f"{prefix}-nat", "natgateway")
    )["NatGateway"]["NatGatewayId"]
    ec2.get_waiter("nat_gateway_available").wait(
        NatGatewayIds=[nat], WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )
    private_rtbs = []
    for i, subnet in enumerate(private):
        rtb = ec2.create_route_table(
            VpcId=vpc_id, TagSpecifications=named(f"{prefix}-private-rt-{i + 1}", "route-table")
        )["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
        ec2.associate_route_table(RouteTableId=rtb, SubnetId=subnet)
        private_rtbs.append(rtb)
    sg = ec2.create_security_group(
        GroupName=f"{prefix}-sg",
        Description="HyperPod cluster security group",
        VpcId=vpc_id,
        TagSpecifications=named(f"{prefix}-sg", "security-group"),
    )["GroupId"]
    itself = [{"GroupId": sg}]
    rules = ec2.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {"IpProtocol": "-1", "UserIdGroupPairs": itself},
            {"IpProtocol": "tcp", "FromPort": 988, "ToPort": 988, "UserIdGroupPairs": itself},
            {"IpProtocol": "tcp", "FromPort": 1018, "ToPort": 1023, "UserIdGroupPairs": itself},
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": VPC_CIDR, "Description": "HTTPS from the VPC"}],
            },
        ],
    )["SecurityGroupRules"]
    assert len(rules) == 4 and all(r["SecurityGroupRuleId"].startswith("sgr-") for r in rules)
    return {
        "vpc": vpc_id,
        "zones": zones[:2],
        "public": public,
        "private": private,
        "igw": igw,
        "public_rtb": public_rtb,
        "private_rtbs": private_rtbs,
        "eip": eip,
        "nat": nat,
        "sg": sg,
    }


@pytest.fixture(scope="module")
def net(aws: AwsServer) -> dict[str, Any]:
    return build_hyperpod_vpc(aws.client("ec2"))


def ids(items: list[dict[str, Any]], member: str) -> list[str]:
    return [i[member] for i in items]


def test_the_hyperpod_vpc_as_built(aws: AwsServer, net: dict[str, Any]) -> None:
    ec2 = aws.client("ec2")
    vpc = ec2.describe_vpcs(VpcIds=[net["vpc"]])["Vpcs"][0]
    assert vpc["CidrBlock"] == VPC_CIDR and vpc["State"] == "available"
    assert vpc["Tags"] == [{"Key": "Name", "Value": "hyperpod-vpc"}]
    assert vpc["IsDefault"] is False
    subnets = ec2.describe_subnets(Filters=[flt("vpc-id", net["vpc"])])["Subnets"]
    assert sorted(ids(subnets, "SubnetId")) == sorted([net["public"], *net["private"]])
    by_id = {s["SubnetId"]: s for s in subnets}
    assert {by_id[s]["AvailabilityZone"] for s in net["private"]} == set(net["zones"])
    assert by_id[net["public"]]["MapPublicIpOnLaunch"] is True
    # /24: 256 - 5 reserved - 1 for the NAT gateway's interface
    assert by_id[net["public"]]["AvailableIpAddressCount"] == 250
    assert by_id[net["private"][0]]["AvailableIpAddressCount"] == 2**14 - 5
    nat = ec2.describe_nat_gateways(NatGatewayIds=[net["nat"]])["NatGateways"][0]
    assert nat["State"] == "available" and nat["SubnetId"] == net["public"]
    address = nat["NatGatewayAddresses"][0]
    assert address["AllocationId"] == net["eip"]
    assert address["PrivateIp"].startswith("10.192.10.")
    eip = ec2.describe_addresses(AllocationIds=[net["eip"]])["Addresses"][0]
    assert eip["PublicIp"] == address["PublicIp"] and eip["Domain"] == "vpc"
    assert eip["AssociationId"] == address["AssociationId"]
    igw = ec2.describe_internet_gateways(InternetGatewayIds=[net["igw"]])["InternetGateways"][0]
    assert igw["Attachments"] == [{"State": "available", "VpcId": net["vpc"]}]
    sg = ec2.describe_security_groups(GroupIds=[net["sg"]])["SecurityGroups"][0]
    assert sg["GroupName"] == "hyperpod-sg" and sg["VpcId"] == net["vpc"]
    inbound = {
        (p["IpProtocol"], p.get("FromPort"), p.get("ToPort")): p for p in sg["IpPermissions"]
    }
    assert set(inbound) == {
        ("-1", None, None),
        ("tcp", 988, 988),
        ("tcp", 1018, 1023),
        ("tcp", 443, 443),
    }
    assert inbound[("-1", None, None)]["UserIdGroupPairs"][0]["GroupId"] == net["sg"]
    assert inbound[("tcp", 443, 443)]["IpRanges"] == [
        {"CidrIp": VPC_CIDR, "Description": "HTTPS from the VPC"}
    ]
    assert sg["IpPermissionsEgress"][0]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]


def test_route_table_filters(aws: AwsServer, net: dict[str, Any]) -> None:
    ec2 = aws.client("ec2")

    def tables(*filters: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = ec2.describe_route_tables(Filters=list(filters))["RouteTables"]
        return out

    for subnet, rtb in zip(net["private"], net["private_rtbs"], strict=True):
        found = tables(flt("association.subnet-id", subnet))
        assert ids(found, "RouteTableId") == [rtb]
        default = [r for r in found[0]["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert default == [
            {
                "DestinationCidrBlock": "0.0.0.0/0",
                "NatGatewayId": net["nat"],
                "Origin": "CreateRoute",
                "State": "active",
            }
        ]
    public = tables(flt("route.gateway-id", net["igw"]))
    assert ids(public, "RouteTableId") == [net["public_rtb"]]
    assert [a["SubnetId"] for a in public[0]["Associations"]] == [net["public"]]
    main = tables(flt("vpc-id", net["vpc"]), flt("association.main", "true"))
    assert len(main) == 1 and main[0]["RouteTableId"] not in {
        net["public_rtb"],
        *net["private_rtbs"],
    }
    assert main[0]["Routes"] == [
        {
            "DestinationCidrBlock": VPC_CIDR,
            "GatewayId": "local",
            "Origin": "CreateRouteTable",
            "State": "active",
        }
    ]
    assert len(tables(flt("vpc-id", net["vpc"]))) == 4
    via_nat = tables(flt("route.nat-gateway-id", net["nat"]))
    assert sorted(ids(via_nat, "RouteTableId")) == sorted(net["private_rtbs"])
    assert ids(tables(flt("tag:Name", "hyperpod-public-rt")), "RouteTableId") == [net["public_rtb"]]


def test_filters_tags_and_wildcards(aws: AwsServer, net: dict[str, Any]) -> None:
    ec2 = aws.client("ec2")

    def subnets(*filters: dict[str, Any]) -> set[str]:
        return set(ids(ec2.describe_subnets(Filters=list(filters))["Subnets"], "SubnetId"))

    private = set(net["private"])
    assert subnets(flt("tag:Name", "hyperpod-private-*")) == private
    assert subnets(flt("tag:Name", "hyperpod-private-?")) == private
    assert subnets(flt("tag:Name", "hyperpod-p*-1")) == {net["public"], net["private"][0]}
    assert subnets(flt("tag:Name", "HYPERPOD-*")) == set()  # case-sensitive
    assert subnets(flt("tag:Name", "hyperpod-private-\\*")) == set()  # a literal star
    # values of one filter OR, filters AND
    assert subnets(flt("cidr-block", *PRIVATE_CIDRS)) == private
    assert subnets(
        flt("cidr-block", *PRIVATE_CIDRS), flt("availability-zone", net["zones"][1])
    ) == {net["private"][1]}
    assert subnets(flt("tag-key", "Name"), flt("vpc-id", net["vpc"])) == {
        net["public"],
        *private,
    }
    assert subnets(flt("map-public-ip-on-launch", "true"), flt("vpc-id", net["vpc"])) == {
        net["public"]
    }
    vpcs = ec2.describe_vpcs(Filters=[flt("tag:Name", "hyperpod-*"), flt("cidr", VPC_CIDR)])
    assert net["vpc"] in ids(vpcs["Vpcs"], "VpcId")
    groups = ec2.describe_security_groups(
        Filters=[flt("vpc-id", net["vpc"]), flt("ip-permission.from-port", "988")]
    )["SecurityGroups"]
    assert ids(groups, "GroupId") == [net["sg"]]
    defaults = ec2.describe_security_groups(
        Filters=[flt("vpc-id", net["vpc"]), flt("group-name", "default")]
    )["SecurityGroups"]
    assert len(defaults) == 1 and defaults[0]["GroupId"] != net["sg"]
    nats = ec2.describe_nat_gateways(Filter=[flt("vpc-id", net["vpc"]), flt("state", "available")])
    assert ids(nats["NatGateways"], "NatGatewayId") == [net["nat"]]
    igws = ec2.describe_internet_gateways(Filters=[flt("attachment.vpc-id", net["vpc"])])
    assert ids(igws["InternetGateways"], "InternetGatewayId") == [net["igw"]]
    with pytest.raises(ClientError) as err:
        ec2.describe_subnets(Filters=[flt("no-such-filter", "x")])
    assert error(err) == (400, "InvalidParameterValue")
    assert message(err) == "The filter 'no-such-filter' is invalid"


def test_paginators(aws: AwsServer) -> None:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16", TagSpecifications=named("paging", "vpc"))
    vpc_id = vpc["Vpc"]["VpcId"]
    made = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.50.{i}.0/24")["Subnet"]["SubnetId"]
        for i in range(12)
    ]
    for i in range(6):
        ec2.create_security_group(GroupName=f"paging-{i}", Description="paging", VpcId=vpc_id)
        ec2.create_route_table(VpcId=vpc_id)
    pages = list(
        ec2.get_paginator("describe_subnets").paginate(
            Filters=[flt("vpc-id", vpc_id)], PaginationConfig={"PageSize": 5}
        )
    )
    assert [len(p["Subnets"]) for p in pages] == [5, 5, 2]
    assert all("NextToken" in p for p in pages[:-1]) and "NextToken" not in pages[-1]
    assert sorted(s["SubnetId"] for p in pages for s in p["Subnets"]) == sorted(made)
    # the zones are spread: no zone given, the VPC's least used one is chosen
    zones = {s["AvailabilityZone"] for p in pages for s in p["Subnets"]}
    assert len(zones) >= 2
    groups = ec2.get_paginator("describe_security_groups").paginate(
        Filters=[flt("vpc-id", vpc_id)], PaginationConfig={"PageSize": 5}
    )
    names = [g["GroupName"] for p in groups for g in p["SecurityGroups"]]
    assert sorted(names) == sorted(["default", *(f"paging-{i}" for i in range(6))])
    tables = ec2.get_paginator("describe_route_tables").paginate(
        Filters=[flt("vpc-id", vpc_id)], PaginationConfig={"PageSize": 5}
    )
    table_pages = [len(p["RouteTables"]) for p in tables]
    assert table_pages == [5, 2]
    vpcs = ec2.get_paginator("describe_vpcs").paginate(PaginationConfig={"PageSize": 5})
    assert vpc_id in [v["VpcId"] for p in vpcs for v in p["Vpcs"]]
    # all at once without MaxResults, and a bad token is EC2's error
    assert len(ec2.describe_subnets(Filters=[flt("vpc-id", vpc_id)])["Subnets"]) == 12
    with pytest.raises(ClientError) as err:
        ec2.describe_subnets(MaxResults=5, NextToken="not-a-token")
    assert error(err) == (400, "InvalidPaginationToken")


def test_errors_over_the_wire(aws: AwsServer, net: dict[str, Any]) -> None:
    ec2 = aws.client("ec2")
    missing = "vpc-0123456789abcdef0"
    with pytest.raises(ClientError) as err:
        ec2.describe_vpcs(VpcIds=[missing])
    assert error(err) == (400, "InvalidVpcID.NotFound")
    assert message(err) == f"The vpc ID '{missing}' does not exist"
    with pytest.raises(ClientError) as err:
        ec2.delete_vpc(VpcId="vpc-nothex")
    assert error(err) == (400, "InvalidVpcID.Malformed")
    with pytest.raises(ClientError) as err:
        ec2.create_subnet(VpcId=missing, CidrBlock="10.0.0.0/24")
    assert error(err) == (400, "InvalidVpcID.NotFound")
    with pytest.raises(ClientError) as err:
        ec2.delete_vpc(VpcId=net["vpc"])
    assert error(err) == (400, "DependencyViolation")
    assert message(err) == f"The vpc '{net['vpc']}' has dependencies and cannot be deleted."
    with pytest.raises(ClientError) as err:  # the NAT gateway lives in it
        ec2.delete_subnet(SubnetId=net["public"])
    assert error(err) == (400, "DependencyViolation")
    with pytest.raises(ClientError) as err:
        ec2.create_subnet(VpcId=net["vpc"], CidrBlock="10.192.10.128/25")
    assert error(err) == (400, "InvalidSubnet.Conflict")
    assert message(err) == "The CIDR '10.192.10.128/25' conflicts with another subnet"
    with pytest.raises(ClientError) as err:
        ec2.create_subnet(VpcId=net["vpc"], CidrBlock="10.193.0.0/24")
    assert error(err) == (400, "InvalidSubnet.Range")
    with pytest.raises(ClientError) as err:
        ec2.create_vpc(CidrBlock="10.0.0.300/16")
    assert error(err) == (400, "InvalidParameterValue")
    assert "This is not a valid CIDR block" in message(err)
    with pytest.raises(ClientError) as err:
        ec2.create_subnet(VpcId=net["vpc"], CidrBlock="10.192.200.0/24", AvailabilityZone="mars-1a")
    assert error(err) == (400, "InvalidParameterValue")
    with pytest.raises(ClientError) as err:
        ec2.create_vpc(CidrBlock="10.60.0.0/16", DryRun=True)
    assert error(err) == (412, "DryRunOperation")
    assert message(err) == "Request would have succeeded, but DryRun flag is set."
    assert not ec2.describe_vpcs(Filters=[flt("cidr", "10.60.0.0/16")])["Vpcs"]
    with pytest.raises(ClientError) as err:
        ec2.describe_nat_gateways(NatGatewayIds=["nat-0123456789abcdef0"])
    assert error(err) == (400, "NatGatewayNotFound")
    with pytest.raises(ClientError) as err:
        ec2.describe_security_groups(GroupIds=["sg-0123456789abcdef0"])
    assert error(err) == (400, "InvalidGroup.NotFound")
    with pytest.raises(ClientError) as err:
        ec2.create_security_group(GroupName="hyperpod-sg", Description="again", VpcId=net["vpc"])
    assert error(err) == (400, "InvalidGroup.Duplicate")
    with pytest.raises(ClientError) as err:
        ec2.authorize_security_group_ingress(
            GroupId=net["sg"],
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 988,
                    "ToPort": 988,
                    "UserIdGroupPairs": [{"GroupId": net["sg"]}],
                }
            ],
        )
    assert error(err) == (400, "InvalidPermission.Duplicate")
    with pytest.raises(ClientError) as err:
        ec2.create_route(
            RouteTableId=net["public_rtb"], DestinationCidrBlock="0.0.0.0/0", GatewayId=net["igw"]
        )
    assert error(err) == (400, "RouteAlreadyExists")
    with pytest.raises(ClientError) as err:
        ec2.attach_internet_gateway(InternetGatewayId=net["igw"], VpcId=net["vpc"])
    assert error(err)[0] == 400


def test_missing_required_parameter(aws: AwsServer) -> None:
    """Without boto3's own validation the server's answers: EC2's MissingParameter."""
    ec2 = aws.client("ec2", parameter_validation=False)
    with pytest.raises(ClientError) as err:
        ec2.delete_vpc()
    assert error(err) == (400, "MissingParameter")
    assert message(err) == "The request must contain the parameter VpcId"
    with pytest.raises(ClientError) as err:
        ec2.create_route_table()
    assert error(err) == (400, "MissingParameter")
    with pytest.raises(ClientError) as err:
        ec2.create_vpc()
    assert error(err) == (400, "MissingParameter")


def test_teardown_in_dependency_order(aws: AwsServer) -> None:
    ec2 = aws.client("ec2")
    net = build_hyperpod_vpc(ec2, "teardown")
    ec2.delete_nat_gateway(NatGatewayId=net["nat"])
    nat = ec2.describe_nat_gateways(NatGatewayIds=[net["nat"]])["NatGateways"][0]
    assert nat["State"] == "deleted"  # visible for a while, as in AWS
    ec2.get_waiter("nat_gateway_deleted").wait(
        NatGatewayIds=[net["nat"]], WaiterConfig={"Delay": 1, "MaxAttempts": 3}
    )
    routes = ec2.describe_route_tables(RouteTableIds=net["private_rtbs"])["RouteTables"]
    assert {r["State"] for t in routes for r in t["Routes"] if "NatGatewayId" in r} == {"blackhole"}
    assert "AssociationId" not in ec2.describe_addresses(AllocationIds=[net["eip"]])["Addresses"][0]
    ec2.release_address(AllocationId=net["eip"])
    ec2.detach_internet_gateway(InternetGatewayId=net["igw"], VpcId=net["vpc"])
    ec2.delete_internet_gateway(InternetGatewayId=net["igw"])
    public = ec2.describe_route_tables(RouteTableIds=[net["public_rtb"]])["RouteTables"][0]
    assert [r["State"] for r in public["Routes"] if r.get("GatewayId") == net["igw"]] == [
        "blackhole"
    ]
    for subnet in [net["public"], *net["private"]]:
        ec2.delete_subnet(SubnetId=subnet)
    for rtb in [net["public_rtb"], *net["private_rtbs"]]:
        ec2.delete_route_table(RouteTableId=rtb)
    ec2.delete_security_group(GroupId=net["sg"])
    ec2.delete_vpc(VpcId=net["vpc"])
    with pytest.raises(ClientError) as err:
        ec2.describe_vpcs(VpcIds=[net["vpc"]])
    assert error(err) == (400, "InvalidVpcID.NotFound")
    assert not ec2.describe_route_tables(Filters=[flt("vpc-id", net["vpc"])])["RouteTables"]
    assert not ec2.describe_security_groups(Filters=[flt("vpc-id", net["vpc"])])["SecurityGroups"]


def snapshot(ec2: Any, vpc_id: str) -> dict[str, Any]:
    """Everything Describe* says about one VPC, less the request metadata."""
    by_vpc = [flt("vpc-id", vpc_id)]
    calls = {
        "vpcs": ec2.describe_vpcs(VpcIds=[vpc_id]),
        "subnets": ec2.describe_subnets(Filters=by_vpc),
        "route_tables": ec2.describe_route_tables(Filters=by_vpc),
        "security_groups": ec2.describe_security_groups(Filters=by_vpc),
        "nat_gateways": ec2.describe_nat_gateways(Filter=by_vpc),
        "internet_gateways": ec2.describe_internet_gateways(
            Filters=[flt("attachment.vpc-id", vpc_id)]
        ),
        "addresses": ec2.describe_addresses(),
    }
    for out in calls.values():
        out.pop("ResponseMetadata")
    return calls


def test_every_id_survives_a_restart(tmp_path: Path) -> None:
    first = AwsServer(tmp_path).start()
    try:
        ec2 = first.client("ec2")
        net = build_hyperpod_vpc(ec2)
        before = snapshot(ec2, net["vpc"])
    finally:
        first.stop()
    second = AwsServer(tmp_path).start()
    try:
        ec2 = second.client("ec2")
        after = snapshot(ec2, net["vpc"])
        assert after == before
        subnets = {s["SubnetId"] for s in after["subnets"]["Subnets"]}
        assert subnets == {net["public"], *net["private"]}
        assert after["nat_gateways"]["NatGateways"][0]["NatGatewayId"] == net["nat"]
        # the restarted server keeps enforcing what the records say
        with pytest.raises(ClientError) as err:
            ec2.delete_vpc(VpcId=net["vpc"])
        assert error(err) == (400, "DependencyViolation")
        with pytest.raises(ClientError) as err:
            ec2.create_subnet(VpcId=net["vpc"], CidrBlock=PRIVATE_CIDRS[0])
        assert error(err) == (400, "InvalidSubnet.Conflict")
    finally:
        second.stop()
