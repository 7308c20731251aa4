"""Every preflight rule over facts: a HyperPod-ready account passes (or the rule does not
apply), and each way of breaking a requirement gives the rule's failure or warning with the
evidence that shows it. The live-cluster cases (Calico, aws-node's tag, the agent, workloads)
come from snapshot() over the JSON fixtures of test_kube_snapshot."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from podwarden.logic.iam_patterns import action_matches as matches
from podwarden.logic.kube_snapshot import KubeSnapshot, snapshot
from podwarden.logic.preflight import Finding, Status, run
from podwarden.logic.preflight_facts import (
    Addon,
    EksCluster,
    Facts,
    Role,
    SecurityGroup,
    Subnet,
    Unknown,
)
from podwarden.logic.preflight_rules import BY_ID, RULES, evaluate
from podwarden.policy.preflight import load_tables
from tests.unit.test_kube_snapshot import (
    aws_node,
    calico,
    daemonset,
    deployment,
    health_agent,
    pod,
    pod_spec,
    service_account,
)

TABLES = load_tables()
ACCOUNT = "000000000000"
EKS_ARN = f"arn:aws:eks:us-west-2:{ACCOUNT}:cluster/podwarden"
EXEC = f"arn:aws:iam::{ACCOUNT}:role/hp-exec"
NODE = f"arn:aws:iam::{ACCOUNT}:role/eks-node"
POLICY = "arn:aws:iam::aws:policy/AmazonSageMakerClusterInstanceRolePolicy"
ISSUER = "oidc.eks.us-west-2.amazonaws.com/id/ABC"

REQUEST: dict[str, Any] = {
    "ClusterName": "hp",
    "Orchestrator": {"Eks": {"ClusterArn": EKS_ARN}},
    "VpcConfig": {"Subnets": ["subnet-a", "subnet-b"], "SecurityGroupIds": ["sg-1"]},
    "NodeRecovery": "Automatic",
    "InstanceGroups": [
        {
            "InstanceGroupName": "gpu",
            "InstanceType": "ml.g5.xlarge",
            "InstanceCount": 2,
            "ExecutionRole": EXEC,
            "OnStartDeepHealthChecks": ["InstanceStress"],
            "InstanceStorageConfigs": [{"EbsVolumeConfig": {"VolumeSizeInGB": 500}}],
        }
    ],
}


def addons(**versions: str) -> dict[str, Addon]:
    base = {
        "vpc-cni": "v1.19.2-eksbuild.1",
        "kube-proxy": "v1.32.0-eksbuild.2",
        "coredns": "v1.11.4-eksbuild.2",
        "eks-pod-identity-agent": "v1.3.4-eksbuild.1",
    }
    base.update(versions)
    return {n: Addon(n, v, "ACTIVE") for n, v in base.items() if v}


def subnet(sid: str, *, igw: bool = False, vpc: str = "vpc-1", ipv6: bool = False) -> Subnet:
    return Subnet(
        subnet_id=sid,
        vpc_id=vpc,
        availability_zone="us-west-2a",
        ipv6_cidrs=("2600:1f14::/64",) if ipv6 else (),
        route_table="rtb-1",
        internet_routes=("0.0.0.0/0 -> igw-1",) if igw else (),
    )


# a pod spec that reads its credentials from IMDS itself
IMDS_SPEC: dict[str, Any] = {
    "containers": [
        {
            "name": "reader",
            "image": "amazon/aws-cli",
            "command": [
                "curl",
                "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            ],
        }
    ]
}


def live(*daemonsets: dict[str, Any], workloads: tuple[dict[str, Any], ...] = ()) -> KubeSnapshot:
    return snapshot([aws_node(), health_agent(), *daemonsets], list(workloads), [], [])


def good() -> Facts:
    return Facts(
        request=copy.deepcopy(REQUEST),
        eks=EksCluster(
            name="podwarden",
            arn=EKS_ARN,
            status="ACTIVE",
            version="1.32",
            authentication_mode="API_AND_CONFIG_MAP",
            ip_family="ipv4",
            vpc_id="vpc-1",
            subnet_ids=("subnet-a", "subnet-b"),
            oidc_issuer=f"https://{ISSUER}",
            addons=addons(),
            access_entries={NODE: "EC2_LINUX"},
            node_group_roles=(NODE,),
            pod_identity_associations=(),
        ),
        subnets={"subnet-a": subnet("subnet-a"), "subnet-b": subnet("subnet-b")},
        security_groups={"sg-1": SecurityGroup("sg-1", "vpc-1")},
        roles={
            EXEC: Role(EXEC, "hp-exec", ("sagemaker.amazonaws.com",), (POLICY,)),
        },
        oidc_providers=(),
        kube=live(),
        account=ACCOUNT,
        region="us-west-2",
    )


def finding(facts: Facts, rule: str) -> Finding:
    return run([BY_ID[rule]], facts, TABLES).findings[0]


def eks(facts: Facts, **changes: Any) -> Facts:
    assert isinstance(facts.eks, EksCluster)
    return dataclasses.replace(facts, eks=dataclasses.replace(facts.eks, **changes))


def group(facts: Facts, **changes: Any) -> Facts:
    request = copy.deepcopy(dict(facts.request or {}))
    request["InstanceGroups"][0].update(changes)
    return dataclasses.replace(facts, request=request)


def request(facts: Facts, **changes: Any) -> Facts:
    return dataclasses.replace(facts, request={**(facts.request or {}), **changes})


def role(facts: Facts, value: Role | Unknown) -> Facts:
    return dataclasses.replace(facts, roles={EXEC: value})


def test_a_ready_account_passes_every_rule() -> None:
    report = evaluate(good(), TABLES)
    statuses = {f.rule: f.status for f in report.findings}
    assert report.ok, report.refusal()
    assert {r for r, s in statuses.items() if s != Status.PASS} == {"subnets-ipv6"}
    assert statuses["subnets-ipv6"] == Status.SKIP  # an IPv4 cluster
    assert report.subject == {
        "account": ACCOUNT,
        "region": "us-west-2",
        "cluster": "hp",
        "eks_cluster": EKS_ARN,
    }


def test_every_rule_cites_the_founding_document() -> None:
    for rule in RULES:
        assert rule.seed and all(s.strip().startswith("R") for s in rule.seed.split(","))
        assert rule.requirement.endswith(".")


Mutation = Callable[[Facts], Facts]
CASES: list[tuple[str, Mutation, Status, str]] = [
    # R2
    (
        "eks-cluster-active",
        lambda f: dataclasses.replace(f, eks=Unknown("EKS cluster x does not exist", True)),
        Status.FAIL,
        "does not exist",
    ),
    ("eks-cluster-active", lambda f: eks(f, status="CREATING"), Status.FAIL, "is CREATING"),
    # R3
    ("kubernetes-version", lambda f: eks(f, version="1.27"), Status.FAIL, "runs Kubernetes 1.27"),
    ("kubernetes-version", lambda f: eks(f, version="1.35"), Status.FAIL, "supports 1.28"),
    # R4
    (
        "authentication-mode",
        lambda f: eks(f, authentication_mode="CONFIG_MAP"),
        Status.FAIL,
        "authentication mode CONFIG_MAP",
    ),
    (
        "access-entries",
        lambda f: eks(f, authentication_mode="CONFIG_MAP"),
        Status.FAIL,
        "refuses access entries",
    ),
    (
        "access-entries",
        lambda f: eks(f, access_entries={EXEC: "STANDARD"}),
        Status.WARN,
        "access entry of type STANDARD",
    ),
    # R5
    (
        "vpc-cni-version",
        lambda f: eks(f, addons=addons(**{"vpc-cni": "v1.18.2-eksbuild.1"})),
        Status.FAIL,
        "v1.18.2-eksbuild.1 (ACTIVE) < 1.18.3",
    ),
    (
        "vpc-cni-version",
        lambda f: dataclasses.replace(
            f, kube=snapshot([aws_node("v1.18.2-eksbuild.1")], [], [], [])
        ),
        Status.FAIL,
        "amazon-k8s-cni:v1.18.2-eksbuild.1 (< 1.18.3)",
    ),
    (
        "vpc-cni-version",
        lambda f: dataclasses.replace(
            eks(f, addons=addons(**{"vpc-cni": ""})), kube=snapshot([], [], [], [])
        ),
        Status.FAIL,
        "no DaemonSet kube-system/aws-node",
    ),
    (
        "vpc-cni-version",
        lambda f: dataclasses.replace(
            eks(f, addons=addons(**{"vpc-cni": ""})), kube=Unknown("no kubeconfig")
        ),
        Status.WARN,
        "could not be confirmed",
    ),
    (
        "single-cni",
        lambda f: dataclasses.replace(f, kube=live(calico())),
        Status.FAIL,
        "DaemonSet calico-system/calico-node (Calico)",
    ),
    (
        "single-cni",
        lambda f: dataclasses.replace(
            f, kube=live(daemonset("kube-system", "cni", pod_spec("quay.io/cilium/cilium:v1.15")))
        ),
        Status.FAIL,
        "(Cilium)",
    ),
    (
        "single-cni",
        lambda f: dataclasses.replace(f, kube=Unknown("no kubeconfig")),
        Status.WARN,
        "not inspected (no kubeconfig)",
    ),
    # R6, R2
    (
        "subnets-private",
        lambda f: dataclasses.replace(
            f, subnets={**f.subnets, "subnet-a": subnet("subnet-a", igw=True)}
        ),
        Status.FAIL,
        "subnet-a (VpcConfig) is public: route table rtb-1 routes 0.0.0.0/0 -> igw-1",
    ),
    (
        "subnets-private",
        lambda f: dataclasses.replace(
            group(f, OverrideVpcConfig={"Subnets": ["subnet-c"], "SecurityGroupIds": ["sg-1"]}),
            subnets={**f.subnets, "subnet-c": subnet("subnet-c", igw=True)},
        ),
        Status.FAIL,
        "subnet-c (instance group gpu OverrideVpcConfig) is public",
    ),
    (
        "subnets-private",
        lambda f: request(f, VpcConfig=None),
        Status.WARN,
        "no VpcConfig subnets",
    ),
    (
        "subnets-in-cluster-vpc",
        lambda f: dataclasses.replace(
            f, subnets={**f.subnets, "subnet-b": Unknown("does not exist", True)}
        ),
        Status.FAIL,
        "subnet-b (VpcConfig): does not exist",
    ),
    (
        "subnets-in-cluster-vpc",
        lambda f: dataclasses.replace(
            f, subnets={**f.subnets, "subnet-b": subnet("subnet-b", vpc="vpc-2")}
        ),
        Status.FAIL,
        "subnet-b (VpcConfig) is in vpc-2, not vpc-1",
    ),
    (
        "security-groups-in-vpc",
        lambda f: dataclasses.replace(f, security_groups={"sg-1": SecurityGroup("sg-1", "vpc-9")}),
        Status.FAIL,
        "sg-1 (VpcConfig) is in vpc-9, not vpc-1",
    ),
    (
        "security-groups-in-vpc",
        lambda f: dataclasses.replace(f, security_groups={"sg-1": Unknown("gone", True)}),
        Status.FAIL,
        "sg-1 (VpcConfig): gone",
    ),
    # R14
    (
        "subnets-ipv6",
        lambda f: eks(f, ip_family="ipv6"),
        Status.FAIL,
        "subnet-a (VpcConfig) has no IPv6 CIDR block",
    ),
    (
        "subnets-ipv6",
        lambda f: dataclasses.replace(
            eks(f, ip_family="ipv6"),
            subnets={
                "subnet-a": subnet("subnet-a", ipv6=True),
                "subnet-b": dataclasses.replace(subnet("subnet-b", ipv6=True), ipv6_only=True),
            },
        ),
        Status.FAIL,
        "subnet-b (VpcConfig) is IPv6-only (no IPv4 CIDR block)",
    ),
    # R7, R9
    (
        "execution-role-trust",
        lambda f: role(f, Unknown("role hp-exec does not exist (NoSuchEntity)", True)),
        Status.FAIL,
        "does not exist (NoSuchEntity)",
    ),
    (
        "execution-role-trust",
        lambda f: role(f, Role(EXEC, "hp-exec", ("ec2.amazonaws.com",), (POLICY,))),
        Status.FAIL,
        "trusts ec2.amazonaws.com, not sagemaker.amazonaws.com",
    ),
    (
        "execution-role-policy",
        lambda f: role(f, Role(EXEC, "hp-exec", ("sagemaker.amazonaws.com",), ())),
        Status.FAIL,
        "does not allow 11 of its 11 actions: logs:PutLogEvents",
    ),
    (
        "execution-role-policy",
        lambda f: role(
            f, Role(EXEC, "hp-exec", ("sagemaker.amazonaws.com",), (), allowed=("logs:*",))
        ),
        Status.FAIL,
        "does not allow 7 of its 11 actions: cloudwatch:PutMetricData",
    ),
    (
        "execution-role-not-node-role",
        lambda f: group(f, ExecutionRole=NODE),
        Status.FAIL,
        "is the nodeRole of a managed node group",
    ),
    (
        "execution-role-not-node-role",
        lambda f: eks(group(f, ExecutionRole=NODE), node_group_roles=Unknown("NotImplemented")),
        Status.FAIL,
        "is the principal of an EC2_LINUX access entry",
    ),
    (
        "execution-role-not-node-role",
        lambda f: role(
            f,
            Role(
                EXEC,
                "hp-exec",
                ("sagemaker.amazonaws.com",),
                (POLICY, "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"),
            ),
        ),
        Status.WARN,
        "the policy of EKS node roles",
    ),
    # R16, R17
    (
        "health-agent",
        lambda f: dataclasses.replace(f, kube=snapshot([aws_node()], [], [], [])),
        Status.FAIL,
        "no health agent DaemonSet",
    ),
    (
        "health-agent",
        lambda f: dataclasses.replace(f, kube=Unknown("the EKS reconciler has not observed it")),
        Status.WARN,
        "not inspected",
    ),
    # R11, R19, R10
    (
        "instance-types",
        lambda f: group(f, InstanceType="p5.48xlarge"),
        Status.FAIL,
        "p5.48xlarge lacks the ml. prefix; did you mean ml.p5.48xlarge?",
    ),
    (
        "instance-types",
        lambda f: group(f, InstanceType="ml.x9.mega"),
        Status.FAIL,
        "ml.x9.mega is not a HyperPod instance type",
    ),
    (
        "workload-instance-type-labels",
        lambda f: dataclasses.replace(
            f,
            kube=live(
                workloads=(
                    deployment(
                        "ml",
                        "train",
                        pod_spec(
                            "t", node_selector={"node.kubernetes.io/instance-type": "p5.48xlarge"}
                        ),
                    ),
                )
            ),
        ),
        Status.WARN,
        "Deployment ml/train selects instance type p5.48xlarge without ml.",
    ),
    (
        "deep-health-check-taints",
        lambda f: group(
            f, KubernetesConfig={"Taints": [{"Key": "k", "Value": "v", "Effect": "NoSchedule"}]}
        ),
        Status.FAIL,
        "custom taints k=v:NoSchedule",
    ),
    (
        "instance-storage",
        lambda f: group(f, InstanceStorageConfigs=[{"EbsVolumeConfig": {"VolumeSizeInGB": 20000}}]),
        Status.FAIL,
        "VolumeSizeInGB 20000 is outside 1-16384",
    ),
    (
        "instance-storage",
        lambda f: group(
            f,
            InstanceStorageConfigs=[
                {"EbsVolumeConfig": {"VolumeSizeInGB": 100, "RootVolume": True}},
                {"EbsVolumeConfig": {"VolumeSizeInGB": 200, "RootVolume": True}},
            ],
        ),
        Status.FAIL,
        "2 EbsVolumeConfigs set RootVolume",
    ),
    (
        "hostpath-volumes",
        lambda f: dataclasses.replace(
            f,
            kube=snapshot(
                [aws_node(), health_agent()],
                [],
                [
                    pod(
                        "ml",
                        "scratch",
                        pod_spec(
                            "s",
                            host_paths=("/data/scratch", "/opt/sagemaker/ckpt", "/var/log"),
                            node_name="hyperpod-i-0123456789abcdef0",
                        ),
                    )
                ],
                [],
            ),
        ),
        Status.WARN,
        "Pod ml/scratch mounts hostPath /data/scratch on HyperPod nodes",
    ),
    # R12
    (
        "pods-per-node",
        lambda f: dataclasses.replace(
            group(f, InstanceType="ml.t3.medium", OnStartDeepHealthChecks=None),
            kube=live(*(daemonset("d", f"ds{i}", pod_spec("x")) for i in range(3))),
        ),
        Status.WARN,
        "gpu (ml.t3.medium): 5 pods per node, 5 DaemonSets: no room for a workload pod",
    ),
    # R13
    (
        "pod-credentials",
        lambda f: eks(f, addons=addons(**{"eks-pod-identity-agent": ""})),
        Status.WARN,
        f"no IAM OIDC provider for {ISSUER}",
    ),
    (
        "workload-aws-credentials",
        lambda f: dataclasses.replace(
            f,
            kube=live(
                workloads=(deployment("ml", "uploader", pod_spec("u", env=("AWS_REGION",))),)
            ),
        ),
        Status.WARN,
        "Deployment ml/uploader (service account ml/default) uses the AWS SDK without credentials",
    ),
    (  # R13: IMDS answers only hostNetwork pods on HyperPod, whatever the service account
        "workload-aws-credentials",
        lambda f: dataclasses.replace(
            f,
            kube=live(
                workloads=(
                    deployment("ml", "metadata-reader", IMDS_SPEC),
                    deployment("ml", "host-reader", {**IMDS_SPEC, "hostNetwork": True}),
                )
            ),
        ),
        Status.WARN,
        "Deployment ml/metadata-reader names the instance metadata service (169.254.169.254) "
        "off hostNetwork",
    ),
    # R8
    (
        "addons-compatible",
        lambda f: eks(f, addons=addons(**{"snapshot-controller": "v8.0.0-eksbuild.1"})),
        Status.WARN,
        "not on HyperPod's compatible list: snapshot-controller",
    ),
]


@pytest.mark.parametrize(
    ("rule", "mutate", "status", "evidence"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_rule_fails_or_warns_with_evidence(
    rule: str, mutate: Mutation, status: Status, evidence: str
) -> None:
    assert finding(good(), rule).status in (Status.PASS, Status.SKIP)
    found = finding(mutate(good()), rule)
    assert found.status == status, found
    assert any(evidence in line for line in found.evidence), found.evidence
    if status != Status.PASS:
        assert found.fix


def test_every_rule_has_a_failing_or_warning_case() -> None:
    assert {c[0] for c in CASES} == set(BY_ID)


PASSING: list[tuple[str, Mutation, str]] = [
    (
        "execution-role-policy",
        lambda f: role(
            f,
            Role(
                EXEC,
                "hp-exec",
                ("sagemaker.amazonaws.com",),
                (),
                allowed=("logs:*", "s3:*", "Cloudwatch:Put*", "ec2:*", "ssmmessages:*"),
            ),
        ),
        "allows every action of AmazonSageMakerClusterInstanceRolePolicy",
    ),
    (
        "pod-credentials",
        lambda f: dataclasses.replace(
            eks(f, addons=addons(**{"eks-pod-identity-agent": ""})), oidc_providers=(ISSUER,)
        ),
        f"IAM OIDC provider {ISSUER} exists (IRSA)",
    ),
    (
        "workload-aws-credentials",
        lambda f: dataclasses.replace(
            f,
            kube=snapshot(
                [aws_node()],
                [
                    deployment(
                        "ml", "a", pod_spec("a", env=("AWS_REGION",), service_account="reader")
                    ),
                    deployment("ml", "b", pod_spec("b", env=("AWS_REGION",), host_network=True)),
                    deployment("ml", "c", pod_spec("c", env=("AWS_REGION", "AWS_ROLE_ARN"))),
                ],
                [],
                [service_account("ml", "reader", "arn:aws:iam::000000000000:role/r")],
            ),
        ),
        "every workload that calls AWS has a way to get credentials",
    ),
    (
        "health-agent",
        lambda f: dataclasses.replace(f, kube=Unknown("not observed"), local_agent=True),
        "podwarden's own health agent",
    ),
    (
        "subnets-ipv6",
        lambda f: dataclasses.replace(
            eks(f, ip_family="ipv6"),
            subnets={s: subnet(s, ipv6=True) for s in ("subnet-a", "subnet-b")},
        ),
        "every subnet has an IPv4 and an IPv6 CIDR block",
    ),
    (
        "vpc-cni-version",
        lambda f: eks(f, addons=addons(**{"vpc-cni": "v1.18.3-eksbuild.3"})),
        "vpc-cni add-on v1.18.3-eksbuild.3 (ACTIVE)",
    ),
]


@pytest.mark.parametrize(("rule", "mutate", "evidence"), PASSING)
def test_other_ways_to_pass(rule: str, mutate: Mutation, evidence: str) -> None:
    found = finding(mutate(good()), rule)
    assert found.status == Status.PASS, found
    assert any(evidence in line for line in found.evidence), found.evidence


def test_rules_that_do_not_apply_skip() -> None:
    cpu_only = group(good(), InstanceType="ml.m5.xlarge")
    assert finding(cpu_only, "health-agent").status == Status.SKIP  # R17, R15
    manual = request(good(), NodeRecovery="None")
    assert (
        finding(dataclasses.replace(manual, kube=snapshot([], [], [], [])), "health-agent").status
        == Status.SKIP
    )
    no_request = dataclasses.replace(good(), request=None)
    for rule in ("subnets-private", "execution-role-trust", "instance-types", "pods-per-node"):
        assert finding(no_request, rule).status == Status.SKIP
    gone = dataclasses.replace(good(), eks=Unknown("no such cluster", True))
    for rule in ("kubernetes-version", "authentication-mode", "vpc-cni-version"):
        assert finding(gone, rule).status == Status.SKIP


def test_action_matching_is_iams() -> None:
    assert matches("logs:*", "logs:PutLogEvents")
    assert matches("LOGS:putlogevents", "logs:PutLogEvents")
    assert matches("logs:Put?ogEvents", "logs:PutLogEvents")
    assert not matches("logs:Put", "logs:PutLogEvents")
    assert matches("*", "s3:GetObject")


def test_an_explicit_deny_uncovers_an_action() -> None:
    denied = role(
        good(),
        Role(
            EXEC,
            "hp-exec",
            ("sagemaker.amazonaws.com",),
            (),
            allowed=("*",),
            denied=("s3:GetObject",),
        ),
    )
    found = finding(denied, "execution-role-policy")
    assert found.status == Status.FAIL
    assert "does not allow 1 of its 11 actions: s3:GetObject" in found.evidence[0]
