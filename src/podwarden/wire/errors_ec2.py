"""EC2's error codes: what each domain error raised by ``podwarden.control.ec2``
becomes on the wire (see ``podwarden.wire.error_table``)."""

from __future__ import annotations

from podwarden.wire.error_table import Family

EC2 = Family({})
