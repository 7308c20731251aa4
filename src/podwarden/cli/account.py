"""The default local AWS account ``podwarden up`` seeds once: everything a HyperPod cluster on
EKS needs, built with the same handlers the API serves (so it is exactly what a user would get
by making the calls), as AWS's HyperPod setup templates lay it out:

- a VPC (10.1.0.0/16) with two private subnets in two zones routed to a NAT gateway and one public
  subnet routed to an internet gateway (R6 in docs/requirements.md: HyperPod subnets are private),
  and a security group that allows all traffic within itself (EFA needs it);
- IAM: the HyperPod execution role (trusts ``sagemaker.amazonaws.com``, carries
  ``AmazonSageMakerClusterInstanceRolePolicy``), an EKS node role (distinct, R9) and the
  EKS cluster role;
- an S3 bucket ``sagemaker-podwarden-<account>-<region>`` with ``lifecycle/on_create.sh``;
- the EKS cluster ``podwarden`` (Kubernetes 1.32, ``API_AND_CONFIG_MAP``, R3/R4) *adopting*
  the embedded control plane, with the vpc-cni (>= 1.18.3, R5), kube-proxy, coredns and
  eks-pod-identity-agent add-ons (R13: credentials without IMDS).

A marker record makes it happen once per data directory: what a user deletes afterwards stays
deleted. ``seed_default_account`` returns what it made (or made before), for the banner and the
README's example.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

from podwarden.api.operations import OPERATIONS
from podwarden.control.context import Context, InstanceTypes
from podwarden.model.aws.kinds import EKS_CLUSTER as CLUSTER
from podwarden.model.aws.private import private
from podwarden.store.resources import Duplicate, Record
from podwarden.store.sql import Store

MARKER_KIND = "podwarden:seed"
EKS_CLUSTER = "podwarden"
ADDONS = ("vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent")
ON_CREATE = """#!/bin/bash
# A HyperPod lifecycle script (OnCreate). podwarden stores it with each instance's record;
# on a real HyperPod cluster it runs as root when the instance is created.
set -euo pipefail
echo "podwarden: on-create for instance group ${SAGEMAKER_INSTANCE_GROUP_NAME:-unknown}"
"""


@dataclass(frozen=True)
class SeededAccount:
    account: str
    region: str
    vpc_id: str
    private_subnets: list[str]
    public_subnet: str
    security_group: str
    execution_role_arn: str
    node_role_arn: str
    eks_cluster_arn: str
    bucket: str
    lifecycle_uri: str

    def to_doc(self) -> dict[str, Any]:
        return asdict(self)


def _trust(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def _name(value: str) -> list[dict[str, Any]]:
    return [{"Key": "Name", "Value": value}]


class _Caller:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def __call__(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        return OPERATIONS[service][operation](self.ctx, params)


def seeded_account(store: Store, account: str, region: str) -> SeededAccount | None:
    """What ``seed_default_account`` made in this store, if it ran."""
    done = store.resources.get(MARKER_KIND, f"{account}/{region}", "default")
    return None if done is None else SeededAccount(**done.doc)


def seed_default_account(
    store: Store,
    *,
    account: str,
    region: str,
    principal_arn: str,
    instance_types: InstanceTypes,
) -> SeededAccount:
    scope = f"{account}/{region}"
    done = store.resources.get(MARKER_KIND, scope, "default")
    if done is not None:
        return SeededAccount(**done.doc)
    ctx = Context(
        account=account,
        region=region,
        store=store,
        instance_types=instance_types,
        notify=lambda _change: None,
        now=time.time,
        principal_arn=principal_arn,
    )
    seeded = _build(_Caller(ctx), account, region)
    _adopt(store, scope)
    marker = Record(MARKER_KIND, scope, "default", seeded.to_doc(), created=time.time())
    try:
        store.resources.create(marker)
    except Duplicate:  # another process seeded concurrently: its account wins
        found = store.resources.get(MARKER_KIND, scope, "default")
        assert found is not None
        return SeededAccount(**found.doc)
    return seeded


def _build(call: _Caller, account: str, region: str) -> SeededAccount:
    vpc = call(
        "ec2",
        "CreateVpc",
        CidrBlock="10.1.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": _name("podwarden-vpc")}],
    )["Vpc"]["VpcId"]

    def subnet(cidr: str, zone: str, name: str) -> str:
        spec = [{"ResourceType": "subnet", "Tags": _name(name)}]
        out = call(
            "ec2",
            "CreateSubnet",
            VpcId=vpc,
            CidrBlock=cidr,
            AvailabilityZone=f"{region}{zone}",
            TagSpecifications=spec,
        )
        return str(out["Subnet"]["SubnetId"])

    private_subnets = [
        subnet("10.1.0.0/20", "a", "podwarden-private-a"),
        subnet("10.1.16.0/20", "b", "podwarden-private-b"),
    ]
    public = subnet("10.1.128.0/24", "a", "podwarden-public-a")
    igw = call("ec2", "CreateInternetGateway")["InternetGateway"]["InternetGatewayId"]
    call("ec2", "AttachInternetGateway", InternetGatewayId=igw, VpcId=vpc)
    public_rt = call("ec2", "CreateRouteTable", VpcId=vpc)["RouteTable"]["RouteTableId"]
    call(
        "ec2",
        "CreateRoute",
        RouteTableId=public_rt,
        DestinationCidrBlock="0.0.0.0/0",
        GatewayId=igw,
    )
    call("ec2", "AssociateRouteTable", RouteTableId=public_rt, SubnetId=public)
    eip = call("ec2", "AllocateAddress", Domain="vpc")["AllocationId"]
    nat = call("ec2", "CreateNatGateway", SubnetId=public, AllocationId=eip)["NatGateway"][
        "NatGatewayId"
    ]
    private_rt = call("ec2", "CreateRouteTable", VpcId=vpc)["RouteTable"]["RouteTableId"]
    call(
        "ec2",
        "CreateRoute",
        RouteTableId=private_rt,
        DestinationCidrBlock="0.0.0.0/0",
        NatGatewayId=nat,
    )
    for s in private_subnets:
        call("ec2", "AssociateRouteTable", RouteTableId=private_rt, SubnetId=s)
    sg = call(
        "ec2",
        "CreateSecurityGroup",
        GroupName="podwarden-hyperpod",
        Description="HyperPod nodes: all traffic within the group (EFA)",
        VpcId=vpc,
    )["GroupId"]
    call(
        "ec2",
        "AuthorizeSecurityGroupIngress",
        GroupId=sg,
        IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": sg}]}],
    )

    def role(name: str, service: str, policies: tuple[str, ...]) -> str:
        arn = str(
            call("iam", "CreateRole", RoleName=name, AssumeRolePolicyDocument=_trust(service))[
                "Role"
            ]["Arn"]
        )
        for p in policies:
            call("iam", "AttachRolePolicy", RoleName=name, PolicyArn=f"arn:aws:iam::aws:policy/{p}")
        return arn

    execution = role(
        "podwarden-hyperpod-execution",
        "sagemaker.amazonaws.com",
        ("AmazonSageMakerClusterInstanceRolePolicy",),
    )
    node = role(
        "podwarden-eks-node",
        "ec2.amazonaws.com",
        ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"),
    )
    cluster_role = role("podwarden-eks-cluster", "eks.amazonaws.com", ("AmazonEKSClusterPolicy",))

    bucket = f"sagemaker-podwarden-{account}-{region}"
    config = {} if region == "us-east-1" else {"LocationConstraint": region}
    call("s3", "CreateBucket", Bucket=bucket, CreateBucketConfiguration=config)
    call(
        "s3",
        "PutObject",
        Bucket=bucket,
        Key="lifecycle/on_create.sh",
        Body=ON_CREATE.encode(),
        ContentType="text/x-shellscript",
    )

    eks = call(
        "eks",
        "CreateCluster",
        name=EKS_CLUSTER,
        version="1.32",
        roleArn=cluster_role,
        resourcesVpcConfig={"subnetIds": private_subnets, "securityGroupIds": [sg]},
        accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"},
    )["cluster"]
    for addon in ADDONS:
        call("eks", "CreateAddon", clusterName=EKS_CLUSTER, addonName=addon)
    return SeededAccount(
        account=account,
        region=region,
        vpc_id=vpc,
        private_subnets=private_subnets,
        public_subnet=public,
        security_group=sg,
        execution_role_arn=execution,
        node_role_arn=node,
        eks_cluster_arn=eks["arn"],
        bucket=bucket,
        lifecycle_uri=f"s3://{bucket}/lifecycle/",
    )


def _adopt(store: Store, scope: str) -> None:
    """The default EKS cluster is the embedded control plane: nothing to start for it."""
    rec = store.resources.get(CLUSTER, scope, EKS_CLUSTER)
    if rec is not None:
        private(rec.doc)["adopted"] = True
        store.resources.save(rec)
