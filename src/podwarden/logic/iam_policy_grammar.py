"""IAM's grammar for the parts of a policy document that are more than JSON types: resource ARNs
and Condition blocks. Pure: each function answers whether IAM accepts a piece, or IAM's message.

What IAM rejects, and with which message, is as IAM answers (reproduced by moto's
``moto/iam/policy_validation.py`` and its test table, which are checked against AWS):

* a resource that is neither ``"*"`` nor has a colon: 'Resource <r> must be in ARN format or
  "*".'; a partition other than ``aws`` (or ``*``): 'Partition "<p>" is not valid for resource
  "arn:<p>:<service>:<region>:<account>:<resource>".' (missing segments shown as ``*``); an ARN
  that stops after its partition: "Resource vendor must be fully qualified and cannot contain
  regexes."; a region in an IAM or S3 ARN (both global): "IAM resource <r> cannot contain
  region information." / "Resource <r> can not contain region information."; an IAM resource
  whose path starts with none of IAM's resource types: 'IAM resource path must either be "*" or
  start with user/, ...'. When several resources are wrong IAM reports the last one it checks
  (a statement's list in reverse sorted order).
* "The policy failed legacy parsing" for a resource with an empty service or with ``::`` but
  fewer than five colons, and for a ``Date...`` condition value that is not a date
  (``logic.iam_conditions.parse_date``).
* "Syntax errors in policy." for a Condition block that is not an object of objects, whose
  values are not a string, number or boolean or a list of them (the grammar's
  ``<condition_value>``), or that names an unknown operator with a non-empty body (IAM accepts
  an unknown operator only when its body is empty).

IAM checks more than this for some services (e.g. value types of ``Numeric...`` operators are not
checked when the policy is created); podwarden checks what IAM is known to check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from podwarden.logic.iam_conditions import condition_values, parse_date, parse_operator

PARTITIONS = ("aws", "*")
# Global services: their ARNs have no region. Message per service, as IAM words it.
REGIONLESS = {
    "iam": "IAM resource {resource} cannot contain region information.",
    "s3": "Resource {resource} can not contain region information.",
}
# What the resource part of an IAM ARN may start with (IAM's resource types).
IAM_RESOURCE_TYPES = (
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
)
_SCALARS = (str, int, float, bool)


def resource_problem(resource: str) -> str | None:
    """IAM's message for a Resource / NotResource entry it rejects, else None."""
    if resource == "*":
        return None
    if ":" not in resource:
        return f'Resource {resource} must be in ARN format or "*".'
    partition, sep, rest = resource.partition(":")[2].partition(":")
    if partition not in PARTITIONS:
        return _bad_partition(partition, rest)
    if sep != ":":
        return "Resource vendor must be fully qualified and cannot contain regexes."
    return _service_problem(resource, rest)


def _service_problem(resource: str, rest: str) -> str | None:
    """Rules of the services IAM knows more of: ``rest`` is the ARN after its partition."""
    service, _, rest = rest.partition(":")
    if service in REGIONLESS and not rest.startswith(":"):
        return REGIONLESS[service].format(resource=resource)
    path = rest.partition(":")[2].partition(":")[2]
    if service == "iam" and path != "*" and not path.startswith(IAM_RESOURCE_TYPES):
        return (
            f'IAM resource path must either be "*" or start with {", ".join(IAM_RESOURCE_TYPES)}.'
        )
    return None


def _bad_partition(partition: str, rest: str) -> str:
    parts = rest.split(":")
    service = parts[0] if parts[0] != "" or len(parts) > 1 else "*"
    region = parts[1] if len(parts) > 1 else "*"
    account = parts[2] if len(parts) > 2 else "*"
    name = ":".join(parts[3:]) if len(parts) > 3 else "*"
    arn = f"arn:{partition}:{service}:{region}:{account}:{name}"
    return f'Partition "{partition}" is not valid for resource "{arn}".'


def last_resource_problem(resources: Iterable[str], previous: str | None) -> str | None:
    """The problem IAM reports after checking ``resources`` (the last one found wins), given
    what earlier elements left."""
    for resource in resources:
        previous = resource_problem(resource) or previous
    return previous


def legacy_resource_ok(resource: str) -> bool:
    """IAM's legacy parser: a service segment, and ``::`` only in a full six-part ARN."""
    if resource == "*":
        return True
    if resource.count(":") < 5 and "::" in resource:
        return False
    parts = resource.split(":")
    return len(parts) > 2 and parts[2] != ""


def condition_syntax_ok(block: object) -> bool:
    """A Condition element: ``{operator: {key: value or [values]}}``, operators IAM knows."""
    if not isinstance(block, dict):
        return False
    for name, entries in block.items():
        if not isinstance(entries, dict):
            return False
        if parse_operator(name) is None and entries:
            return False
        for value in entries.values():
            items = value if isinstance(value, list) else [value]
            if not all(isinstance(v, _SCALARS) for v in items):
                return False
    return True


def legacy_conditions_ok(block: Mapping[str, Any]) -> bool:
    """IAM's legacy parser reads every value of a ``Date...`` operator as a date."""
    for name, entries in block.items():
        q = parse_operator(name)
        if q is None or q.operator.type != "date":
            continue
        for value in entries.values():
            if any(parse_date(v) is None for v in condition_values(value)):
                return False
    return True
