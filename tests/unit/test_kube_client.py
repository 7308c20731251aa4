"""podwarden's Kubernetes clients do not consult the environment per request (kube.nodes)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from podwarden.kube.nodes import api_client

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


def test_the_client_session_does_not_trust_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)

    async def made() -> tuple[str, object, bool]:
        api = await api_client(path)
        try:
            # the session the client makes for its first request (it makes it lazily)
            session = api.rest_client._create_pool_manager()
            try:
                return api.configuration.host, session, bool(session.trust_env)
            finally:
                await session.close()
        finally:
            await api.close()

    host, session, trusts = asyncio.run(made())
    assert host == "https://127.0.0.1:1"
    assert session is not None and trusts is False
