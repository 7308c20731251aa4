"""EC2 networking of the local AWS account: the handlers by operation name.

Enough EC2 to build and inspect a HyperPod VPC as AWS's setup templates do (VPC, subnets in
several zones, route tables, internet / egress-only / NAT gateways, Elastic IPs, security groups)
and to answer the same Describe* calls AWS answers, filters and pages included. The work is split
by resource: ``ec2_vpc``, ``ec2_subnets`` (and zones), ``ec2_routes``, ``ec2_gateways`` (internet
and egress-only gateways), ``ec2_nat`` (addresses, NAT gateways), ``ec2_security`` and
``ec2_sg_rules`` (security groups and their rules), on ``ec2_common`` (kinds, ids, errors,
Describe) and ``ec2_filters`` (the filter engine). This module adds the tag operations, which
cross every kind, and wraps every handler for ``DryRun``.
"""

from __future__ import annotations

from typing import Any

from podwarden.control.aws import (
    ec2_gateways,
    ec2_nat,
    ec2_routes,
    ec2_security,
    ec2_subnets,
    ec2_vpc,
)
from podwarden.control.aws.ec2_common import BY_PREFIX, Handler, dry_runnable, fetch, save
from podwarden.control.aws.ec2_text import check_tags
from podwarden.control.context import Context
from podwarden.model.errors import ServiceError
from podwarden.store.resources import Record


def _tagged(ctx: Context, resource_id: str) -> Record:
    kind = BY_PREFIX.get(resource_id.rsplit("-", 1)[0])
    if kind is None:
        raise ServiceError("InvalidID", f"The ID '{resource_id}' is not valid")
    return fetch(ctx, kind, resource_id)


def create_tags(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Add or overwrite tags on every resource named; all are checked before any changes."""
    targets = [_tagged(ctx, r) for r in params.get("Resources") or []]
    check_tags(params.get("Tags") or [])
    new = {t["Key"]: t.get("Value", "") for t in params.get("Tags") or []}
    for rec in targets:
        kept = [t for t in rec.doc.get("Tags", []) if t["Key"] not in new]
        rec.doc["Tags"] = kept + [{"Key": k, "Value": v} for k, v in new.items()]
        save(ctx, rec)
    return {}


def _deleted(tag: dict[str, str], request: list[dict[str, Any]]) -> bool:
    """A tag goes if the request names its key with no value, or with its value."""
    return any(
        r["Key"] == tag["Key"] and ("Value" not in r or r["Value"] == tag["Value"]) for r in request
    )


def delete_tags(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Without ``Tags``, every tag of the resources goes, as EC2 does."""
    targets = [_tagged(ctx, r) for r in params.get("Resources") or []]
    request = params.get("Tags")
    for rec in targets:
        tags = rec.doc.get("Tags", [])
        rec.doc["Tags"] = [] if request is None else [t for t in tags if not _deleted(t, request)]
        save(ctx, rec)
    return {}


_OPERATIONS: dict[str, Handler] = {
    **ec2_vpc.OPERATIONS,
    **ec2_subnets.OPERATIONS,
    **ec2_routes.OPERATIONS,
    **ec2_gateways.OPERATIONS,
    **ec2_nat.OPERATIONS,
    **ec2_security.OPERATIONS,
    "CreateTags": create_tags,
    "DeleteTags": delete_tags,
}

HANDLERS: dict[str, Handler] = {name: dry_runnable(fn) for name, fn in _OPERATIONS.items()}
