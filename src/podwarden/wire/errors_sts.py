"""STS's error codes: what each domain error raised by ``podwarden.control.sts`` becomes on the
wire (see ``podwarden.wire.error_table``).

AssumeRole's refusals are STS's: ``AccessDenied`` (403) "User: <caller ARN> is not authorized to
perform: sts:AssumeRole on resource: <role ARN>" for a missing role or a trust policy that does
not allow the caller, and ``ValidationError`` (400) for a DurationSeconds out of bounds, with
the messages STS gives (the first is its generic constraint message). A session ``Policy`` is
checked by ``podwarden.control.iam.policy_doc``: ``MalformedPolicyDocument`` (400) with the
message computed there, the code IAM answers.
"""

from __future__ import annotations

from podwarden.wire.error_table import Code, Family

STS = Family(
    {
        "assume-role-denied": Code(
            "AccessDenied",
            403,
            "User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role}",
        ),
        "duration-too-short": Code(
            "ValidationError",
            400,
            "1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to "
            "satisfy constraint: Member must have value greater than or equal to {minimum}",
        ),
        "duration-over-chaining-limit": Code(
            "ValidationError",
            400,
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed "
            "by role chaining.",
        ),
        "duration-over-role-maximum": Code(
            "ValidationError",
            400,
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ),
        "malformed-policy": Code("MalformedPolicyDocument", 400),
    }
)
