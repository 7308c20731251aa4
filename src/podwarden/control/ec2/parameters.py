"""Members any EC2 request may carry, treated alike by every handler: ``DryRun``,
``ClientToken``, and the inputs podwarden does not emulate (IPAM pools, BYOIP, Outposts...),
which fail loudly rather than being ignored."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from podwarden.control.context import Context, Handler
from podwarden.model.errors import PodwardenError, Unsupported


def dry_runnable(handler: Handler) -> Handler:
    """``DryRun=True`` answers as EC2 does once the caller is authorized (always, locally):
    DryRunOperation, 412, and nothing done."""

    @functools.wraps(handler)
    def run(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("DryRun"):
            raise PodwardenError(reason="dry-run")
        return handler(ctx, params)

    return run


def unsupported(params: Mapping[str, Any], members: Sequence[str]) -> None:
    """UnsupportedOperation for the first of ``members`` the request gives."""
    for member in members:
        if params.get(member) is not None:
            raise Unsupported(reason="unsupported-parameter", member=member)


def with_token(out: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """A Create* output with the request's ``ClientToken`` echoed, as EC2 answers."""
    return {**out, "ClientToken": params["ClientToken"]} if params.get("ClientToken") else out
