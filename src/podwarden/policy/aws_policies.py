"""AWS-managed IAM policies (``tables/aws_managed_policies.yaml``): schema and loader.

The local account's IAM serves these as AWS does: visible in every account, attachable to roles,
never changed by a caller. Each entry carries what GetPolicy and GetPolicyVersion return. A table
that breaks the schema fails at load time with a :class:`TableError` naming the file, the line,
the policy and the field. The documents are data, not evaluated: podwarden does not authorize
requests with them.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from podwarden.policy.yaml_tables import KeyLines, compose_yaml, packaged

TABLE = "aws_managed_policies.yaml"
ARN_PREFIX = "arn:aws:iam::aws:policy"
# The paths AWS files its managed policies under (service roles, service-linked roles, job roles).
PATHS = ("/", "/service-role/", "/aws-service-role/", "/job-function/")

_NAME = re.compile(r"[\w+=,.@-]{1,128}")
_VERSION = re.compile(r"v[1-9][0-9]*")
_REQUIRED = frozenset(
    {"path", "arn", "description", "version", "created", "updated", "source", "document"}
)
_OPTIONAL = frozenset({"subset"})


@dataclass(frozen=True)
class ManagedPolicy:
    """One AWS-managed policy: its identity, its default version and that version's document.

    ``document_json`` is the text GetPolicyVersion serves (before URL-encoding); it is rendered
    once here, keys in the table's order, so every call returns the same text.
    """

    name: str
    path: str
    arn: str
    description: str
    version_id: str
    created: dt.datetime
    updated: dt.datetime
    source: str
    subset: bool
    document: Mapping[str, Any] = field(hash=False, repr=False)
    document_json: str = field(hash=False, repr=False, default="")

    @property
    def is_service_linked(self) -> bool:
        """A service-linked role's permissions policy: AWS attaches it only to that role."""
        return self.path == "/aws-service-role/"


def load_aws_policies(path: Path | None = None) -> Mapping[str, ManagedPolicy]:
    """The packaged policies by ARN (parsed once, then cached), or the table at ``path``."""
    if path is None:
        return _packaged()
    return parse_aws_policies(path.read_text(encoding="utf-8"), source=str(path))


@functools.cache
def _packaged() -> Mapping[str, ManagedPolicy]:
    return parse_aws_policies(*packaged(TABLE))


def parse_aws_policies(text: str, source: str) -> Mapping[str, ManagedPolicy]:
    """Parse and check a table; ``source`` names it in error messages. Keyed by policy ARN."""
    node, data = compose_yaml(text, source)
    lines = KeyLines(source, "policies", "policy")
    lines.scan(node)
    if not isinstance(data, dict) or set(data) != {"policies"}:
        lines.fail((), "expected exactly one top-level key, 'policies'")
    entries = data["policies"]
    if not isinstance(entries, dict) or not entries:
        lines.fail(("policies",), "policies must be a non-empty mapping of name to policy")
    out: dict[str, ManagedPolicy] = {}
    for name, raw in entries.items():
        policy = _entry(str(name), raw, lines)
        out[policy.arn] = policy
    return MappingProxyType(out)


def _entry(name: str, raw: object, lines: KeyLines) -> ManagedPolicy:
    if not _NAME.fullmatch(name):
        lines.fail(("policies", name), f"'{name}' is not a valid IAM policy name")
    fields = lines.fields(name, raw, _REQUIRED, _OPTIONAL)
    for key in ("path", "arn", "description", "version", "source"):
        if not isinstance(fields[key], str) or not fields[key].strip():
            lines.field(name, key, f"expected a non-empty string, got {fields[key]!r}")
    if fields["path"] not in PATHS:
        lines.field(name, "path", f"expected one of {list(PATHS)}, got {fields['path']!r}")
    arn = f"{ARN_PREFIX}{fields['path']}{name}"
    if fields["arn"] != arn:
        lines.field(name, "arn", f"expected {arn} (from path and name), got {fields['arn']!r}")
    if not _VERSION.fullmatch(fields["version"]):
        lines.field(name, "version", f"expected v<N>, got {fields['version']!r}")
    subset = fields.get("subset", False)
    if not isinstance(subset, bool):
        lines.field(name, "subset", f"expected true or false, got {subset!r}")
    created, updated = _when(name, "created", fields, lines), _when(name, "updated", fields, lines)
    if updated < created:
        lines.field(name, "updated", "the default version cannot predate the policy")
    document = _document(name, fields["document"], lines)
    return ManagedPolicy(
        name=name,
        path=fields["path"],
        arn=arn,
        description=" ".join(fields["description"].split()),
        version_id=fields["version"],
        created=created,
        updated=updated,
        source=fields["source"],
        subset=subset,
        document=MappingProxyType(document),
        document_json=json.dumps(document, indent=4),
    )


def _when(name: str, key: str, fields: dict[str, Any], lines: KeyLines) -> dt.datetime:
    value = fields[key]
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        lines.field(name, key, f"expected an ISO-8601 UTC time, got {value!r}")
    if parsed.utcoffset() != dt.timedelta(0):
        lines.field(name, key, f"expected a UTC time (Z), got {value!r}")
    return parsed


def _document(name: str, doc: object, lines: KeyLines) -> dict[str, Any]:
    """The minimal shape IAM requires of a managed policy: Version 2012-10-17 and a non-empty
    list of statements, each with an Effect and an action and a resource element."""
    if not isinstance(doc, dict) or doc.get("Version") != "2012-10-17":
        lines.field(name, "document", "expected a mapping with Version: '2012-10-17'")
    statements = doc.get("Statement")
    if not isinstance(statements, list) or not statements:
        lines.field(name, "document", "Statement must be a non-empty list")
    for i, st in enumerate(statements):
        ok = (
            isinstance(st, dict)
            and st.get("Effect") in ("Allow", "Deny")
            and ("Action" in st or "NotAction" in st)
            and ("Resource" in st or "NotResource" in st)
        )
        if not ok:
            lines.field(name, "document", f"statement {i + 1} lacks Effect, Action or Resource")
    return doc
