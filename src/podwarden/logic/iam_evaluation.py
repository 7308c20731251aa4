"""IAM's decision for one request of one principal, from its identity-based policies.

Pure: policy documents (already checked by IAM's grammar) and a request (action, resource ARN,
condition context) in; a :class:`Decision` out, naming the statement that decided. The logic is
IAM's policy evaluation logic for a principal of the resource's own account, restricted to the
policies podwarden keeps:

1. an explicit ``Deny`` in any identity policy (or in the permissions boundary) denies;
2. otherwise an ``Allow`` in an identity policy allows, provided the permissions boundary (when
   the principal has one) allows too;
3. otherwise the request is implicitly denied.

A statement applies when its ``Action`` matches (or ``NotAction`` does not), its ``Resource``
matches (or ``NotResource`` does not) and its ``Condition`` block holds
(``logic.iam_conditions``); matching is ``logic.iam_patterns``'s. Resource-based policies
(bucket policies), SCPs and session policies are not modelled: podwarden has none.

Condition keys the caller does not put in the request context are absent, and an absent key is
evaluated as IAM evaluates one (``StringEquals`` false, ``StringNotEquals`` true, ``...IfExists``
true): a request that carries no ``aws:SourceVpce`` is judged as AWS judges such a request.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podwarden.logic import iam_conditions
from podwarden.logic.iam_patterns import Resolve, action_matches, arn_like, resolver

VARIABLES_VERSION = "2012-10-17"  # the first version in which ${...} are policy variables


def statements_of(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A document's statements: ``Statement`` may be one object or a list of them."""
    raw = doc["Statement"]
    return [raw] if isinstance(raw, dict) else list(raw)


def as_list(value: object) -> list[str]:
    """An element that may be one string or a list of strings, as a list."""
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, list) else []


@dataclass(frozen=True)
class Policy:
    """One identity policy: ``name`` says which (a managed policy's ARN, ``inline:<name>``)."""

    name: str
    document: Mapping[str, Any] = field(repr=False)

    @classmethod
    def parse(cls, name: str, text: str) -> Policy:
        return cls(name, json.loads(text))


@dataclass(frozen=True)
class Request:
    """What is asked: an action on a resource, with the request's condition keys (any case)."""

    action: str
    resource: str
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def keys(self) -> dict[str, tuple[str, ...]]:
        return {k.lower(): v for k, v in self.context.items()}


@dataclass(frozen=True)
class Decision:
    """The outcome and what decided it: the statement (its Sid, or ``#n`` counting from 1) of
    the policy that denied or allowed, or nothing for an implicit deny."""

    allowed: bool
    effect: str = ""  # "Allow" or "Deny" of the deciding statement; "" for an implicit deny
    policy: str = ""
    statement: str = ""

    @property
    def explicit_deny(self) -> bool:
        return self.effect == "Deny"

    def reason(self) -> str:
        if self.allowed:
            return f"allowed by statement {self.statement} of {self.policy}"
        if self.explicit_deny:
            return f"explicitly denied by statement {self.statement} of {self.policy}"
        if self.policy:
            return f"not allowed by the permissions boundary {self.policy}"
        return "no statement allows it (implicit deny)"


def evaluate(
    policies: Iterable[Policy], request: Request, boundary: Policy | None = None
) -> Decision:
    """IAM's decision for ``request`` under identity ``policies`` and an optional permissions
    boundary; see the module docstring."""
    context = request.keys()
    identity = list(policies)
    deny = _first(identity + ([boundary] if boundary else []), "Deny", request, context)
    if deny is not None:
        return deny
    allow = _first(identity, "Allow", request, context)
    if allow is None:
        return Decision(False)
    if boundary is not None and _first([boundary], "Allow", request, context) is None:
        return Decision(False, policy=boundary.name)
    return allow


def _first(
    policies: list[Policy], effect: str, request: Request, context: dict[str, tuple[str, ...]]
) -> Decision | None:
    for policy in policies:
        resolve = resolver(context) if policy.document.get("Version") == VARIABLES_VERSION else None
        for n, st in enumerate(statements_of(policy.document), start=1):
            if st.get("Effect") == effect and applies(st, request, context, resolve):
                label = str(st.get("Sid") or f"#{n}")
                return Decision(effect == "Allow", effect, policy.name, label)
    return None


def applies(
    st: Mapping[str, Any],
    request: Request,
    context: Mapping[str, tuple[str, ...]],
    resolve: Resolve,
) -> bool:
    """Whether one statement applies to the request, whatever its effect."""
    if "Action" in st and not _any_action(st["Action"], request.action):
        return False
    if "NotAction" in st and _any_action(st["NotAction"], request.action):
        return False
    if "Resource" in st and not _any_resource(st["Resource"], request.resource, resolve):
        return False
    if "NotResource" in st and _any_resource(st["NotResource"], request.resource, resolve):
        return False
    return iam_conditions.holds(st.get("Condition") or {}, context, resolve)


def _any_action(patterns: object, action: str) -> bool:
    return any(action_matches(p, action) for p in as_list(patterns))


def _any_resource(patterns: object, resource: str, resolve: Resolve) -> bool:
    return any(arn_like(p, resource, resolve) for p in as_list(patterns))
