"""STS of the local AWS account (query protocol): GetCallerIdentity and AssumeRole.

AssumeRole issues temporary credentials as STS does: an ``ASIA`` access key id (20 characters), a
40-character secret, a session token, an expiry; the session's identity is the assumed-role ARN
``arn:aws:sts::<account>:assumed-role/<role name>/<session name>`` (no role path, as in AWS) and
its user id ``<RoleId>:<session name>``. Sessions are records (kind ``sts:session``, keyed by the
access key id, in the global scope ``""`` because access key ids are unique across accounts), so
a restart keeps them; :func:`session_credential` is how the API server finds the secret and token
to check a SigV4 signature made with them.

The role's trust policy decides, as in AWS: the caller must be allowed ``sts:AssumeRole`` by an
Allow statement naming it (``"*"``, its account id or ``arn:aws:iam::<account>:root``, its own
ARN, or for a role session the role's ARN) and not denied by a Deny statement. Conditions are not
evaluated (podwarden has no request context to evaluate them against), and service principals
never match a caller, since callers sign with user or session credentials. A missing role or a
trust policy that does not allow the caller answers STS's ``AccessDenied`` (403) "User: <caller
ARN> is not authorized to perform: sts:AssumeRole on resource: <role ARN>".

DurationSeconds (900 s up to the role's MaxSessionDuration, one hour when a role session assumes
a role: STS's role chaining limit) is checked with STS's ``ValidationError`` messages. Session
tags and ``PolicyArns`` are accepted and not applied; a session ``Policy`` is checked as IAM
checks permissions policies. ``PackedPolicySize`` is an approximation (the compact JSON of the
session policy and tags against 2048 characters): STS's packing is not public.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import secrets
import string
from dataclasses import dataclass
from typing import Any

from podwarden.control.aws import iam_policy_doc as pdoc
from podwarden.control.aws.iam_common import ROLE, key, when
from podwarden.control.context import Context
from podwarden.logic.iam_patterns import action_matches
from podwarden.model.errors import Conflict, ServiceError
from podwarden.store.resources import Record
from podwarden.store.sql import Store

SESSION = "sts:session"
SCOPE = ""  # access key ids are unique across accounts
DEFAULT_DURATION = 3600
MIN_DURATION = 900
CHAINED_MAX = 3600  # role chaining: a role session assuming a role gets at most one hour
_KEY_CHARS = string.ascii_uppercase + string.digits
_SECRET_CHARS = string.ascii_letters + string.digits + "+/"
_ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}):role(/(?:[^/]+/)*)([\w+=,.@-]+)")
_ASSUMED = re.compile(r"arn:aws:sts::(\d{12}):assumed-role/([\w+=,.@-]+)/([\w+=,.@-]+)")


@dataclass(frozen=True)
class SessionCredential:
    """Temporary credentials STS issued, as the API server needs them to check a signature."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    account: str
    principal_arn: str  # the assumed-role ARN
    user_id: str  # <RoleId>:<session name>
    role_arn: str
    expiration: float  # epoch seconds


def session_credential(
    store: Store, access_key_id: str, now: float, *, expired: bool = False
) -> SessionCredential | None:
    """The live session of ``access_key_id``; None if STS never issued it or it has expired.
    ``expired=True`` returns an expired session too (``.expiration <= now``), so that the API can
    answer ``ExpiredToken`` as AWS does for a token that was once valid; its record is kept for
    that reason."""
    rec = store.resources.get(SESSION, SCOPE, access_key_id)
    if rec is None:
        return None
    doc = rec.doc
    if doc["Expiration"] <= now and not expired:
        return None
    return SessionCredential(
        access_key_id=access_key_id,
        secret_access_key=doc["SecretAccessKey"],
        session_token=doc["SessionToken"],
        account=doc["Account"],
        principal_arn=doc["Arn"],
        user_id=doc["UserId"],
        role_arn=doc["RoleArn"],
        expiration=doc["Expiration"],
    )


# --- who is calling ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    arn: str
    account: str
    user_id: str
    role_arn: str | None  # set when the caller is a role session


def _stable_id(prefix: str, arn: str) -> str:
    digest = base64.b32encode(hashlib.sha256(arn.encode()).digest()).decode()
    return prefix + digest[:17]


def _assumed_user_id(ctx: Context, arn: str) -> str:
    """``<RoleId>:<session>`` for an assumed-role ARN, from the role's record when it exists."""
    m = _ASSUMED.fullmatch(arn)
    if m is None:
        return _stable_id("AIDA", arn)
    rec = ctx.store.resources.get(ROLE, m.group(1), key(m.group(2)))
    role_id = rec.doc["RoleId"] if rec is not None else _stable_id("AROA", arn)
    return f"{role_id}:{m.group(3)}"


def caller(ctx: Context) -> Caller:
    """The identity of the signing credentials: an STS session if the access key is one,
    else the principal the API server authenticated (the account's root when it says none).
    Root's user id is the account id; an IAM user's is an AIDA id derived from its ARN."""
    session = session_credential(ctx.store, ctx.access_key_id, ctx.now())
    if session is not None:
        return Caller(session.principal_arn, session.account, session.user_id, session.role_arn)
    arn = ctx.principal_arn or f"arn:aws:iam::{ctx.account}:root"
    if arn.endswith(":root"):
        return Caller(arn, ctx.account, ctx.account, None)
    if _ASSUMED.fullmatch(arn):
        return Caller(arn, ctx.account, _assumed_user_id(ctx, arn), None)
    return Caller(arn, ctx.account, _stable_id("AIDA", arn), None)


def get_caller_identity(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    who = caller(ctx)
    return {"UserId": who.user_id, "Account": who.account, "Arn": who.arn}


# --- AssumeRole ----------------------------------------------------------------------------------


def _denied(who: Caller, role_arn: str) -> ServiceError:
    return ServiceError(
        "AccessDenied",
        f"User: {who.arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
        403,
    )


def _role(ctx: Context, arn: str) -> Record | None:
    m = _ROLE_ARN.fullmatch(arn)
    if m is None:
        return None
    rec = ctx.store.resources.get(ROLE, m.group(1), key(m.group(3)))
    return rec if rec is not None and rec.doc["Arn"] == arn else None


def _names(who: Caller) -> set[str]:
    """What a trust policy's AWS principal may say to mean this caller."""
    names = {"*", who.arn, who.account, f"arn:aws:iam::{who.account}:root"}
    if who.role_arn:
        names.add(who.role_arn)
    return names


def _matches(st: dict[str, Any], who: Caller) -> bool:
    actions = pdoc.as_list(st.get("Action"))
    if not any(action_matches(a, "sts:AssumeRole") for a in actions):
        return False
    principal = st.get("Principal")
    if principal == "*":
        return True
    aws = pdoc.as_list(principal.get("AWS")) if isinstance(principal, dict) else []
    return bool(_names(who) & set(aws))


def trusts(trust_policy: str, who: Caller) -> bool:
    """Whether a role's trust policy lets ``who`` assume it (conditions not evaluated)."""
    statements = pdoc.statements_of(json.loads(trust_policy))
    hits = [st["Effect"] for st in statements if _matches(st, who)]
    return "Allow" in hits and "Deny" not in hits


def _validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message, 400)


def _duration(params: dict[str, Any], role: dict[str, Any], who: Caller) -> int:
    seconds = params.get("DurationSeconds") or DEFAULT_DURATION
    if seconds < MIN_DURATION:
        raise _validation(
            f"1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to "
            f"satisfy constraint: Member must have value greater than or equal to {MIN_DURATION}"
        )
    if who.role_arn and seconds > CHAINED_MAX:
        raise _validation(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed "
            "by role chaining."
        )
    if seconds > role["MaxSessionDuration"]:
        raise _validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )
    return int(seconds)


def _packed_size(params: dict[str, Any]) -> int | None:
    if not (params.get("Policy") or params.get("PolicyArns") or params.get("Tags")):
        return None
    if params.get("Policy"):
        pdoc.check(params["Policy"], pdoc.PERMISSIONS)
    packed = json.dumps([params.get("Policy"), params.get("PolicyArns"), params.get("Tags")])
    return min(100, max(1, round(100 * pdoc.size(packed) / 2048)))


def _credentials() -> tuple[str, str, str]:
    access_key = "ASIA" + "".join(secrets.choice(_KEY_CHARS) for _ in range(16))
    secret = "".join(secrets.choice(_SECRET_CHARS) for _ in range(40))
    token = base64.b64encode(secrets.token_bytes(240)).decode()
    return access_key, secret, token


def _mark_used(ctx: Context, rec: Record, now: float) -> None:
    """RoleLastUsed, as IAM shows it after STS used the role; best effort under contention."""
    rec.doc["LastUsed"] = {"Date": now, "Region": ctx.region}
    with contextlib.suppress(Conflict):
        ctx.store.resources.save(rec)


def assume_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    who, role_arn, session = caller(ctx), params["RoleArn"], params["RoleSessionName"]
    rec = _role(ctx, role_arn)
    if rec is None or not trusts(rec.doc["AssumeRolePolicyDocument"], who):
        raise _denied(who, role_arn)
    role, now = rec.doc, ctx.now()
    expires = now + _duration(params, role, who)
    packed = _packed_size(params)
    access_key, secret, token = _credentials()
    account = rec.scope
    assumed = f"arn:aws:sts::{account}:assumed-role/{role['RoleName']}/{session}"
    user_id = f"{role['RoleId']}:{session}"
    doc = {
        "SecretAccessKey": secret,
        "SessionToken": token,
        "Account": account,
        "Arn": assumed,
        "UserId": user_id,
        "RoleArn": role_arn,
        "Issued": now,
        "Expiration": expires,
        "Caller": who.arn,
    }
    ctx.store.resources.create(
        Record(kind=SESSION, scope=SCOPE, key=access_key, doc=doc, created=now)
    )
    _mark_used(ctx, rec, now)
    out: dict[str, Any] = {
        "Credentials": {
            "AccessKeyId": access_key,
            "SecretAccessKey": secret,
            "SessionToken": token,
            "Expiration": when(expires),
        },
        "AssumedRoleUser": {"AssumedRoleId": user_id, "Arn": assumed},
    }
    if packed is not None:
        out["PackedPolicySize"] = packed
    if params.get("SourceIdentity"):
        out["SourceIdentity"] = params["SourceIdentity"]
    return out


HANDLERS = {
    "GetCallerIdentity": get_caller_identity,
    "AssumeRole": assume_role,
}
