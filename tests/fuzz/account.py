"""The local account the fuzzer works in: resources created with boto3 before fuzzing, whose names
the generator draws from (so handlers get past "not found"), and witnesses the generator never
names, checked with boto3 afterwards: the server is alive and its answers are still right."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.aws_helpers import SAGEMAKER_TRUST_POLICY
from tests.fuzz.shapes import policy_documents
from tests.local_endpoint import ThreadedServer

WITNESS_BUCKET = "fuzz-witness"
WITNESS_KEY = "witness.txt"
WITNESS_BODY = b"still here"
WITNESS_ROLE = "fuzz-witness-role"
WITNESS_CIDR = "10.99.0.0/16"


def build_pool(server: ThreadedServer) -> dict[str, list[Any]]:
    """Create the resources the fuzzer names, and return them by botocore member name."""
    s3, iam, ec2 = server.client("s3"), server.client("iam"), server.client("ec2")
    s3.create_bucket(
        Bucket="fuzz-bucket", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    s3.put_object(Bucket="fuzz-bucket", Key="fuzz-key", Body=b"fuzz")
    upload = s3.create_multipart_upload(Bucket="fuzz-bucket", Key="fuzz-mpu")["UploadId"]
    trust = json.dumps(SAGEMAKER_TRUST_POLICY)
    role = iam.create_role(RoleName="fuzz-role", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    policy = iam.create_policy(PolicyName="fuzz-policy", PolicyDocument=policy_documents()[0])
    iam.create_instance_profile(InstanceProfileName="fuzz-profile")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="fuzz-sg", Description="fuzz", VpcId=vpc)
    gateway = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    return {
        "Bucket": ["fuzz-bucket"],
        "Key": ["fuzz-key", "fuzz-mpu", "dir/fuzz-key"],
        "UploadId": [upload],
        "RoleName": ["fuzz-role"],
        "RoleArn": [role],
        "ExecutionRole": [role],
        "roleArn": [role],
        "PolicyArn": [policy["Policy"]["Arn"]],
        "InstanceProfileName": ["fuzz-profile"],
        "PolicyDocument": policy_documents(),
        "AssumeRolePolicyDocument": policy_documents(),
        "VpcId": [vpc],
        "VpcIds": [[vpc]],
        "SubnetId": [subnet],
        "SubnetIds": [[subnet]],
        "Subnets": [[subnet]],
        "subnetIds": [[subnet]],
        "GroupId": [group["GroupId"]],
        "GroupIds": [[group["GroupId"]]],
        "InternetGatewayId": [gateway],
        "RouteTableId": [table],
        "ClusterName": ["fuzz-cluster"],
        "name": ["fuzz-eks"],
        "clusterName": ["fuzz-eks"],
    }


def plant_witnesses(server: ThreadedServer) -> str:
    """Resources no fuzzed request names; returns the witness VPC's id."""
    s3, iam, ec2 = server.client("s3"), server.client("iam"), server.client("ec2")
    s3.create_bucket(
        Bucket=WITNESS_BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    s3.put_object(Bucket=WITNESS_BUCKET, Key=WITNESS_KEY, Body=WITNESS_BODY)
    iam.create_role(RoleName=WITNESS_ROLE, AssumeRolePolicyDocument=policy_documents()[1])
    return str(ec2.create_vpc(CidrBlock=WITNESS_CIDR)["Vpc"]["VpcId"])


def liveness_checks(
    server: ThreadedServer, witness_vpc: str
) -> list[tuple[str, Callable[[], Any]]]:
    """Well-formed calls and the answers they must still give: (what, check raising on failure)."""
    s3, iam, ec2 = server.client("s3"), server.client("iam"), server.client("ec2")
    sts, eks, sm = server.client("sts"), server.client("eks"), server.client("sagemaker")

    def s3_witness() -> None:
        body = s3.get_object(Bucket=WITNESS_BUCKET, Key=WITNESS_KEY)["Body"].read()
        assert body == WITNESS_BODY, body

    def s3_round_trip() -> None:
        s3.put_object(Bucket=WITNESS_BUCKET, Key="after", Body=b"after")
        assert s3.get_object(Bucket=WITNESS_BUCKET, Key="after")["Body"].read() == b"after"

    def vpc_witness() -> None:
        vpcs = ec2.describe_vpcs(VpcIds=[witness_vpc])["Vpcs"]
        assert [v["CidrBlock"] for v in vpcs] == [WITNESS_CIDR], vpcs

    def sagemaker_not_found() -> None:
        try:
            sm.describe_cluster(ClusterName="fuzz-never-created")
        except sm.exceptions.ResourceNotFound:
            return
        raise AssertionError("DescribeCluster of a missing cluster did not raise ResourceNotFound")

    return [
        ("sts GetCallerIdentity", lambda: sts.get_caller_identity()["Account"]),
        ("s3 GetObject of the witness", s3_witness),
        ("s3 PutObject then GetObject", s3_round_trip),
        ("s3 ListObjectsV2 of the witness", lambda: s3.list_objects_v2(Bucket=WITNESS_BUCKET)),
        ("s3 ListBuckets", s3.list_buckets),
        ("iam GetRole of the witness", lambda: iam.get_role(RoleName=WITNESS_ROLE)["Role"]["Arn"]),
        ("iam ListRoles", iam.list_roles),
        ("iam ListPolicies", lambda: iam.list_policies(Scope="Local")),
        ("ec2 DescribeVpcs of the witness", vpc_witness),
        ("ec2 DescribeVpcs", ec2.describe_vpcs),
        ("ec2 DescribeSubnets", ec2.describe_subnets),
        ("ec2 DescribeSecurityGroups", ec2.describe_security_groups),
        ("ec2 DescribeRouteTables", ec2.describe_route_tables),
        ("eks ListClusters", eks.list_clusters),
        ("sagemaker ListClusters", sm.list_clusters),
        ("sagemaker DescribeCluster of a missing cluster", sagemaker_not_found),
    ]
