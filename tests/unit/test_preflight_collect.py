"""The preflight's collectors and transports: read-only by construction, errors become facts,
pagination, per-id fallback when one id of a batch is missing, the route table in effect,
IAM documents as botocore returns them (dicts) and as IAM serves them (URL-encoded text)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from podwarden.api.operations import OPERATIONS as HANDLERS
from podwarden.checks import collect_aws, collect_eks
from podwarden.checks.collect import OPERATIONS_USED, collect, eks_name, guarded
from podwarden.checks.transport import CallFailed, in_process, is_read_only
from podwarden.logic.preflight_facts import Role, SecurityGroup, Subnet, Unknown
from podwarden.model.errors import NotFound
from tests.aws_helpers import make_context

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["sagemaker.amazonaws.com"]},
            "Action": ["sts:AssumeRole"],
        }
    ],
}


def test_the_preflight_only_reads() -> None:
    assert all(is_read_only(op) for _, op in OPERATIONS_USED)
    assert not is_read_only("CreateCluster") and not is_read_only("Getaway")


Responder = Callable[[dict[str, Any]], dict[str, Any]]


class Fake:
    """A Call answering from a table; records what was called."""

    def __init__(self, answers: dict[tuple[str, str], Responder | dict[str, Any]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __call__(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((service, operation, params))
        answer = self.answers.get((service, operation))
        if answer is None:
            raise CallFailed(service, operation, "NotImplemented", "no answer")
        return answer(params) if callable(answer) else answer


def test_guarded_refuses_what_the_collectors_do_not_use() -> None:
    call = guarded(Fake({}))
    with pytest.raises(ValueError, match="does not call eks DeleteCluster"):
        call("eks", "DeleteCluster", {"name": "x"})


def test_every_call_of_a_full_collection_is_declared_and_read_only() -> None:
    fake = Fake({})
    request = {
        "Orchestrator": {"Eks": {"ClusterArn": "arn:aws:eks:us-west-2:000000000000:cluster/c"}},
        "VpcConfig": {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]},
        "InstanceGroups": [
            {"InstanceGroupName": "g", "ExecutionRole": "arn:aws:iam::000000000000:role/r"}
        ],
    }
    facts = collect(fake, request, "c", kube=Unknown("x"))
    assert {(s, o) for s, o, _ in fake.calls} <= OPERATIONS_USED
    assert facts.eks == Unknown(
        "EKS cluster c could not be read (eks DescribeCluster: NotImplemented: no answer)"
    )
    assert isinstance(facts.roles["arn:aws:iam::000000000000:role/r"], Unknown)


def _missing_subnet(params: dict[str, Any]) -> dict[str, Any]:
    ids = params["SubnetIds"]
    if "subnet-gone" in ids:
        raise CallFailed("ec2", "DescribeSubnets", "InvalidSubnetID.NotFound", "gone")
    blocks: dict[str, dict[str, Any]] = {
        "subnet-priv": {"CidrBlock": "10.0.1.0/24"},
        "subnet-pub": {"Ipv6Native": True},
    }
    return {"Subnets": [{"SubnetId": i, "VpcId": "vpc-1", **blocks.get(i, {})} for i in ids]}


def _route_tables(params: dict[str, Any]) -> dict[str, Any]:
    names = {f["Name"]: f["Values"][0] for f in params["Filters"]}
    if names.get("association.subnet-id") == "subnet-pub":
        routes = [
            {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"},
            {"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"},
            {"DestinationIpv6CidrBlock": "::/0", "GatewayId": "igw-2", "State": "blackhole"},
        ]
        return {"RouteTables": [{"RouteTableId": "rtb-pub", "Routes": routes}]}
    if names.get("association.main") == "true":
        routes = [
            {"DestinationCidrBlock": "0.0.0.0/0", "NatGatewayId": "nat-1", "State": "active"},
            {"DestinationIpv6CidrBlock": "::/0", "EgressOnlyInternetGatewayId": "eigw-1"},
        ]
        return {"RouteTables": [{"RouteTableId": "rtb-main", "Routes": routes}]}
    return {"RouteTables": []}


def test_subnets_missing_ones_named_route_table_in_effect() -> None:
    fake = Fake(
        {
            ("ec2", "DescribeSubnets"): _missing_subnet,
            ("ec2", "DescribeRouteTables"): _route_tables,
        }
    )
    found = collect_aws.subnets(fake, ["subnet-priv", "subnet-pub", "subnet-gone", "subnet-priv"])
    assert found["subnet-gone"] == Unknown("does not exist (InvalidSubnetID.NotFound)", True)
    pub, priv = found["subnet-pub"], found["subnet-priv"]
    assert isinstance(pub, Subnet) and isinstance(priv, Subnet)
    assert pub.internet_routes == ("0.0.0.0/0 -> igw-1",)  # blackhole routes do not count
    assert (priv.route_table, priv.internet_routes) == ("rtb-main", ())
    assert priv.egress_only_routes == ("::/0 -> eigw-1",)
    assert (pub.ipv6_only, priv.ipv6_only) == (True, False)  # Ipv6Native, an IPv4 block
    main_lookups = [c for c in fake.calls if "association.main" in json.dumps(c[2])]
    assert len(main_lookups) == 1  # the VPC's main table is looked up once


def test_security_groups() -> None:
    fake = Fake(
        {
            ("ec2", "DescribeSecurityGroups"): lambda p: {
                "SecurityGroups": [{"GroupId": g, "VpcId": "vpc-1"} for g in p["GroupIds"]]
            }
        }
    )
    assert collect_aws.security_groups(fake, ["sg-1"]) == {"sg-1": SecurityGroup("sg-1", "vpc-1")}


def test_role_documents_in_both_forms_and_iam_pagination() -> None:
    custom = "arn:aws:iam::000000000000:policy/custom"
    pages = {
        None: {"AttachedPolicies": [{"PolicyArn": custom}], "IsTruncated": True, "Marker": "m"},
        "m": {"AttachedPolicies": [], "IsTruncated": False, "Marker": "ignored"},
    }
    document = {"Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
    fake = Fake(
        {
            ("iam", "GetRole"): {
                "Role": {
                    "Arn": "arn:r",
                    "AssumeRolePolicyDocument": quote(json.dumps(TRUST), safe=""),
                }
            },
            ("iam", "ListAttachedRolePolicies"): lambda p: pages[p.get("Marker")],
            ("iam", "GetPolicy"): {"Policy": {"DefaultVersionId": "v2"}},
            ("iam", "GetPolicyVersion"): {"PolicyVersion": {"Document": document}},
            ("iam", "ListRolePolicies"): {"PolicyNames": ["inline"], "IsTruncated": False},
            ("iam", "GetRolePolicy"): {
                "PolicyDocument": {"Statement": {"Effect": "Deny", "Action": ["s3:*"]}}
            },
        }
    )
    role = collect_aws.role(fake, "arn:aws:iam::000000000000:role/path/r", "Managed")
    assert isinstance(role, Role)
    assert role.name == "r"
    assert role.trusted_services == ("sagemaker.amazonaws.com",)
    assert (role.attached, role.allowed, role.denied) == ((custom,), ("logs:*",), ("s3:*",))
    listed = [c for c in fake.calls if c[1] == "ListAttachedRolePolicies"]
    assert [c[2].get("Marker") for c in listed] == [None, "m"]


def test_a_missing_role_and_an_eks_cluster_that_is_not_there() -> None:
    def no_role(params: dict[str, Any]) -> dict[str, Any]:
        raise CallFailed("iam", "GetRole", "NoSuchEntity", "The role cannot be found.")

    assert collect_aws.role(Fake({("iam", "GetRole"): no_role}), "arn:x:role/r", "M") == Unknown(
        "role r does not exist (NoSuchEntity)", True
    )

    def no_cluster(params: dict[str, Any]) -> dict[str, Any]:
        raise CallFailed("eks", "DescribeCluster", "ResourceNotFoundException", "No cluster")

    found = collect_eks.eks_cluster(Fake({("eks", "DescribeCluster"): no_cluster}), "c")
    assert found == Unknown("EKS cluster c does not exist (ResourceNotFoundException)", True)


def test_eks_name_from_the_request_or_the_option() -> None:
    arn = "arn:aws:eks:us-west-2:000000000000:cluster/podwarden"
    assert eks_name({"Orchestrator": {"Eks": {"ClusterArn": arn}}}) == "podwarden"
    assert eks_name(None, "other") == "other"
    assert isinstance(eks_name({}), Unknown)
    assert eks_name({"Orchestrator": {"Eks": {"ClusterArn": "arn:aws:eks:x"}}}) == Unknown(
        "arn:aws:eks:x is not an EKS cluster ARN", True
    )


def test_in_process_transport_calls_handlers_and_maps_errors(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    call = in_process(ctx, HANDLERS)
    with pytest.raises(CallFailed) as err:
        call("eks", "DescribeCluster", {"name": "nope"})
    assert (err.value.code, err.value.missing) == ("ResourceNotFoundException", True)
    with pytest.raises(CallFailed) as err:
        call("iam", "GetRole", {"RoleName": "nope"})
    assert (err.value.code, err.value.missing) == ("NoSuchEntity", True)
    with pytest.raises(CallFailed) as err:
        call("eks", "ListNodegroups", {"clusterName": "x"})
    assert (err.value.code, err.value.missing) == ("NotImplemented", False)
    with pytest.raises(ValueError, match="never calls"):
        call("eks", "DeleteCluster", {"name": "x"})
    assert call("sts", "GetCallerIdentity", {})["Account"] == "000000000000"

    def raising(exc: Exception) -> Callable[..., dict[str, Any]]:
        def handler(ctx: object, params: dict[str, Any]) -> dict[str, Any]:
            raise exc

        return handler

    odd = in_process(
        ctx,
        {
            "x": {"GetA": raising(NotFound("gone"))},
            "ec2": {"GetB": raising(NotFound(reason="security-group-not-found", ids=["sg-1"]))},
        },
    )
    with pytest.raises(CallFailed) as err:
        odd("x", "GetA", {})
    assert (err.value.code, err.value.message) == ("NotFound", "gone")
    with pytest.raises(CallFailed) as err:
        odd("ec2", "GetB", {})
    assert (err.value.code, err.value.missing) == ("InvalidGroup.NotFound", True)
