"""The shapes of a local control plane's plan: which processes, on which ports, with which files.

``planner.plan`` builds a Plan (each component's flags); ``runtime`` executes it; ``podwarden up
--dry-run`` prints it (``Plan.render``); tests/golden pins it. ``Layout`` names every file of a
plane under its data directory, ``Ports`` its loopback ports, and ``loopback`` the address it
listens on (127.0.0.1, or ``::1`` for an IPv6 plane).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from podwarden.local.pki import PkiPaths
from podwarden.model.planes import PlaneNetwork

LOOPBACK = "127.0.0.1"
LOOPBACK_V6 = "::1"


@dataclass(frozen=True)
class Ports:
    """Loopback ports, chosen by the runtime (and kept in the data directory)."""

    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int
    training_operator_health: int
    training_operator_webhook: int

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(cls.__dataclass_fields__)


@dataclass(frozen=True)
class Layout:
    """Every file and directory of one control plane, all under its data directory."""

    data_dir: Path

    @property
    def etcd_dir(self) -> Path:
        return self.data_dir / "etcd"

    @property
    def pki(self) -> PkiPaths:
        return PkiPaths(self.data_dir / "pki")

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def ports_file(self) -> Path:
        return self.data_dir / "ports.json"

    @property
    def pids_file(self) -> Path:
        return self.data_dir / "pids.json"

    @property
    def kwok_config(self) -> Path:
        return self.data_dir / "kwok.yaml"

    @property
    def training_operator_certs(self) -> Path:
        """The training operator's webhook serving certificate (``tls.crt``, ``tls.key``)."""
        return self.data_dir / "training-operator"

    @property
    def token_webhook_config(self) -> Path:
        """Kubeconfig of the EKS token webhook (written only when the plan has one)."""
        return self.data_dir / "token-webhook.yaml"

    @property
    def egress_selector_config(self) -> Path:
        """The apiserver's egress to the nodes' kubelets (written only for an IPv6 plane)."""
        return self.data_dir / "egress-selector.yaml"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    def kubeconfig(self, stem: str) -> Path:
        """Kubeconfig of one client identity (see pki.CLIENTS); the admin's is the public one."""
        if stem == "admin":
            return self.admin_kubeconfig
        return self.data_dir / "kubeconfigs" / f"{stem}.yaml"

    def log(self, component: str) -> Path:
        return self.log_dir / f"{component}.log"


@dataclass(frozen=True)
class Probe:
    """How to tell a component is ready: GET url until 200. ``client`` names the client
    certificate to present (a pki.CLIENTS stem) and ``verify_ca`` whether to check the
    server against our CA (components with self-signed serving certs are not checked)."""

    url: str
    client: str | None = None
    verify_ca: bool = False


@dataclass(frozen=True)
class Component:
    name: str
    argv: tuple[str, ...]
    probe: Probe
    log: Path
    # environment set for the process (what the caller's own environment does not set)
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Plan:
    components: tuple[Component, ...]
    ports: Ports
    layout: Layout
    token_webhook: str | None = None  # URL of podwarden's TokenReview route for this cluster
    network: PlaneNetwork = field(default_factory=PlaneNetwork)
    issuer: str | None = None  # the EKS cluster's OIDC issuer: service-account tokens' ``iss``

    @property
    def host(self) -> str:
        """The loopback address every component listens on."""
        return loopback(self.network)

    @property
    def apiserver_url(self) -> str:
        return f"https://{host_port(self.host, self.ports.apiserver)}"

    def component(self, name: str) -> Component:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    def render(self) -> str:
        """Human-readable plan, one flag per line (``podwarden up --dry-run``)."""
        lines = [
            f"# local Kubernetes control plane in {self.layout.data_dir}",
            f"# apiserver {self.apiserver_url}; admin kubeconfig {self.layout.admin_kubeconfig}",
        ]
        if self.token_webhook:
            lines.append(
                f"# EKS tokens: TokenReview to {self.token_webhook} "
                f"(config {self.layout.token_webhook_config})"
            )
        if self.network.ipv6:
            lines.append(
                f"# IPv6 single-stack: Services from {self.network.service_cidr}; the nodes' "
                f"kubelets through the tunnel in {self.layout.egress_selector_config}"
            )
        for i, c in enumerate(self.components, 1):
            lines.append("")
            lines.append(f"[{i}] {c.name}  (ready: GET {c.probe.url}; log: {c.log})")
            lines.extend(f"    env {k}={v}" for k, v in c.env)
            lines.append(f"    {c.argv[0]}")
            lines.extend(f"      {arg}" for arg in c.argv[1:])
        return "\n".join(lines) + "\n"


def loopback(network: PlaneNetwork | None) -> str:
    """The address a plane of ``network`` listens on: 127.0.0.1, or ::1 for IPv6."""
    return LOOPBACK_V6 if network is not None and network.ipv6 else LOOPBACK


def host_port(host: str, port: int) -> str:
    """``host:port`` as a URL's authority (an IPv6 address in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
