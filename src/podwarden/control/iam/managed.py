"""Managed policies as GetPolicy sees them: AWS's (from ``podwarden.policy.aws_policies``) and
the account's own, one :class:`Policy` view of either, found by ARN.

AWS-managed policies are visible in every account and never change; their ``PolicyId`` is
derived from the ARN, so it is the same in every account and across restarts. Customer-managed
policies are records (kind ``iam:policy``, keyed by the lower-cased name) holding up to five
versions; the default one is what GetPolicy points at.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from podwarden.control.context import Context
from podwarden.control.iam import records
from podwarden.control.iam.records import key
from podwarden.model.aws import arns, kinds
from podwarden.model.aws.scope import account_wide
from podwarden.model.errors import Denied, Invalid, NotFound
from podwarden.policy.aws_policies import ManagedPolicy, load_aws_policies
from podwarden.store.sql import Store


@dataclass(frozen=True)
class Policy:
    """A managed policy, AWS's or the account's, as GetPolicy and GetPolicyVersion see it.
    ``versions`` maps version id to (document text, creation time)."""

    name: str
    path: str
    arn: str
    policy_id: str
    description: str | None
    default_version: str
    created: float
    updated: float
    versions: dict[str, tuple[str, float]] = field(repr=False)
    tags: list[dict[str, str]]
    aws: bool

    @property
    def service_linked(self) -> bool:
        return self.path == "/aws-service-role/"


def _aws_id(arn: str) -> str:
    """A stable ANPA id for an AWS-managed policy: derived from its ARN, uppercase base32."""
    digest = base64.b32encode(hashlib.sha256(arn.encode()).digest()).decode()
    return "ANPA" + digest[:17]


def _from_aws(p: ManagedPolicy) -> Policy:
    updated = p.updated.timestamp()
    return Policy(
        name=p.name,
        path=p.path,
        arn=p.arn,
        policy_id=_aws_id(p.arn),
        description=p.description,
        default_version=p.version_id,
        created=p.created.timestamp(),
        updated=updated,
        versions={p.version_id: (p.document_json, updated)},
        tags=[],
        aws=True,
    )


def from_record(doc: dict[str, Any]) -> Policy:
    return Policy(
        name=doc["PolicyName"],
        path=doc["Path"],
        arn=doc["Arn"],
        policy_id=doc["PolicyId"],
        description=doc.get("Description"),
        default_version=doc["DefaultVersionId"],
        created=doc["CreateDate"],
        updated=doc["UpdateDate"],
        versions={v: (x["Document"], x["CreateDate"]) for v, x in doc["Versions"].items()},
        tags=doc["Tags"],
        aws=False,
    )


def check_arn(arn: str) -> None:
    if not arn.startswith("arn:"):
        raise Invalid(reason="invalid-arn", arn=arn)


def find_policy(ctx: Context, arn: str) -> Policy | None:
    """The managed policy an ARN names in this account's view, or None."""
    return policy_in(ctx.store, ctx.account, arn)


def policy_in(store: Store, account: str, arn: str) -> Policy | None:
    """The managed policy an ARN names in ``account``'s view (AWS's, or the account's own), or
    None: :func:`find_policy` for callers without a request, such as the operator."""
    aws = load_aws_policies().get(arn)
    if aws is not None:
        return _from_aws(aws)
    entity = arns.parse_iam(arn, "policy")
    if entity is None or entity.account != account:
        return None
    rec = store.resources.get(kinds.IAM_POLICY, account_wide(account), key(entity.name))
    return from_record(rec.doc) if rec is not None and rec.doc["Arn"] == arn else None


def default_document(p: Policy) -> str:
    """The text of a managed policy's default version: the permissions it grants."""
    return p.versions[p.default_version][0]


def require(ctx: Context, arn: str) -> Policy:
    """The managed policy ``arn`` names; NoSuchEntity if none."""
    check_arn(arn)
    found = find_policy(ctx, arn)
    if found is None:
        raise NotFound(reason="policy-not-found", arn=arn)
    return found


def all_policies(ctx: Context) -> list[Policy]:
    """AWS's and the account's, sorted by name as ListPolicies lists them."""
    aws = [_from_aws(p) for p in load_aws_policies().values()]
    own = [from_record(r.doc) for r in records.of_kind(ctx, kinds.IAM_POLICY)]
    return sorted(aws + own, key=lambda p: (p.name.lower(), p.arn))


def modifiable(p: Policy) -> None:
    """Refuse a change to an AWS-managed policy (``UnmodifiableEntity``)."""
    if p.aws:
        raise Denied(reason="aws-managed-policy", arn=p.arn)
