"""STS AssumeRoleWithWebIdentity (IRSA): a service-account token of an EKS cluster of the local
account for a role's credentials. Every refusal in STS's codes, and no session issued for a token
that fails any check (the negative matrix)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from podwarden.control.context import Context
from podwarden.control.iam import OPERATIONS as IAM
from podwarden.control.sts import OPERATIONS as STS
from podwarden.control.sts import session_credential
from podwarden.model.aws import kinds
from podwarden.model.aws.scope import regional
from podwarden.model.errors import PodwardenError
from podwarden.store.resources import Record
from podwarden.wire.errors import WireError, wire_error
from tests.aws_helpers import ACCOUNT, REGION, assert_shape, make_context
from tests.sa_tokens import Signer, install

ISSUER = "https://127.0.0.1:8643/id/0123456789ABCDEF0123456789ABCDEF"
HOST_PATH = ISSUER.removeprefix("https://")
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST_PATH}"
STS_AUD = "sts.amazonaws.com"
SUB = "system:serviceaccount:ml:trainer"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/irsa-trainer"


def trust(sub: str = SUB, *, op: str = "StringEquals", extra: list[Any] | None = None) -> str:
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {op: {f"{HOST_PATH}:sub": sub, f"{HOST_PATH}:aud": STS_AUD}},
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement, *(extra or [])]})


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return make_context(tmp_path)


@pytest.fixture
def signer(ctx: Context) -> Signer:
    """The cluster ``irsa`` with its plane's keys recorded, an IAM OIDC provider for its issuer
    and the role ``irsa-trainer`` trusting ``ml:trainer``."""
    scope = regional(ACCOUNT, REGION)
    doc = {"name": "irsa", "status": "ACTIVE", "_podwarden": {"data_dir": "eks/irsa"}}
    ctx.store.resources.put(Record(kinds.EKS_CLUSTER, scope, "irsa", doc, created=0.0))
    found = Signer(ISSUER)
    install(ctx.store.resources, scope, "irsa", found)
    IAM["CreateOpenIDConnectProvider"](ctx, {"Url": ISSUER, "ClientIDList": [STS_AUD]})
    IAM["CreateRole"](ctx, {"RoleName": "irsa-trainer", "AssumeRolePolicyDocument": trust()})
    return found


def token(signer: Signer, **changes: Any) -> str:
    claims = signer.claims("ml", "trainer", audience=STS_AUD)
    claims.update(changes)
    return signer.sign({k: v for k, v in claims.items() if v is not None})


def assume(ctx: Context, web_token: str, **params: Any) -> dict[str, Any]:
    call = {"RoleArn": ROLE, "RoleSessionName": "pod", "WebIdentityToken": web_token, **params}
    out = STS["AssumeRoleWithWebIdentity"](ctx, call)
    assert_shape("sts", "AssumeRoleWithWebIdentity", out)
    return out


def sessions(ctx: Context) -> int:
    return len(ctx.store.resources.list(kinds.STS_SESSION))


def refused(ctx: Context, web_token: str, **params: Any) -> WireError:
    """The refusal as STS answers it, after checking that nothing was issued."""
    before = sessions(ctx)
    with pytest.raises(PodwardenError) as info:
        assume(ctx, web_token, **params)
    assert sessions(ctx) == before, "a refused token must not leave a session behind"
    return wire_error("sts", info.value)


def test_a_pods_token_gets_credentials_the_endpoint_accepts(ctx: Context, signer: Signer) -> None:
    out = assume(ctx, token(signer), DurationSeconds=1800)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert out["SubjectFromWebIdentityToken"] == SUB
    assert out["Provider"] == PROVIDER
    assert out["Audience"] == STS_AUD
    assert out["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/irsa-trainer/pod"
    )
    session = session_credential(ctx.store, creds["AccessKeyId"], ctx.now())
    assert session is not None and session.secret_access_key == creds["SecretAccessKey"]
    assert session.role_arn == ROLE and session.session_token == creds["SessionToken"]
    assert 1790 < session.expiration - ctx.now() <= 1800
    role = IAM["GetRole"](ctx, {"RoleName": "irsa-trainer"})["Role"]
    assert "LastUsedDate" in role["RoleLastUsed"]


# the negative matrix: (what is wrong, how to build the call, code, status, message part)
def _matrix() -> list[tuple[str, Any, str, int, str]]:
    other = Signer(ISSUER)
    stranger = Signer("https://token.actions.githubusercontent.com")
    return [
        ("malformed", lambda s: "not-a-jwt", "InvalidIdentityToken", 400, "not a well-formed"),
        (
            "bad signature",
            lambda s: other.sign(
                s.claims("ml", "trainer", audience=STS_AUD), {"alg": "RS256", "kid": s.jwk["kid"]}
            ),
            "InvalidIdentityToken",
            400,
            "signature does not verify",
        ),
        (
            "unknown kid",
            lambda s: s.sign(
                s.claims("ml", "trainer", audience=STS_AUD), {"alg": "RS256", "kid": "x"}
            ),
            "InvalidIdentityToken",
            400,
            "no key",
        ),
        (
            "wrong issuer (no provider)",
            lambda s: token(s, iss="https://127.0.0.1:8643/id/FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"),
            "InvalidIdentityToken",
            400,
            "No OpenIDConnect provider found in your account for https://127.0.0.1:8643/id/FFF",
        ),
        (
            "audience not a client id",
            lambda s: token(s, aud=["pods.eks.amazonaws.com"]),
            "InvalidIdentityToken",
            400,
            "Incorrect token audience",
        ),
        (
            "expired",
            lambda s: token(s, exp=int(ctx_now()) - 10, iat=int(ctx_now()) - 100),
            "ExpiredTokenException",
            400,
            "Token expired: current date/time",
        ),
        (
            "not valid yet",
            lambda s: token(s, nbf=int(ctx_now()) + 3600),
            "IDPRejectedClaim",
            403,
            "nbf is in the future",
        ),
        (
            "sub of another service account",
            lambda s: token(s, sub="system:serviceaccount:ml:intruder"),
            "AccessDenied",
            403,
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        ),
        (
            "an issuer podwarden has no keys of",
            lambda s: stranger.sign(stranger.claims("ml", "trainer", audience=STS_AUD)),
            "InvalidIdentityToken",
            400,
            "Couldn't retrieve verification key from your identity provider",
        ),
    ]


def ctx_now() -> float:
    return time.time()


@pytest.mark.parametrize("case", _matrix(), ids=[m[0] for m in _matrix()])
def test_the_negative_matrix(
    ctx: Context, signer: Signer, case: tuple[str, Any, str, int, str]
) -> None:
    wrong, build, code, status, message = case
    if wrong == "an issuer podwarden has no keys of":
        IAM["CreateOpenIDConnectProvider"](
            ctx,
            {"Url": "https://token.actions.githubusercontent.com", "ClientIDList": [STS_AUD]},
        )
    err = refused(ctx, build(signer))
    assert (err.code, err.status) == (code, status), err.message
    assert message in err.message


def test_a_role_that_does_not_exist_is_access_denied(ctx: Context, signer: Signer) -> None:
    err = refused(ctx, token(signer), RoleArn=f"arn:aws:iam::{ACCOUNT}:role/nobody")
    assert (err.code, err.status) == ("AccessDenied", 403)


def test_a_provider_of_another_account_does_not_count(ctx: Context, signer: Signer) -> None:
    err = refused(ctx, token(signer), RoleArn="arn:aws:iam::111122223333:role/irsa-trainer")
    assert err.code == "InvalidIdentityToken" and "No OpenIDConnect provider" in err.message


def _set_trust(ctx: Context, policy: str) -> None:
    IAM["UpdateAssumeRolePolicy"](ctx, {"RoleName": "irsa-trainer", "PolicyDocument": policy})


def test_trust_without_the_provider_principal_is_denied(ctx: Context, signer: Signer) -> None:
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/example.com"},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    _set_trust(ctx, json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    assert refused(ctx, token(signer)).code == "AccessDenied"


def test_trust_for_another_action_is_denied(ctx: Context, signer: Signer) -> None:
    _set_trust(ctx, trust().replace("sts:AssumeRoleWithWebIdentity", "sts:AssumeRole"))
    assert refused(ctx, token(signer)).code == "AccessDenied"


def test_a_deny_wins(ctx: Context, signer: Signer) -> None:
    deny = {
        "Effect": "Deny",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringLike": {f"{HOST_PATH}:sub": "system:serviceaccount:ml:*"}},
    }
    _set_trust(ctx, trust(extra=[deny]))
    assert refused(ctx, token(signer)).code == "AccessDenied"


def test_conditions_use_iam_operators(ctx: Context, signer: Signer) -> None:
    _set_trust(ctx, trust("system:serviceaccount:ml:*", op="StringLike"))
    assume(ctx, token(signer))
    assume(ctx, token(signer, sub="system:serviceaccount:ml:other"))
    assert refused(ctx, token(signer, sub="system:serviceaccount:ops:x")).code == "AccessDenied"


def test_a_trust_without_conditions_takes_any_subject(ctx: Context, signer: Signer) -> None:
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": PROVIDER},
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    _set_trust(ctx, json.dumps({"Version": "2012-10-17", "Statement": statement}))
    assume(ctx, token(signer, sub="system:serviceaccount:any:one"))


def test_a_client_id_added_later_is_accepted(ctx: Context, signer: Signer) -> None:
    aud = "my-app"
    assert refused(ctx, token(signer, aud=[aud])).code == "InvalidIdentityToken"
    IAM["AddClientIDToOpenIDConnectProvider"](
        ctx, {"OpenIDConnectProviderArn": PROVIDER, "ClientID": aud}
    )
    _set_trust(ctx, trust().replace(f'"{STS_AUD}"', f'"{aud}"'))
    assert assume(ctx, token(signer, aud=[aud]))["Audience"] == aud


def test_thumbprints_pin_nothing(ctx: Context, signer: Signer) -> None:
    """AWS does not use thumbprints where it trusts the IdP's certificate; podwarden fetches
    nothing, so whatever thumbprint the provider records, the keys decide."""
    IAM["UpdateOpenIDConnectProviderThumbprint"](
        ctx, {"OpenIDConnectProviderArn": PROVIDER, "ThumbprintList": ["0" * 40]}
    )
    assume(ctx, token(signer))


@pytest.mark.parametrize(
    ("seconds", "message"),
    [
        (899, "greater than or equal to 900"),
        (3601, "exceeds the MaxSessionDuration set for this role"),
    ],
)
def test_duration_limits(ctx: Context, signer: Signer, seconds: int, message: str) -> None:
    err = refused(ctx, token(signer), DurationSeconds=seconds)
    assert (err.code, err.status) == ("ValidationError", 400) and message in err.message


def test_duration_up_to_the_roles_maximum(ctx: Context, signer: Signer) -> None:
    IAM["UpdateRole"](ctx, {"RoleName": "irsa-trainer", "MaxSessionDuration": 7200})
    out = assume(ctx, token(signer), DurationSeconds=7200)
    key = out["Credentials"]["AccessKeyId"]
    session = session_credential(ctx.store, key, ctx.now())
    assert session is not None and session.expiration - ctx.now() > 7100


def test_a_malformed_session_policy_is_refused(ctx: Context, signer: Signer) -> None:
    err = refused(ctx, token(signer), Policy="{not json")
    assert err.code == "MalformedPolicyDocument"


def test_a_deleted_cluster_no_longer_vouches(ctx: Context, signer: Signer) -> None:
    scope = regional(ACCOUNT, REGION)
    rec = ctx.store.resources.get(kinds.EKS_CLUSTER, scope, "irsa")
    assert rec is not None
    rec.doc["status"] = "DELETING"
    ctx.store.resources.save(rec)
    err = refused(ctx, token(signer))
    assert "Couldn't retrieve verification key" in err.message
