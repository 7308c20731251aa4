"""Domain errors. Each says *what* went wrong; the API layer's table maps it to the wire
(``__type`` and HTTP status per service), so handlers never format errors themselves."""

from __future__ import annotations


class PodwardenError(Exception):
    """Base of every domain error.

    ``message`` is shown to the user verbatim unless the service's error table words it.
    ``reason`` names an entry of that table (``podwarden.wire.errors_<family>``) when the service
    has a code of its own for this very condition (EC2's ``InvalidVpcID.NotFound``, S3's
    ``NoSuchBucket``); ``details`` fill the entry's message template, and those the service
    models as members of its exception (EKS's ``clusterName``, S3's ``BucketName``) go on the
    wire with it. Without a reason, the error's class picks the code.
    """

    def __init__(self, message: str = "", *, reason: str = "", **details: object) -> None:
        super().__init__(message or reason)
        self.message = message
        self.reason = reason
        self.details = details


class NotFound(PodwardenError):
    """The named resource does not exist (SageMaker: ResourceNotFound)."""


class InUse(PodwardenError):
    """The resource exists already or is in use (SageMaker: ResourceInUse)."""


class Conflict(PodwardenError):
    """The resource's state does not allow the change now (ConflictException)."""


class LimitExceeded(PodwardenError):
    """A quota would be exceeded (SageMaker: ResourceLimitExceeded)."""


class Invalid(PodwardenError):
    """The request breaks a rule (ValidationException): shape constraints or semantics."""


class InvalidToken(Invalid):
    """A pagination token from a client that is not one we issued for this very request (bad
    encoding, wrong fields, out of bounds, or bound to other filters). SageMaker answers it as
    ValidationException; the other services' adapters name their own code."""


class TemporaryError(PodwardenError):
    """Try again later: a reconciler requeues after ``delay`` seconds."""

    def __init__(
        self, message: str, delay: float = 1.0, *, reason: str = "", **details: object
    ) -> None:
        super().__init__(message, reason=reason, **details)
        self.delay = delay


class Denied(PodwardenError):
    """The caller may not do this (IAM ``AccessDenied``, S3 ``AccessDenied``...)."""


class Unsupported(PodwardenError):
    """A valid request for something podwarden does not emulate; says so plainly."""


class TerminalError(PodwardenError):
    """Retrying cannot help: a reconciler records the failure and stops."""
