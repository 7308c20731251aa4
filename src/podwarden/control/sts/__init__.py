"""STS of the local AWS account (query protocol): GetCallerIdentity, AssumeRole and
AssumeRoleWithWebIdentity.

``identity`` holds the sessions STS issued and who is calling (:func:`caller`,
:func:`session_credential`: what the API server and the EKS token webhook use to authenticate a
request signed with a session's keys); ``assume_role`` issues them, and ``web_identity`` for
a web identity token (IRSA). Errors are domain errors with
a reason, worded on the wire by ``podwarden.wire.errors_sts``.
"""

from podwarden.control.registry import merge
from podwarden.control.sts import assume_role, identity, web_identity
from podwarden.control.sts.identity import Caller, SessionCredential, caller, session_credential

__all__ = ["OPERATIONS", "Caller", "SessionCredential", "caller", "session_credential"]

OPERATIONS = merge(identity.OPERATIONS, assume_role.OPERATIONS, web_identity.OPERATIONS)
