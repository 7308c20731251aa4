"""What the parsers of the three EKS tables (``eks_catalog``: versions and access policies;
``eks_addon_catalog``: add-ons) check their fields with: the schema version, a non-empty
mapping with known and required keys, a list of strings, and Kubernetes minor versions
(``"1.32"``, and ranges ``"1.28-1.30"``). A field that breaks them fails with a
:class:`~podwarden.policy.yaml_tables.TableError` naming the file and the entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from podwarden.policy.yaml_tables import as_list, fail

SCHEMA_VERSION = 1

_MINOR = re.compile(r"(?P<major>[0-9]+)\.(?P<minor>[0-9]+)")
_RANGE = re.compile(r"(?P<lo>[0-9]+\.[0-9]+)(?:-(?P<hi>[0-9]+\.[0-9]+))?")
T = TypeVar("T")


def minor_key(version: str) -> tuple[int, int]:
    """``"1.32"`` -> ``(1, 32)``, for ordering; ValueError when it is not ``<major>.<minor>``."""
    m = _MINOR.fullmatch(version)
    if m is None:
        raise ValueError(f"'{version}' is not a <major>.<minor> Kubernetes version")
    return int(m["major"]), int(m["minor"])


def minor_range(raw: object, source: str, where: str) -> tuple[str, ...]:
    """``"1.28-1.30"`` -> ``("1.28", "1.29", "1.30")``."""
    m = _RANGE.fullmatch(raw) if isinstance(raw, str) else None
    if m is None:
        fail(source, where, f'expected a quoted range like "1.28-1.34", got {raw!r}')
    lo, hi = minor_key(m["lo"]), minor_key(m["hi"] or m["lo"])
    if lo[0] != hi[0] or lo[1] > hi[1]:
        fail(source, where, f"empty or cross-major range '{raw}'")
    return tuple(f"{lo[0]}.{n}" for n in range(lo[1], hi[1] + 1))


def check_schema(data: Mapping[str, Any], source: str) -> None:
    """The table's ``schema_version`` is the one these parsers read."""
    if data.get("schema_version") != SCHEMA_VERSION:
        fail(source, "schema_version", f"must be {SCHEMA_VERSION}")


def nonempty_mapping(raw: object, source: str, where: str) -> dict[str, Any]:
    """``raw`` itself, a mapping with at least one key."""
    if not isinstance(raw, dict) or not raw:
        fail(source, where, "expected a non-empty mapping")
    return raw


def string_list(raw: object, source: str, where: str, *, empty: bool = False) -> tuple[str, ...]:
    """``raw`` as a tuple of non-empty strings; ``empty``: an empty list is allowed."""
    items = as_list(raw, source, where)
    if (not items and not empty) or not all(isinstance(s, str) and s for s in items):
        fail(source, where, "expected a list of non-empty strings")
    return tuple(items)


def check_keys(
    fields: Mapping[str, Any],
    required: set[str],
    source: str,
    where: str,
    *,
    optional: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Every key of ``fields`` is required or optional, and every required one is there."""
    for key in sorted(map(str, set(fields) - required - optional)):
        fail(source, where, f"unknown field '{key}'")
    for key in sorted(required - set(fields)):
        fail(source, where, f"missing field '{key}'")


def checked(fn: Callable[[], T], source: str, where: str) -> T:
    """``fn()``, its ValueError turned into the table's error at ``where``."""
    try:
        return fn()
    except ValueError as exc:
        fail(source, where, str(exc))
