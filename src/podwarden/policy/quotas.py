"""Account quotas (``tables/quotas.yaml``): how many clusters, groups and instances."""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from importlib import resources

import yaml

TABLE = "quotas.yaml"


@dataclass(frozen=True)
class Quotas:
    clusters_per_region: int
    instance_groups_per_cluster: int
    instances_per_cluster: int


def parse_quotas(text: str, source: str) -> Quotas:
    data = yaml.safe_load(text)
    names = [f.name for f in fields(Quotas)]
    if not isinstance(data, dict) or set(data) != set(names):
        raise ValueError(f"{source}: expected exactly the keys {', '.join(names)}")
    for key, value in data.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{source}: {key} must be a positive integer, not {value!r}")
    return Quotas(**data)


@functools.cache
def load_quotas() -> Quotas:
    path = resources.files("podwarden.policy") / "tables" / TABLE
    return parse_quotas(path.read_text(), str(path))
