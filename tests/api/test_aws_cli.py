"""The AWS CLI (v1, a dev dependency) against the local AWS account over real HTTP: STS, IAM,
EC2, EKS, S3 (``s3api`` and the high-level ``s3`` commands) and SageMaker, each through
``--endpoint-url`` with the local credentials in the environment, as a user would type it.

The CLI runs as ``python -m awscli`` of this interpreter, so neither PATH nor a user's own
``~/.aws`` matters: its config and credentials files are pointed at nothing, retries are off.
Service errors exit with 255 (v1; v2 uses 254) and print ``An error occurred (<Code>) when
calling the <Op> operation (reached max retries: 0): <message>`` on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from podwarden.cli.server import local_credentials
from tests.api.aws_server import REGION, AwsServer
from tests.aws_helpers import SAGEMAKER_TRUST_POLICY as TRUST

ACCOUNT = "000000000000"
SERVICE_ERROR = 255  # AWS CLI v1's exit code for an error the service returned (v2: 254)

Cli = Callable[..., subprocess.CompletedProcess[str]]


def cli_env(home: Path) -> dict[str, str]:
    """The environment of a clean machine with the local credentials exported."""
    cred = local_credentials()[0]
    kept = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {
        **kept,
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": cred.access_key_id,
        "AWS_SECRET_ACCESS_KEY": cred.secret_access_key,
        "AWS_CONFIG_FILE": str(home / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture(scope="module")
def cli(aws: AwsServer, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    env = cli_env(tmp_path_factory.mktemp("cli-home"))

    def run(*args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "awscli", *args]
        argv += ["--endpoint-url", aws.endpoint, "--region", REGION, "--output", "json"]
        chosen = env | ({"AWS_CONFIG_FILE": str(config)} if config else {})
        return subprocess.run(
            argv, env=chosen, capture_output=True, text=True, timeout=120, check=False
        )

    return run


def ok(proc: subprocess.CompletedProcess[str]) -> Any:
    """The JSON a successful command printed (None for a command that prints nothing)."""
    assert proc.returncode == 0, (proc.args, proc.stderr)
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def failed(proc: subprocess.CompletedProcess[str], code: str, operation: str) -> str:
    assert proc.returncode == SERVICE_ERROR, (proc.args, proc.returncode, proc.stderr)
    assert f"An error occurred ({code}) when calling the {operation} operation" in proc.stderr
    assert not proc.stdout
    return proc.stderr


def test_sts_and_iam(cli: Cli, tmp_path: Path) -> None:
    me = ok(cli("sts", "get-caller-identity"))
    assert me["Account"] == ACCOUNT
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/podwarden"
    (tmp_path / "trust.json").write_text(json.dumps(TRUST))
    made = ok(
        cli(
            "iam",
            "create-role",
            "--role-name",
            "cli-execution-role",
            "--assume-role-policy-document",
            f"file://{tmp_path / 'trust.json'}",
        )
    )["Role"]
    assert made["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/cli-execution-role"
    policy = "arn:aws:iam::aws:policy/AmazonSageMakerClusterInstanceRolePolicy"
    assert (
        ok(
            cli(
                "iam",
                "attach-role-policy",
                "--role-name",
                "cli-execution-role",
                "--policy-arn",
                policy,
            )
        )
        is None
    )
    got = ok(cli("iam", "get-role", "--role-name", "cli-execution-role"))["Role"]
    assert got["RoleId"] == made["RoleId"]
    assert got["AssumeRolePolicyDocument"] == TRUST
    roles = ok(cli("iam", "list-roles", "--query", "Roles[].RoleName"))
    assert "cli-execution-role" in roles
    stderr = failed(cli("iam", "get-role", "--role-name", "nobody"), "NoSuchEntity", "GetRole")
    assert "nobody" in stderr


def test_ec2(cli: Cli) -> None:
    vpc = ok(
        cli(
            "ec2",
            "create-vpc",
            "--cidr-block",
            "10.90.0.0/16",
            "--tag-specifications",
            "ResourceType=vpc,Tags=[{Key=Name,Value=cli-vpc}]",
        )
    )["Vpc"]
    assert vpc["VpcId"].startswith("vpc-") and vpc["CidrBlock"] == "10.90.0.0/16"
    found = ok(cli("ec2", "describe-vpcs", "--filters", "Name=tag:Name,Values=cli-*"))["Vpcs"]
    assert [v["VpcId"] for v in found] == [vpc["VpcId"]]
    assert found[0]["Tags"] == [{"Key": "Name", "Value": "cli-vpc"}]
    for i, zone in enumerate(("us-west-2a", "us-west-2b")):
        subnet = ok(
            cli(
                "ec2",
                "create-subnet",
                "--vpc-id",
                vpc["VpcId"],
                "--cidr-block",
                f"10.90.{i}.0/24",
                "--availability-zone",
                zone,
            )
        )["Subnet"]
        assert subnet["AvailabilityZone"] == zone
    # the CLI pages on its own (MaxResults under the hood) and --query projects
    zones = ok(
        cli(
            "ec2",
            "describe-subnets",
            "--filters",
            f"Name=vpc-id,Values={vpc['VpcId']}",
            "--page-size",
            "5",
            "--query",
            "Subnets[].AvailabilityZone",
        )
    )
    assert sorted(zones) == ["us-west-2a", "us-west-2b"]
    stderr = failed(
        cli("ec2", "describe-vpcs", "--vpc-ids", "vpc-0123456789abcdef0"),
        "InvalidVpcID.NotFound",
        "DescribeVpcs",
    )
    assert "The vpc ID 'vpc-0123456789abcdef0' does not exist" in stderr
    failed(cli("ec2", "delete-vpc", "--vpc-id", vpc["VpcId"]), "DependencyViolation", "DeleteVpc")
    failed(
        cli("ec2", "create-vpc", "--cidr-block", "10.91.0.0/16", "--dry-run"),
        "DryRunOperation",
        "CreateVpc",
    )


def test_eks(cli: Cli) -> None:
    subnet_ids = []
    vpc = ok(cli("ec2", "create-vpc", "--cidr-block", "10.95.0.0/16"))["Vpc"]["VpcId"]
    for i, zone in enumerate(("us-west-2a", "us-west-2b")):
        args = ["--vpc-id", vpc, "--cidr-block", f"10.95.{i}.0/24", "--availability-zone", zone]
        subnet_ids.append(ok(cli("ec2", "create-subnet", *args))["Subnet"]["SubnetId"])
    made = ok(
        cli(
            "eks",
            "create-cluster",
            "--name",
            "cli-eks",
            "--role-arn",
            f"arn:aws:iam::{ACCOUNT}:role/eks-cluster-role",
            "--resources-vpc-config",
            f"subnetIds={','.join(subnet_ids)}",
            "--access-config",
            "authenticationMode=API_AND_CONFIG_MAP",
            "--kubernetes-version",
            "1.32",
        )
    )["cluster"]
    assert made["name"] == "cli-eks" and made["status"] == "CREATING"
    got = ok(cli("eks", "describe-cluster", "--name", "cli-eks"))["cluster"]
    assert got["arn"] == f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/cli-eks"
    assert got["resourcesVpcConfig"]["vpcId"] == vpc
    assert got["accessConfig"]["authenticationMode"] == "API_AND_CONFIG_MAP"
    assert "cli-eks" in ok(cli("eks", "list-clusters"))["clusters"]
    addon = ok(
        cli(
            "eks",
            "create-addon",
            "--cluster-name",
            "cli-eks",
            "--addon-name",
            "vpc-cni",
            "--addon-version",
            "v1.19.2-eksbuild.1",
        )
    )["addon"]
    assert addon["addonVersion"] == "v1.19.2-eksbuild.1"
    versions = ok(
        cli(
            "eks",
            "describe-addon-versions",
            "--kubernetes-version",
            "1.32",
            "--query",
            "addons[].addonName",
        )
    )
    assert {"vpc-cni", "coredns", "kube-proxy", "aws-fsx-csi-driver"} <= set(versions)
    stderr = failed(
        cli("eks", "describe-cluster", "--name", "nowhere"),
        "ResourceNotFoundException",
        "DescribeCluster",
    )
    assert "No cluster found for name: nowhere." in stderr
    deleted = ok(cli("eks", "delete-cluster", "--name", "cli-eks"))["cluster"]
    assert deleted["status"] == "DELETING"


def test_s3(cli: Cli, tmp_path: Path) -> None:
    ok(
        cli(
            "s3api",
            "create-bucket",
            "--bucket",
            "sagemaker-cli-lifecycle",
            "--create-bucket-configuration",
            "LocationConstraint=us-west-2",
        )
    )
    script = tmp_path / "on_create.sh"
    script.write_text("#!/bin/bash\necho provisioned\n")
    put = ok(
        cli(
            "s3api",
            "put-object",
            "--bucket",
            "sagemaker-cli-lifecycle",
            "--key",
            "lc/on_create.sh",
            "--body",
            str(script),
        )
    )
    assert put["ETag"].startswith('"')
    out = tmp_path / "fetched.sh"
    got = ok(
        cli(
            "s3api",
            "get-object",
            "--bucket",
            "sagemaker-cli-lifecycle",
            "--key",
            "lc/on_create.sh",
            str(out),
        )
    )
    assert got["ContentLength"] == len(script.read_bytes()) and got["ETag"] == put["ETag"]
    assert out.read_bytes() == script.read_bytes()
    # the high-level commands: ls, cp both ways
    buckets = cli("s3", "ls")
    assert buckets.returncode == 0, buckets.stderr
    assert "sagemaker-cli-lifecycle" in buckets.stdout
    data = tmp_path / "provisioning_parameters.json"
    data.write_text(json.dumps({"version": "1.0.0", "workload_manager": "eks"}))
    up = cli("s3", "cp", str(data), "s3://sagemaker-cli-lifecycle/lc/provisioning_parameters.json")
    assert up.returncode == 0, up.stderr
    assert "upload:" in up.stdout
    keys = cli("s3", "ls", "s3://sagemaker-cli-lifecycle/lc/")
    assert keys.returncode == 0, keys.stderr
    assert "on_create.sh" in keys.stdout and "provisioning_parameters.json" in keys.stdout
    back = tmp_path / "back.json"
    down = cli(
        "s3", "cp", "s3://sagemaker-cli-lifecycle/lc/provisioning_parameters.json", str(back)
    )
    assert down.returncode == 0, down.stderr
    assert back.read_bytes() == data.read_bytes()
    failed(
        cli(
            "s3api", "get-object", "--bucket", "sagemaker-cli-lifecycle", "--key", "nope", str(out)
        ),
        "NoSuchKey",
        "GetObject",
    )
    failed(
        cli("s3api", "list-objects-v2", "--bucket", "no-such-bucket-cli"),
        "NoSuchBucket",
        "ListObjectsV2",
    )


def test_s3_cp_in_parts(cli: Cli, tmp_path: Path) -> None:
    """``aws s3 cp`` uploads in parts from ``multipart_threshold`` on (lowered here to keep the
    file small): a checkpoint or a container image layer goes this way."""
    config = tmp_path / "config"
    config.write_text("[default]\ns3 =\n  multipart_threshold = 5MB\n  multipart_chunksize = 5MB\n")
    ok(
        cli(
            "s3api",
            "create-bucket",
            "--bucket",
            "cli-parts",
            "--create-bucket-configuration",
            "LocationConstraint=us-west-2",
        )
    )
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * (11 * 2**12))  # 11 MiB: three parts
    up = cli("s3", "cp", str(big), "s3://cli-parts/big.bin", config=config)
    assert up.returncode == 0, up.stderr
    back = tmp_path / "back.bin"
    down = cli("s3", "cp", "s3://cli-parts/big.bin", str(back), config=config)
    assert down.returncode == 0, down.stderr
    assert back.read_bytes() == big.read_bytes()


def test_sagemaker(cli: Cli) -> None:
    listed = ok(cli("sagemaker", "list-clusters"))
    assert listed["ClusterSummaries"] == []
    failed(
        cli("sagemaker", "describe-cluster", "--cluster-name", "nowhere"),
        "ResourceNotFound",
        "DescribeCluster",
    )
