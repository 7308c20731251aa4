"""EKS Auth's AssumeRoleForPodIdentity: the credentials of a pod's association, EKS's session
tags, and a negative matrix in which no token that fails a check gets credentials."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from podwarden.control.context import Context
from podwarden.control.eks import OPERATIONS as EKS
from podwarden.control.eks_auth import OPERATIONS as EKS_AUTH
from podwarden.control.iam import OPERATIONS as IAM
from podwarden.model.aws import kinds
from podwarden.model.aws.scope import GLOBAL
from podwarden.model.errors import PodwardenError
from podwarden.wire.errors import wire_error
from tests.aws_helpers import ACCOUNT, POD_TRUST, REGION, assert_shape, make_context
from tests.sa_tokens import Signer, install

SCOPE = f"{ACCOUNT}/{REGION}"
ISSUER = "https://127.0.0.1:1/id/0123456789ABCDEF0123456789ABCDEF"
OTHER_ISSUER = "https://127.0.0.1:1/id/FEDCBA9876543210FEDCBA9876543210"
OP = "AssumeRoleForPodIdentity"


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(ISSUER)


@pytest.fixture(scope="module")
def other() -> Signer:
    return Signer(OTHER_ISSUER)


def _cluster(ctx: Context, name: str, signer: Signer) -> None:
    EKS["CreateCluster"](
        ctx,
        {
            "name": name,
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/eks-cluster",
            "resourcesVpcConfig": {"subnetIds": ["subnet-a", "subnet-b"]},
        },
    )
    install(ctx.store.resources, SCOPE, name, signer)


def role(ctx: Context, name: str, trust: dict[str, Any] = POD_TRUST) -> str:
    out = IAM["CreateRole"](ctx, {"RoleName": name, "AssumeRolePolicyDocument": json.dumps(trust)})
    return str(out["Role"]["Arn"])


def associate(ctx: Context, sa: str, arn: str, **extra: Any) -> dict[str, Any]:
    params = {"clusterName": "c1", "namespace": "ml", "serviceAccount": sa, "roleArn": arn}
    out: dict[str, Any] = EKS["CreatePodIdentityAssociation"](ctx, {**params, **extra})
    return dict(out["association"])


@pytest.fixture
def ctx(tmp_path: Path, signer: Signer, other: Signer) -> Context:
    c = make_context(tmp_path)
    _cluster(c, "c1", signer)
    _cluster(c, "c2", other)
    associate(c, "trainer", role(c, "trainer-role"))
    return c


def sessions(ctx: Context) -> int:
    return len(ctx.store.resources.list(kinds.STS_SESSION, GLOBAL))


def call(ctx: Context, token: str, cluster: str = "c1") -> dict[str, Any]:
    out = EKS_AUTH[OP](ctx, {"clusterName": cluster, "token": token})
    assert_shape("eks-auth", OP, out)
    return out


def refused(ctx: Context, token: str, code: str, cluster: str = "c1") -> str:
    """The call fails with ``code`` on the wire and issues no session."""
    before = sessions(ctx)
    with pytest.raises(PodwardenError) as info:
        EKS_AUTH[OP](ctx, {"clusterName": cluster, "token": token})
    error = wire_error("eks-auth", info.value)
    assert error.code == code, error.message
    assert error.status == (404 if code == "ResourceNotFoundException" else 400)
    assert sessions(ctx) == before, "a refused token got credentials"
    return error.message


def test_credentials_of_the_association_with_eks_session_tags(ctx: Context, signer: Signer) -> None:
    claims = signer.claims("ml", "trainer", "trainer-0")
    out = call(ctx, signer.sign(claims))
    assert out["subject"] == {"namespace": "ml", "serviceAccount": "trainer"}
    assert out["audience"] == "pods.eks.amazonaws.com"
    assoc = ctx.store.resources.list(kinds.EKS_POD_IDENTITY, SCOPE, parent="c1")[0].doc
    assert out["podIdentityAssociation"] == {
        "associationArn": assoc["associationArn"],
        "associationId": assoc["associationId"],
    }
    user = out["assumedRoleUser"]
    session = user["arn"].rsplit("/", 1)[1]
    assert re.fullmatch(r"eks-c1-trainer-0-[0-9a-f-]+", session) and len(session) <= 64
    assert user["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/trainer-role/{session}"
    assert user["assumeRoleId"].endswith(f":{session}")
    creds = out["credentials"]
    assert creds["accessKeyId"].startswith("ASIA")
    rec = ctx.store.resources.get(kinds.STS_SESSION, GLOBAL, creds["accessKeyId"])
    assert rec is not None and rec.doc["SessionToken"] == creds["sessionToken"]
    assert rec.doc["Tags"] == {
        "eks-cluster-arn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/c1",
        "eks-cluster-name": "c1",
        "kubernetes-namespace": "ml",
        "kubernetes-service-account": "trainer",
        "kubernetes-pod-name": "trainer-0",
        "kubernetes-pod-uid": claims["kubernetes.io"]["pod"]["uid"],
    }
    # 6 hours, within the role's MaxSessionDuration (1 hour by default): the role's
    assert 3590 < creds["expiration"].timestamp() - time.time() <= 3600


def test_disabled_session_tags_need_no_tag_session(ctx: Context, signer: Signer) -> None:
    trust = json.loads(json.dumps(POD_TRUST))
    trust["Statement"][0]["Action"] = "sts:AssumeRole"
    associate(ctx, "untagged", role(ctx, "untagged-role", trust), disableSessionTags=True)
    out = call(ctx, signer.token("ml", "untagged"))
    rec = ctx.store.resources.get(kinds.STS_SESSION, GLOBAL, out["credentials"]["accessKeyId"])
    assert rec is not None and "Tags" not in rec.doc


def test_target_role_is_assumed_from_the_association_role(ctx: Context, signer: Signer) -> None:
    first = role(ctx, "first")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": first}, "Action": "sts:AssumeRole"}],
    }
    target = role(ctx, "target", trust)
    associate(ctx, "chained", first, targetRoleArn=target)
    out = call(ctx, signer.token("ml", "chained"))
    assert "/target/" in out["assumedRoleUser"]["arn"]
    associate(ctx, "untrusting", first, targetRoleArn=role(ctx, "untrusting-target"))
    msg = refused(ctx, signer.token("ml", "untrusting"), "AccessDeniedException")
    assert "untrusting-target" in msg and "first" in msg


def _tamper(token: str) -> str:
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["kubernetes.io"]["namespace"] = "kube-system"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{sig}"


def _unsigned(signer: Signer) -> str:
    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(signer.claims())}."


TokenCase = Callable[[Signer, Signer], str]

# (case, the token, EKS Auth's code): every one must issue nothing
NEGATIVE: list[tuple[str, TokenCase, str]] = [
    ("not a JWT", lambda s, o: "a.b.c", "InvalidTokenException"),
    ("unsigned (alg none)", lambda s, o: _unsigned(s), "InvalidTokenException"),
    ("payload changed after signing", lambda s, o: _tamper(s.token()), "InvalidTokenException"),
    (
        "signed by another key",
        lambda s, o: o.sign({**s.claims(), "iss": s.issuer}, {"alg": "RS256", "kid": s.jwk["kid"]}),
        "InvalidTokenException",
    ),
    (
        "HS256 with the public key as secret",
        lambda s, o: s.sign(s.claims(), {"alg": "HS256", "kid": s.jwk["kid"]}),
        "InvalidTokenException",
    ),
    ("another cluster's token", lambda s, o: o.token(), "InvalidTokenException"),
    (
        "an unknown issuer",
        lambda s, o: s.sign({**s.claims(), "iss": "https://x/id/1"}),
        "InvalidTokenException",
    ),
    ("expired", lambda s, o: s.token(now=time.time() - 7200), "ExpiredTokenException"),
    ("not valid yet", lambda s, o: s.token(now=time.time() + 600), "InvalidTokenException"),
    (
        "audience sts.amazonaws.com",
        lambda s, o: s.token(audience="sts.amazonaws.com"),
        "InvalidTokenException",
    ),
    ("bound to no pod", lambda s, o: s.token(pod=None), "InvalidTokenException"),
    (
        "a service account without association",
        lambda s, o: s.token("ml", "other"),
        "ResourceNotFoundException",
    ),
    ("another namespace", lambda s, o: s.token("default", "trainer"), "ResourceNotFoundException"),
]


@pytest.mark.parametrize("case", NEGATIVE, ids=[n[0] for n in NEGATIVE])
def test_negative_matrix_issues_nothing(
    ctx: Context, signer: Signer, other: Signer, case: tuple[str, TokenCase, str]
) -> None:
    _, make, code = case
    refused(ctx, make(signer, other), code)


def test_expired_token_message_is_eks_auths(ctx: Context, signer: Signer) -> None:
    claims = signer.claims(now=1_700_000_000)
    msg = refused(ctx, signer.sign(claims), "ExpiredTokenException")
    assert msg.startswith("The token included in the request is expired: current date/time ")
    assert msg.endswith("must be before the expiration date/time 2023-11-14T23:13:20Z.")


def test_unknown_cluster_and_token_of_another_cluster(ctx: Context, signer: Signer) -> None:
    msg = refused(ctx, signer.token(), "ResourceNotFoundException", cluster="nope")
    assert "nope" in msg
    # c1's token presented for c2 (which has an association for the same account) is refused
    associate_c2 = {"clusterName": "c2", "namespace": "ml", "serviceAccount": "trainer"}
    EKS["CreatePodIdentityAssociation"](ctx, {**associate_c2, "roleArn": role(ctx, "c2-role")})
    refused(ctx, signer.token(), "InvalidTokenException", cluster="c2")


def test_role_problems_are_access_denied(ctx: Context, signer: Signer) -> None:
    arn = role(ctx, "doomed")
    associate(ctx, "doomed", arn)
    IAM["DeleteRole"](ctx, {"RoleName": "doomed"})
    assert "does not exist" in refused(ctx, signer.token("ml", "doomed"), "AccessDeniedException")
    untagged = json.loads(json.dumps(POD_TRUST))
    arn = role(ctx, "retrusted")
    associate(ctx, "retrusted", arn)
    untagged["Statement"][0]["Action"] = "sts:AssumeRole"
    IAM["UpdateAssumeRolePolicy"](
        ctx, {"RoleName": "retrusted", "PolicyDocument": json.dumps(untagged)}
    )
    msg = refused(ctx, signer.token("ml", "retrusted"), "AccessDeniedException")
    assert "sts:TagSession" in msg
