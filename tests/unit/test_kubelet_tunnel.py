"""The IPv6 plane's egress to its nodes' kubelet (``local.kubelet_tunnel``): which address a
CONNECT leads to, and the proxy itself speaking the apiserver's HTTPConnect over its abstract
Unix socket to a server on ::1 (the integration test drives it from a real apiserver)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest

from podwarden.local.kubelet_tunnel import KubeletTunnel, egress_selector_config, target_of

KWOK = ("::1", 10250)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("CONNECT [2600:1f14:1:2::abcd]:10250 HTTP/1.1", KWOK),  # a node's IPv6 InternalIP
        ("CONNECT 10.1.2.3:10250 HTTP/1.1", KWOK),
        ("CONNECT hyperpod-i-0123456789abcdef0:10250 HTTP/1.1", KWOK),  # a name
        ("CONNECT [::1]:9443 HTTP/1.1", ("::1", 9443)),  # loopback: as asked
        ("CONNECT 127.0.0.1:8600 HTTP/1.1", ("127.0.0.1", 8600)),
        ("GET / HTTP/1.1", None),
        ("CONNECT [::1] HTTP/1.1", None),
        ("CONNECT [::1]:port HTTP/1.1", None),
        ("", None),
    ],
)
def test_a_node_address_leads_to_kwok_a_loopback_one_where_it_says(
    line: str, expected: tuple[str, int] | None
) -> None:
    assert target_of(line, KWOK) == expected


def test_the_egress_selector_file_sends_the_cluster_network_through_the_socket() -> None:
    doc = json.loads(egress_selector_config("@podwarden-kubelet-ab"))
    assert doc["kind"] == "EgressSelectorConfiguration"
    (selection,) = doc["egressSelections"]
    assert selection["name"] == "cluster"
    assert selection["connection"] == {
        "proxyProtocol": "HTTPConnect",
        "transport": {"uds": {"udsName": "@podwarden-kubelet-ab"}},
    }


@pytest.fixture
def echo() -> Iterator[int]:
    """A server on ::1 that answers each connection with what it read, upper-cased."""
    server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    server.bind(("::1", 0))
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(conn.recv(1024).upper())

    threading.Thread(target=serve, daemon=True).start()
    yield int(server.getsockname()[1])
    server.close()


def _connect(name: str, request: bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect("\0" + name.removeprefix("@"))
    sock.sendall(request)
    return sock


def test_a_connect_for_a_node_reaches_kwok_and_carries_bytes_both_ways(echo: int) -> None:
    tunnel = KubeletTunnel(("::1", echo))
    name = tunnel.start()
    try:
        assert name.startswith("@podwarden-kubelet-")
        with _connect(name, b"CONNECT [2600:1f14::5]:10250 HTTP/1.1\r\nHost: x\r\n\r\n") as s:
            assert s.recv(1024) == b"HTTP/1.1 200 Connection established\r\n\r\n"
            s.sendall(b"hello kubelet")
            assert s.recv(1024) == b"HELLO KUBELET"
        with _connect(name, b"GET / HTTP/1.1\r\n\r\n") as s:
            assert s.recv(1024).startswith(b"HTTP/1.1 400 ")
    finally:
        tunnel.stop()
    with pytest.raises(OSError):  # the socket is gone with the tunnel
        _connect(name, b"")


def test_a_target_that_does_not_answer_is_a_bad_gateway() -> None:
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        closed = int(s.getsockname()[1])  # nothing listens once this is closed
    tunnel = KubeletTunnel(("::1", closed))
    name = tunnel.start()
    try:
        with _connect(name, b"CONNECT [2600:1f14::5]:10250 HTTP/1.1\r\n\r\n") as sock:
            assert sock.recv(1024).startswith(b"HTTP/1.1 502 ")
    finally:
        tunnel.stop()
