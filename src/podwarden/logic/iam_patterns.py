"""How IAM matches the strings of a policy against a request: wildcards, ARNs, policy variables.

* ``*`` matches any run of characters (``/`` and ``:`` included) and ``?`` one character; no other
  character is special (unlike ``fnmatch``, ``[`` is literal). Actions match ignoring case,
  resources and ``...Like`` condition values respecting it.
* An ARN pattern matches segment by segment (``arn:partition:service:region:account:resource``,
  the resource being everything after the fifth colon, colons included); ``"*"`` alone matches
  every resource.
* Policy variables (``${aws:username}``, ``${aws:PrincipalTag/team}``, with an optional default
  ``${key, 'value'}``, and the escapes ``${*}``, ``${?}``, ``${$}`` for the literal characters)
  are replaced from the request context, only in documents of Version 2012-10-17 (IAM reads
  them literally in 2008-10-17 documents: the caller passes ``resolve=None``). A variable whose
  key the request lacks, with no default, makes the string match nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

Resolve = Callable[[str], str | None] | None
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"\s*([^,]+?)\s*,\s*'([^']*)'\s*")
_ESCAPES = {"*": "*", "?": "?", "$": "$"}
ARN_SEGMENTS = 6


def resolver(context: Mapping[str, tuple[str, ...]]) -> Callable[[str], str | None]:
    """Variables from a request context (lower-case keys): a single-valued key's value."""

    def resolve(name: str) -> str | None:
        values = context.get(name.strip().lower())
        return values[0] if values is not None and len(values) == 1 else None

    return resolve


def _pieces(text: str, resolve: Resolve) -> list[tuple[bool, str]] | None:
    """``text`` as (literal?, string) pieces: pattern text, and variables' values (literal)."""
    if resolve is None:
        return [(False, text)]
    out: list[tuple[bool, str]] = []
    at = 0
    for m in _VARIABLE.finditer(text):
        out.append((False, text[at : m.start()]))
        body = m.group(1)
        if body in _ESCAPES:
            out.append((True, _ESCAPES[body]))
        else:
            d = _DEFAULT.fullmatch(body)
            value = resolve(d.group(1) if d else body)
            if value is None and d is not None:
                value = d.group(2)
            if value is None:
                return None
            out.append((True, value))
        at = m.end()
    out.append((False, text[at:]))
    return out


def substitute(text: str, resolve: Resolve) -> str | None:
    """``text`` with its policy variables replaced; None if one has no value."""
    pieces = _pieces(text, resolve)
    return None if pieces is None else "".join(s for _, s in pieces)


def _regex(pattern: str, resolve: Resolve, ignore_case: bool) -> re.Pattern[str] | None:
    pieces = _pieces(pattern, resolve)
    if pieces is None:
        return None
    parts: list[str] = []
    for literal, s in pieces:
        if literal:
            parts.append(re.escape(s))
        else:
            parts += [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in s]
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def like(pattern: str, value: str, resolve: Resolve = None, *, ignore_case: bool = False) -> bool:
    """Whether ``value`` matches ``pattern`` with IAM's ``*`` and ``?`` wildcards."""
    rx = _regex(pattern, resolve, ignore_case)
    return rx is not None and rx.fullmatch(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    """IAM's action matching: ``s3:Get*`` matches ``s3:GetObject``, ignoring case."""
    return like(pattern, action, ignore_case=True)


def arn_like(pattern: str, arn: str, resolve: Resolve = None) -> bool:
    """Whether a resource ARN matches a policy's ARN pattern, segment by segment."""
    if pattern == "*":
        return True
    wanted = pattern.split(":", ARN_SEGMENTS - 1)
    got = arn.split(":", ARN_SEGMENTS - 1)
    if len(wanted) != ARN_SEGMENTS or len(got) != ARN_SEGMENTS:
        return like(pattern, arn, resolve)
    return all(like(w, g, resolve) for w, g in zip(wanted, got, strict=True))
