"""The OIDC issuer listener wired into ``podwarden serve`` and ``podwarden up`` (IRSA, R13).

* TLS material: ``<data dir>/oidc/`` (``local.pki.ensure_serving_pki``: a CA, ``ca.crt``, that
  clients of the issuer trust, and a certificate for 127.0.0.1), kept across restarts.
* Port (``--oidc-port``): a given one, else the one this store's listener had before when it is
  free (issuers name their port, so a restart keeps them fetchable), else a free one. The bound
  port is recorded (``control.oidc_issuers``), which CreateCluster reads to name issuers.
* The embedded control plane of ``podwarden up`` issues with an issuer chosen once per store
  (:func:`embedded_issuer`, recorded) before the plane starts; the EKS reconciler then gives the
  seeded cluster ``podwarden`` that issuer (it reads what the adopted plane issues with).
"""

from __future__ import annotations

import logging
import ssl
import uuid
from pathlib import Path

from podwarden.api.oidc_listener import OidcListener, server_context
from podwarden.control.oidc_issuers import (
    EMBEDDED_ISSUER,
    LOOPBACK,
    listener,
    record_listener,
)
from podwarden.local.pki import ensure_serving_pki
from podwarden.local.runtime import free_port, port_is_free
from podwarden.logic.oidc_issuer import local_issuer
from podwarden.store.resources import Resources
from podwarden.store.sql import Store

log = logging.getLogger("podwarden.oidc")

OIDC_DIR = "oidc"


def tls_context(data_root: Path) -> ssl.SSLContext:
    paths = ensure_serving_pki(data_root / OIDC_DIR, "podwarden-oidc")
    return server_context(str(paths.serving_cert), str(paths.serving_key))


def ca_file(data_root: Path) -> Path:
    """The CA a client of podwarden's issuers trusts (``curl --cacert``, ``SSL_CERT_FILE``)."""
    return data_root / OIDC_DIR / "ca.crt"


def _recorded_port(resources: Resources) -> int:
    port = listener(resources).get("port")
    return int(port) if port else 0


async def start_listener(resources: Resources, data_root: Path, requested: int) -> OidcListener:
    """Bind the listener (module docstring: which port) and record the port it got. A port
    given explicitly that is taken is an error (OSError), as for the API's own port."""
    oidc = OidcListener(resources, tls_context(data_root))
    previous = _recorded_port(resources)
    try:
        port = await oidc.start(requested or previous)
    except OSError:
        if requested:
            raise
        log.warning(
            "OIDC listener: port %d (this store's before) is taken; issuers that name it are "
            "served at the new port under the same paths",
            previous,
        )
        port = await oidc.start(0)
    record_listener(resources, port=port)
    return oidc


def embedded_issuer(database_url: str, requested: int) -> tuple[int, str]:
    """For ``podwarden up``, before the embedded plane starts: the listener's port (as
    :func:`start_listener` will choose it; a free one is picked now so that the issuer can name
    it) and the plane's issuer, both recorded in the store."""
    store = Store(database_url)
    try:
        resources = store.resources
        previous = _recorded_port(resources)
        if requested:
            port = requested
        elif previous and port_is_free(previous):
            port = previous
        else:
            port = free_port()
        issuer = listener(resources).get(EMBEDDED_ISSUER)
        if not issuer:
            issuer = local_issuer(f"https://{LOOPBACK}:{port}", str(uuid.uuid4()))
        record_listener(resources, port=port, **{EMBEDDED_ISSUER: issuer})
        return port, str(issuer)
    finally:
        store.close()
