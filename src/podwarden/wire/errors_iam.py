"""IAM's error codes: what each domain error raised by ``podwarden.control.iam`` becomes on the
wire (see ``podwarden.wire.error_table``).

Codes and HTTP statuses are the exception shapes of IAM's model (botocore's ``iam``:
``NoSuchEntity`` 404, ``EntityAlreadyExists`` 409, ``LimitExceeded`` 409, ``DeleteConflict``
409, ``ConcurrentModification`` 409, ``MalformedPolicyDocument``, ``InvalidInput``,
``UnmodifiableEntity``, ``PolicyNotAttachable`` 400). IAM's exceptions have no members beyond
the message, so no detail goes on the wire.

Messages are IAM's as public error reports and moto's recordings of IAM show them (the modules
of ``podwarden.control.iam`` name the sources where they matter: ``oidc``, ``policy_doc``,
``service_linked``). Where IAM's message for a case was not found in public error reports, the
message follows IAM's wording for the nearest documented case; those are DeletePolicy,
CreatePolicyVersion, TagPolicy and UntagPolicy on an AWS-managed policy (``UnmodifiableEntity``),
GetPolicyVersion for an unknown version, a tag key with the reserved ``aws:`` prefix (EC2's words
for it) and the tag quotas' names (``podwarden.control.iam.tags``). A service podwarden has no
service-linked role for gets podwarden's own message (it cannot know the role such a service
would get). Policy-document errors (``malformed-policy``) keep the message ``policy_doc``
computed, IAM's for the first rule broken.

A Marker that is not one podwarden issued for this very request (``InvalidToken``) is
``InvalidInput`` "Invalid Marker." (IAM's code for it is unverified: one emulator reports
``ValidationError`` with that message).
"""

from __future__ import annotations

from podwarden.model.errors import InvalidToken, NotFound, PodwardenError
from podwarden.wire.error_table import Code, Family

Codes = dict[str | type[PodwardenError], Code]


def _missing(message: str) -> Code:
    return Code("NoSuchEntity", 404, message)


def _exists(message: str) -> Code:
    return Code("EntityAlreadyExists", 409, message)


def _conflict(message: str) -> Code:
    return Code("DeleteConflict", 409, message)


def _invalid(message: str | None) -> Code:
    return Code("InvalidInput", 400, message)


_NOT_FOUND: Codes = {
    "role-not-found": _missing("The role with name {name} cannot be found."),
    "inline-policy-not-found": _missing("The role policy with name {name} cannot be found."),
    "policy-not-found": _missing("Policy {arn} was not found."),
    "policy-not-attachable": _missing("Policy {arn} does not exist or is not attachable."),
    "policy-version-not-found": _missing("Policy {arn} version {version} does not exist."),
    "boundary-not-found": _missing("Scope ARN: {arn} does not exist or is not attachable."),
    "instance-profile-not-found": _missing("Instance Profile {name} cannot be found."),
    "oidc-provider-not-found": _missing("OpenIDConnect Provider not found for arn {arn}"),
    "deletion-task-not-found": _missing("Deletion task {task} cannot be found."),
}

_IN_USE: Codes = {
    "role-exists": _exists("Role with name {name} already exists."),
    "policy-exists": _exists(
        "A policy called {name} already exists. Duplicate names are not allowed."
    ),
    "instance-profile-exists": _exists("Instance Profile {name} already exists."),
    "oidc-provider-exists": _exists("Provider with url {url} already exists."),
    "in-instance-profile": _conflict(
        "Cannot delete entity, must remove roles from instance profile first."
    ),
    "role-has-attached-policies": _conflict(
        "Cannot delete entity, must detach all policies first."
    ),
    "role-has-inline-policies": _conflict("Cannot delete entity, must delete policies first."),
    "policy-attached": _conflict("Cannot delete a policy attached to entities."),
    "policy-has-versions": _conflict(
        "This policy has more than one version. Before you delete a policy, you must delete "
        "the policy's versions. The default version is deleted with the policy."
    ),
    "default-version": _conflict("Cannot delete the default version of a policy."),
}

_LIMITS: Codes = {
    # IAM's message for every quota: tags per entity, policies per role, policy sizes...
    "quota-exceeded": Code("LimitExceeded", 409, "Cannot exceed quota for {quota}: {limit}"),
    "policy-versions": Code(
        "LimitExceeded",
        409,
        "A managed policy can have up to {limit} versions. Before you create a new version, you "
        "must delete an existing version.",
    ),
    "inline-policies-size": Code(
        "LimitExceeded", 409, "Maximum policy size of {limit} bytes exceeded for role {name}"
    ),
}

_INVALID: Codes = {
    "malformed-policy": Code("MalformedPolicyDocument", 400),
    "invalid-arn": _invalid("ARN {arn} is not valid."),
    "duplicate-tag-keys": _invalid(
        "Duplicate tag keys found. Please note that Tag keys are case insensitive."
    ),
    "reserved-tag-key": _invalid("Tag keys starting with 'aws:' are reserved for internal use."),
    "invalid-oidc-url": _invalid("Invalid Open ID Connect Provider URL"),
    "too-many-thumbprints": _invalid("Thumbprint list must contain fewer than {limit} entries."),
    "invalid-thumbprint": _invalid("Thumbprint {thumbprint} is not 40 hexadecimal digits."),
    "unknown-linked-service": _invalid(
        "Service {service} has no service-linked role in podwarden's IAM (known: {known})."
    ),
    "custom-suffix-not-allowed": _invalid("Custom suffix is not allowed for {service}"),
    "service-role-name-taken": _invalid(
        "Service role name {name} has been taken in this account, please try a different suffix."
    ),
    "not-service-linked": _invalid("Role {name} is not a service-linked role."),
    "service-role-policy": Code(
        "PolicyNotAttachable", 400, "Cannot attach a Service Role Policy to a Customer Role."
    ),
}

_OWNERSHIP: Codes = {
    # a service-linked role and an AWS-managed policy are AWS's to change, not the account's
    "protected-role": Code(
        "UnmodifiableEntity",
        400,
        "Cannot perform the operation on the protected role '{name}' - this role is only "
        "modifiable by AWS",
    ),
    "aws-managed-policy": Code(
        "UnmodifiableEntity", 400, "Cannot modify AWS managed policy {arn}."
    ),
    "concurrent-modification": Code(
        "ConcurrentModification", 409, "{name} was modified concurrently; retry the request."
    ),
}

IAM = Family(
    {
        **_NOT_FOUND,
        **_IN_USE,
        **_LIMITS,
        **_INVALID,
        **_OWNERSHIP,
        InvalidToken: _invalid("Invalid Marker."),
        NotFound: Code("NoSuchEntity", 404),
    }
)
