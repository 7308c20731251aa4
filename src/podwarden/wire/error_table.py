"""The shape of a service family's error table: domain error -> wire code, status and message.

A family (``errors_eks``, ``errors_ec2``...) is data: ``codes`` maps a domain error's ``reason``
(a string the handler names, e.g. ``"vpc-not-found"``) or its class (``NotFound``) to a ``Code``;
``members`` are the ``details`` the service models as members of its exceptions and so sends
with the error (EKS's ``clusterName``, S3's ``BucketName``). ``podwarden.wire.errors`` walks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from podwarden.model.errors import PodwardenError


@dataclass(frozen=True)
class Code:
    code: str  # the wire code: ``__type`` / ``<Code>``
    status: int = 400
    # the message, formatted with the error's details (``{id}``...); None: the error's own
    message: str | None = None
    # a second template for a list of several (``ids``): EC2's "The vpc IDs '…' do not exist"
    many: str | None = None


@dataclass(frozen=True)
class Family:
    codes: Mapping[str | type[PodwardenError], Code]
    members: frozenset[str] = frozenset()

    def code_for(self, error: PodwardenError) -> Code | None:
        if error.reason:
            found = self.codes.get(error.reason)
            if found is not None:
                return found
        for cls in type(error).__mro__:
            found = self.codes.get(cls)
            if found is not None:
                return found
        return None
