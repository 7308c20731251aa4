"""STS of the local AWS account: GetCallerIdentity, AssumeRole, issued sessions."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from podwarden.control.context import Context
from podwarden.control.iam import OPERATIONS as IAM
from podwarden.control.sts import OPERATIONS as STS
from podwarden.control.sts import session_credential
from podwarden.model.aws.kinds import STS_SESSION as SESSION
from podwarden.model.errors import PodwardenError
from podwarden.wire.errors import WireError, wire_error
from tests.aws_helpers import ACCOUNT, assert_shape, make_context

ROOT = f"arn:aws:iam::{ACCOUNT}:root"


def trust(*principals: dict[str, Any], effect: str = "Allow") -> str:
    statements = [
        {"Effect": effect, "Principal": p, "Action": "sts:AssumeRole"} for p in principals
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def call(ctx: Context, op: str, **params: Any) -> dict[str, Any]:
    out = STS[op](ctx, params)
    assert_shape("sts", op, out)
    return out


def role(ctx: Context, name: str, policy: str, **params: Any) -> str:
    out = IAM["CreateRole"](ctx, {"RoleName": name, "AssumeRolePolicyDocument": policy, **params})
    return str(out["Role"]["Arn"])


def refused(ctx: Context, params: dict[str, Any]) -> WireError:
    """AssumeRole's error as STS answers it (``podwarden.wire.errors_sts``)."""
    with pytest.raises(PodwardenError) as info:
        STS["AssumeRole"](ctx, {"RoleSessionName": "s", **params})
    return wire_error("sts", info.value)


def denied(ctx: Context, arn: str) -> str:
    err = refused(ctx, {"RoleArn": arn})
    assert (err.code, err.status) == ("AccessDenied", 403)
    return err.message


def invalid(ctx: Context, arn: str, **params: Any) -> str:
    err = refused(ctx, {"RoleArn": arn, **params})
    assert (err.code, err.status) == ("ValidationError", 400)
    return err.message


def as_session(ctx: Context, creds: dict[str, Any]) -> Context:
    """The context of a request signed with credentials STS issued."""
    return dataclasses.replace(ctx, access_key_id=creds["AccessKeyId"], principal_arn="")


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return make_context(tmp_path)


def test_caller_identity_of_the_signing_credentials(ctx: Context) -> None:
    assert call(ctx, "GetCallerIdentity") == {"UserId": ACCOUNT, "Account": ACCOUNT, "Arn": ROOT}
    user = dataclasses.replace(ctx, principal_arn=f"arn:aws:iam::{ACCOUNT}:user/alice")
    me = call(user, "GetCallerIdentity")
    assert me["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert re.fullmatch(r"AIDA[A-Z0-9]{17}", me["UserId"])
    assert call(user, "GetCallerIdentity")["UserId"] == me["UserId"]  # stable


def test_assume_role_issues_credentials(ctx: Context) -> None:
    arn = role(ctx, "worker", trust({"AWS": ROOT}), Path="/team/")
    out = call(ctx, "AssumeRole", RoleArn=arn, RoleSessionName="job-1", DurationSeconds=900)
    creds, user = out["Credentials"], out["AssumedRoleUser"]
    assert re.fullmatch(r"ASIA[A-Z0-9]{16}", creds["AccessKeyId"])
    assert len(creds["SecretAccessKey"]) == 40 and len(creds["SessionToken"]) > 100
    issued = ctx.now()
    assert 890 < creds["Expiration"].timestamp() - issued <= 900
    role_id = IAM["GetRole"](ctx, {"RoleName": "worker"})["Role"]["RoleId"]
    assert user == {
        "AssumedRoleId": f"{role_id}:job-1",
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/worker/job-1",  # no role path
    }
    assert "PackedPolicySize" not in out

    session = session_credential(ctx.store, creds["AccessKeyId"], ctx.now())
    assert session is not None
    assert (session.secret_access_key, session.session_token) == (
        creds["SecretAccessKey"],
        creds["SessionToken"],
    )
    assert session.principal_arn == user["Arn"] and session.account == ACCOUNT
    me = call(as_session(ctx, creds), "GetCallerIdentity")
    assert me == {"UserId": f"{role_id}:job-1", "Account": ACCOUNT, "Arn": user["Arn"]}

    last = IAM["GetRole"](ctx, {"RoleName": "worker"})["Role"]["RoleLastUsed"]
    assert last["Region"] == ctx.region and last["LastUsedDate"].tzinfo is not None


def test_trust_policy_decides(ctx: Context) -> None:
    missing = f"arn:aws:iam::{ACCOUNT}:role/missing"
    assert denied(ctx, missing) == (
        f"User: {ROOT} is not authorized to perform: sts:AssumeRole on resource: {missing}"
    )
    sagemaker = role(ctx, "sm", trust({"Service": "sagemaker.amazonaws.com"}))
    denied(ctx, sagemaker)  # a service principal never matches a signed caller
    other = role(ctx, "other", trust({"AWS": "arn:aws:iam::111122223333:root"}))
    denied(ctx, other)
    both = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:*"},
                {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"},
            ],
        }
    )
    denied(ctx, role(ctx, "deny", both))
    for name, principal in (("acct", {"AWS": ACCOUNT}), ("any", "*")):
        policy = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
                ],
            }
        )
        call(ctx, "AssumeRole", RoleArn=role(ctx, name, policy), RoleSessionName="s")
    path_mismatch = f"arn:aws:iam::{ACCOUNT}:role/wrong/acct"
    denied(ctx, path_mismatch)


def test_duration_limits(ctx: Context) -> None:
    arn = role(ctx, "r", trust({"AWS": ROOT}), MaxSessionDuration=7200)
    call(ctx, "AssumeRole", RoleArn=arn, RoleSessionName="s", DurationSeconds=7200)
    assert invalid(ctx, arn, DurationSeconds=7201) == (
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    )
    assert "greater than or equal to 900" in invalid(ctx, arn, DurationSeconds=899)


def test_role_chaining(ctx: Context) -> None:
    first = role(ctx, "first", trust({"AWS": ROOT}))
    creds = call(ctx, "AssumeRole", RoleArn=first, RoleSessionName="a")["Credentials"]
    chained = as_session(ctx, creds)
    second = role(ctx, "second", trust({"AWS": first}), MaxSessionDuration=43200)
    message = invalid(chained, second, DurationSeconds=7200)
    assert message.endswith("1 hour session limit for roles assumed by role chaining.")
    out = call(chained, "AssumeRole", RoleArn=second, RoleSessionName="b")
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/second/b"
    denied(chained, role(ctx, "root-only", trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/x"})))


def test_session_policy(ctx: Context) -> None:
    arn = role(ctx, "r", trust({"AWS": ROOT}))
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
    )
    out = call(
        ctx, "AssumeRole", RoleArn=arn, RoleSessionName="s", Policy=policy, SourceIdentity="me"
    )
    assert 1 <= out["PackedPolicySize"] <= 100 and out["SourceIdentity"] == "me"
    err = refused(ctx, {"RoleArn": arn, "Policy": "{"})
    assert (err.code, err.status) == ("MalformedPolicyDocument", 400)


def test_sessions_expire(ctx: Context) -> None:
    arn = role(ctx, "r", trust({"AWS": ROOT}))
    creds = call(ctx, "AssumeRole", RoleArn=arn, RoleSessionName="s")["Credentials"]
    key = creds["AccessKeyId"]
    assert session_credential(ctx.store, key, ctx.now() + 3000) is not None
    assert session_credential(ctx.store, key, ctx.now() + 3601) is None
    # kept, so that the API answers ExpiredToken (not "invalid token") as AWS does
    expired = session_credential(ctx.store, key, ctx.now() + 3601, expired=True)
    assert expired is not None and expired.expiration <= ctx.now() + 3601
    assert ctx.store.resources.get(SESSION, "", key) is not None
    assert session_credential(ctx.store, "ASIANEVERISSUED00000", ctx.now()) is None


def test_sessions_survive_a_restart(tmp_path: Path) -> None:
    first = make_context(tmp_path)
    arn = role(first, "r", trust({"AWS": ROOT}))
    creds = call(first, "AssumeRole", RoleArn=arn, RoleSessionName="s")["Credentials"]
    again = make_context(tmp_path)
    session = session_credential(again.store, creds["AccessKeyId"], again.now())
    assert session is not None and session.session_token == creds["SessionToken"]
    me = call(as_session(again, creds), "GetCallerIdentity")
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s"
