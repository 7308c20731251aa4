"""What every EC2 networking handler shares: the resource kinds, ids, records, errors, tags,
CIDR parsing, DryRun and the generic Describe (ids, filters, pages, projection).

Records: one per resource in ``ctx.store.resources``, kind ``ec2:<type>``, scope
``<account>/<region>``, key the resource id, parent the VPC id where the resource lives in one.
The stored doc is the output shape itself (``Vpc``, ``Subnet``, ``RouteTable``...), so a Describe
is a listing, a filter and a projection that drops what AWS leaves out (an empty ``Tags``) or
holds in another form (timestamps are stored as epoch seconds, returned as aware ``datetime``).

Error codes and messages are AWS's. Sources, where the wording is not in botocore's model:
observed CLI output quoted in public issues and docs (``The vpc ID 'vpc-…' does not exist``,
``NAT gateway nat-… was not found``: gruntwork-io/cloud-nuke#325), the OpenStack ec2-api
project's table of AWS errors (``ec2api/exception.py``), and moto's ``moto/ec2/exceptions.py``
(moto 5.2, installed with podwarden's bench group). NotFound codes are the ones botocore's own
EC2 waiters expect (``InvalidVpcID.NotFound``, ``InvalidGroup.NotFound`` — not
``InvalidGroupId.NotFound`` — and ``NatGatewayNotFound`` for NAT gateways); the one exception
is botocore's InternetGatewayExists waiter, which expects ``InvalidInternetGateway.NotFound`` where
AWS answers ``InvalidInternetGatewayID.NotFound`` (as quoted CLI output shows), so podwarden
answers what AWS answers. AWS words several missing ids in the plural (``The instance IDs
'i-1, i-2' do not exist``); every kind here does the same.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podwarden.control import pagination
from podwarden.control.aws.ec2_filters import FilterTable, select
from podwarden.control.aws.ec2_text import check_tags
from podwarden.control.context import Context
from podwarden.model.errors import InvalidToken, ServiceError
from podwarden.store.resources import Record

Doc = dict[str, Any]
Handler = Callable[[Context, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Kind:
    """One EC2 resource type: its record kind, id, tag type and NotFound error."""

    kind: str
    prefix: str
    id_member: str
    tag_type: str  # TagSpecifications' ResourceType
    not_found: str
    missing: str  # message for one id
    missing_many: str  # message for several, comma-separated
    malformed: str

    def id_pattern(self) -> re.Pattern[str]:
        return re.compile(rf"{self.prefix}-[0-9a-f]{{8}}(?:[0-9a-f]{{9}})?")


VPC = Kind(
    "ec2:vpc", "vpc", "VpcId", "vpc", "InvalidVpcID.NotFound",
    "The vpc ID '{}' does not exist", "The vpc IDs '{}' do not exist", "InvalidVpcID.Malformed",
)  # fmt: skip
SUBNET = Kind(
    "ec2:subnet", "subnet", "SubnetId", "subnet", "InvalidSubnetID.NotFound",
    "The subnet ID '{}' does not exist", "The subnet IDs '{}' do not exist",
    "InvalidSubnetID.Malformed",
)  # fmt: skip
ROUTE_TABLE = Kind(
    "ec2:route-table", "rtb", "RouteTableId", "route-table", "InvalidRouteTableID.NotFound",
    "The routeTable ID '{}' does not exist", "The routeTable IDs '{}' do not exist",
    "InvalidRouteTableID.Malformed",
)  # fmt: skip
INTERNET_GATEWAY = Kind(
    "ec2:internet-gateway", "igw", "InternetGatewayId", "internet-gateway",
    "InvalidInternetGatewayID.NotFound", "The internetGateway ID '{}' does not exist",
    "The internetGateway IDs '{}' do not exist", "InvalidInternetGatewayID.Malformed",
)  # fmt: skip
EGRESS_ONLY_GATEWAY = Kind(
    "ec2:egress-only-internet-gateway", "eigw", "EgressOnlyInternetGatewayId",
    "egress-only-internet-gateway", "InvalidGatewayID.NotFound", "The eigw ID '{}' does not exist",
    "The eigw IDs '{}' do not exist", "InvalidEgressOnlyInternetGatewayId.Malformed",
)  # fmt: skip
NAT_GATEWAY = Kind(
    "ec2:nat-gateway", "nat", "NatGatewayId", "natgateway", "NatGatewayNotFound",
    "NAT gateway {} was not found", "NAT gateways {} were not found", "NatGatewayMalformed",
)  # fmt: skip
ADDRESS = Kind(
    "ec2:address", "eipalloc", "AllocationId", "elastic-ip", "InvalidAllocationID.NotFound",
    "The allocation ID '{}' does not exist", "The allocation IDs '{}' do not exist",
    "InvalidAllocationID.Malformed",
)  # fmt: skip
SECURITY_GROUP = Kind(
    "ec2:security-group", "sg", "GroupId", "security-group", "InvalidGroup.NotFound",
    "The security group '{}' does not exist", "The security groups '{}' do not exist",
    "InvalidGroupId.Malformed",
)  # fmt: skip

KINDS = (
    VPC, SUBNET, ROUTE_TABLE, INTERNET_GATEWAY, EGRESS_ONLY_GATEWAY, NAT_GATEWAY, ADDRESS,
    SECURITY_GROUP,
)  # fmt: skip
BY_PREFIX = {k.prefix: k for k in KINDS}
LIVE_NAT_STATES = frozenset({"pending", "available", "deleting"})  # holding addresses


# --- errors -----------------------------------------------------------------------------------


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValue", message)


def missing_parameter(name: str) -> ServiceError:
    return ServiceError("MissingParameter", f"The request must contain the parameter {name}")


def dependency(noun: str, resource_id: str) -> ServiceError:
    return ServiceError(
        "DependencyViolation", f"The {noun} '{resource_id}' has dependencies and cannot be deleted."
    )


def unsupported(params: Mapping[str, Any], members: Sequence[str]) -> None:
    """Inputs podwarden does not emulate (IPAM pools, BYOIP, Outposts...) fail loudly."""
    for member in members:
        if params.get(member) is not None:
            raise ServiceError(
                "UnsupportedOperation",
                f"The parameter {member} is not supported by podwarden's local EC2.",
            )


def not_found(kind: Kind, ids: Sequence[str]) -> ServiceError:
    template = kind.missing if len(ids) == 1 else kind.missing_many
    return ServiceError(kind.not_found, template.format(", ".join(ids)))


def check_id(kind: Kind, value: str) -> str:
    if not kind.id_pattern().fullmatch(value):
        raise ServiceError(kind.malformed, f'Invalid id: "{value}" (expecting "{kind.prefix}-...")')
    return value


def dry_runnable(handler: Handler) -> Handler:
    """``DryRun=True`` answers as EC2 does once the caller is authorized (always, locally)."""

    @functools.wraps(handler)
    def run(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("DryRun"):
            raise ServiceError(
                "DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412
            )
        return handler(ctx, params)

    return run


# --- ids and records --------------------------------------------------------------------------


def new_id(prefix: str) -> str:
    """``<prefix>-`` and 17 lowercase hex digits, as EC2's current ids."""
    return f"{prefix}-{secrets.token_hex(9)[:17]}"


def scope(ctx: Context) -> str:
    return f"{ctx.account}/{ctx.region}"


def arn(ctx: Context, resource: str, resource_id: str) -> str:
    return f"arn:aws:ec2:{ctx.region}:{ctx.account}:{resource}/{resource_id}"


def find(ctx: Context, kind: Kind, resource_id: str) -> Record | None:
    return ctx.store.resources.get(kind.kind, scope(ctx), resource_id)


def fetch(ctx: Context, kind: Kind, resource_id: str | None, member: str = "") -> Record:
    """The record of an id the caller named, or the kind's Malformed / NotFound error."""
    if not resource_id:
        raise missing_parameter(member or kind.id_member)
    rec = find(ctx, kind, check_id(kind, resource_id))
    if rec is None:
        raise not_found(kind, [resource_id])
    return rec


def records(ctx: Context, kind: Kind, parent: str | None = None) -> list[Record]:
    return ctx.store.resources.list(kind.kind, scope(ctx), parent)


def create(ctx: Context, kind: Kind, doc: Doc, parent: str = "") -> Record:
    rec = Record(kind.kind, scope(ctx), doc[kind.id_member], doc, parent, created=ctx.now())
    return ctx.store.resources.create(rec)


def save(ctx: Context, rec: Record) -> Record:
    return ctx.store.resources.save(rec)


def remove(ctx: Context, kind: Kind, resource_id: str) -> None:
    ctx.store.resources.delete(kind.kind, scope(ctx), resource_id)


# --- tags -------------------------------------------------------------------------------------


def initial_tags(kind: Kind, params: Mapping[str, Any]) -> list[dict[str, str]]:
    """The tags a Create call's TagSpecifications give the new resource (checked by
    ``ec2_text.check_tags``)."""
    tags: dict[str, str] = {}
    for spec in params.get("TagSpecifications") or []:
        if spec.get("ResourceType") != kind.tag_type:
            raise invalid(
                f"'{spec.get('ResourceType')}' is not a valid taggable resource type for this "
                "operation."
            )
        check_tags(spec.get("Tags") or [])
        tags |= {t["Key"]: t.get("Value", "") for t in spec.get("Tags") or []}
    return [{"Key": k, "Value": v} for k, v in tags.items()]


# --- CIDR blocks ------------------------------------------------------------------------------
# Every CIDR input (CreateVpc, CreateSubnet, routes' destinations, security group rules) is read
# by ipv4_block / ipv6_block: like EC2, they take a block whose host bits are set and normalize
# it to its network address (10.250.1.0/16 -> 10.250.0.0/16, 10.0.1.7/24 -> 10.0.1.0/24).

IPv4 = ipaddress.IPv4Network
IPv6 = ipaddress.IPv6Network


def _not_cidr(value: object, param: str) -> ServiceError:
    return invalid(
        f"Value ({value}) for parameter {param} is invalid. This is not a valid CIDR block."
    )


def ipv4_block(value: object, param: str) -> IPv4:
    """The IPv4 block ``value`` names, host bits cleared."""
    try:
        return ipaddress.IPv4Network(str(value), strict=False)
    except ValueError:
        raise _not_cidr(value, param) from None


def ipv6_block(value: object, param: str) -> IPv6:
    """The IPv6 block ``value`` names, host bits cleared."""
    try:
        return ipaddress.IPv6Network(str(value), strict=False)
    except ValueError:
        raise _not_cidr(value, param) from None


# --- Describe ---------------------------------------------------------------------------------


def epoch_to_datetime(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)


def project(doc: Doc) -> Doc:
    """The output form of a stored doc: AWS omits an empty tag set."""
    return {k: v for k, v in doc.items() if not (k == "Tags" and not v)}


@dataclass(frozen=True)
class Describe:
    """How one Describe* operation reads its kind."""

    kind: Kind
    result: str  # "Vpcs"
    ids: str  # "VpcIds"
    filters: FilterTable
    filter_member: str = "Filters"
    paged: bool = True
    project: Callable[[Doc], Doc] = field(default=project)
    visible: Callable[[Context, Record], bool] = field(default=lambda ctx, rec: True)


def paginate(docs: Sequence[Doc], params: Mapping[str, Any]) -> tuple[list[Doc], str | None]:
    """Pages as EC2 gives them: everything unless MaxResults or NextToken is given. The token is
    bound to the request's other members (ids, filters)."""
    token = params.get("NextToken")
    if not params.get("MaxResults") and not token:
        return list(docs), None
    query = {k: v for k, v in params.items() if k not in ("NextToken", "MaxResults")}
    size = int(params.get("MaxResults") or max(len(docs), 1))
    try:
        return pagination.window(docs, token, size, query)
    except InvalidToken:
        raise ServiceError(
            "InvalidPaginationToken", "The specified pagination token is not valid or is expired."
        ) from None


def by_ids(docs: Sequence[Doc], kind: Kind, ids: Sequence[str]) -> list[Doc]:
    """The docs ``ids`` names (in the store's order), or the NotFound error for those missing."""
    for value in ids:
        check_id(kind, value)
    known = {d[kind.id_member] for d in docs}
    absent = [i for i in dict.fromkeys(ids) if i not in known]
    if absent:
        raise not_found(kind, absent)
    wanted = set(ids)
    return [d for d in docs if d[kind.id_member] in wanted]


def describe(ctx: Context, params: Mapping[str, Any], spec: Describe) -> dict[str, Any]:
    filters = params.get(spec.filter_member)
    docs = [r.doc for r in records(ctx, spec.kind) if spec.visible(ctx, r)]
    if params.get(spec.ids):
        docs = by_ids(docs, spec.kind, params[spec.ids])
    chosen = select(docs, filters, spec.filters)
    chunk, token = paginate(chosen, params) if spec.paged else (chosen, None)
    out: dict[str, Any] = {spec.result: [spec.project(dict(d)) for d in chunk]}
    if token:
        out["NextToken"] = token
    return out


def describer(spec: Describe) -> Handler:
    def handler(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        return describe(ctx, params, spec)

    handler.__name__ = f"describe_{spec.result}"
    return handler
