"""What a local control plane's apiserver signs service-account tokens with, asked of the
apiserver itself: its OIDC discovery document (``/.well-known/openid-configuration``: the
``issuer``, its first ``--service-account-issuer``) and its JWKS (``/openid/v1/jwks``: every
public key it accepts, each with the ``kid`` it puts in the tokens it signs), as the admin.

Reading them from the apiserver rather than from ``pki/sa.pub`` makes the ``kid`` exactly the
apiserver's and the issuer the one the running process uses (a plane started before issuers were
per cluster reports the old one until it restarts). A plane whose directory has no PKI of
podwarden's (the Kubernetes of ``podwarden serve --kubeconfig``) has none to report: None.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from podwarden.local.admin_client import AdminClient
from podwarden.local.components import Layout
from podwarden.model.planes import SigningKeys

DISCOVERY = "/.well-known/openid-configuration"
JWKS = "/openid/v1/jwks"


def _get(admin: AdminClient, path: str) -> dict[str, Any]:
    url = admin.url + path
    # the apiserver on loopback, as the admin: its URL comes from podwarden's own kubeconfig
    with urllib.request.urlopen(url, context=admin.context, timeout=10) as r:  # noqa: S310
        found = json.loads(r.read())
    if not isinstance(found, dict):
        raise ValueError(f"{path}: not a JSON object")
    return found


def read_signing_keys(data_dir: Path, endpoint: str) -> SigningKeys | None:
    """The signing keys of the plane in ``data_dir`` whose apiserver is at ``endpoint``; None
    when the directory has no admin identity of podwarden's or the apiserver does not answer
    (the next pass asks again)."""
    pki = Layout(data_dir).pki
    if not (pki.ca_cert.exists() and pki.client_cert("admin").exists()):
        return None
    admin = AdminClient(endpoint, pki)
    try:
        issuer = str(_get(admin, DISCOVERY)["issuer"])
        jwks = _get(admin, JWKS)
    except (OSError, ValueError, KeyError, urllib.error.URLError):
        return None
    return SigningKeys(issuer, json.dumps(jwks, sort_keys=True))
