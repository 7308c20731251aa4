"""IAM policy documents: checked the way IAM checks them, returned the way IAM returns them.

IAM keeps a document as the caller sent it and serves it URL-encoded (RFC 3986 percent-encoding
of the JSON text: ``%7B%22Version%22...``); boto3 decodes it back into a dict. Inputs arrive as
the JSON text itself.

Checks run in IAM's order and fail with IAM's message for the first broken rule (``Invalid``,
reason ``malformed-policy``: ``MalformedPolicyDocument``, 400, in IAM and STS): JSON, structure
("Syntax errors in policy.", Condition blocks included), version, legacy parsing (Effect's case,
``Date...`` condition values, resource ARNs' shape), unique Sids, actions, resources, resource
ARNs (partition, region of global services, IAM resource types: ``logic.iam_policy_grammar``),
action vendors. The messages are those IAM sends (as reproduced by moto's
``moto/iam/policy_validation.py``, which is checked against AWS; the trust-policy ones are from
AWS error reports: "This policy contains invalid Json", "Has prohibited field Resource",
'Invalid principal in policy: "SERVICE":"..."').

Two kinds of documents differ only in a few rules, kept as :class:`Kind` data: permissions policies
(inline, managed, STS session policies) need resources and must not name a principal; trust
policies (a role's AssumeRolePolicyDocument) need a principal, must not name resources, may
still say Version 2008-10-17, and may only allow STS actions.

Sizes count characters other than whitespace, as IAM does; the limits are IAM's default quotas
(``LimitExceeded`` with the reason ``quota-exceeded``: IAM's "Cannot exceed quota for <quota>:
<limit>", 409).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import quote

from podwarden.logic import iam_policy_grammar as grammar
from podwarden.logic.iam_evaluation import as_list, statements_of
from podwarden.model.errors import Invalid, LimitExceeded

__all__ = [
    "PERMISSIONS",
    "TRUST",
    "Kind",
    "as_list",
    "check",
    "check_size",
    "encode",
    "malformed",
    "size",
    "statements_of",
]

MANAGED_POLICY_SIZE = 6144  # characters, whitespace excluded
TRUST_POLICY_SIZE = 2048
INLINE_ROLE_POLICIES_SIZE = 10240  # all of one role's inline policies together

_TOP = frozenset({"Version", "Id", "Statement"})
_VERSIONS = ("2008-10-17", "2012-10-17")
_STRING_OR_LIST = ("Action", "NotAction", "Resource", "NotResource")
_PRINCIPAL_TYPES = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})
# the statement elements of every kind; each kind adds its own pair (see Kind.elements)
_STATEMENT = frozenset({"Sid", "Effect", "Action", "NotAction", "Condition"})


@dataclass(frozen=True)
class Kind:
    """What a kind of policy document allows; see the module docstring."""

    name: str
    versions: tuple[str, ...]  # accepted Version values
    version_required: bool
    # what statements name besides actions: ("Resource", "NotResource") in a permissions policy,
    # ("Principal", "NotPrincipal") in a trust policy; the other pair is refused
    elements: tuple[str, str]
    invalid_json: str  # the message for a document that is not a JSON object

    @property
    def statement_keys(self) -> frozenset[str]:
        return _STATEMENT | set(self.elements)

    @property
    def needs_principal(self) -> bool:
        return "Principal" in self.elements

    @property
    def needs_resource(self) -> bool:
        return "Resource" in self.elements


PERMISSIONS = Kind(
    "permissions", ("2012-10-17",), True, ("Resource", "NotResource"), "Syntax errors in policy."
)
TRUST = Kind(
    "trust", _VERSIONS, False, ("Principal", "NotPrincipal"), "This policy contains invalid Json"
)


def encode(text: str) -> str:
    """A document as IAM serves it: every character but RFC 3986's unreserved ones escaped."""
    return quote(text, safe="")


def size(text: str) -> int:
    """The size IAM counts against its quotas: characters that are not whitespace."""
    return sum(1 for c in text if not c.isspace())


def malformed(message: str) -> NoReturn:
    raise Invalid(message, reason="malformed-policy")


# a policy's grammar nests a handful of levels (Statement, Condition, operator, key, values); the
# rules below walk the document recursively, so deeper documents are refused before they run
MAX_DEPTH = 16


def _too_deep(doc: Any) -> bool:
    """Whether ``doc`` nests deeper than :data:`MAX_DEPTH` (walked iteratively)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, (dict, list)):
            stack.extend((child, depth + 1) for child in children)
    return False


def check(text: str, kind: Kind) -> dict[str, Any]:
    """The parsed document, or ``MalformedPolicyDocument`` for the first rule it breaks."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested past the parser's own limit
        malformed(kind.invalid_json)
    if not isinstance(doc, dict) or _too_deep(doc):
        malformed(kind.invalid_json)
    statements = _syntax(doc, kind)
    version = doc.get("Version")
    if version not in kind.versions and (kind.version_required or version is not None):
        malformed("Policy document must be version 2012-10-17 or greater.")
    for st in statements:
        _legacy(st)
    resource_problem = _resource_formats(statements)
    _unique_sids(statements)
    if not all(as_list(st.get("Action", st.get("NotAction"))) for st in statements):
        malformed("Policy statement must contain actions.")
    if kind.needs_resource and not all(
        as_list(st.get("Resource", st.get("NotResource"))) for st in statements
    ):
        malformed("Policy statement must contain resources.")
    if resource_problem is not None:
        malformed(resource_problem)
    for st in statements:
        for action in as_list(st.get("Action", st.get("NotAction"))):
            _action(action, kind)
    if kind.needs_principal:
        for st in statements:
            _principal(st)
    return doc


def _syntax(doc: dict[str, Any], kind: Kind) -> list[dict[str, Any]]:
    """Structure: known elements with the right JSON types ("Syntax errors in policy.")."""
    bad = "Syntax errors in policy."
    if set(doc) - _TOP or not isinstance(doc.get("Statement"), dict | list):
        malformed(bad)
    if "Version" in doc and doc["Version"] not in _VERSIONS:
        malformed(bad)
    if "Id" in doc and not isinstance(doc["Id"], str):
        malformed(bad)
    statements = statements_of(doc)
    if not statements or not all(isinstance(st, dict) for st in statements):
        malformed(bad)
    for st in statements:
        if not kind.needs_principal and ("Principal" in st or "NotPrincipal" in st):
            malformed("Policy document should not specify a principal.")
        if not kind.needs_resource and ("Resource" in st or "NotResource" in st):
            malformed(f"Has prohibited field {'Resource' if 'Resource' in st else 'NotResource'}")
        if not _statement_syntax(st, kind):
            malformed(bad)
    return statements


def _statement_syntax(st: dict[str, Any], kind: Kind) -> bool:
    if set(st) - kind.statement_keys or not isinstance(st.get("Effect"), str):
        return False
    if st["Effect"].lower() not in ("allow", "deny"):
        return False
    if ("Action" in st and "NotAction" in st) or ("Resource" in st and "NotResource" in st):
        return False
    for key in _STRING_OR_LIST:
        value = st.get(key, "")
        if not isinstance(value, str | list) or any(not isinstance(v, str) for v in value):
            return False
    if "Sid" in st and not isinstance(st["Sid"], str):
        return False
    return grammar.condition_syntax_ok(st.get("Condition", {}))


LEGACY = "The policy failed legacy parsing"


def _legacy(st: dict[str, Any]) -> None:
    """IAM's legacy parser is case-sensitive about Effect and reads Date conditions' values."""
    if st["Effect"] not in ("Allow", "Deny"):
        malformed(LEGACY)
    if not grammar.legacy_conditions_ok(st.get("Condition", {})):
        malformed(LEGACY)


def _resource_formats(statements: list[dict[str, Any]]) -> str | None:
    """The resource problem IAM reports after its action checks (the last one it finds, all
    Resource elements before all NotResource ones); legacy parsing of a statement's resources
    fails at once while no problem was found yet."""
    problem: str | None = None
    for element in ("Resource", "NotResource"):
        for st in statements:
            if element not in st:
                continue
            resources = as_list(st[element])
            ordered = resources if isinstance(st[element], str) else sorted(resources, reverse=True)
            problem = grammar.last_resource_problem(ordered, problem)
            if problem is None and not all(grammar.legacy_resource_ok(r) for r in resources):
                malformed(LEGACY)
    return problem


def _unique_sids(statements: list[dict[str, Any]]) -> None:
    sids = [st["Sid"] for st in statements if st.get("Sid")]
    if len(sids) != len(set(sids)):
        malformed("Statement IDs (SID) in a single policy must be unique.")


_VENDOR = re.compile(r"[a-zA-Z0-9\-.]+")


def _action(action: str, kind: Kind) -> None:
    if action == "*":
        return
    parts = action.split(":")
    if len(parts) == 1:
        malformed("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
    if len(parts) > 2:
        malformed("Actions/Condition can contain only one colon.")
    if not _VENDOR.fullmatch(parts[0]):
        malformed(f"Vendor {parts[0]} is not valid")
    if kind.needs_principal and parts[0].lower() != "sts":
        malformed("AssumeRole policy may only specify STS AssumeRole actions.")


# what a trust policy's principal may be: a service's DNS name; "*", an account, or an ARN of the
# account's root, a user, a role or a role session
_SERVICE = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?")
_AWS_PRINCIPAL = re.compile(
    r"\*|\d{12}|arn:aws:iam::\d{12}:(root|user/.+|role/.+)|arn:aws:sts::\d{12}:assumed-role/.+"
)


def _principal(st: dict[str, Any]) -> None:
    """A trust statement names who may assume the role: ``"*"`` or a map of principal types."""
    principal = st.get("Principal", st.get("NotPrincipal"))
    if principal is None:
        malformed("Missing required field Principal")
    if principal == "*":
        return
    if not isinstance(principal, dict) or not principal or set(principal) - _PRINCIPAL_TYPES:
        malformed("Syntax errors in policy.")
    for value in as_list(principal.get("Service")):
        if not _SERVICE.fullmatch(value):
            malformed(f'Invalid principal in policy: "SERVICE":"{value}"')
    for value in as_list(principal.get("AWS")):
        if not _AWS_PRINCIPAL.fullmatch(value):
            malformed(f'Invalid principal in policy: "AWS":"{value}"')


def check_size(text: str, limit: int, quota: str) -> None:
    """``LimitExceeded`` with IAM's "Cannot exceed quota for <quota>: <limit>" message."""
    if size(text) > limit:
        raise LimitExceeded(reason="quota-exceeded", quota=quota, limit=limit)
