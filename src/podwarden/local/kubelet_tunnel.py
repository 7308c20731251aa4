"""The IPv6 plane's way to its nodes' kubelet: an HTTP CONNECT proxy on a local socket.

HyperPod nodes of an IPv6 EKS cluster carry their subnets' IPv6 addresses as InternalIP
(``logic.node_spec``), addresses this machine does not have, while every node's kubelet API is
kwok's one server on loopback. The apiserver's egress selector sends its ``cluster`` traffic
(``kubectl logs``/``exec``/``port-forward``, node and pod proxies) through this proxy
(``egress_selector_config``, ``--egress-selector-config-file``), which connects every request
for a node address to kwok, so none of it leaves the machine. A request for a loopback address
(a webhook that answers there) is connected to that address as asked.

The protocol is the apiserver's ``HTTPConnect`` (``k8s.io/apiserver`` egress selector):
``CONNECT host:port HTTP/1.1`` and headers, answered ``HTTP/1.1 200`` with nothing after it,
then bytes both ways. The TLS inside is the apiserver's with kwok (not verified: the node's
address is not in kwok's certificate, ``local.planner``). The proxy listens on a Unix socket
in Linux's abstract namespace (``@podwarden-kubelet-<random>``: no file, no path-length limit
from deep data directories); the apiserver's plain-TCP transport is no option, because 1.32
dereferences its absent TLS configuration and panics.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import secrets
import socket
import socketserver
import threading

HEAD_LIMIT = 8192  # bytes of a CONNECT request's head
CONNECT_TIMEOUT = 5.0


def egress_selector_config(socket_name: str) -> str:
    """The apiserver's ``--egress-selector-config-file``: the ``cluster`` network through the
    proxy on the Unix socket ``socket_name`` (``@...``: abstract); JSON is YAML."""
    doc = {
        "apiVersion": "apiserver.k8s.io/v1beta1",
        "kind": "EgressSelectorConfiguration",
        "egressSelections": [
            {
                "name": "cluster",
                "connection": {
                    "proxyProtocol": "HTTPConnect",
                    "transport": {"uds": {"udsName": socket_name}},
                },
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def target_of(request_line: str, kubelet: tuple[str, int]) -> tuple[str, int] | None:
    """Where a ``CONNECT host:port HTTP/1.1`` line is connected: a loopback host as asked,
    any other host to ``kubelet``; None for anything but a well-formed CONNECT."""
    parts = request_line.split()
    if len(parts) != 3 or parts[0] != "CONNECT" or not parts[2].startswith("HTTP/1."):
        return None
    host, sep, port = parts[1].rpartition(":")
    if not sep or not port.isdigit():
        return None
    host = host.removeprefix("[").removesuffix("]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return kubelet  # a node's name: its kubelet is kwok too
    return (str(address), int(port)) if address.is_loopback else kubelet


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    kubelet: tuple[str, int]


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        client: socket.socket = self.request
        head = _read_head(client)
        line = head.split(b"\r\n", 1)[0].decode("latin-1") if head else ""
        target = target_of(line, self.server.kubelet)
        if target is None:
            client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        try:
            upstream = socket.create_connection(target, timeout=CONNECT_TIMEOUT)
        except OSError:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        with upstream:
            upstream.settimeout(None)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
            back.start()
            _pump(client, upstream)
            back.join()


def _read_head(sock: socket.socket) -> bytes:
    """The request's head up to its blank line (no body follows a CONNECT; the client waits for
    the answer before it speaks TLS), or b"" when it is cut short or too long."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(1024)
        if not chunk or len(data) + len(chunk) > HEAD_LIMIT:
            return b""
        data += chunk
    return data


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy ``source`` to ``sink`` until ``source`` ends; then end ``sink``'s writing."""
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


class KubeletTunnel:
    """The proxy leading to ``kubelet`` (kwok's ``(host, port)``), on a fresh abstract Unix
    socket each start; ``start`` returns its name as the apiserver spells it (``@...``)."""

    def __init__(self, kubelet: tuple[str, int]) -> None:
        self.kubelet = kubelet
        self.name = ""
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        name = f"podwarden-kubelet-{secrets.token_hex(8)}"
        server = _Server("\0" + name, _Handler)
        server.kubelet = self.kubelet
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, name="kubelet-tunnel", daemon=True
        )
        self._thread.start()
        self.name = "@" + name
        return self.name

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
