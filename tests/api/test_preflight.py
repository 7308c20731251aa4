"""The HyperPod preflight end to end over real HTTP: the local account built with boto3 the way
a user would get it wrong (a CONFIG_MAP EKS cluster, vpc-cni 1.18.2, a subnet behind an
internet gateway, a role without the policy, a missing role, a node role...), checked by
``podwarden preflight`` against the endpoint (botocore) and enforced by CreateCluster and
UpdateCluster inside the server. The live-cluster cases go through the ``eks:observed`` record
the EKS reconciler keeps, built with snapshot() from JSON fixtures."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from podwarden.api.operations import OPERATIONS
from podwarden.checks.enforce import make_preflight
from podwarden.cli.account import SeededAccount, seed_default_account
from podwarden.cli.main import main
from podwarden.cli.server import CatalogInstanceTypes, local_credentials
from podwarden.logic.eks_lifecycle import activate_addon, activate_cluster
from podwarden.logic.kube_snapshot import snapshot
from podwarden.model.aws.kinds import EKS_ADDON as ADDON
from podwarden.model.aws.kinds import EKS_CLUSTER as CLUSTER
from podwarden.model.aws.kinds import EKS_OBSERVED as OBSERVED
from podwarden.model.cluster import ClusterStatus
from podwarden.policy.catalog import load_catalog
from podwarden.store.resources import Record
from tests.api.aws_server import REGION, AwsServer
from tests.aws_helpers import SAGEMAKER_TRUST_POLICY as SAGEMAKER_TRUST
from tests.unit.test_kube_snapshot import (
    aws_node,
    calico,
    deployment,
    health_agent,
    pod_spec,
)

ACCOUNT = "000000000000"
SCOPE = f"{ACCOUNT}/{REGION}"


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsServer]:
    """A server that enforces the preflight, over the seeded default account."""
    server = AwsServer(Path(tmp_path_factory.mktemp("preflight")))
    server.app.services.preflight = make_preflight(OPERATIONS)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def seeded(aws: AwsServer) -> SeededAccount:
    account = seed_default_account(
        aws.store,
        account=ACCOUNT,
        region=REGION,
        principal_arn=local_credentials()[0].principal_arn,
        instance_types=CatalogInstanceTypes(load_catalog()),
    )
    activate(aws, "podwarden")
    return account


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The CLI's credential chain: the local credentials, no profile files of the machine."""
    cred = local_credentials()[0]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", cred.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", cred.secret_access_key)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def activate(aws: AwsServer, name: str) -> None:
    """What the EKS reconciler does once the control plane and add-ons run."""
    rec = aws.store.resources.get(CLUSTER, SCOPE, name)
    assert rec is not None
    if rec.doc["status"] == "CREATING":
        activate_cluster(
            rec.doc,
            endpoint="https://127.0.0.1:6443",
            certificate_authority="",
            kubernetes_version="v1.32.9",
        )
        aws.store.resources.save(rec)
    for addon in aws.store.resources.list(ADDON, SCOPE, parent=name):
        if addon.doc["status"] == "CREATING":
            activate_addon(addon.doc, time.time())
            aws.store.resources.save(addon)


def eks_cluster(
    aws: AwsServer,
    seeded: SeededAccount,
    name: str,
    *,
    mode: str | None = "API_AND_CONFIG_MAP",
    vpc_cni: str | None = None,
) -> str:
    eks = aws.client("eks")
    params: dict[str, Any] = {
        "name": name,
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/podwarden-eks-cluster",
        "resourcesVpcConfig": {
            "subnetIds": seeded.private_subnets,
            "securityGroupIds": [seeded.security_group],
        },
    }
    if mode:
        params["accessConfig"] = {"authenticationMode": mode}
    arn = str(eks.create_cluster(**params)["cluster"]["arn"])
    addon: dict[str, Any] = {"clusterName": name, "addonName": "vpc-cni"}
    if vpc_cni:
        addon["addonVersion"] = vpc_cni
    eks.create_addon(**addon)
    activate(aws, name)
    return arn


def observe(
    aws: AwsServer, name: str, *daemonsets: dict[str, Any], workloads: tuple[Any, ...] = ()
) -> None:
    """The live cluster as the EKS reconciler records it."""
    doc = {
        **snapshot(list(daemonsets), list(workloads), [], []).to_doc(),
        "observed_at": time.time(),
    }
    aws.store.resources.put(Record(OBSERVED, SCOPE, name, doc))


def request(
    seeded: SeededAccount,
    name: str,
    *,
    eks_arn: str | None = None,
    subnets: list[str] | None = None,
    groups: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "ClusterName": name,
        "Orchestrator": {"Eks": {"ClusterArn": eks_arn or seeded.eks_cluster_arn}},
        "VpcConfig": {
            "Subnets": subnets or seeded.private_subnets,
            "SecurityGroupIds": [seeded.security_group],
        },
        "NodeProvisioningMode": "Continuous",
        "InstanceGroups": groups
        or [
            {
                "InstanceGroupName": "gpu",
                "InstanceType": "ml.g5.xlarge",
                "InstanceCount": 1,
                "ExecutionRole": seeded.execution_role_arn,
                "LifeCycleConfig": {
                    "SourceS3Uri": seeded.lifecycle_uri,
                    "OnCreate": "on_create.sh",
                },
            }
        ],
        **extra,
    }


def refusal(aws: AwsServer, req: dict[str, Any]) -> str:
    with pytest.raises(ClientError) as err:
        aws.client("sagemaker").create_cluster(**req)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    message = str(err.value.response["Error"]["Message"])
    assert message.startswith("HyperPod preflight failed: ")
    return message


def run_cli(
    aws: AwsServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    req: dict[str, Any],
) -> tuple[int, dict[str, Any]]:
    """``podwarden preflight --output json`` on ``req``: exit code and report."""
    path = tmp_path / "request.json"
    path.write_text(json.dumps(req))
    argv = ["preflight", "--endpoint-url", aws.endpoint, "--output", "json"]
    code = main([*argv, "--cli-input-json", f"file://{path}"])
    return code, json.loads(capsys.readouterr().out)


def statuses(doc: dict[str, Any]) -> dict[str, str]:
    return {f["rule"]: f["status"] for f in doc["findings"]}


def evidence(doc: dict[str, Any], rule: str) -> str:
    return " | ".join(next(f["evidence"] for f in doc["findings"] if f["rule"] == rule))


# ---------------------------------------------------------------- the seeded account passes


def test_the_seeded_account_passes_and_warnings_become_events(
    aws: AwsServer, seeded: SeededAccount, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    req = request(seeded, "ok-1", NodeRecovery="None")
    code, doc = run_cli(aws, tmp_path, capsys, req)
    assert code == 0, doc
    assert doc["ok"] is True
    assert doc["subject"] == {
        "account": ACCOUNT,
        "region": REGION,
        "cluster": "ok-1",
        "eks_cluster": seeded.eks_cluster_arn,
    }
    found = statuses(doc)
    assert {r for r, s in found.items() if s == "fail"} == set()
    for rule in (
        "eks-cluster-active",
        "kubernetes-version",
        "authentication-mode",
        "vpc-cni-version",
        "subnets-private",
        "subnets-in-cluster-vpc",
        "security-groups-in-vpc",
        "execution-role-trust",
        "execution-role-policy",
        "execution-role-not-node-role",
        "access-entries",
        "addons-compatible",
        "pod-credentials",
        "instance-types",
    ):
        assert found[rule] == "pass", (rule, evidence(doc, rule))
    assert "pass --kubeconfig" in evidence(doc, "single-cni")

    sagemaker = aws.client("sagemaker")
    arn = sagemaker.create_cluster(**req)["ClusterArn"]
    events = sagemaker.list_cluster_events(ClusterName=arn)["Events"]
    warnings = [e["Description"] for e in events if e["EventLevel"] == "Warn"]
    assert warnings == [
        "Preflight warning: single-cni (seed R5), workload-instance-type-labels (seed R11), "
        "hostpath-volumes (seed R10), pods-per-node (seed R12), workload-aws-credentials "
        "(seed R13): live cluster not inspected (the EKS reconciler has not observed it yet)."
    ]


def test_only_an_eks_cluster_as_a_table(
    aws: AwsServer, seeded: SeededAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "preflight",
            "--endpoint-url",
            aws.endpoint,
            "--region",
            REGION,
            "--eks-cluster",
            "podwarden",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "HyperPod preflight" in out and "eks-cluster-active" in out and "PASS" in out
    assert "every requirement met" in out
    code = main(
        ["preflight", "--endpoint-url", aws.endpoint, "--region", REGION, "--eks-cluster", "nope"]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL" in out and "eks-cluster-active" in out and "does not" in out


# ---------------------------------------------------------------- EKS: R2, R3, R4, R5, R8


def test_config_map_authentication_is_refused(
    aws: AwsServer, seeded: SeededAccount, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = eks_cluster(aws, seeded, "cm", mode=None)  # EKS's default for the API: CONFIG_MAP
    req = request(seeded, "cm-1", eks_arn=arn)
    message = refusal(aws, req)
    assert (
        "(1) authentication-mode (seed R4): The EKS cluster's authentication mode is API or "
        in message
    )
    assert (
        "Evidence: EKS cluster cm has authentication mode CONFIG_MAP; HyperPod needs API or API_AND_CONFIG_MAP."
        in message
    )
    assert "access-entries (seed R4, R7)" in message
    code, doc = run_cli(aws, tmp_path, capsys, req)
    assert code == 1 and doc["ok"] is False
    assert statuses(doc)["authentication-mode"] == "fail"


def test_vpc_cni_older_than_1_18_3_is_refused(
    aws: AwsServer, seeded: SeededAccount, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = eks_cluster(aws, seeded, "oldcni", vpc_cni="v1.18.2-eksbuild.1")
    message = refusal(aws, request(seeded, "oldcni-1", eks_arn=arn))
    assert "vpc-cni-version (seed R5)" in message
    assert "vpc-cni add-on v1.18.2-eksbuild.1 (ACTIVE) < 1.18.3" in message
    arn = eks_cluster(aws, seeded, "newcni", vpc_cni="v1.18.3-eksbuild.3")
    _, doc = run_cli(aws, tmp_path, capsys, request(seeded, "newcni-1", eks_arn=arn))
    assert statuses(doc)["vpc-cni-version"] == "pass"
    assert "add-ons: vpc-cni" in evidence(doc, "addons-compatible")
    assert statuses(doc)["pod-credentials"] == "warn"  # no Pod Identity agent, no OIDC provider


def test_eks_cluster_missing_not_active_or_elsewhere(aws: AwsServer, seeded: SeededAccount) -> None:
    missing = f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/absent"
    message = refusal(aws, request(seeded, "absent-1", eks_arn=missing))
    assert "eks-cluster-active (seed R2)" in message
    assert "EKS cluster absent does not exist (ResourceNotFoundException)" in message
    aws.client("eks").create_cluster(
        name="creating",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/podwarden-eks-cluster",
        resourcesVpcConfig={"subnetIds": seeded.private_subnets},
        accessConfig={"authenticationMode": "API"},
    )
    message = refusal(
        aws,
        request(seeded, "creating-1", eks_arn=f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/creating"),
    )
    assert "EKS cluster creating is CREATING" in message
    elsewhere = f"arn:aws:eks:us-east-1:{ACCOUNT}:cluster/podwarden"
    message = refusal(aws, request(seeded, "elsewhere-1", eks_arn=elsewhere))
    assert f"{elsewhere} is in account {ACCOUNT}, Region us-east-1" in message


# ---------------------------------------------------------------- networking: R2, R6


def test_a_subnet_behind_an_internet_gateway_is_refused(
    aws: AwsServer, seeded: SeededAccount, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    req = request(seeded, "pub-1", subnets=[seeded.private_subnets[0], seeded.public_subnet])
    message = refusal(aws, req)
    assert "(1) subnets-private (seed R6)" in message
    assert f"{seeded.public_subnet} (VpcConfig) is public: route table rtb-" in message
    assert "routes 0.0.0.0/0 -> igw-" in message
    # a private subnet turned public by its route table, through an instance group's override
    ec2 = aws.client("ec2")
    igw = ec2.describe_internet_gateways()["InternetGateways"][0]["InternetGatewayId"]
    subnet = ec2.create_subnet(
        VpcId=seeded.vpc_id, CidrBlock="10.1.64.0/20", AvailabilityZone=f"{REGION}a"
    )["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=seeded.vpc_id)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    code, doc = run_cli(
        aws,
        tmp_path,
        capsys,
        request(
            seeded,
            "pub-2",
            groups=[
                {
                    **request(seeded, "x")["InstanceGroups"][0],
                    "OverrideVpcConfig": {
                        "Subnets": [subnet],
                        "SecurityGroupIds": [seeded.security_group],
                    },
                }
            ],
        ),
    )
    assert code == 0 and statuses(doc)["subnets-private"] == "pass"
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    code, doc = run_cli(
        aws,
        tmp_path,
        capsys,
        request(
            seeded,
            "pub-2",
            groups=[
                {
                    **request(seeded, "x")["InstanceGroups"][0],
                    "OverrideVpcConfig": {
                        "Subnets": [subnet],
                        "SecurityGroupIds": [seeded.security_group],
                    },
                }
            ],
        ),
    )
    assert code == 1
    assert f"{subnet} (instance group gpu OverrideVpcConfig) is public" in evidence(
        doc, "subnets-private"
    )


def test_subnets_and_security_groups_outside_the_cluster_vpc(
    aws: AwsServer, seeded: SeededAccount
) -> None:
    ec2 = aws.client("ec2")
    other = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    foreign = ec2.create_subnet(
        VpcId=other, CidrBlock="10.9.0.0/24", AvailabilityZone=f"{REGION}b"
    )["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="elsewhere", Description="x", VpcId=other)["GroupId"]
    req = request(
        seeded, "vpc-1", subnets=[seeded.private_subnets[0], foreign, "subnet-0123456789abcdef0"]
    )
    req["VpcConfig"]["SecurityGroupIds"] = [sg, "sg-0123456789abcdef0"]
    message = refusal(aws, req)
    assert f"{foreign} (VpcConfig) is in {other}, not {seeded.vpc_id}" in message
    assert (
        "subnet-0123456789abcdef0 (VpcConfig): does not exist (InvalidSubnetID.NotFound)" in message
    )
    assert f"{sg} (VpcConfig) is in {other}, not {seeded.vpc_id}" in message
    assert "sg-0123456789abcdef0 (VpcConfig): does not exist (InvalidGroup.NotFound)" in message


# ---------------------------------------------------------------- IAM: R7, R9


def group_with(seeded: SeededAccount, role: str) -> list[dict[str, Any]]:
    return [{**request(seeded, "x")["InstanceGroups"][0], "ExecutionRole": role}]


def test_execution_roles(
    aws: AwsServer, seeded: SeededAccount, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    iam = aws.client("iam")
    bare = iam.create_role(
        RoleName="hp-no-policy", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST)
    )["Role"]["Arn"]
    message = refusal(aws, request(seeded, "iam-1", groups=group_with(seeded, bare)))
    assert "execution-role-policy (seed R7)" in message
    assert (
        "does not have AmazonSageMakerClusterInstanceRolePolicy attached and does not allow 11 of its 11 actions"
        in message
    )
    assert (
        "Fix: aws iam attach-role-policy --role-name hp-no-policy --policy-arn arn:aws:iam::aws:policy/AmazonSageMakerClusterInstanceRolePolicy"
        in message
    )

    # equivalent permissions in an inline policy pass
    actions = [
        "logs:*",
        "cloudwatch:PutMetricData",
        "s3:ListBucket",
        "s3:GetObject",
        "ssmmessages:*",
        "ec2:*",
    ]
    iam.put_role_policy(
        RoleName="hp-no-policy",
        PolicyName="equivalent",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
            }
        ),
    )
    code, doc = run_cli(
        aws, tmp_path, capsys, request(seeded, "iam-2", groups=group_with(seeded, bare))
    )
    assert statuses(doc)["execution-role-policy"] == "pass", evidence(doc, "execution-role-policy")

    missing = f"arn:aws:iam::{ACCOUNT}:role/hp-missing"
    message = refusal(aws, request(seeded, "iam-3", groups=group_with(seeded, missing)))
    assert (
        f"ExecutionRole {missing} (instance group gpu): role hp-missing does not exist (NoSuchEntity)"
        in message
    )

    # the EKS node role: wrong trust, no policy, and a node policy (R9)
    code, doc = run_cli(
        aws,
        tmp_path,
        capsys,
        request(seeded, "iam-4", groups=group_with(seeded, seeded.node_role_arn)),
    )
    assert code == 1
    assert "trusts ec2.amazonaws.com, not sagemaker.amazonaws.com" in evidence(
        doc, "execution-role-trust"
    )
    assert statuses(doc)["execution-role-not-node-role"] == "warn"
    # a role EKS nodes join with (an EC2_LINUX access entry) is refused
    aws.client("eks").create_access_entry(
        clusterName="podwarden", principalArn=seeded.node_role_arn, type="EC2_LINUX"
    )
    message = refusal(
        aws, request(seeded, "iam-5", groups=group_with(seeded, seeded.node_role_arn))
    )
    assert "execution-role-not-node-role (seed R9)" in message
    assert "is the principal of an EC2_LINUX access entry" in message


# ---------------------------------------------------------------- the live cluster: R5, R10-R13, R16


def test_live_cluster_facts_from_the_reconcilers_record(
    aws: AwsServer, seeded: SeededAccount
) -> None:
    arn = eks_cluster(aws, seeded, "live")
    req = request(seeded, "live-1", eks_arn=arn, NodeRecovery="Automatic")
    observe(aws, "live", aws_node(), health_agent(), calico())
    message = refusal(aws, req)
    assert "single-cni (seed R5)" in message
    assert "DaemonSet calico-system/calico-node (Calico)" in message
    observe(aws, "live", aws_node())  # no agent, recovery Automatic
    message = refusal(aws, req)
    assert "(1) health-agent (seed R16, R17)" in message
    assert "NodeRecovery is Automatic: without the agent nothing triggers recovery" in message
    observe(aws, "live", aws_node("v1.17.1-eksbuild.1"), health_agent())
    message = refusal(aws, req)
    assert (
        "DaemonSet kube-system/aws-node runs 602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.17.1-eksbuild.1 (< 1.18.3)"
        in message
    )
    observe(
        aws,
        "live",
        aws_node(),
        health_agent(),
        workloads=(
            deployment(
                "ml",
                "train",
                pod_spec("t", node_selector={"node.kubernetes.io/instance-type": "p5.48xlarge"}),
            ),
        ),
    )
    sagemaker = aws.client("sagemaker")
    created = sagemaker.create_cluster(**req)["ClusterArn"]
    events = [
        e["Description"]
        for e in sagemaker.list_cluster_events(ClusterName=created)["Events"]
        if e["EventLevel"] == "Warn"
    ]
    assert any(
        "workload-instance-type-labels (seed R11): Deployment ml/train selects instance type p5.48xlarge without ml."
        in e
        for e in events
    ), events


def test_update_cluster_is_checked_too(aws: AwsServer, seeded: SeededAccount) -> None:
    sagemaker = aws.client("sagemaker")
    arn = sagemaker.create_cluster(**request(seeded, "upd-1"))["ClusterArn"]
    cluster = aws.store.get_cluster(ACCOUNT, REGION, name="upd-1")
    assert cluster is not None
    cluster.status = ClusterStatus.IN_SERVICE
    aws.store.save_cluster(cluster)
    missing = f"arn:aws:iam::{ACCOUNT}:role/upd-missing"
    with pytest.raises(ClientError) as err:
        sagemaker.update_cluster(
            ClusterName=arn,
            InstanceGroups=[
                {
                    **request(seeded, "x")["InstanceGroups"][0],
                    "InstanceGroupName": "more",
                    "ExecutionRole": missing,
                }
            ],
        )
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert (
        "role upd-missing does not exist (NoSuchEntity)" in err.value.response["Error"]["Message"]
    )
    sagemaker.update_cluster(
        ClusterName=arn,
        InstanceGroups=[{**request(seeded, "x")["InstanceGroups"][0], "InstanceGroupName": "more"}],
    )


def test_an_unreachable_endpoint_exits_2(
    seeded: SeededAccount, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(
        [
            "preflight",
            "--endpoint-url",
            f"http://127.0.0.1:{port}",
            "--region",
            REGION,
            "--eks-cluster",
            "podwarden",
        ]
    )
    assert code == 2
    assert "podwarden preflight: error:" in capsys.readouterr().err


def test_pod_credentials_read_real_oidc_providers_and_associations(
    aws: AwsServer, seeded: SeededAccount, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """R13's facts come from the local account: no Pod Identity agent and no OIDC provider warn
    (with "no IAM OIDC provider", not "not listed"); an OIDC provider for the cluster's issuer
    (IRSA) passes; a Pod Identity association covers a workload's service account (the live
    check runs inside the server, whose warnings become cluster events)."""
    arn = eks_cluster(aws, seeded, "r13")
    issuer = aws.client("eks").describe_cluster(name="r13")["cluster"]["identity"]["oidc"]["issuer"]
    trainer = pod_spec("python:3.12", env=("AWS_REGION",), service_account="trainer")
    observe(aws, "r13", aws_node(), workloads=(deployment("ml", "train", trainer),))
    req = request(seeded, "r13-1", eks_arn=arn)
    _, doc = run_cli(aws, tmp_path, capsys, req)
    assert statuses(doc)["pod-credentials"] == "warn"
    said = evidence(doc, "pod-credentials")
    assert f"no IAM OIDC provider for {issuer.removeprefix('https://')}" in said
    assert "not listed" not in said
    warned = warning_events(aws, req)
    assert "workload-aws-credentials (seed R13)" in warned
    assert "Deployment ml/train (service account ml/trainer)" in warned
    assert "not listed" not in warned

    iam = aws.client("iam")
    provider = iam.create_open_id_connect_provider(Url=issuer, ClientIDList=["sts.amazonaws.com"])
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }
    role = iam.create_role(RoleName="r13-trainer", AssumeRolePolicyDocument=json.dumps(trust))
    aws.client("eks").create_pod_identity_association(
        clusterName="r13", namespace="ml", serviceAccount="trainer", roleArn=role["Role"]["Arn"]
    )
    try:
        _, doc = run_cli(aws, tmp_path, capsys, req)
        assert statuses(doc)["pod-credentials"] == "pass", evidence(doc, "pod-credentials")
        assert f"IAM OIDC provider {issuer.removeprefix('https://')} exists (IRSA)" in evidence(
            doc, "pod-credentials"
        )
        warned = warning_events(aws, request(seeded, "r13-2", eks_arn=arn))
        assert "workload-aws-credentials" not in warned
        assert "pod-credentials" not in warned
    finally:
        iam.delete_open_id_connect_provider(
            OpenIDConnectProviderArn=provider["OpenIDConnectProviderArn"]
        )


def warning_events(aws: AwsServer, req: dict[str, Any]) -> str:
    """CreateCluster inside the server (the preflight with the live facts): its warning events,
    joined."""
    sagemaker = aws.client("sagemaker")
    created = sagemaker.create_cluster(**req)["ClusterArn"]
    events = sagemaker.list_cluster_events(ClusterName=created)["Events"]
    return " | ".join(e["Description"] for e in events if e["EventLevel"] == "Warn")
