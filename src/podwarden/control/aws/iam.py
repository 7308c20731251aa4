"""IAM of the local AWS account (query protocol): roles, managed and inline policies, service-
linked roles and instance profiles.

The operations live in ``iam_roles`` (roles, tags, inline policies), ``iam_policies`` (AWS- and
customer-managed policies, versions, attachments), ``iam_slr`` (service-linked roles),
``iam_profiles`` (instance profiles) and ``iam_oidc`` (OpenID Connect providers, for IRSA), over
the shared helpers of ``iam_common`` and the document checks of ``iam_policy_doc``. This module
only gathers their handlers.

What a later preflight relies on behaves as IAM's: GetRole returns the trust policy URL-encoded
(boto3 decodes it into a dict), and ListAttachedRolePolicies lists attached managed policies by
name and ARN, AWS-managed ones (``arn:aws:iam::aws:policy/...``) included.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from podwarden.control.aws import iam_oidc, iam_policies, iam_profiles, iam_roles, iam_slr
from podwarden.control.context import Context

Handler = Callable[[Context, dict[str, Any]], dict[str, Any]]

HANDLERS: dict[str, Handler] = {
    **iam_roles.HANDLERS,
    **iam_policies.HANDLERS,
    **iam_slr.HANDLERS,
    **iam_profiles.HANDLERS,
    **iam_oidc.HANDLERS,
}
