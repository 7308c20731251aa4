"""IAM condition operators: what each one is (a table), how IAM reads their values, and whether
a statement's ``Condition`` block holds for a request.

The operators and their types are IAM's (IAM JSON policy reference, "Condition operators"): each
may carry a set qualifier (``ForAnyValue:`` / ``ForAllValues:``) in front and ``IfExists``
behind. Evaluation follows that reference:

* keys are case-insensitive (the request context is keyed in lower case); values compare as the
  operator's type says (``StringEquals`` exactly, ``...IgnoreCase`` ignoring case, ``...Like``
  with ``*`` and ``?``, numbers and dates by value, ``IpAddress`` by CIDR, ``Arn...`` segment by
  segment);
* a key absent from the request: every operator is false except the negated ones
  (``StringNotEquals``, ``NotIpAddress``, ``ArnNotLike``...), which are true; ``...IfExists`` is
  true; ``Null`` tests exactly that; ``ForAllValues:`` is true for an absent or empty key and
  ``ForAnyValue:`` false;
* within one operator the keys are ANDed, the values of one key ORed; the operators of a block
  are ANDed. An operator IAM does not know (accepted by IAM only with an empty body) never holds.

Dates are read the way IAM's policy parser reads them (ISO 8601, from a bare year down to
fractions of a second with a ``Z`` or ``+hh[:mm]`` zone, or epoch seconds); the accepted ranges
are those of IAM's "legacy parsing" check (as reproduced by moto's
``moto/iam/policy_validation.py``, which is checked against AWS). A ``-hh:mm`` zone is accepted
too (ISO 8601 allows it; whether IAM does is not documented).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podwarden.logic.iam_patterns import Resolve, arn_like, like, substitute

# (operator, value type, test, negated): IAM's condition operators.
_TABLE = (
    ("StringEquals", "string", "eq", False),
    ("StringNotEquals", "string", "eq", True),
    ("StringEqualsIgnoreCase", "string", "eq-ci", False),
    ("StringNotEqualsIgnoreCase", "string", "eq-ci", True),
    ("StringLike", "string", "like", False),
    ("StringNotLike", "string", "like", True),
    ("NumericEquals", "numeric", "eq", False),
    ("NumericNotEquals", "numeric", "eq", True),
    ("NumericLessThan", "numeric", "lt", False),
    ("NumericLessThanEquals", "numeric", "le", False),
    ("NumericGreaterThan", "numeric", "gt", False),
    ("NumericGreaterThanEquals", "numeric", "ge", False),
    ("DateEquals", "date", "eq", False),
    ("DateNotEquals", "date", "eq", True),
    ("DateLessThan", "date", "lt", False),
    ("DateLessThanEquals", "date", "le", False),
    ("DateGreaterThan", "date", "gt", False),
    ("DateGreaterThanEquals", "date", "ge", False),
    ("Bool", "bool", "eq-ci", False),
    ("BinaryEquals", "binary", "eq", False),
    ("IpAddress", "ip", "in", False),
    ("NotIpAddress", "ip", "in", True),
    ("ArnEquals", "arn", "like", False),
    ("ArnLike", "arn", "like", False),
    ("ArnNotEquals", "arn", "like", True),
    ("ArnNotLike", "arn", "like", True),
    ("Null", "null", "null", False),
)
QUALIFIERS = ("ForAnyValue:", "ForAllValues:")
IF_EXISTS = "IfExists"
EPOCH_MAX = 2**63 - 1
_YEARS = (-292275054, 292278993)


@dataclass(frozen=True)
class Operator:
    name: str
    type: str  # string, numeric, date, bool, binary, ip, arn, null
    test: str  # eq, eq-ci, like, lt, le, gt, ge, in, null
    negated: bool


OPERATORS: Mapping[str, Operator] = {row[0]: Operator(*row) for row in _TABLE}


@dataclass(frozen=True)
class Qualified:
    """An operator as written in a policy: ``[ForAnyValue:|ForAllValues:]<op>[IfExists]``."""

    operator: Operator
    qualifier: str  # "", "ForAnyValue" or "ForAllValues"
    if_exists: bool


def parse_operator(name: str) -> Qualified | None:
    """The operator a Condition block's key names, or None if IAM does not know it."""
    qualifier = next((q for q in QUALIFIERS if name.startswith(q)), "")
    base = name[len(qualifier) :]
    if_exists = base.endswith(IF_EXISTS)
    op = OPERATORS.get(base[: -len(IF_EXISTS)] if if_exists else base)
    return None if op is None else Qualified(op, qualifier.rstrip(":"), if_exists)


def condition_values(value: object) -> list[str]:
    """A condition key's values as strings: one value or a list; JSON numbers and booleans are
    read as IAM reads them (``true``, ``12``)."""
    items = value if isinstance(value, list) else [value]
    return [_text(v) for v in items]


def _text(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


# --- dates ---------------------------------------------------------------------------------------

_ISO = re.compile(
    r"(?P<year>-?\d+)(?:-(?P<month>\d+)(?:-(?P<day>\d+))?)?"
    r"(?:t(?P<hour>\d+)?(?::(?P<minute>\d+)(?::(?P<second>\d+)(?:\.(?P<frac>\d+))?"
    r"(?P<zone>z|[+-](?P<zh>\d\d)(?::(?P<zm>\d\d))?)?)?)?)?",
    re.IGNORECASE,
)
_RANGES = {"month": (1, 12), "day": (1, 31), "hour": (0, 23), "minute": (0, 59), "second": (0, 59)}


def parse_date(text: str) -> float | None:
    """Epoch seconds of a date as IAM's policy parser reads it, or None if IAM rejects it. Dates
    outside what Python represents (years before 1 or after 9999) are -inf / +inf."""
    if "t" not in text.lower() and "-" not in text:
        return float(text) if text.isdigit() and int(text) <= EPOCH_MAX else None
    m = _ISO.fullmatch(text)
    if m is None or not _in_ranges(m):
        return None
    year = int(m["year"])
    if not 1 <= year <= 9999:
        return float("-inf") if year < 1 else float("inf")
    offset = 0
    if m["zh"] is not None:
        offset = (int(m["zh"]) * 60 + int(m["zm"] or 0)) * (-1 if m["zone"][0] == "-" else 1)
    try:
        when = dt.datetime(
            year,
            int(m["month"] or 1),
            int(m["day"] or 1),
            int(m["hour"] or 0),
            int(m["minute"] or 0),
            int(m["second"] or 0),
            tzinfo=dt.timezone(dt.timedelta(minutes=offset)),
        )
    except ValueError:  # e.g. February 31st: in IAM's ranges, not a day
        return None
    return when.timestamp() + float(f"0.{m['frac']}" if m["frac"] else 0)


def _in_ranges(m: re.Match[str]) -> bool:
    if not _YEARS[0] <= int(m["year"]) <= _YEARS[1]:
        return False
    for part, (low, high) in _RANGES.items():
        if m[part] is not None and not low <= int(m[part]) <= high:
            return False
    if m["frac"] is not None and len(m["frac"].lstrip("0")) > 9:
        return False
    return m["zh"] is None or (int(m["zh"]) <= 23 and int(m["zm"] or 0) <= 59)


# --- evaluation ----------------------------------------------------------------------------------


def holds(
    block: Mapping[str, Any], context: Mapping[str, tuple[str, ...]], resolve: Resolve
) -> bool:
    """Whether a statement's Condition block holds. ``context`` maps lower-case keys to the
    request's values; ``resolve`` gives policy variables their values (None: the document's
    version does not have variables)."""
    for name, entries in block.items():
        q = parse_operator(name)
        if q is None:
            if entries:
                return False
            continue
        for key, raw in entries.items():
            wanted = condition_values(raw)
            if not _key_holds(q, context.get(key.lower()), wanted, resolve):
                return False
    return True


def _key_holds(
    q: Qualified, present: tuple[str, ...] | None, wanted: list[str], resolve: Resolve
) -> bool:
    op = q.operator
    if op.type == "null":
        return any(w.lower() == ("false" if present else "true") for w in wanted)
    if not present:
        if q.qualifier == "ForAllValues":
            return True
        return q.if_exists or (op.negated and q.qualifier == "")

    def one(value: str) -> bool:
        hit = any(_matches(op, w, value, resolve) for w in wanted)
        return hit != op.negated

    if q.qualifier == "ForAllValues":
        return all(one(v) for v in present)
    return any(one(v) for v in present)


def _matches(op: Operator, wanted: str, value: str, resolve: Resolve) -> bool:
    """One policy value against one request value, without negation."""
    if op.test == "like":
        if op.type == "arn":
            return arn_like(wanted, value, resolve)
        return like(wanted, value, resolve)
    text = substitute(wanted, resolve)
    if text is None:
        return False
    if op.type in ("string", "bool", "binary"):
        return text.lower() == value.lower() if op.test == "eq-ci" else text == value
    if op.type == "ip":
        return _in_network(value, text)
    parse = parse_date if op.type == "date" else _number
    a, b = parse(value), parse(text)
    return a is not None and b is not None and _compare(op.test, a, b)


def _compare(test: str, a: float, b: float) -> bool:
    return {"eq": a == b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[test]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _in_network(address: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False
