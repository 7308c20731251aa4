"""The generic Describe*: ids, filters, pages and the projection of stored docs.

A Describe lists the type's records in the region, keeps those the request's ids name (the
type's NotFound error, in the plural for several, when some do not exist), those its filters
select (``podwarden.control.ec2.filters``), pages them as EC2 does, and projects each stored doc
to its output form: AWS leaves out an empty ``Tags``, and timestamps stored as epoch seconds are
returned as aware ``datetime``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podwarden.control import pagination
from podwarden.control.context import Context, Handler
from podwarden.control.ec2.filters import FilterTable, select
from podwarden.control.ec2.records import Doc, listing
from podwarden.control.ec2.resources import Resource
from podwarden.model.errors import NotFound
from podwarden.store.resources import Record


def epoch_to_datetime(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, tz=dt.UTC)


def project(doc: Doc) -> Doc:
    """The output form of a stored doc: AWS omits an empty tag set."""
    return {k: v for k, v in doc.items() if not (k == "Tags" and not v)}


@dataclass(frozen=True)
class Describe:
    """How one Describe* operation reads its type."""

    res: Resource
    result: str  # "Vpcs"
    ids: str  # "VpcIds"
    filters: FilterTable
    filter_member: str = "Filters"
    paged: bool = True
    project: Callable[[Doc], Doc] = field(default=project)
    visible: Callable[[Context, Record], bool] = field(default=lambda ctx, rec: True)


def paginate(docs: Sequence[Doc], params: Mapping[str, Any]) -> tuple[list[Doc], str | None]:
    """Pages as EC2 gives them: everything unless MaxResults or NextToken is given. The token is
    bound to the request's other members (ids, filters); a bad one is ``InvalidToken``, which
    EC2 answers as InvalidPaginationToken."""
    token = params.get("NextToken")
    if not params.get("MaxResults") and not token:
        return list(docs), None
    query = {k: v for k, v in params.items() if k not in ("NextToken", "MaxResults")}
    size = int(params.get("MaxResults") or max(len(docs), 1))
    return pagination.window(docs, token, size, query)


def by_ids(docs: Sequence[Doc], res: Resource, ids: Sequence[str]) -> list[Doc]:
    """The docs ``ids`` names (in the store's order), or the NotFound error for those missing."""
    for value in ids:
        res.check_id(value)
    known = {d[res.id_member] for d in docs}
    absent = [i for i in dict.fromkeys(ids) if i not in known]
    if absent:
        raise NotFound(reason=res.not_found, ids=absent)
    wanted = set(ids)
    return [d for d in docs if d[res.id_member] in wanted]


def describe(ctx: Context, params: Mapping[str, Any], spec: Describe) -> dict[str, Any]:
    filters = params.get(spec.filter_member)
    docs = [r.doc for r in listing(ctx, spec.res) if spec.visible(ctx, r)]
    if params.get(spec.ids):
        docs = by_ids(docs, spec.res, params[spec.ids])
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
