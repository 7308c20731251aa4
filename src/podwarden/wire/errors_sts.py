"""STS's error codes: what each domain error raised by ``podwarden.control.sts`` becomes on the
wire (see ``podwarden.wire.error_table``).

AssumeRole's refusals are STS's: ``AccessDenied`` (403) "User: <caller ARN> is not authorized to
perform: sts:AssumeRole on resource: <role ARN>" for a missing role or a trust policy that does
not allow the caller, and ``ValidationError`` (400) for a DurationSeconds out of bounds, with
the messages STS gives (the first is its generic constraint message). A session ``Policy`` is
checked by ``podwarden.control.iam.policy_doc``: ``MalformedPolicyDocument`` (400) with the
message computed there, the code IAM answers.

AssumeRoleWithWebIdentity's refusals (``control.sts.web_identity``) carry the codes and statuses
of botocore's model (``InvalidIdentityToken`` 400, ``ExpiredTokenException`` 400,
``IDPRejectedClaim`` 403, ``AccessDenied`` 403) and AWS's messages where users have recorded
them: "No OpenIDConnect provider found in your account for <issuer>"
(kubernetes-sigs/aws-load-balancer-controller#2315, mozilla-iam/mozilla-aws-cli#127), "Incorrect
token audience" (awslabs/amazon-eks-irsa-cfn#18), "Couldn't retrieve verification key from your
identity provider,  please reference AssumeRoleWithWebIdentity documentation for requirements"
(awslabs/aws-sdk-rust#827, two spaces included), "Token expired: current date/time <now> must be
before the expiration date/time <exp>" (aws/aws-sdk-java-v2#5709), "Not authorized to perform
sts:AssumeRoleWithWebIdentity" (crossplane/crossplane#5578). A token that is not a JWT, one whose
signature does not verify and one not valid yet get podwarden's own messages (AWS's are not
public); the last is ``IDPRejectedClaim`` ("the claim is invalid", its model doc).
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
        # AssumeRoleWithWebIdentity (control.sts.web_identity)
        "web-identity-malformed": Code(
            "InvalidIdentityToken", 400, "Invalid web identity token: {detail}."
        ),
        "web-identity-no-provider": Code(
            "InvalidIdentityToken",
            400,
            "No OpenIDConnect provider found in your account for {issuer}",
        ),
        "web-identity-audience": Code("InvalidIdentityToken", 400, "Incorrect token audience"),
        "web-identity-no-keys": Code(
            "InvalidIdentityToken",
            400,
            "Couldn't retrieve verification key from your identity provider,  please reference "
            "AssumeRoleWithWebIdentity documentation for requirements",
        ),
        "web-identity-signature": Code(
            "InvalidIdentityToken", 400, "Invalid web identity token: {detail}."
        ),
        "web-identity-expired": Code(
            "ExpiredTokenException",
            400,
            "Token expired: current date/time {now} must be before the expiration date/time {exp}",
        ),
        "web-identity-not-yet-valid": Code(
            "IDPRejectedClaim", 403, "Rejected web identity token: {detail}."
        ),
        "web-identity-denied": Code(
            "AccessDenied", 403, "Not authorized to perform sts:AssumeRoleWithWebIdentity"
        ),
    }
)
