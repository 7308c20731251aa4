"""Which instances one ListClusterNodes page holds, read through the store's index.

The page is read in the request's order (``SortBy``, ``SortOrder``) from just past the key its
``NextToken`` carries (``control.pagination`` key tokens, ``store.instance_order``), filtered by
``InstanceGroupNameContains`` and the ``CreationTime`` bounds as it is read, and stops as soon
as it holds ``MaxResults`` and knows whether more follow. Paging through N instances therefore
reads about N rows in all (a filter that skips rows reads those too), not N for every page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podwarden.control.pagination import DEFAULT_PAGE, decode_key, encode_key
from podwarden.control.sagemaker.clusters import within
from podwarden.model.cluster import Instance
from podwarden.store.instance_order import InstanceOrder, Key
from podwarden.store.sql import Store

READ_AHEAD = 256  # rows read per query when a filter skips some


def _key(inst: Instance) -> Key:
    return inst.launch_time, inst.instance_id


def _wanted(inst: Instance, req: Mapping[str, Any]) -> bool:
    part = req.get("InstanceGroupNameContains")
    return (part is None or part in inst.group) and within(inst.launch_time, req)


def node_page(
    store: Store, cluster_id: str, req: Mapping[str, Any]
) -> tuple[list[Instance], str | None]:
    """The instances of the page ``req`` asks for, and the next page's token (None: the last)."""
    query = {k: v for k, v in req.items() if k not in ("NextToken", "MaxResults")}
    size = int(req.get("MaxResults") or DEFAULT_PAGE)
    after = decode_key(req["NextToken"], query) if req.get("NextToken") else None
    order = InstanceOrder(
        by_name=req.get("SortBy", "CREATION_TIME") == "NAME",
        descending=req.get("SortOrder", "Ascending") == "Descending",
        resume=False,
    )
    found: list[Instance] = []
    limit = size + 1  # one more than a page: whether another page follows
    while len(found) <= size:
        rows = store.instances_in_order(cluster_id, order, after, limit)
        found.extend(i for i in rows if _wanted(i, req))
        if len(rows) < limit:
            break
        after, limit = _key(rows[-1]), READ_AHEAD  # a filter skipped rows: read on
    if len(found) <= size:
        return found, None
    page = found[:size]
    return page, encode_key(_key(page[-1]), query)
