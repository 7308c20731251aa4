"""kwok Stages podwarden adds to kwok's configuration (``local.runtime`` writes them into the
kwok config file of every control plane). Empty until the training simulator's stages land."""

from __future__ import annotations


def stages_yaml() -> str:
    """YAML documents (``kind: Stage``) to append to the kwok configuration; "" for none."""
    return ""
