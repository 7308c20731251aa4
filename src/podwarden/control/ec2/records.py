"""The records of EC2 resources in the caller's region: found, listed, written and removed.

The stored doc is the resource's output shape itself (``Vpc``, ``Subnet``, ``RouteTable``...),
so a Describe is a listing, a filter and a projection (``podwarden.control.ec2.describe``).
Every id a caller names is read through ``fetch``: MissingParameter when absent, the type's
Malformed error when it is not of the type's form, its NotFound error when no such record exists.
"""

from __future__ import annotations

from typing import Any

from podwarden.control.context import Context
from podwarden.control.ec2.resources import Resource
from podwarden.model.aws import arns
from podwarden.model.errors import Invalid, NotFound
from podwarden.store.resources import Record

Doc = dict[str, Any]


def missing(name: str) -> Invalid:
    """MissingParameter: the request must name ``name``."""
    return Invalid(reason="missing-parameter", name=name)


def find(ctx: Context, res: Resource, resource_id: str) -> Record | None:
    return ctx.store.resources.get(res.kind, ctx.scope, resource_id)


def fetch(ctx: Context, res: Resource, resource_id: str | None, member: str = "") -> Record:
    """The record of an id the caller named (in ``member``, the type's id member unless given),
    or the type's Malformed / NotFound error."""
    if not resource_id:
        raise missing(member or res.id_member)
    rec = find(ctx, res, res.check_id(resource_id))
    if rec is None:
        raise NotFound(reason=res.not_found, ids=[resource_id])
    return rec


def listing(ctx: Context, res: Resource, parent: str | None = None) -> list[Record]:
    """Every record of the type in the region (in the VPC ``parent`` when given)."""
    return ctx.store.resources.list(res.kind, ctx.scope, parent)


def create(ctx: Context, res: Resource, doc: Doc, parent: str = "") -> Record:
    rec = Record(res.kind, ctx.scope, doc[res.id_member], doc, parent, created=ctx.now())
    return ctx.store.resources.create(rec)


def save(ctx: Context, rec: Record) -> Record:
    return ctx.store.resources.save(rec)


def remove(ctx: Context, res: Resource, resource_id: str) -> None:
    ctx.store.resources.delete(res.kind, ctx.scope, resource_id)


def arn(ctx: Context, resource: str, resource_id: str) -> str:
    return arns.ec2(ctx.region, ctx.account, resource, resource_id)
