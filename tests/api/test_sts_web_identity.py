"""STS AssumeRoleWithWebIdentity over real HTTP, as botocore sends it: unsigned. A service-account
token of an EKS cluster of the account (its keys recorded as the EKS reconciler records a running
plane's: ``tests/sa_tokens``) becomes credentials the endpoint accepts, through boto3's own web
identity credential provider in a separate process; every refusal is STS's error, and a refused
token leaves no session behind. Other operations still need a signature."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore import UNSIGNED  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from podwarden.model.aws import kinds
from podwarden.model.aws.scope import regional
from podwarden.store.resources import Record
from tests import irsa_pod
from tests.api.aws_server import ACCOUNT, REGION, AwsServer
from tests.irsa_pod import PUT_CHECKPOINT
from tests.sa_tokens import Signer, install

ISSUER = "https://127.0.0.1:8643/id/00112233445566778899AABBCCDDEEFF"
HOST_PATH = ISSUER.removeprefix("https://")
STS_AUD = "sts.amazonaws.com"
ROLE_NAME = "irsa-checkpoints"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
BUCKET = "irsa-checkpoints"


@pytest.fixture(scope="module")
def signer(aws: AwsServer) -> Iterator[Signer]:
    """An EKS cluster whose plane's keys are recorded, its IAM OIDC provider, a role for the
    service account ``ml:trainer`` and a bucket for its checkpoints."""
    scope = regional(ACCOUNT, REGION)
    doc = {"name": "irsa", "status": "ACTIVE", "_podwarden": {"data_dir": "eks/irsa"}}
    aws.store.resources.put(Record(kinds.EKS_CLUSTER, scope, "irsa", doc, created=0.0))
    found = Signer(ISSUER)
    install(aws.store.resources, scope, "irsa", found)
    iam = aws.client("iam")
    provider = iam.create_open_id_connect_provider(Url=ISSUER, ClientIDList=[STS_AUD])
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider["OpenIDConnectProviderArn"]},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{HOST_PATH}:sub": "system:serviceaccount:ml:trainer",
                        f"{HOST_PATH}:aud": STS_AUD,
                    }
                },
            }
        ],
    }
    iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName=ROLE_NAME,
        PolicyName="checkpoints",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{BUCKET}/*"}
                ],
            }
        ),
    )
    aws.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    yield found


def unsigned_sts(aws: AwsServer) -> Any:
    """An STS client that signs nothing (no credentials at all)."""
    return boto3.client(
        "sts",
        endpoint_url=aws.endpoint,
        region_name=REGION,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )


def sessions(aws: AwsServer) -> int:
    return len(aws.store.resources.list(kinds.STS_SESSION))


def test_an_unsigned_call_gets_credentials_the_endpoint_accepts(
    aws: AwsServer, signer: Signer
) -> None:
    web_token = signer.token("ml", "trainer", audience=STS_AUD)
    # botocore's own client with credentials configured still sends this call unsigned
    signed_client = aws.client("sts")
    out = signed_client.assume_role_with_web_identity(
        RoleArn=ROLE, RoleSessionName="pod", WebIdentityToken=web_token
    )
    assert out["SubjectFromWebIdentityToken"] == "system:serviceaccount:ml:trainer"
    assert out["Audience"] == STS_AUD
    out = unsigned_sts(aws).assume_role_with_web_identity(
        RoleArn=ROLE, RoleSessionName="pod", WebIdentityToken=web_token
    )
    creds = out["Credentials"]
    keys = {
        "key": creds["AccessKeyId"],
        "secret": creds["SecretAccessKey"],
        "token": creds["SessionToken"],
    }
    who = aws.client("sts", **keys).get_caller_identity()
    assert who["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE_NAME}/pod"
    s3 = aws.client("s3", **keys)
    s3.put_object(Bucket=BUCKET, Key="direct/step-1.pt", Body=b"weights")
    assert s3.get_object(Bucket=BUCKET, Key="direct/step-1.pt")["Body"].read() == b"weights"


def _refusal(aws: AwsServer, web_token: str, **params: Any) -> tuple[int, str, str]:
    before = sessions(aws)
    with pytest.raises(ClientError) as info:
        unsigned_sts(aws).assume_role_with_web_identity(
            **{"RoleArn": ROLE, "RoleSessionName": "pod", "WebIdentityToken": web_token, **params}
        )
    assert sessions(aws) == before, "no session for a refused token"
    err = info.value.response
    return err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Code"], err["Error"]["Message"]


def test_refusals_are_stss_and_issue_nothing(aws: AwsServer, signer: Signer) -> None:
    now = int(signer.claims()["iat"])
    other = Signer(ISSUER)
    cases = [
        ("not-a-jwt", (400, "InvalidIdentityToken")),
        (
            other.sign(
                signer.claims("ml", "trainer", audience=STS_AUD),
                {"alg": "RS256", "kid": signer.jwk["kid"]},
            ),
            (400, "InvalidIdentityToken"),
        ),
        (
            signer.token("ml", "trainer", audience="pods.eks.amazonaws.com"),
            (400, "InvalidIdentityToken"),
        ),
        (
            signer.sign({**signer.claims("ml", "trainer", audience=STS_AUD), "exp": now - 5}),
            (400, "ExpiredTokenException"),
        ),
        (
            signer.sign({**signer.claims("ml", "trainer", audience=STS_AUD), "nbf": now + 600}),
            (403, "IDPRejectedClaim"),
        ),
        (signer.token("ml", "intruder", audience=STS_AUD), (403, "AccessDenied")),
    ]
    for web_token, (status, code) in cases:
        got = _refusal(aws, web_token)
        assert got[:2] == (status, code), got
    status, code, message = _refusal(
        aws, signer.token("ml", "trainer", audience=STS_AUD), DurationSeconds=43200
    )
    assert (status, code) == (400, "ValidationError") and "MaxSessionDuration" in message


def test_other_operations_still_need_a_signature(aws: AwsServer, signer: Signer) -> None:
    with pytest.raises(ClientError) as info:
        unsigned_sts(aws).get_caller_identity()
    assert info.value.response["Error"]["Code"] == "MissingAuthenticationToken"
    with pytest.raises(ClientError) as info:
        unsigned_sts(aws).assume_role(RoleArn=ROLE, RoleSessionName="xx")
    assert info.value.response["Error"]["Code"] == "MissingAuthenticationToken"


def test_a_bad_signature_on_web_identity_is_not_ignored(aws: AwsServer, signer: Signer) -> None:
    """A request that claims a signature is verified whatever its operation."""
    web_token = signer.token("ml", "trainer", audience=STS_AUD)
    client = aws.client("sts", key="AKIAUNKNOWNKEY000000", secret="x" * 40)
    client.meta.events.unregister("choose-signer.sts.AssumeRoleWithWebIdentity", None)

    def sign_anyway(**kwargs: Any) -> str:
        return "v4"

    client.meta.events.register_first("choose-signer.sts.AssumeRoleWithWebIdentity", sign_anyway)
    before = sessions(aws)
    with pytest.raises(ClientError) as info:
        client.assume_role_with_web_identity(
            RoleArn=ROLE, RoleSessionName="pod", WebIdentityToken=web_token
        )
    assert info.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert sessions(aws) == before


def run_as_pod(aws: AwsServer, tmp_path: Path, web_token: str) -> Any:
    script = PUT_CHECKPOINT.format(bucket=BUCKET, key="chain/step-100.pt", body=b"checkpoint")
    return irsa_pod.run_as_pod(aws.endpoint, ROLE, web_token, tmp_path, script)


def test_boto3s_own_credential_chain(aws: AwsServer, signer: Signer, tmp_path: Path) -> None:
    done = run_as_pod(aws, tmp_path, signer.token("ml", "trainer", audience=STS_AUD))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE_NAME}/")
    got = aws.client("s3").get_object(Bucket=BUCKET, Key="chain/step-100.pt")
    assert got["Body"].read() == b"checkpoint"


def test_boto3s_chain_is_refused_for_another_service_account(
    aws: AwsServer, signer: Signer, tmp_path: Path
) -> None:
    before = sessions(aws)
    done = run_as_pod(aws, tmp_path, signer.token("ml", "intruder", audience=STS_AUD))
    assert done.returncode != 0
    assert "AccessDenied" in done.stderr and "AssumeRoleWithWebIdentity" in done.stderr
    assert sessions(aws) == before
