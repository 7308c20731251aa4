"""EC2's ``Filters`` on Describe* calls: a pure, table-driven engine.

Each Describe operation has a table ``filter name -> getter``; a getter reads every value a record
has for that name (a route table has one ``route.gateway-id`` per route, a security group one
``ip-permission.cidr`` per rule), and a filter matches when any of those values matches any of the
filter's values. Filters combine with AND, a filter's values with OR, as EC2 documents.

Values compare as text: booleans as ``true``/``false``, numbers in decimal. ``*`` matches any
run of characters and ``?`` exactly one; ``\\*``, ``\\?`` and ``\\\\`` are the literal
characters. Names and values are case-sensitive. ``tag:<key>`` (the values of the tag ``<key>``)
is accepted by every table that has ``tag-key``. Most names are the member's in kebab case
(``vpc-id``: ``VpcId``), which ``named`` derives. A name the table does not know fails the call
with ``InvalidParameterValue: The filter '<name>' is invalid``, as EC2 answers, so a caller using
a filter AWS does not support fails here too instead of silently getting everything.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from podwarden.model.errors import Invalid

Doc = Mapping[str, Any]
Getter = Callable[[Doc], Iterable[Any]]
FilterTable = Mapping[str, Getter]


def at(*path: str) -> Getter:
    """The values at ``path``: lists on the way fan out, missing keys give nothing."""

    def get(doc: Doc) -> list[Any]:
        values: list[Any] = [doc]
        for key in path:
            step: list[Any] = []
            for value in values:
                item = value.get(key) if isinstance(value, Mapping) else None
                if isinstance(item, list):
                    step.extend(item)
                elif item is not None:
                    step.append(item)
            values = step
        return values

    return get


def where(items: str, test: Callable[[Doc], bool], *path: str) -> Getter:
    """The values at ``path`` of those elements of the list ``items`` that pass ``test``."""
    inner = at(*path)

    def get(doc: Doc) -> list[Any]:
        return [v for item in doc.get(items) or [] if test(item) for v in inner(item)]

    return get


_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def kebab(member: str) -> str:
    """The filter name EC2 derives from an output member: ``AvailabilityZoneId`` ->
    ``availability-zone-id``, ``Ipv6Native`` -> ``ipv6-native``, ``DnsARecord`` ->
    ``dns-a-record``."""
    return _WORD_START.sub("-", member).lower()


def named(*members: str, within: tuple[str, ...] = (), prefix: str = "") -> dict[str, Getter]:
    """The filters named after members (``vpc-id``: ``VpcId``), most of every table. ``within``
    is the path of the list they are members of (``("Routes",)``), ``prefix`` what their names
    start with there (``route.``)."""
    return {prefix + kebab(m): at(*within, m) for m in members}


def association_set(member: str, prefix: str, *members: str, state: str) -> dict[str, Getter]:
    """The filters of a block association list (a VPC's ``CidrBlockAssociationSet``...): its
    ``members`` by name, and ``<prefix>state`` from the association's ``state`` structure."""
    return {
        **named(*members, within=(member,), prefix=prefix),
        f"{prefix}state": at(member, state, "State"),
    }


TAGS: dict[str, Getter] = {"tag-key": at("Tags", "Key")}
TAG_PREFIX = "tag:"


def text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@functools.lru_cache(maxsize=1024)
def pattern(value: str) -> re.Pattern[str]:
    """A filter value as a regular expression: ``*``, ``?`` wild, backslash escapes."""
    out: list[str] = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            out.append(re.escape(next(chars, "\\")))
        else:
            out.append({"*": ".*", "?": "."}.get(ch, re.escape(ch)))
    return re.compile("".join(out), re.DOTALL)


def _getter(name: str, table: FilterTable) -> Getter:
    getter = table.get(name)
    if getter is not None:
        return getter
    if name.startswith(TAG_PREFIX) and "tag-key" in table:
        key = name[len(TAG_PREFIX) :]
        return lambda doc: [t.get("Value", "") for t in doc.get("Tags") or [] if t["Key"] == key]
    raise Invalid(reason="unknown-filter", name=name)


D = TypeVar("D", bound=Mapping[str, Any])
Compiled = list[tuple[Getter, list[re.Pattern[str]]]]


def compile_filters(filters: Sequence[Mapping[str, Any]] | None, table: FilterTable) -> Compiled:
    """Check every filter name against ``table`` before anything is read."""
    return [
        (_getter(str(f.get("Name", "")), table), [pattern(str(v)) for v in f.get("Values") or []])
        for f in filters or []
    ]


def matches(doc: Doc, compiled: Compiled) -> bool:
    return all(
        any(p.fullmatch(text(v)) for v in getter(doc) for p in patterns)
        for getter, patterns in compiled
    )


def select(
    docs: Iterable[D], filters: Sequence[Mapping[str, Any]] | None, table: FilterTable
) -> list[D]:
    """The docs that pass every filter, in their order."""
    compiled = compile_filters(filters, table)
    return [d for d in docs if matches(d, compiled)]
