"""Availability Zones of the local AWS account (``tables/ec2_zones.yaml``).

The table lists each region's zone letters; zone ids are derived (``usw2-az1``...), see the
table's header. A region the table does not list gets its ``default_letters``, so every region
name podwarden is started with has zones.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from podwarden.policy.yaml_tables import exact_keys, packaged

TABLE = "ec2_zones.yaml"


@dataclass(frozen=True)
class Zone:
    name: str  # us-west-2a
    zone_id: str  # usw2-az1
    region: str


@dataclass(frozen=True)
class ZoneTable:
    default_letters: tuple[str, ...]
    abbreviations: dict[str, str]
    regions: dict[str, tuple[str, ...]]

    def short_code(self, region: str) -> str:
        """``us-west-2`` -> ``usw2``; a middle part without an abbreviation keeps its initial."""
        parts = region.split("-")
        if len(parts) < 2:
            return region
        head, *middle, number = parts
        return head + "".join(self.abbreviations.get(p, p[:1]) for p in middle) + number

    def zones(self, region: str) -> tuple[Zone, ...]:
        letters = self.regions.get(region, self.default_letters)
        code = self.short_code(region)
        return tuple(
            Zone(f"{region}{letter}", f"{code}-az{i}", region)
            for i, letter in enumerate(letters, start=1)
        )


def _letters(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{where}: expected a non-empty list of zone letters")
    for letter in value:
        if not (isinstance(letter, str) and len(letter) == 1 and letter.isalpha()):
            raise ValueError(f"{where}: {letter!r} is not a zone letter")
    if len(set(value)) != len(value):
        raise ValueError(f"{where}: repeated zone letters")
    return tuple(value)


def parse_zones(text: str, source: str) -> ZoneTable:
    data = exact_keys(text, source, {"default_letters", "abbreviations", "regions"})
    abbreviations = data["abbreviations"]
    if not isinstance(abbreviations, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in abbreviations.items()
    ):
        raise ValueError(f"{source}: abbreviations must map words to short codes")
    regions = data["regions"]
    if not isinstance(regions, dict):
        raise ValueError(f"{source}: regions must map region names to zone letters")
    return ZoneTable(
        default_letters=_letters(data["default_letters"], f"{source}: default_letters"),
        abbreviations=dict(abbreviations),
        regions={str(r): _letters(v, f"{source}: {r}") for r, v in regions.items()},
    )


@functools.cache
def load_zones() -> ZoneTable:
    return parse_zones(*packaged(TABLE))


def zones(region: str) -> tuple[Zone, ...]:
    """The Availability Zones of ``region``, in letter order."""
    return load_zones().zones(region)
