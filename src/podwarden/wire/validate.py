"""One shape-walking validator, stricter than botocore's client (which checks only required, min,
types and unions): it also enforces ``max``, ``pattern`` and ``enum``, and collects every violation.

It checks decoded values (what a protocol codec produces: ``dict``/``list``/``str``/``int``/
``float``/``bool``/``datetime``/``bytes``), so every protocol shares it. Messages follow AWS:
``Value '<v>' at '<path>' failed to satisfy constraint: <phrase>``, and ``Value null at ...:
Member must not be null`` for a missing required member; ``format_violations`` adds the
``N validation error(s) detected: `` summary, joining violations with ``; ``.

Decisions (and what is known of AWS's behaviour behind them):

- Paths: member names with the first letter lower-cased (``vpcConfig``, ``fSxLustreConfig``, as
  Coral prints ``sSESpecification``), joined with ``.``; list items ``<list>.<1-based>.member``;
  map values that are structures, lists or maps ``<map>.<key>.member`` (DynamoDB prints
  ``requestItems.<table>.member.<n>.member...``). A null list item or map value is ``Value null
  at '<list>.<i>.member'`` / ``'<map>.<key>.member'``: ``Member must not be null``.
- Map keys, and map values of simple types, are reported once per map, as AWS does:
  ``Value '{k=v}' at '<map>' failed to satisfy constraint: Map keys must satisfy constraint:
  [<every phrase of the key shape>]`` (likewise ``Map value must satisfy constraint: [...]``).
- Order: depth first in model member order (not the JSON's key order), a missing required member
  where the member would be; a value's own constraints come before its members or items, in the
  order length/value maximum, minimum, pattern, enum (SageMaker prints length before pattern).
- Phrases: ``Member must have length less than or equal to N`` (strings, blobs, lists, maps),
  ``Member must have value greater than or equal to N`` (numbers; float/double bounds printed as
  floats, ``1.0``), ``Member must satisfy regular expression pattern: <pattern as in the model>``,
  ``Member must satisfy enum value set: [a, b]`` (model order).
- Patterns are anchored (the whole value must match) and use the ``regex`` module (``\\p{L}``).
  Two Java-isms are translated: surrogate pairs ``\\uD800\\uDC00`` become one code point and
  ``\\x{h..}`` becomes ``\\U``. ``\\w``, ``\\d`` and ``\\s`` keep Python's Unicode meaning (Java's
  are ASCII). A pattern that still does not compile (5 of ~5000 in all botocore models, none in
  SageMaker) is not enforced. A string longer than both its ``max`` and ``PATTERN_MAX_INPUT`` is
  reported too long and not matched, so a huge value cannot make a pattern backtrack for long
  (a string without ``max`` is always matched).
- Values are rendered like Java's ``toString``, as AWS does: strings as-is, ``null``,
  ``true``/``false``, numbers, lists ``[a, b]``, maps and structures ``{K=v, K2=v2}``, timestamps
  in ISO 8601, blobs in base64. Anything but a string is cut to ``RENDER_LIMIT`` characters,
  ending in ``...``.
- Kinds: constraint violations have ``kind == CONSTRAINT`` (AWS: ``ValidationException``). A value
  of the wrong Python type, or a union without exactly one member set, has ``kind == TYPE`` and the
  phrase ``Member must be of type <type>`` / ``Member must have exactly one member set``; AWS
  rejects those while deserializing (``SerializationException``; Smithy's protocol tests say so for
  unions), so codecs catch them before this module and ``TYPE`` is a safety net for other callers.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import math
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import regex  # type: ignore[import-untyped]

from podwarden.wire.models import Shape, compile_once

CONSTRAINT: Final = "constraint"
TYPE: Final = "type"
NOT_NULL: Final = "Member must not be null"
UNION: Final = "Member must have exactly one member set"
RENDER_LIMIT: Final = 256
PATTERN_MAX_INPUT: Final = 4096


@dataclass(frozen=True, slots=True)
class Violation:
    """One failed constraint. ``value`` is the rendered value, ``None`` for null."""

    path: str
    value: str | None
    phrase: str
    kind: str = CONSTRAINT

    def __str__(self) -> str:
        shown = "null" if self.value is None else f"'{self.value}'"
        return f"Value {shown} at '{self.path}' failed to satisfy constraint: {self.phrase}"


def format_violations(violations: Sequence[Violation], limit: int = 100) -> str:
    """AWS's summary; at most ``limit`` violations are spelled out, the count is always exact."""
    if not violations:
        raise ValueError("no violations to format")
    count = len(violations)
    head = "1 validation error" if count == 1 else f"{count} validation errors"
    text = "; ".join(str(v) for v in violations[:limit])
    more = f"; ... and {count - limit} more" if count > limit else ""
    return f"{head} detected: {text}{more}"


Check = Callable[[Any, str, list[Violation]], None]
Rule = tuple[str, Callable[[Any], bool]]  # a phrase, and the test that says the value breaks it
_checks: weakref.WeakKeyDictionary[Any, Check] = weakref.WeakKeyDictionary()


def validate(shape: Shape, value: object) -> list[Violation]:
    """Every violation of ``shape``'s constraints by ``value`` (empty when valid)."""
    check = _checks.get(shape)
    if check is None:
        check = _checks[shape] = _compile(shape, {})
    out: list[Violation] = []
    check(value, "", out)
    return out


def render(value: object) -> str | None:
    """A value as violation messages show it (see the module docstring)."""
    if value is None or isinstance(value, str):
        return value
    parts: list[str] = []
    _render(value, parts, [RENDER_LIMIT + 1])
    text = "".join(parts)
    return text if len(text) <= RENDER_LIMIT else text[: RENDER_LIMIT - 3] + "..."


def _render(value: object, parts: list[str], budget: list[int]) -> None:
    if budget[0] <= 0:
        return
    budget[0] -= 2
    if isinstance(value, dict | list | tuple):
        pairs = value.items() if isinstance(value, dict) else ((None, v) for v in value)
        parts.append("{" if isinstance(value, dict) else "[")
        for i, (key, item) in enumerate(pairs):
            parts.append(", " if i else "")
            parts.append("" if key is None else f"{key}=")
            _render(item, parts, budget)
        parts.append("}" if isinstance(value, dict) else "]")
        return
    if value is None or isinstance(value, bool):
        text = {None: "null", True: "true", False: "false"}[value]
    elif isinstance(value, dt.datetime):
        text = value.isoformat()
    elif isinstance(value, bytes | bytearray):
        text = base64.b64encode(value).decode()
    else:
        text = str(value)
    parts.append(text)
    budget[0] -= len(text)


@functools.cache
def compile_pattern(pattern: str) -> Any:
    """The compiled form of a model pattern, ``None`` if ``regex`` cannot compile it."""
    translated = _SURROGATE_PAIR.sub(_join_surrogates, pattern)
    translated = _BRACED_HEX.sub(lambda m: f"\\U{int(m.group(1), 16):08X}", translated)
    try:
        return regex.compile(translated)
    except (regex.error, ValueError, OverflowError):
        return None


_SURROGATE_PAIR = regex.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", regex.I)
_BRACED_HEX = regex.compile(r"\\x\{([0-9a-fA-F]{1,8})\}")


def _join_surrogates(m: Any) -> str:
    high, low = int(m.group(1), 16), int(m.group(2), 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"


def _apply(rules: Sequence[Rule], value: Any, path: str, out: list[Violation]) -> None:
    for phrase, breaks in rules:
        if breaks(value):
            out.append(Violation(path, render(value), phrase))


def _typed(kind: str, expected: type, value: Any, path: str, out: list[Violation]) -> bool:
    """Whether ``value`` has the Python type ``expected``; else report it."""
    if isinstance(value, expected):
        return True
    out.append(_wrong_type(kind, value, path))
    return False


def _wrong_type(kind: str, value: Any, path: str) -> Violation:
    return Violation(path, render(value), f"Member must be of type {kind}", TYPE)


def _compile(shape: Shape, memo: dict[str, Check]) -> Check:
    kind = shape.type_name
    if kind == "structure":
        return _accept if shape.is_document_type else compile_once(shape, memo, _structure)
    if kind == "list":
        return _list(shape, memo)
    if kind == "map":
        return _map(shape, memo)
    expected = _TYPES.get(kind)
    if expected is None:
        return _accept
    rules = _rules(shape)
    number = kind != "boolean"  # and a bool is no number, though Python says it is an int

    def check(value: Any, path: str, out: list[Violation]) -> None:
        if not isinstance(value, expected) or (number and isinstance(value, bool)):
            out.append(_wrong_type(kind, value, path))
            return
        for phrase, breaks in rules:  # _apply, inlined: this runs for every scalar of a request
            if breaks(value):
                out.append(Violation(path, render(value), phrase))

    return check


def _accept(value: object, path: str, out: list[Violation]) -> None:
    return None


def _structure(shape: Shape, memo: dict[str, Check]) -> Check:
    required = set(shape.required_members)
    members = tuple(
        (name, name[:1].lower() + name[1:], name in required, _compile(member, memo))
        for name, member in shape.members.items()
    )
    union = bool(shape.is_tagged_union)

    def check(value: Any, path: str, out: list[Violation]) -> None:
        if not _typed("structure", dict, value, path, out):
            return
        if union and sum(value.get(m[0]) is not None for m in members) != 1:
            out.append(Violation(path, render(value), UNION, TYPE))
        for name, segment, needed, child in members:
            item = value.get(name)
            if item is not None:
                child(item, f"{path}.{segment}" if path else segment, out)
            elif needed:
                out.append(Violation(f"{path}.{segment}" if path else segment, None, NOT_NULL))

    return check


def _list(shape: Shape, memo: dict[str, Check]) -> Check:
    rules = _rules(shape)
    child = _compile(shape.member, memo)

    def check(value: Any, path: str, out: list[Violation]) -> None:
        if not _typed("list", list, value, path, out):
            return
        _apply(rules, value, path, out)
        for i, item in enumerate(value, 1):
            if item is None:
                out.append(Violation(f"{path}.{i}.member", None, NOT_NULL))
            else:
                child(item, f"{path}.{i}.member", out)

    return check


def _map(shape: Shape, memo: dict[str, Check]) -> Check:
    rules = _rules(shape)
    key_check, value_check = _compile(shape.key, memo), _compile(shape.value, memo)
    simple = shape.value.type_name not in ("structure", "list", "map")
    keys_phrase = (
        f"Map keys must satisfy constraint: [{', '.join(p for p, _ in _rules(shape.key))}]"
    )
    values_phrase = (
        f"Map value must satisfy constraint: [{', '.join(p for p, _ in _rules(shape.value))}]"
    )

    def check(value: Any, path: str, out: list[Violation]) -> None:
        if not _typed("map", dict, value, path, out):
            return
        _apply(rules, value, path, out)
        scratch: list[Violation] = []
        for key in value:
            key_check(key, path, scratch)
        if scratch:
            out.append(Violation(path, render(value), keys_phrase))
        bad_value = False
        for key, item in value.items():
            where = f"{path}.{key}.member"
            if item is None:
                out.append(Violation(where, None, NOT_NULL))
            elif not simple:
                value_check(item, where, out)
            elif not bad_value:  # simple values: one report for the whole map, as for keys
                scratch.clear()
                value_check(item, where, scratch)
                out.extend(v for v in scratch if v.kind == TYPE)
                bad_value = any(v.kind == CONSTRAINT for v in scratch)
        if bad_value:
            out.append(Violation(path, render(value), values_phrase))

    return check


_TYPES: Final[dict[str, type | tuple[type, ...]]] = {
    "string": str,
    "blob": (bytes, bytearray),
    "integer": int,
    "long": int,
    "float": (int, float),
    "double": (int, float),
    "boolean": bool,
    "timestamp": dt.datetime,
}
_SIZED: Final = frozenset({"string", "blob", "list", "map"})
# enums whose out-of-set values the service answers with its own error, not a validation error:
# S3's CreateBucket refuses a bad LocationConstraint as InvalidLocationConstraint /
# IllegalLocationConstraintException (control.s3.names.bucket_region), e.g. for us-east-1,
# which the model's BucketLocationConstraint enum does not list
SERVICE_CHECKED_ENUMS: Final = frozenset({"BucketLocationConstraint"})
_NUMERIC: Final = frozenset({"integer", "long", "float", "double"})


def _rules(shape: Shape) -> list[Rule]:
    """The constraints of one shape in report order: maximum, minimum, pattern, enum."""
    kind, meta = shape.type_name, shape.metadata
    rules: list[Rule] = []
    if kind in _SIZED or kind in _NUMERIC:
        measure, size = ("length", len) if kind in _SIZED else ("value", _same)
        show = (lambda n: repr(float(n))) if kind in ("float", "double") else str
        if (high := meta.get("max")) is not None:
            phrase = f"Member must have {measure} less than or equal to {show(high)}"
            rules.append((phrase, lambda v: size(v) > high))
        if (low := meta.get("min")) is not None:
            phrase = f"Member must have {measure} greater than or equal to {show(low)}"
            rules.append((phrase, lambda v: size(v) < low))
    pattern = meta.get("pattern") if kind == "string" else None
    if pattern and (rx := compile_pattern(pattern)) is not None:
        # a value over both max and PATTERN_MAX_INPUT is reported too long and not matched
        limit = max(meta["max"], PATTERN_MAX_INPUT) if "max" in meta else math.inf
        phrase = f"Member must satisfy regular expression pattern: {pattern}"
        rules.append((phrase, lambda v: len(v) <= limit and rx.fullmatch(v) is None))
    if kind == "string" and meta.get("enum") and shape.name not in SERVICE_CHECKED_ENUMS:
        allowed = frozenset(meta["enum"])
        phrase = f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]"
        rules.append((phrase, lambda v: v not in allowed))
    return rules


def _same(value: Any) -> Any:
    return value
