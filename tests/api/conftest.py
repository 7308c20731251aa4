from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.aws_server import AwsServer


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsServer]:
    """One server per test module; tests use distinct resource names."""
    server = AwsServer(Path(tmp_path_factory.mktemp("aws"))).start()
    yield server
    server.stop()
