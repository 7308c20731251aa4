"""AssumeRole: temporary credentials for a role whose trust policy lets the caller assume it.

AssumeRole issues temporary credentials as STS does: an ``ASIA`` access key id (20 characters), a
40-character secret, a session token, an expiry; the session's identity is the assumed-role ARN
``arn:aws:sts::<account>:assumed-role/<role name>/<session name>`` (no role path, as in AWS) and
its user id ``<RoleId>:<session name>``. The session is a record that outlives a restart
(``podwarden.control.sts.identity``).

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
import json
import secrets
import string
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.iam import policy_doc as pdoc
from podwarden.control.iam.records import key, when
from podwarden.control.sts.identity import Caller, caller
from podwarden.logic.iam_patterns import action_matches
from podwarden.model.aws import arns, kinds
from podwarden.model.aws.scope import GLOBAL, account_wide
from podwarden.model.errors import Conflict, Denied, Invalid
from podwarden.store.resources import Record

DEFAULT_DURATION = 3600
MIN_DURATION = 900
CHAINED_MAX = 3600  # role chaining: a role session assuming a role gets at most one hour
_KEY_CHARS = string.ascii_uppercase + string.digits
_SECRET_CHARS = string.ascii_letters + string.digits + "+/"


def role_record(ctx: Context, arn: str) -> Record | None:
    """The role an ARN names, if it exists (exactly that ARN, path included)."""
    role = arns.parse_role(arn)
    if role is None:
        return None
    rec = ctx.store.resources.get(kinds.IAM_ROLE, account_wide(role.account), key(role.name))
    return rec if rec is not None and rec.doc["Arn"] == arn else None


def _names(who: Caller) -> set[str]:
    """What a trust policy's AWS principal may say to mean this caller."""
    names = {"*", who.arn, who.account, arns.account_root(who.account)}
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


def duration(params: dict[str, Any], role: dict[str, Any], *, chained: bool) -> int:
    """DurationSeconds within STS's bounds: at least 900 s, at most the role's
    MaxSessionDuration, and one hour when a role session assumes a role (``chained``)."""
    seconds = params.get("DurationSeconds") or DEFAULT_DURATION
    if seconds < MIN_DURATION:
        raise Invalid(reason="duration-too-short", seconds=seconds, minimum=MIN_DURATION)
    if chained and seconds > CHAINED_MAX:
        raise Invalid(reason="duration-over-chaining-limit")
    if seconds > role["MaxSessionDuration"]:
        raise Invalid(reason="duration-over-role-maximum")
    return int(seconds)


def packed_size(params: dict[str, Any]) -> int | None:
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


def mark_used(ctx: Context, rec: Record, now: float) -> None:
    """RoleLastUsed, as IAM shows it after STS used the role; best effort under contention."""
    rec.doc["LastUsed"] = {"Date": now, "Region": ctx.region}
    with contextlib.suppress(Conflict):
        ctx.store.resources.save(rec)


def issue_session(
    ctx: Context,
    rec: Record,
    session: str,
    seconds: int,
    caller_arn: str,
    *,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Store a new session of the role ``rec`` for ``seconds`` and answer its ``Credentials``
    and ``AssumedRoleUser`` (AssumeRole's members; also what EKS Pod Identity's credentials are
    made of). ``tags``: the session's tags, kept with it."""
    role, now = rec.doc, ctx.now()
    expires = now + seconds
    access_key, secret, token = _credentials()
    account = rec.scope  # an IAM record's scope is its account (model.aws.scope.account_wide)
    assumed = arns.assumed_role(account, role["RoleName"], session)
    user_id = f"{role['RoleId']}:{session}"
    doc = {
        "SecretAccessKey": secret,
        "SessionToken": token,
        "Account": account,
        "Arn": assumed,
        "UserId": user_id,
        "RoleArn": role["Arn"],
        "Issued": now,
        "Expiration": expires,
        "Caller": caller_arn,
    }
    if tags:
        doc["Tags"] = dict(tags)
    ctx.store.resources.create(
        Record(kind=kinds.STS_SESSION, scope=GLOBAL, key=access_key, doc=doc, created=now)
    )
    mark_used(ctx, rec, now)
    return {
        "Credentials": {
            "AccessKeyId": access_key,
            "SecretAccessKey": secret,
            "SessionToken": token,
            "Expiration": when(expires),
        },
        "AssumedRoleUser": {"AssumedRoleId": user_id, "Arn": assumed},
    }


def assume_role(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    who, role_arn, session = caller(ctx), params["RoleArn"], params["RoleSessionName"]
    rec = role_record(ctx, role_arn)
    if rec is None or not trusts(rec.doc["AssumeRolePolicyDocument"], who):
        raise Denied(reason="assume-role-denied", caller=who.arn, role=role_arn)
    seconds = duration(params, rec.doc, chained=who.role_arn is not None)
    packed = packed_size(params)
    out = issue_session(ctx, rec, session, seconds, who.arn)
    if packed is not None:
        out["PackedPolicySize"] = packed
    if params.get("SourceIdentity"):
        out["SourceIdentity"] = params["SourceIdentity"]
    return out


OPERATIONS: Operations = {"AssumeRole": assume_role}
