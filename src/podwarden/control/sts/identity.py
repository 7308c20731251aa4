"""Who is calling: the sessions STS issued, and GetCallerIdentity.

Sessions are records (kind ``sts:session``, keyed by the access key id, in the global scope
``""`` because access key ids are unique across accounts), so a restart keeps them;
:func:`session_credential` is how the API server finds the secret and token to check a SigV4
signature made with them, and :func:`caller` says who signed a request, as GetCallerIdentity
answers it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.iam.records import key
from podwarden.model.aws import arns, kinds
from podwarden.model.aws.scope import GLOBAL, account_wide
from podwarden.store.sql import Store


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
    rec = store.resources.get(kinds.STS_SESSION, GLOBAL, access_key_id)
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


@dataclass(frozen=True)
class Caller:
    arn: str
    account: str
    user_id: str
    role_arn: str | None  # set when the caller is a role session


def _stable_id(prefix: str, arn: str) -> str:
    digest = base64.b32encode(hashlib.sha256(arn.encode()).digest()).decode()
    return prefix + digest[:17]


def _assumed_user_id(ctx: Context, session: arns.AssumedRole, arn: str) -> str:
    """``<RoleId>:<session>`` for an assumed-role ARN, from the role's record when it exists."""
    rec = ctx.store.resources.get(
        kinds.IAM_ROLE, account_wide(session.account), key(session.role_name)
    )
    role_id = rec.doc["RoleId"] if rec is not None else _stable_id("AROA", arn)
    return f"{role_id}:{session.session}"


def caller(ctx: Context) -> Caller:
    """The identity of the signing credentials: an STS session if the access key is one,
    else the principal the API server authenticated (the account's root when it says none).
    Root's user id is the account id; an IAM user's is an AIDA id derived from its ARN."""
    session = session_credential(ctx.store, ctx.access_key_id, ctx.now())
    if session is not None:
        return Caller(session.principal_arn, session.account, session.user_id, session.role_arn)
    arn = ctx.principal_arn or arns.account_root(ctx.account)
    if arn.endswith(":root"):
        return Caller(arn, ctx.account, ctx.account, None)
    assumed = arns.parse_assumed_role(arn)
    if assumed is not None:
        return Caller(arn, ctx.account, _assumed_user_id(ctx, assumed, arn), None)
    return Caller(arn, ctx.account, _stable_id("AIDA", arn), None)


def get_caller_identity(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    who = caller(ctx)
    return {"UserId": who.user_id, "Account": who.account, "Arn": who.arn}


OPERATIONS: Operations = {"GetCallerIdentity": get_caller_identity}
