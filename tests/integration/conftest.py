"""The real local control plane for integration tests: one per test session.

Built binaries are required (``scripts/build-k8s``); without them the fixture fails with the
BinariesNotFound message rather than skipping.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from podwarden.local.runtime import ControlPlane


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    cp = ControlPlane(tmp_path_factory.mktemp("localk8s"), fsync=False)
    with cp:
        yield cp


@pytest.fixture(autouse=True)
def _control_plane_still_healthy(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that used the shared control plane, fail loudly if a component died."""
    yield
    if "control_plane" in request.fixturenames:
        request.getfixturevalue("control_plane").check()


def api_client(kubeconfig: Path) -> client.ApiClient:
    api: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig)
    )
    return api


@pytest.fixture(scope="session")
def kube(control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    with api_client(control_plane.kubeconfig) as api:
        yield api
