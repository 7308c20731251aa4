"""STS's error codes: what each domain error raised by ``podwarden.control.sts``
becomes on the wire (see ``podwarden.wire.error_table``)."""

from __future__ import annotations

from podwarden.wire.error_table import Family

STS = Family({})
