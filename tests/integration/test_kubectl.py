"""EKS clusters of the local account reached with kubectl exactly as on AWS: ``aws eks
update-kubeconfig``, then the built kubectl, whose exec plugin runs ``aws eks get-token``; the
apiserver asks podwarden's token webhook who the token's signer is.

The module runs its own control plane, started (as ``podwarden up`` does) with the token webhook
of the seeded cluster ``podwarden`` pointing at the port its API server then listens on. Who is
who: the default local key is ``user/podwarden``, the seeded cluster's creator, hence cluster
admin through the creator's access entry (AmazonEKSClusterAdminPolicy); other principals are
sessions of roles this module creates and gives access entries.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session  # type: ignore[import-untyped]
import pytest

from podwarden.api.eks_authn import webhook_url
from podwarden.cli.server import ServerSettings, default_database_url, local_credentials
from podwarden.local.assets import find_kubectl
from podwarden.local.runtime import ControlPlane, free_port
from podwarden.wire.eks_token import encode_token

from .hyperpod_helpers import FAST, wait_active
from .hyperpod_server import REGION, ThreadServer
from .kube_objects import wait_for

pytestmark = pytest.mark.integration

ACCOUNT = "000000000000"
BIN = Path(sys.executable).parent  # the venv's `aws` (awscli, a dev dependency)


@pytest.fixture(scope="module")
def kubectl() -> Path:
    found = find_kubectl()
    if found is None:
        pytest.fail("kubectl is not built: run scripts/build-k8s (it builds only what is missing)")
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    port = free_port()
    webhook = webhook_url("127.0.0.1", port, ACCOUNT, REGION, "podwarden")
    plane = ControlPlane(tmp_path_factory.mktemp("k8s"), fsync=False, token_webhook=webhook)
    data = tmp_path_factory.mktemp("podwarden")
    with plane:
        settings = ServerSettings(
            kubeconfig=plane.kubeconfig,
            database_url=default_database_url(data),
            port=port,
            agent=False,
            reconciler=FAST,
            data_dir=data,
        )
        srv = ThreadServer(settings).start()
        try:
            yield srv
        finally:
            srv.stop()


def aws(server: ThreadServer, service: str, **creds: str) -> Any:
    return server.client(service, **creds)


def cli_env(server: ThreadServer) -> dict[str, str]:
    """The environment `podwarden up` prints, for the AWS CLI (and kubectl's exec plugin)."""
    cred = local_credentials()[0]
    return {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": cred.access_key_id,
        "AWS_SECRET_ACCESS_KEY": cred.secret_access_key,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def run(
    argv: list[str | Path], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def token(cluster: str, key: str, secret: str, session: str | None = None, *, at: str = "") -> str:
    """``aws eks get-token``'s token, made with botocore the way aws-cli makes it."""
    sts = botocore.session.get_session().create_client(
        "sts",
        region_name=REGION,
        endpoint_url=at or None,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=session,
    )

    def inject(request: Any, **_: Any) -> None:
        request.headers["x-k8s-aws-id"] = cluster

    sts.meta.events.register("before-sign.sts.GetCallerIdentity", inject)
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60, HttpMethod="GET")
    return encode_token(url)


class Cluster:
    """kubectl against one EKS cluster, with a bearer token given on the command line."""

    def __init__(self, kubectl: Path, described: dict[str, Any], tmp: Path) -> None:
        self.kubectl = kubectl
        self.endpoint = described["endpoint"]
        self.ca = tmp / f"{described['name']}-ca.crt"
        self.ca.write_bytes(base64.b64decode(described["certificateAuthority"]["data"]))

    def run(self, bearer: str, *args: str) -> subprocess.CompletedProcess[str]:
        return run(
            [
                self.kubectl,
                "--kubeconfig",
                os.devnull,
                f"--server={self.endpoint}",
                f"--certificate-authority={self.ca}",
                f"--token={bearer}",
                *args,
            ]
        )


def role_session(server: ThreadServer, name: str) -> dict[str, str]:
    iam = aws(server, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    creds = aws(server, "sts").assume_role(RoleArn=arn, RoleSessionName="alice@example.com")
    c = creds["Credentials"]
    return {
        "arn": arn,
        "key": c["AccessKeyId"],
        "secret": c["SecretAccessKey"],
        "token": c["SessionToken"],
    }


def test_update_kubeconfig_then_kubectl_as_the_clusters_creator(
    server: ThreadServer, kubectl: Path, tmp_path: Path
) -> None:
    env = cli_env(server)
    described = wait_active(aws(server, "eks"), "podwarden")
    config = tmp_path / "kubeconfig"
    done = run(
        [BIN / "aws", "eks", "update-kubeconfig", "--name", "podwarden", "--kubeconfig", config],
        env,
    )
    assert done.returncode == 0, done.stderr
    text = config.read_text()
    assert described["endpoint"] in text and "get-token" in text

    listed = run([kubectl, "--kubeconfig", config, "get", "namespaces", "-o", "name"], env)
    assert listed.returncode == 0, listed.stderr
    assert "namespace/kube-system" in listed.stdout.split()

    whoami = run([kubectl, "--kubeconfig", config, "auth", "whoami", "-o", "json"], env)
    assert whoami.returncode == 0, whoami.stderr
    user = json.loads(whoami.stdout)["status"]["userInfo"]
    assert user["username"] == f"arn:aws:iam::{ACCOUNT}:user/podwarden"
    assert "system:masters" in user["groups"]  # AmazonEKSClusterAdminPolicy of the creator entry
    assert user["uid"].startswith(f"aws-iam-authenticator:{ACCOUNT}:AIDA")
    assert user["extra"]["arn"] == [f"arn:aws:iam::{ACCOUNT}:user/podwarden"]
    nodes = run([kubectl, "--kubeconfig", config, "get", "nodes"], env)
    assert nodes.returncode == 0, nodes.stderr


def test_unknown_tampered_or_foreign_tokens_are_unauthorized(
    server: ThreadServer, kubectl: Path, tmp_path: Path
) -> None:
    cluster = Cluster(kubectl, wait_active(aws(server, "eks"), "podwarden"), tmp_path)
    cred = local_credentials()[0]
    good = token("podwarden", cred.access_key_id, cred.secret_access_key, at=server.endpoint)
    assert cluster.run(good, "get", "namespaces").returncode == 0

    stranger = role_session(server, "stranger")  # valid signature, no access entry
    refused = [
        token("podwarden", stranger["key"], stranger["secret"], stranger["token"]),
        good[:-6] + ("AAAAAA" if not good.endswith("AAAAAA") else "BBBBBB"),  # tampered signature
        token("podwarden", cred.access_key_id, "not-the-secret"),
        token("other-cluster", cred.access_key_id, cred.secret_access_key),  # for another cluster
        "k8s-aws-v1.bm90IGEgdXJs",
    ]
    for bearer in refused:
        done = cluster.run(bearer, "get", "namespaces")
        assert done.returncode != 0
        assert "Unauthorized" in done.stderr, done.stderr


def test_access_entry_without_policy_is_authenticated_but_forbidden(
    server: ThreadServer, kubectl: Path, tmp_path: Path
) -> None:
    eks = aws(server, "eks")
    cluster = Cluster(kubectl, wait_active(eks, "podwarden"), tmp_path)
    who = role_session(server, "no-policy")
    eks.create_access_entry(clusterName="podwarden", principalArn=who["arn"])
    bearer = token("podwarden", who["key"], who["secret"], who["token"])
    done = cluster.run(bearer, "get", "nodes")
    assert done.returncode != 0
    assert "Forbidden" in done.stderr or "forbidden" in done.stderr, done.stderr
    # EKS's default username of a role: its session ARN, {{SessionName}} with '@' as '-'
    user = f"arn:aws:sts::{ACCOUNT}:assumed-role/no-policy/alice-example.com"
    assert f'User "{user}" cannot list resource "nodes"' in done.stderr


def view_role_aggregated(server: ThreadServer, kubectl: Path) -> None:
    """Wait for the ``view`` ClusterRole to carry its rules: it is an aggregated role that
    kube-controller-manager fills in after a fresh control plane starts (a race on a busy
    machine), so a ``view`` binding grants nothing until then."""

    def rules() -> str | None:
        admin = ["--kubeconfig", str(server.settings.kubeconfig)]
        got = run([kubectl, *admin, "get", "clusterrole", "view", "-o", "json"])
        if got.returncode != 0:
            return None
        role = json.loads(got.stdout)
        names = {r for rule in role.get("rules") or [] for r in rule.get("resources", [])}
        return "aggregated" if "namespaces" in names else None

    wait_for("the view ClusterRole's aggregated rules (namespaces)", rules, timeout=60)


def test_view_policy_grants_view_only(server: ThreadServer, kubectl: Path, tmp_path: Path) -> None:
    eks = aws(server, "eks")
    cluster = Cluster(kubectl, wait_active(eks, "podwarden"), tmp_path)
    who = role_session(server, "viewer")
    eks.create_access_entry(
        clusterName="podwarden", principalArn=who["arn"], kubernetesGroups=["team-a"]
    )
    eks.associate_access_policy(
        clusterName="podwarden",
        principalArn=who["arn"],
        policyArn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
        accessScope={"type": "cluster"},
    )
    bearer = token("podwarden", who["key"], who["secret"], who["token"])
    view_role_aggregated(server, kubectl)
    listed = cluster.run(bearer, "get", "namespaces")
    assert listed.returncode == 0, listed.stderr
    whoami = json.loads(cluster.run(bearer, "auth", "whoami", "-o", "json").stdout)
    groups = whoami["status"]["userInfo"]["groups"]
    assert {"team-a", "podwarden:access-policy:view", "system:authenticated"} <= set(groups)
    created = cluster.run(bearer, "create", "namespace", "not-allowed")
    assert created.returncode != 0 and "forbidden" in created.stderr, created.stderr


def test_cluster_created_through_the_api_takes_eks_tokens(
    server: ThreadServer, kubectl: Path, tmp_path: Path
) -> None:
    ec2, eks = aws(server, "ec2"), aws(server, "eks")
    subnets = [
        s["SubnetId"]
        for s in ec2.describe_subnets(
            Filters=[{"Name": "tag:Name", "Values": ["podwarden-private-*"]}]
        )["Subnets"]
    ]
    eks.create_cluster(
        name="second",
        version="1.32",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/podwarden-eks-cluster",
        resourcesVpcConfig={"subnetIds": subnets},
        accessConfig={"authenticationMode": "API"},
    )
    try:
        wait_active(eks, "second")
        env = cli_env(server)
        config = tmp_path / "kubeconfig"
        done = run(
            [BIN / "aws", "eks", "update-kubeconfig", "--name", "second", "--kubeconfig", config],
            env,
        )
        assert done.returncode == 0, done.stderr
        listed = run([kubectl, "--kubeconfig", config, "get", "namespaces"], env)
        assert listed.returncode == 0, listed.stderr
        # the seeded cluster's token does not open the second cluster
        cluster = Cluster(kubectl, eks.describe_cluster(name="second")["cluster"], tmp_path)
        cred = local_credentials()[0]
        foreign = token("podwarden", cred.access_key_id, cred.secret_access_key)
        assert "Unauthorized" in cluster.run(foreign, "get", "namespaces").stderr
    finally:
        eks.delete_cluster(name="second")
        wait_for("second deleted", lambda: "second" not in eks.list_clusters()["clusters"], 60)
