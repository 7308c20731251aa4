"""The OIDC issuer listener over real TLS (``api.oidc_listener`` with ``cli.oidc``'s certificate):
an OIDC client that trusts ``<data dir>/oidc/ca.crt`` fetches a cluster's discovery document and
its JWKS at the URLs the issuer names, and the port is kept for the next run."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podwarden.api.oidc_listener import OidcListener
from podwarden.cli.oidc import ca_file, embedded_issuer, start_listener
from podwarden.control.oidc_issuers import EMBEDDED_ISSUER, listener, listener_base
from podwarden.logic import oidc_issuer
from podwarden.model.aws import kinds
from podwarden.store.resources import Record
from podwarden.store.sql import Store, sqlite_url
from tests.sa_tokens import Signer, install

SCOPE = "000000000000/us-west-2"
ID = "00112233445566778899AABBCCDDEEFF"


class Loop:
    """An event loop in a thread, for the listener."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def loop() -> Iterator[Loop]:
    found = Loop()
    yield found
    found.close()


def fetch(url: str, ca: Path) -> tuple[int, Any]:
    context = ssl.create_default_context(cafile=str(ca))
    try:
        with urllib.request.urlopen(url, context=context, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_a_clusters_issuer_is_fetchable_over_tls(tmp_path: Path, loop: Loop) -> None:
    store = Store(sqlite_url(tmp_path))
    oidc: OidcListener = loop.run(start_listener(store.resources, tmp_path, 0))
    try:
        port = oidc.port
        base = listener_base(store.resources)
        assert base == f"https://127.0.0.1:{port}"
        signer = Signer(f"{base}/id/{ID}")
        doc = {"name": "irsa", "status": "ACTIVE", "_podwarden": {"data_dir": "eks/irsa"}}
        store.resources.put(Record(kinds.EKS_CLUSTER, SCOPE, "irsa", doc, created=0.0))
        install(store.resources, SCOPE, "irsa", signer)
        ca = ca_file(tmp_path)
        status, discovery = fetch(signer.issuer + oidc_issuer.DISCOVERY, ca)
        assert status == 200 and discovery["issuer"] == signer.issuer
        status, jwks = fetch(discovery["jwks_uri"], ca)
        assert status == 200 and jwks == signer.jwks
        assert fetch(f"{base}/id/FFFF/keys", ca)[0] == 404
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(discovery["jwks_uri"], timeout=10)
    finally:
        loop.run(oidc.close())
    # the next run binds the same port (the issuers name it)
    again: OidcListener = loop.run(start_listener(store.resources, tmp_path, 0))
    try:
        assert again.port == port
    finally:
        loop.run(again.close())
        store.close()


def test_a_taken_port_moves_unless_it_was_asked_for(tmp_path: Path, loop: Loop) -> None:
    store = Store(sqlite_url(tmp_path))
    first: OidcListener = loop.run(start_listener(store.resources, tmp_path, 0))
    try:
        second: OidcListener = loop.run(start_listener(store.resources, tmp_path, 0))
        assert second.port != first.port  # this store's port is taken: another one
        assert listener(store.resources)["port"] == second.port
        loop.run(second.close())
        with pytest.raises(OSError):
            loop.run(start_listener(store.resources, tmp_path, first.port or 0))
    finally:
        loop.run(first.close())
        store.close()


def test_podwarden_up_chooses_the_embedded_issuer_once(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    port, issuer = embedded_issuer(url, 0)
    assert issuer.startswith(f"https://127.0.0.1:{port}/id/") and port > 0
    assert oidc_issuer.issuer_path(issuer).removeprefix("/id/").isalnum()
    assert embedded_issuer(url, 0) == (port, issuer)  # the next `up`: the same
    store = Store(url)
    try:
        assert listener(store.resources)[EMBEDDED_ISSUER] == issuer
    finally:
        store.close()
    moved_port, same = embedded_issuer(url, port + 1)
    assert (moved_port, same) == (port + 1, issuer)  # the issuer names the plane, not the port
