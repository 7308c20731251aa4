"""IAM's error codes: what each domain error raised by ``podwarden.control.iam``
becomes on the wire (see ``podwarden.wire.error_table``)."""

from __future__ import annotations

from podwarden.wire.error_table import Family

IAM = Family({})
