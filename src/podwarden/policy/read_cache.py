"""Which read operations the API may answer from its response cache, and what of the clock each
one's answer depends on (``tables/read_cache.yaml``; the cache is ``podwarden.api.read_cache``)."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from podwarden.policy.yaml_tables import TableError, load_yaml, packaged

TABLE = "read_cache.yaml"
# reads only: a name that could write (Create..., Update..., Batch...) is a mistake in the table
READ_NAME = re.compile(r"(Describe|List|Get)[A-Z][A-Za-z0-9]*")


class Clock(StrEnum):
    NONE = "none"  # the answer depends on no clock
    DAY = "day"  # ... on today's UTC date


@dataclass(frozen=True)
class ReadCacheTable:
    clocks: Mapping[tuple[str, str], Clock]  # (service, operation) -> its clock

    def clock(self, service: str, operation: str) -> Clock | None:
        """The operation's clock, or None when its answers are never cached."""
        return self.clocks.get((service, operation))


def parse_read_cache(text: str, source: str) -> ReadCacheTable:
    data = load_yaml(text, source)
    if not isinstance(data, dict):
        raise TableError(f"{source}: expected a mapping of service -> operation -> clock")
    clocks: dict[tuple[str, str], Clock] = {}
    for service, ops in data.items():
        if not isinstance(ops, dict) or not ops:
            raise TableError(f"{source}: {service}: expected a mapping of operation -> clock")
        for op, clock in ops.items():
            if not isinstance(op, str) or not READ_NAME.fullmatch(op):
                raise TableError(f"{source}: {service}.{op}: not the name of a read operation")
            if clock not in {c.value for c in Clock}:
                allowed = ", ".join(c.value for c in Clock)
                raise TableError(
                    f"{source}: {service}.{op}: clock {clock!r} is not one of {allowed}"
                )
            clocks[(str(service), op)] = Clock(clock)
    return ReadCacheTable(clocks)


@functools.cache
def load_read_cache() -> ReadCacheTable:
    return parse_read_cache(*packaged(TABLE))
