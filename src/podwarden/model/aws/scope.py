"""Where a record of the account lives: its store scope.

EKS and EC2 records are regional (``"<account>/<region>"``); IAM is global to the account
(``"<account>"``); S3 bucket names are global across accounts (``""``), as are STS access key ids
(its sessions' records).
"""

from __future__ import annotations

from typing import NamedTuple

GLOBAL = ""  # S3 buckets and objects, STS sessions: names unique across every account


class Region(NamedTuple):
    """An account in one region: the scope of its regional records."""

    account: str
    region: str

    @property
    def scope(self) -> str:
        return regional(self.account, self.region)

    @classmethod
    def of_scope(cls, scope: str) -> Region:
        """The account and region of a regional scope (``"<account>/<region>"``)."""
        account, sep, region = scope.partition("/")
        if not sep or not account or not region:
            raise ValueError(f"not a regional scope: {scope!r}")
        return cls(account, region)


def regional(account: str, region: str) -> str:
    """The scope of an account's records in one region (EKS, EC2)."""
    return f"{account}/{region}"


def account_wide(account: str) -> str:
    """The scope of an account's global records (IAM)."""
    return account
