"""Which requests may come without a signature: those of an operation AWS serves unsigned.

botocore's models mark them: ``"auth": ["smithy.api#noAuth"]`` (older models:
``"authtype": "none"``), and botocore then sends them unsigned. In the services podwarden serves
those are STS's AssumeRoleWithWebIdentity and AssumeRoleWithSAML, which authenticate with the
token or assertion they carry. Every other operation needs SigV4 (S3: SigV4 or SigV2), and an
unsigned request for it is refused as before (``MissingAuthenticationToken``...).

A request counts as unsigned only when it claims no signature at all: no ``Authorization``
header and none of SigV4's or SigV2's query parameters. A request that claims one is verified,
whatever its operation, so a bad signature is never ignored.
"""

from __future__ import annotations

from collections.abc import Mapping

from podwarden.wire import sigv4_canonical as canon
from podwarden.wire.models import operation_model

NO_AUTH = "smithy.api#noAuth"
_SIGNATURE_PARAMS = frozenset(
    ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "AWSAccessKeyId", "Signature")
)


def claims_no_signature(query_string: str, headers: Mapping[str, str]) -> bool:
    """Whether a request (lower-case ``headers``) carries no signature of any kind."""
    if headers.get("authorization", "").strip():
        return False
    return not any(key in _SIGNATURE_PARAMS for key, _ in canon.query_params(query_string))


def allows_unsigned(service: str, operation: str) -> bool:
    """Whether botocore's model says ``operation`` of ``service`` is called without auth."""
    model = operation_model(service, operation)
    return bool(model.auth_type == "none" or NO_AUTH in (model.auth or ()))
