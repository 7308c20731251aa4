"""The plan of processes ``podwarden up --dry-run`` prints, pinned as a golden file.

Run ``pytest tests/golden --update-golden`` after an intended change and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from podwarden.local.components import Layout, Ports, plan
from podwarden.local.toolchain import BINARIES

GOLDEN = Path(__file__).with_name("localk8s_plan.txt")
PORTS = Ports(
    etcd_client=2379,
    etcd_peer=2380,
    apiserver=6443,
    controller_manager=10257,
    scheduler=10259,
    kwok=10247,
    training_operator_health=8081,
    training_operator_webhook=9443,
)
# `podwarden up`'s embedded control plane is the seeded EKS cluster: its token webhook
WEBHOOK = "http://127.0.0.1:8600/podwarden/eks/authenticate/000000000000/us-west-2/podwarden"


def _plan(fsync: bool = True) -> str:
    binaries = {name: Path("/opt/k8s/bin") / name for name in BINARIES}
    layout = Layout(Path("/var/lib/podwarden/k8s"))
    return plan(layout, PORTS, binaries, fsync=fsync, token_webhook=WEBHOOK).render()


def test_plan_matches_golden(request: pytest.FixtureRequest) -> None:
    text = _plan()
    if request.config.getoption("--update-golden"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_every_listener_is_on_loopback() -> None:
    text = _plan()
    for line in text.splitlines():
        for flag in ("--bind-address=", "--advertise-address=", "--server-address="):
            if flag in line:
                assert "127.0.0.1" in line, line
        if "-urls=http" in line:
            assert "//127.0.0.1:" in line, line


def test_fsync_is_kept_unless_asked() -> None:
    assert "--unsafe-no-fsync" not in _plan()
    assert "--unsafe-no-fsync" in _plan(fsync=False)
