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
from podwarden.model.aws import arns
from podwarden.model.aws.kinds import EKS_CLUSTER as CLUSTER
from podwarden.model.aws.private import private
from podwarden.store.resources import Duplicate, Record
from podwarden.store.sql import Store

MARKER_KIND = "podwarden:seed"
EKS_CLUSTER = "podwarden"
ADDONS = ("vpc-cni", "kube-proxy", "coredns", "eks-pod-identity-agent")
NODE_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryReadOnly",
)
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
    seeded = _Seeder(_Caller(ctx), account, region).build()
    _adopt(store, scope)
    marker = Record(MARKER_KIND, scope, "default", seeded.to_doc(), created=time.time())
    try:
        store.resources.create(marker)
    except Duplicate:  # another process seeded concurrently: its account wins
        found = store.resources.get(MARKER_KIND, scope, "default")
        assert found is not None
        return SeededAccount(**found.doc)
    return seeded


@dataclass(frozen=True)
class _Network:
    """The network part of ``SeededAccount`` (same field names)."""

    vpc_id: str
    private_subnets: list[str]
    public_subnet: str
    security_group: str


class _Seeder:
    """The default account's resources, one service at a time, through ``call``."""

    def __init__(self, call: _Caller, account: str, region: str) -> None:
        self.call, self.account, self.region = call, account, region

    def build(self) -> SeededAccount:
        net = self.network()
        execution = self.role(
            "podwarden-hyperpod-execution",
            "sagemaker.amazonaws.com",
            ("AmazonSageMakerClusterInstanceRolePolicy",),
        )
        node = self.role(
            "podwarden-eks-node",
            "ec2.amazonaws.com",
            NODE_POLICIES,
        )
        bucket = self.lifecycle_bucket()
        return SeededAccount(
            account=self.account,
            region=self.region,
            **asdict(net),
            execution_role_arn=execution,
            node_role_arn=node,
            eks_cluster_arn=self.eks_cluster(net),
            bucket=bucket,
            lifecycle_uri=f"s3://{bucket}/lifecycle/",
        )

    def network(self) -> _Network:
        """The VPC, two private subnets behind a NAT gateway, a public one behind an internet
        gateway, and the nodes' security group."""
        spec = [{"ResourceType": "vpc", "Tags": _name("podwarden-vpc")}]
        vpc = self.call("ec2", "CreateVpc", CidrBlock="10.1.0.0/16", TagSpecifications=spec)
        vpc_id = str(vpc["Vpc"]["VpcId"])
        private = [
            self.subnet(vpc_id, "10.1.0.0/20", "a", "podwarden-private-a"),
            self.subnet(vpc_id, "10.1.16.0/20", "b", "podwarden-private-b"),
        ]
        public = self.subnet(vpc_id, "10.1.128.0/24", "a", "podwarden-public-a")
        igw = self.call("ec2", "CreateInternetGateway")["InternetGateway"]["InternetGatewayId"]
        self.call("ec2", "AttachInternetGateway", InternetGatewayId=igw, VpcId=vpc_id)
        self.routed(vpc_id, [public], GatewayId=igw)
        eip = self.call("ec2", "AllocateAddress", Domain="vpc")["AllocationId"]
        nat = self.call("ec2", "CreateNatGateway", SubnetId=public, AllocationId=eip)
        self.routed(vpc_id, private, NatGatewayId=nat["NatGateway"]["NatGatewayId"])
        return _Network(vpc_id, private, public, self.security_group(vpc_id))

    def subnet(self, vpc: str, cidr: str, zone: str, name: str) -> str:
        spec = [{"ResourceType": "subnet", "Tags": _name(name)}]
        zone = f"{self.region}{zone}"
        out = self.call(
            "ec2",
            "CreateSubnet",
            VpcId=vpc,
            CidrBlock=cidr,
            AvailabilityZone=zone,
            TagSpecifications=spec,
        )
        return str(out["Subnet"]["SubnetId"])

    def routed(self, vpc: str, subnets: list[str], **target: str) -> None:
        """A route table whose default route goes to ``target``, for ``subnets``."""
        table = self.call("ec2", "CreateRouteTable", VpcId=vpc)["RouteTable"]["RouteTableId"]
        everywhere = "0.0.0.0/0"
        self.call(
            "ec2", "CreateRoute", RouteTableId=table, DestinationCidrBlock=everywhere, **target
        )
        for subnet in subnets:
            self.call("ec2", "AssociateRouteTable", RouteTableId=table, SubnetId=subnet)

    def security_group(self, vpc: str) -> str:
        sg = str(
            self.call(
                "ec2",
                "CreateSecurityGroup",
                GroupName="podwarden-hyperpod",
                Description="HyperPod nodes: all traffic within the group (EFA)",
                VpcId=vpc,
            )["GroupId"]
        )
        within = [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": sg}]}]
        self.call("ec2", "AuthorizeSecurityGroupIngress", GroupId=sg, IpPermissions=within)
        return sg

    def role(self, name: str, service: str, policies: tuple[str, ...]) -> str:
        trust = _trust(service)
        out = self.call("iam", "CreateRole", RoleName=name, AssumeRolePolicyDocument=trust)
        for policy in policies:
            arn = arns.iam("aws", "policy", policy)
            self.call("iam", "AttachRolePolicy", RoleName=name, PolicyArn=arn)
        return str(out["Role"]["Arn"])

    def lifecycle_bucket(self) -> str:
        bucket = f"sagemaker-podwarden-{self.account}-{self.region}"
        config = {} if self.region == "us-east-1" else {"LocationConstraint": self.region}
        self.call("s3", "CreateBucket", Bucket=bucket, CreateBucketConfiguration=config)
        self.call(
            "s3",
            "PutObject",
            Bucket=bucket,
            Key="lifecycle/on_create.sh",
            Body=ON_CREATE.encode(),
            ContentType="text/x-shellscript",
        )
        return bucket

    def eks_cluster(self, net: _Network) -> str:
        cluster_role = self.role(
            "podwarden-eks-cluster", "eks.amazonaws.com", ("AmazonEKSClusterPolicy",)
        )
        vpc_config = {"subnetIds": net.private_subnets, "securityGroupIds": [net.security_group]}
        eks = self.call(
            "eks",
            "CreateCluster",
            name=EKS_CLUSTER,
            version="1.32",
            roleArn=cluster_role,
            resourcesVpcConfig=vpc_config,
            accessConfig={"authenticationMode": "API_AND_CONFIG_MAP"},
        )["cluster"]
        for addon in ADDONS:
            self.call("eks", "CreateAddon", clusterName=EKS_CLUSTER, addonName=addon)
        return str(eks["arn"])


def _adopt(store: Store, scope: str) -> None:
    """The default EKS cluster is the embedded control plane: nothing to start for it."""
    rec = store.resources.get(CLUSTER, scope, EKS_CLUSTER)
    if rec is not None:
        private(rec.doc)["adopted"] = True
        store.resources.save(rec)
