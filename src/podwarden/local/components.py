"""The plan of a local control plane: which processes, with which flags, on which ports.

Pure: paths, ports and binaries in, a Plan out. ``runtime`` executes it; ``podwarden up
--dry-run`` prints it (``Plan.render``); tests/golden pins it.
Flags follow docs/sources.md, "Control-plane flags", adapted to Kubernetes 1.32.

A control plane that is an EKS cluster of the local account gets ``token_webhook``: the URL of
podwarden's ``api.eks_authn`` route for that cluster. The apiserver then sends bearer tokens it
does not know itself (``aws eks get-token``'s) there as a ``TokenReview``
(``--authentication-token-webhook-config-file``, the kubeconfig ``runtime`` writes to
``Layout.token_webhook_config``; ``--authentication-token-webhook-version=v1``), exactly as EKS's
apiservers consult aws-iam-authenticator; client certificates (the admin kubeconfig, the
components' identities) keep working beside it. Answers are cached 10 s instead of the default
2 min, so that a deleted access entry or policy stops working about as soon as on EKS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from podwarden.local.pki import FRONT_PROXY_CLIENT, PkiPaths

LOOPBACK = "127.0.0.1"
SERVICE_CIDR = "10.96.0.0/24"
POD_CIDR = "10.0.0.1/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
# kwok manages only nodes that carry this annotation, never a real kubelet's node.
KWOK_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
ALWAYS_ALLOW = "/healthz,/readyz,/livez"
# The Kubeflow job kinds the training operator runs: the HyperPod dependencies chart's
# training-operators sub-chart enables every scheme but MPIJob (docs/sources.md,
# "Dependencies chart").
TRAINING_SCHEMES = ("pytorchjob", "tfjob", "mxjob", "xgboostjob", "paddlejob")


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


@dataclass(frozen=True)
class Plan:
    components: tuple[Component, ...]
    ports: Ports
    layout: Layout
    token_webhook: str | None = None  # URL of podwarden's TokenReview route for this cluster

    @property
    def apiserver_url(self) -> str:
        return f"https://{LOOPBACK}:{self.ports.apiserver}"

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
        for i, c in enumerate(self.components, 1):
            lines.append("")
            lines.append(f"[{i}] {c.name}  (ready: GET {c.probe.url}; log: {c.log})")
            lines.append(f"    {c.argv[0]}")
            lines.extend(f"      {arg}" for arg in c.argv[1:])
        return "\n".join(lines) + "\n"


def plan(
    layout: Layout,
    ports: Ports,
    binaries: Mapping[str, Path],
    *,
    fsync: bool = True,
    token_webhook: str | None = None,
) -> Plan:
    """The six processes of a local control plane, in start order.

    ``fsync=False`` adds etcd's ``--unsafe-no-fsync``: faster, for throwaway test clusters only.
    ``token_webhook``: the EKS token webhook's URL (module docstring).
    """
    return Plan(
        components=(
            _etcd(layout, ports, binaries["etcd"], fsync=fsync),
            _apiserver(layout, ports, binaries["kube-apiserver"], token_webhook=token_webhook),
            _controller_manager(layout, ports, binaries["kube-controller-manager"]),
            _scheduler(layout, ports, binaries["kube-scheduler"]),
            _kwok(layout, ports, binaries["kwok"]),
            _training_operator(layout, ports, binaries["training-operator"]),
        ),
        ports=ports,
        layout=layout,
        token_webhook=token_webhook,
    )


def _etcd_url(ports: Ports) -> str:
    return f"http://{LOOPBACK}:{ports.etcd_client}"


def _etcd(layout: Layout, ports: Ports, binary: Path, *, fsync: bool) -> Component:
    etcd_url = _etcd_url(ports)
    peer_url = f"http://{LOOPBACK}:{ports.etcd_peer}"
    argv = [
        str(binary),
        "--name=podwarden",
        f"--data-dir={layout.etcd_dir}",
        f"--listen-client-urls={etcd_url}",
        f"--advertise-client-urls={etcd_url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=podwarden={peer_url}",
        "--listen-metrics-urls=",
        "--quota-backend-bytes=8589934592",
        "--log-level=warn",
    ]
    if not fsync:
        argv.append("--unsafe-no-fsync")
    return _component(layout, "etcd", argv, Probe(f"{etcd_url}/health"))


def _apiserver(
    layout: Layout, ports: Ports, binary: Path, *, token_webhook: str | None
) -> Component:
    pki = layout.pki
    argv = [
        str(binary),
        f"--etcd-servers={_etcd_url(ports)}",
        "--etcd-prefix=/registry",
        f"--bind-address={LOOPBACK}",
        f"--advertise-address={LOOPBACK}",
        f"--secure-port={ports.apiserver}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        *(_token_webhook_flags(layout) if token_webhook else []),
        f"--service-account-key-file={pki.sa_public}",
        f"--service-account-signing-key-file={pki.sa_private}",
        f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        f"--requestheader-client-ca-file={pki.front_proxy_ca_cert}",
        f"--requestheader-allowed-names={FRONT_PROXY_CLIENT}",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki.front_proxy_client_cert}",
        f"--proxy-client-key-file={pki.front_proxy_client_key}",
        "--enable-aggregator-routing=true",  # no kube-proxy: reach aggregated APIs by endpoint
        "--authorization-mode=Node,RBAC",
        "--allow-privileged=true",
        "--endpoint-reconciler-type=none",
        # kwok's kubelet API (logs, exec): every kwok node's InternalIP is 127.0.0.1 and its
        # kubelet port kwok's TLS server, whose certificate (the apiserver's, for 127.0.0.1)
        # is checked against our CA, so `kubectl logs` never leaves loopback.
        "--kubelet-preferred-address-types=InternalIP",
        f"--kubelet-certificate-authority={pki.ca_cert}",
        "--profiling=false",
        "--v=1",
    ]
    return _component(
        layout,
        "kube-apiserver",
        argv,
        Probe(f"https://{LOOPBACK}:{ports.apiserver}/readyz", "admin", verify_ca=True),
    )


def _token_webhook_flags(layout: Layout) -> list[str]:
    """The apiserver's flags for the EKS token webhook (module docstring)."""
    return [
        f"--authentication-token-webhook-config-file={layout.token_webhook_config}",
        "--authentication-token-webhook-version=v1",
        "--authentication-token-webhook-cache-ttl=10s",
    ]


def _controller_manager(layout: Layout, ports: Ports, binary: Path) -> Component:
    pki = layout.pki
    extra = [
        "--use-service-account-credentials=true",
        "--controllers=*,-nodeipam",
        f"--service-account-private-key-file={pki.sa_private}",
        f"--root-ca-file={pki.ca_cert}",
        f"--cluster-signing-cert-file={pki.ca_cert}",
        f"--cluster-signing-key-file={pki.ca_key}",
    ]
    name = "kube-controller-manager"
    return _kube_component(layout, name, binary, ports.controller_manager, extra)


def _scheduler(layout: Layout, ports: Ports, binary: Path) -> Component:
    return _kube_component(layout, "kube-scheduler", binary, ports.scheduler, [])


def _kube_component(
    layout: Layout, name: str, binary: Path, port: int, extra: list[str]
) -> Component:
    """The controller manager or the scheduler: the flags they share (their identity's
    kubeconfig, pki.CLIENTS, for everything; a secure port on loopback), then ``extra``."""
    kubeconfig = layout.kubeconfig(name)
    argv = [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        f"--authorization-always-allow-paths={ALWAYS_ALLOW}",
        f"--bind-address={LOOPBACK}",
        f"--secure-port={port}",
        "--leader-elect=false",
        "--profiling=false",
        "--v=1",
        *extra,
    ]
    return _component(layout, name, argv, Probe(f"https://{LOOPBACK}:{port}/healthz"))


def _kwok(layout: Layout, ports: Ports, binary: Path) -> Component:
    pki = layout.pki
    key, value = KWOK_NODE_ANNOTATION
    argv = [
        str(binary),
        f"--kubeconfig={layout.kubeconfig('kwok')}",
        f"--config={layout.kwok_config}",
        "--manage-all-nodes=false",
        f"--manage-nodes-with-annotation-selector={key}={value}",
        f"--server-address={LOOPBACK}:{ports.kwok}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--node-ip={LOOPBACK}",
        f"--node-port={ports.kwok}",
        "--enable-crds=Logs",
        f"--cidr={POD_CIDR}",
        "--node-lease-duration-seconds=40",
    ]
    return _component(
        layout, "kwok", argv, Probe(f"https://{LOOPBACK}:{ports.kwok}/healthz", verify_ca=True)
    )


def _training_operator(layout: Layout, ports: Ports, binary: Path) -> Component:
    argv = [
        str(binary),
        f"--kubeconfig={layout.kubeconfig('training-operator')}",
        "--metrics-bind-address=0",
        f"--health-probe-bind-address={LOOPBACK}:{ports.training_operator_health}",
        f"--webhook-host={LOOPBACK}",
        f"--webhook-server-port={ports.training_operator_webhook}",
        f"--webhook-cert-dir={layout.training_operator_certs}",
        *(f"--enable-scheme={scheme}" for scheme in TRAINING_SCHEMES),
        "--zap-devel=false",
    ]
    return _component(
        layout,
        "training-operator",
        argv,
        Probe(f"http://{LOOPBACK}:{ports.training_operator_health}/readyz"),
    )


def _component(layout: Layout, name: str, argv: list[str], probe: Probe) -> Component:
    """One process of the plan, logging to ``logs/<name>.log``."""
    return Component(name, tuple(argv), probe, layout.log(name))
