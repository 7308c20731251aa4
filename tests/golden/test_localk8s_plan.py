"""The plan of processes ``podwarden up --dry-run`` prints, pinned as a golden file.

Run ``pytest tests/golden --update-golden`` after an intended change and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from podwarden.local.components import Layout, Ports
from podwarden.local.planner import plan
from podwarden.local.toolchain import BINARIES
from podwarden.model.planes import PlaneNetwork

GOLDEN = Path(__file__).with_name("localk8s_plan.txt")
# an IPv6 EKS cluster's plane (R14): single-stack IPv6 on ::1 with the cluster's Service range
GOLDEN_IPV6 = Path(__file__).with_name("localk8s_plan_ipv6.txt")
IPV6 = PlaneNetwork("ipv6", "fd4e:27c1:9a0b::/108")
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


def _plan(fsync: bool = True, network: PlaneNetwork | None = None) -> str:
    binaries = {name: Path("/opt/k8s/bin") / name for name in BINARIES}
    layout = Layout(Path("/var/lib/podwarden/k8s"))
    return plan(
        layout, PORTS, binaries, fsync=fsync, token_webhook=WEBHOOK, network=network
    ).render()


@pytest.mark.parametrize(("golden", "network"), [(GOLDEN, None), (GOLDEN_IPV6, IPV6)])
def test_plan_matches_golden(
    request: pytest.FixtureRequest, golden: Path, network: PlaneNetwork | None
) -> None:
    text = _plan(network=network)
    if request.config.getoption("--update-golden"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_an_ipv6_plane_listens_on_ipv6_loopback_with_the_clusters_service_range() -> None:
    text = _plan(network=IPV6)
    for line in text.splitlines():
        for flag in ("--bind-address=", "--advertise-address=", "--node-ip=", "--webhook-host="):
            if flag in line:
                assert line.strip().endswith("=::1"), line
        if "-urls=http" in line or "--server-address=" in line or "bind-address=[" in line:
            assert "[::1]:" in line and "127.0.0.1" not in line, line
    assert "--service-cluster-ip-range=fd4e:27c1:9a0b::/108" in text
    assert "--egress-selector-config-file=" in text  # the kubelets through the tunnel
    assert "--kubelet-certificate-authority" not in text
    assert "--kubelet-certificate-authority" in _plan()  # an IPv4 plane is unchanged


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
