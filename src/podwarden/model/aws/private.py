"""podwarden's own state inside AWS-shaped documents.

A stored document is the service's output shape (``Cluster``, ``Addon``...) plus one private
member, ``_podwarden``, that no response shows: what the reconciler needs and AWS does not say
(the control plane's data directory, whether podwarden adopted it, the update in progress...).
The typed views here are the only readers of that member outside the handler that writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KEY = "_podwarden"


def private(doc: dict[str, Any]) -> dict[str, Any]:
    """The document's private dict, created empty when missing (for writers)."""
    found: dict[str, Any] = doc.setdefault(KEY, {})
    return found


def peek(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """The document's private dict, or an empty one; never changes ``doc`` (for readers)."""
    found = doc.get(KEY)
    return found if isinstance(found, Mapping) else {}


@dataclass(frozen=True)
class EksPlane:
    """Where an EKS cluster's control plane is: its data directory's name (``data_dir``, the
    cluster's name unless set) and whether podwarden adopted a running one (``adopted``: the
    embedded control plane ``podwarden up`` seeds, never started or stopped by the reconciler);
    ``kubernetes``: the exact release it runs (``v1.32.9``; None: not recorded, the default).
    """

    key: str
    adopted: bool
    kubernetes: str | None = None

    @classmethod
    def of(cls, name: str, doc: Mapping[str, Any]) -> EksPlane:
        mine = peek(doc)
        release = mine.get("kubernetes")
        return cls(
            key=str(mine.get("data_dir") or name),
            adopted=bool(mine.get("adopted")),
            kubernetes=str(release) if release else None,
        )
