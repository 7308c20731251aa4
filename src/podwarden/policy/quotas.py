"""Account quotas (``tables/quotas.yaml``): how many clusters, groups and instances."""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields

from podwarden.policy.yaml_tables import exact_keys, packaged

TABLE = "quotas.yaml"


@dataclass(frozen=True)
class Quotas:
    clusters_per_region: int
    instance_groups_per_cluster: int
    instances_per_cluster: int


def parse_quotas(text: str, source: str) -> Quotas:
    data = exact_keys(text, source, {f.name for f in fields(Quotas)})
    for key, value in data.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{source}: {key} must be a positive integer, not {value!r}")
    return Quotas(**data)


@functools.cache
def load_quotas() -> Quotas:
    return parse_quotas(*packaged(TABLE))
