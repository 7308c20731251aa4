"""IAM of the local AWS account (query protocol): roles, inline and managed policies, service-
linked roles, instance profiles and OpenID Connect providers.

``roles`` (the role record and its handlers), ``inline_policies``, ``managed`` (AWS's and the
account's managed policies as one view) with ``policies`` (the account's own, their versions)
and ``attachments`` (managed policies on roles), ``service_linked``, ``profiles`` and ``oidc``
(for IRSA); ``policy_doc`` checks documents as IAM does, ``records``, ``tags`` and ``paging``
are what every entity shares. Errors are domain errors with a reason, worded on the wire by
``podwarden.wire.errors_iam``.

What a later preflight relies on behaves as IAM's: GetRole returns the trust policy URL-encoded
(boto3 decodes it into a dict), and ListAttachedRolePolicies lists attached managed policies by
name and ARN, AWS-managed ones (``arn:aws:iam::aws:policy/...``) included.
"""

from podwarden.control.iam import (
    attachments,
    inline_policies,
    oidc,
    policies,
    profiles,
    roles,
    service_linked,
)
from podwarden.control.registry import merge

OPERATIONS = merge(
    roles.OPERATIONS,
    inline_policies.OPERATIONS,
    policies.OPERATIONS,
    attachments.OPERATIONS,
    service_linked.OPERATIONS,
    profiles.OPERATIONS,
    oidc.OPERATIONS,
)
