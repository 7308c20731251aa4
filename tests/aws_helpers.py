"""A handler context on a throwaway SQLite store, for unit tests of the local AWS account."""

from __future__ import annotations

import time
from pathlib import Path

from podwarden.control.context import Context
from podwarden.store.sql import Store, sqlite_url

ACCOUNT = "000000000000"
REGION = "us-west-2"


class _AnyType:
    def problem(self, name: str) -> str | None:
        return None


def make_context(
    tmp_path: Path, *, account: str = ACCOUNT, region: str = REGION, store: Store | None = None
) -> Context:
    return Context(
        account=account,
        region=region,
        store=store or Store(sqlite_url(tmp_path)),
        instance_types=_AnyType(),
        wake=lambda: None,
        now=time.time,
        access_key_id="AKIAPODWARDEN0LOCAL0",
        principal_arn=f"arn:aws:iam::{account}:root",
    )
