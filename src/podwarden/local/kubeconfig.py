"""Kubeconfig documents for the local control plane's client identities (pure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from podwarden.local.pki import PkiPaths

CONTEXT = "podwarden-local"


def kubeconfig(server: str, pki: PkiPaths, stem: str, cluster_name: str = CONTEXT) -> str:
    """A kubeconfig that reaches server as the client certificate ``stem``."""
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {"server": server, "certificate-authority": str(pki.ca_cert)},
            }
        ],
        "users": [
            {
                "name": stem,
                "user": {
                    "client-certificate": str(pki.client_cert(stem)),
                    "client-key": str(pki.client_key(stem)),
                },
            }
        ],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": stem}}],
        "current-context": cluster_name,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write_kubeconfig(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    tmp.replace(path)
