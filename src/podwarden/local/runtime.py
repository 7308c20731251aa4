"""Run a Plan: start each component, await readiness, supervise, and stop everything by PID
(the processes themselves: ``processes``; here, the plane's start, upgrade and tunnel steps).

Guarantees:
- every process it starts is stopped on ``stop()``, on interpreter exit (atexit) and, if this
  process dies without cleaning up, by the kernel (``PR_SET_PDEATHSIG``), so nothing is orphaned;
- a component that exits, or is not ready in time, raises ComponentFailed naming it with the
  tail of its log; ``check()`` raises the same for a component that died later;
- one control plane per data directory (an flock), whose state (etcd, PKI, ports) survives a
  restart.

Once the apiserver is ready, ``start`` applies the CRDs and RBAC the other components need and,
once they run, the training operator's webhook configuration (``bootstrap``: what and why).

With ``token_webhook`` (an EKS cluster of the local account: see ``planner``), ``prepare``
writes the webhook's kubeconfig (rewritten on every start: podwarden's port may change), and
once the apiserver is ready ``start`` creates the ClusterRoleBindings that give the groups of
EKS access policies their permissions (``logic.eks_identity.policy_bindings``). Those requests
to the apiserver go through ``admin_client``.

With ``network`` IPv6 (an IPv6 EKS cluster, see ``planner``) every component listens on
``::1``, the apiserver's certificate also names ``::1`` and the ``kubernetes`` Service's
address, and ``start`` runs ``kubelet_tunnel.KubeletTunnel`` (the apiserver's way to the nodes'
kubelet) from before the apiserver until ``stop``, writing the apiserver's egress selector file
with the tunnel's address on every start.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import ipaddress
import json
import shutil
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from podwarden.local import bootstrap
from podwarden.local.admin_client import AdminClient
from podwarden.local.assets import find_binaries, find_manifests
from podwarden.local.components import LOOPBACK, Component, Layout, Plan, Ports, host_port, loopback
from podwarden.local.errors import BinariesNotFound, ComponentFailed, LocalK8sError
from podwarden.local.kubeconfig import kubeconfig, write_kubeconfig
from podwarden.local.kubelet_tunnel import KubeletTunnel, egress_selector_config
from podwarden.local.pki import CLIENTS, ensure_pki
from podwarden.local.planner import plan
from podwarden.local.processes import Processes, log_tail
from podwarden.local.toolchain import BINARIES, component_dir, load_toolchain
from podwarden.model.planes import PlaneNetwork
from podwarden.policy.kwok_stages import stages_yaml

# What ``ControlPlane.upgrade`` restarts on another release's binaries, in EKS's order.
UPGRADED = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
# started once the CRDs they watch are established (bootstrap.before_components)
NEED_CRDS = ("kwok", "training-operator")

KWOK_CONFIG = """\
# Written by podwarden. Pins kwok's configuration to this file (not ~/.kwok/kwok.yaml);
# kwok's built-in stages apply to every kind no Stage below names (policy/kwok_stages.py).
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options: {}
"""


def kwok_config() -> str:
    """kwok's --config file: its configuration, then podwarden's Stages."""
    stages = stages_yaml().strip()
    return KWOK_CONFIG + (f"---\n{stages}\n" if stages else "")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def choose_ports(layout: Layout, *, persist: bool = True, host: str = LOOPBACK) -> Ports:
    """Reuse the ports of the last run when they are all free on ``host`` (a stable
    kubeconfig), else pick."""
    with contextlib.suppress(FileNotFoundError, ValueError, TypeError, KeyError):
        saved = Ports(**json.loads(layout.ports_file.read_text()))
        if all(port_is_free(p, host) for p in asdict(saved).values()):
            return saved
    chosen: set[int] = set()
    while len(chosen) < len(Ports.names()):
        chosen.add(free_port(host))
    ports = Ports(*sorted(chosen))
    if persist:
        layout.ports_file.write_text(json.dumps(asdict(ports), indent=2) + "\n")
    return ports


def webhook_kubeconfig(url: str) -> str:
    """The apiserver's ``--authentication-token-webhook-config-file``: a kubeconfig whose
    cluster is the webhook (plain HTTP on loopback; JSON is YAML)."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "podwarden-eks-authn", "cluster": {"server": url}}],
        "users": [{"name": "kube-apiserver", "user": {}}],
        "contexts": [
            {
                "name": "webhook",
                "context": {"cluster": "podwarden-eks-authn", "user": "kube-apiserver"},
            }
        ],
        "current-context": "webhook",
    }
    return json.dumps(doc, indent=2) + "\n"


def dry_run_plan(
    data_dir: Path, token_webhook: str | None = None, issuer: str | None = None
) -> tuple[Plan, str | None]:
    """The plan ``start()`` would run, with no side effects; and a note if binaries are missing."""
    layout = Layout(Path(data_dir).resolve())
    note = None
    try:
        binaries: Mapping[str, Path] = find_binaries()
    except BinariesNotFound as exc:
        tc = load_toolchain()
        binaries = {
            name: component_dir(tc.component_of(name), tc) / "bin" / name for name in BINARIES
        }
        note = str(exc)
    ports = choose_ports(layout, persist=False)
    return plan(layout, ports, binaries, token_webhook=token_webhook, issuer=issuer), note


def serving_ips(network: PlaneNetwork) -> tuple[str, ...]:
    """The IP SANs an IPv6 plane's apiserver certificate adds: ``::1`` and the ``kubernetes``
    Service's ClusterIP (the first address of the Service range); none for IPv4."""
    if not network.ipv6 or not network.service_cidr:
        return ()
    first = ipaddress.ip_network(network.service_cidr).network_address + 1
    return (loopback(network), str(first))


class ControlPlane:
    """A local Kubernetes control plane on loopback, state kept in ``data_dir``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        binaries: Mapping[str, Path] | None = None,
        fsync: bool = True,
        ready_timeout: float = 90.0,
        token_webhook: str | None = None,
        network: PlaneNetwork | None = None,
        issuer: str | None = None,
    ) -> None:
        self.layout = Layout(Path(data_dir).resolve())
        self.token_webhook = token_webhook
        self.issuer = issuer  # the EKS cluster's OIDC issuer (planner: service accounts)
        self.network = network or PlaneNetwork()
        self._tunnel: KubeletTunnel | None = None
        self._binaries = binaries
        self._fsync = fsync
        self._ready_timeout = ready_timeout
        self._processes = Processes(self.layout.data_dir)
        self._lock_file: IO[str] | None = None
        self._stopping = False
        self._mutex = threading.Lock()
        self.plan: Plan | None = None
        self._manifests: dict[str, str] = {}  # name -> text of the components' manifests
        # seconds from start() until each component answered its readiness probe
        self.ready_after: dict[str, float] = {}

    # -- public ---------------------------------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        return self.layout.admin_kubeconfig

    @property
    def url(self) -> str:
        if self.plan is None:
            raise LocalK8sError("control plane not started")
        return self.plan.apiserver_url

    @property
    def pids(self) -> dict[str, int]:
        return self._processes.pids

    def prepare(self) -> Plan:
        """Everything but starting processes: directories, PKI, ports, kubeconfigs, the plan."""
        layout = self.layout
        for d in (layout.data_dir, layout.log_dir):
            d.mkdir(parents=True, exist_ok=True)
        binaries = self._binaries or find_binaries()
        pki = ensure_pki(layout.pki.directory, serving_ips(self.network))
        ports = choose_ports(layout, host=loopback(self.network))
        self.plan = plan(
            layout,
            ports,
            binaries,
            fsync=self._fsync,
            token_webhook=self.token_webhook,
            network=self.network,
            issuer=self.issuer,
        )
        if self.token_webhook:
            write_kubeconfig(layout.token_webhook_config, webhook_kubeconfig(self.token_webhook))
        for client in CLIENTS:
            text = kubeconfig(self.plan.apiserver_url, pki, client.stem)
            write_kubeconfig(layout.kubeconfig(client.stem), text)
        layout.kwok_config.write_text(kwok_config())
        # the training operator's webhook serves the apiserver's certificate (127.0.0.1)
        certs = layout.training_operator_certs
        certs.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pki.serving_cert, certs / "tls.crt")
        shutil.copyfile(pki.serving_key, certs / "tls.key")
        (certs / "tls.key").chmod(0o600)
        self._manifests = {
            name: path.read_text()
            for component in ("kwok", "training-operator")
            for name, path in find_manifests(component).items()
        }
        return self.plan

    def start(self) -> Self:
        self._take_lock()
        try:
            t0 = time.monotonic()
            the_plan = self.prepare()
            atexit.register(self.stop)
            self._start_tunnel(the_plan)
            admin = AdminClient(the_plan.apiserver_url, self.layout.pki)
            # Started as soon as what each needs can answer, not one after another: the
            # apiserver retries etcd, kube-controller-manager and kube-scheduler need only the
            # apiserver, kwok and the training operator the CRDs applied before them.
            etcd, apiserver, *clients = the_plan.components
            watchers = [c for c in clients if c.name in NEED_CRDS]
            others = [c for c in clients if c.name not in NEED_CRDS]
            self._spawn_and_await([etcd, apiserver], t0)
            if self.token_webhook:
                admin.create_policy_bindings()
            for comp in others:
                self._processes.spawn(comp)
            deadline = time.monotonic() + self._ready_timeout
            admin.bootstrap(bootstrap.before_components(self._manifests), deadline)
            self._spawn_and_await(watchers, t0, already=others)
            webhook_port = the_plan.ports.training_operator_webhook
            webhook = f"https://{host_port(the_plan.host, webhook_port)}"
            ca = self.layout.pki.ca_cert.read_bytes()
            after = bootstrap.after_components(self._manifests, webhook, ca)
            admin.bootstrap(after, time.monotonic() + self._ready_timeout)
            # pods need their namespace's default ServiceAccount, which kube-controller-manager's
            # serviceaccount controller creates: on EKS it exists once the cluster is ACTIVE
            admin.await_exists(
                "/api/v1/namespaces/default/serviceaccounts/default",
                "the default ServiceAccount of namespace default",
                time.monotonic() + self._ready_timeout,
            )
        except BaseException:
            self.stop()
            raise
        return self

    def upgrade(self, binaries: Mapping[str, Path]) -> None:
        """Run kube-apiserver, kube-controller-manager and kube-scheduler from ``binaries``
        (another Kubernetes release's), one after the other as EKS upgrades a control plane:
        each stopped, started on its new binary with the same flags and ports, and awaited
        ready. etcd and its data, kwok and the training operator keep running (their clients
        reconnect), so nodes, pods and every other object survive. ComponentFailed when one
        does not come up."""
        if self.plan is None:
            raise LocalK8sError("control plane not started")
        self._binaries = {**self.plan_binaries(), **binaries}
        self.plan = plan(
            self.layout,
            self.plan.ports,
            self._binaries,
            fsync=self._fsync,
            token_webhook=self.token_webhook,
            network=self.network,
            issuer=self.issuer,
        )
        for name in UPGRADED:
            comp = self.plan.component(name)
            self._processes.stop(name)
            self._processes.spawn(comp)
            self._await_ready(comp, time.monotonic() + self._ready_timeout)

    def plan_binaries(self) -> dict[str, Path]:
        """The executable each component of the running plan is started from, by name."""
        if self.plan is None:
            raise LocalK8sError("control plane not started")
        return {c.name: Path(c.argv[0]) for c in self.plan.components}

    def check(self) -> None:
        """Raise ComponentFailed if a component has exited since it started."""
        for name, code in self._processes.exited():
            if not self._stopping:
                comp = self._component(name)
                raise ComponentFailed(name, f"exited with code {code}", log_tail(comp.log))

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every started process (reverse order: SIGTERM, then SIGKILL), by PID."""
        with self._mutex:
            self._stopping = True
            self._processes.stop_all(timeout)
            if self._tunnel is not None:
                self._tunnel.stop()
                self._tunnel = None
            self._processes.close_logs()
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None
            self._stopping = False
        atexit.unregister(self.stop)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ------------------------------------------------------------------------
    def _take_lock(self) -> None:
        self.layout.data_dir.mkdir(parents=True, exist_ok=True)
        f = (self.layout.data_dir / "lock").open("w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise LocalK8sError(
                f"another podwarden control plane is running on {self.layout.data_dir}"
            ) from None
        self._lock_file = f

    def _start_tunnel(self, the_plan: Plan) -> None:
        """An IPv6 plane's way to its nodes' kubelet (``kubelet_tunnel``), before the
        apiserver that reads its address from the egress selector file."""
        if not self.network.ipv6:
            return
        tunnel = KubeletTunnel((the_plan.host, the_plan.ports.kwok))
        name = tunnel.start()
        self._tunnel = tunnel
        self.layout.egress_selector_config.write_text(egress_selector_config(name))

    def _component(self, name: str) -> Component:
        assert self.plan is not None
        return self.plan.component(name)

    def _spawn_and_await(
        self, comps: list[Component], t0: float, already: Sequence[Component] = ()
    ) -> None:
        """Start ``comps`` together, then await each of them (and of ``already``, started
        before) ready, noting when in ``ready_after``."""
        for comp in comps:
            self._processes.spawn(comp)
        deadline = time.monotonic() + self._ready_timeout
        for comp in [*already, *comps]:
            self._await_ready(comp, deadline)
            self.ready_after[comp.name] = time.monotonic() - t0

    def _await_ready(self, comp: Component, deadline: float) -> None:
        self._processes.await_ready(comp, deadline, self.layout.pki, self._ready_timeout)
