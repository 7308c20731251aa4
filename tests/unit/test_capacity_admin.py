"""``/_podwarden/capacity`` (``api.capacity_admin``) and the ``--capacity`` flags
(``cli.capacity``): the simulated EC2 capacity read and changed on a running server."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest

from podwarden.api.capacity_admin import PATH, CapacityAdmin
from podwarden.cli import capacity as capacity_cli
from podwarden.cli.main import parser
from podwarden.policy.capacity import RetryBackoff, SimulatedCapacity
from podwarden.store.sql import Store, sqlite_url

P5 = "ml.p5.48xlarge"


class Types:
    def problem(self, name: str) -> str | None:
        return None if name.startswith("ml.") else f"{name} is not an instance type"


def call(
    admin: CapacityAdmin, method: str, body: Any = None, client: str = "127.0.0.1"
) -> tuple[int, dict[str, Any]]:
    sent: list[MutableMapping[str, Any]] = []
    data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": data, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": PATH, "client": (client, 50000)}
    asyncio.run(admin(scope, receive, send))
    return sent[0]["status"], json.loads(sent[1]["body"])


@pytest.fixture
def admin(tmp_path: Path) -> CapacityAdmin:
    capacity = SimulatedCapacity({P5: 2}, RetryBackoff(1, 2, 8))
    return CapacityAdmin(capacity, Store(sqlite_url(tmp_path)), Types())


def test_get_and_put(admin: CapacityAdmin) -> None:
    status, doc = call(admin, "GET")
    assert status == 200
    assert doc == {
        "available": {P5: 2},
        "in_use": {},
        "retry": {"initial_seconds": 1, "multiplier": 2, "max_seconds": 8},
    }
    status, doc = call(admin, "PUT", {"available": {P5: None, "ml.g5.xlarge": 0}})
    assert status == 200 and doc["available"] == {"ml.g5.xlarge": 0}
    assert admin.capacity is not None and admin.capacity.available == {"ml.g5.xlarge": 0}


def test_refusals(admin: CapacityAdmin) -> None:
    assert call(admin, "GET", client="10.0.0.7")[0] == 403
    assert call(admin, "GET", client="::1")[0] == 200
    assert call(admin, "DELETE")[0] == 405
    for body, message in (
        (b"not json", "expected"),
        ({"available": {}}, "expected"),
        ({"available": {"p5": 1}}, "not an instance type"),
        ({"available": {P5: -1}}, "non-negative"),
        ({"available": {P5: "3"}}, "non-negative"),
    ):
        status, doc = call(admin, "PUT", body)
        assert status == 400 and message in doc["message"], body
    assert admin.capacity is not None and admin.capacity.available == {P5: 2}  # unchanged
    admin.capacity = None
    assert call(admin, "GET")[0] == 404


def test_server_flags(tmp_path: Path) -> None:
    path = tmp_path / "cap.yaml"
    path.write_text(
        f"available: {{{P5}: 1, ml.g5.xlarge: 2}}\n"
        "retry: {initial_seconds: 1, multiplier: 3, max_seconds: 9}\n"
    )
    argv = ["serve", "--kubeconfig", "k", "--capacity-file", str(path)]
    args = parser().parse_args(
        [*argv, "--capacity", f"{P5}=8", "--capacity", "ml.g5.xlarge=unlimited"]
    )
    capacity = capacity_cli.from_args(args)
    assert capacity.available == {P5: 8}
    assert capacity.retry == RetryBackoff(1, 3, 9)
    assert (
        capacity_cli.from_args(parser().parse_args(["serve", "--kubeconfig", "k"])).available == {}
    )
    for bad, message in (("ml.nope.large=1", "not an instance type"), (f"{P5}=x", "non-negative")):
        with pytest.raises(SystemExit, match=message):
            capacity_cli.from_args(argparse.Namespace(capacity=[bad], capacity_file=None))
