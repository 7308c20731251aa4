"""Compose the API server: store + reconcilers + providers + ASGI app (``cli.serving`` runs it
under uvicorn)."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import logging
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podwarden import metrics
from podwarden.agent.service import LocalHealthAgent
from podwarden.api.app import DEFAULT_REGION, ApiSettings, Services, build_app
from podwarden.api.eks_authn import cluster_webhook_url
from podwarden.api.oidc_listener import OidcListener
from podwarden.api.operations import OPERATIONS
from podwarden.checks.enforce import make_preflight
from podwarden.cli.account import seed_default_account
from podwarden.cli.oidc import start_listener
from podwarden.cli.pod_identity import PodIdentity
from podwarden.cli.training import training_services
from podwarden.cli.work_loop import WorkLoop
from podwarden.control.oidc_issuers import plane_issuer
from podwarden.dashboard.app import PREFIX as DASHBOARD_PREFIX
from podwarden.dashboard.app import Dashboard
from podwarden.dashboard.sessions import Principal
from podwarden.dashboard.sources import Sources
from podwarden.kube.nodes import KubeNodes
from podwarden.kube.workloads import KubeWorkloads
from podwarden.local.eks_planes import LocalControlPlanes
from podwarden.model.aws import arns
from podwarden.model.changes import SAGEMAKER_CLUSTER, Change
from podwarden.model.errors import Invalid
from podwarden.operator.clusters import ClusterReconciler, ReconcilerSettings
from podwarden.operator.eks import EksReconciler, Workloads
from podwarden.policy.capacity import SimulatedCapacity
from podwarden.policy.catalog import Catalog, load_catalog
from podwarden.policy.fault_policy import load_policy
from podwarden.policy.remediation import RemediationLimits
from podwarden.providers.kubes import AgentFactory, KubeProviders
from podwarden.providers.local import LocalInstances
from podwarden.store.sql import Store, sqlite_url
from podwarden.wire.sigv4 import Credential

log = logging.getLogger("podwarden.server")

# The default local credentials (documented in the README). Override with the environment
# variables below; clients sign with the same pair.
DEFAULT_ACCESS_KEY_ID = "AKIAPODWARDEN0LOCAL0"
DEFAULT_SECRET_ACCESS_KEY = "podwarden/local/secret/0000000000000000000"  # noqa: S105 - public local default
DEFAULT_ACCOUNT_ID = "000000000000"


def local_credentials() -> tuple[Credential, ...]:
    account = os.environ.get("PODWARDEN_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)
    return (
        Credential(
            access_key_id=os.environ.get("PODWARDEN_ACCESS_KEY_ID", DEFAULT_ACCESS_KEY_ID),
            secret_access_key=os.environ.get(
                "PODWARDEN_SECRET_ACCESS_KEY", DEFAULT_SECRET_ACCESS_KEY
            ),
            account_id=account,
            principal_arn=f"arn:aws:iam::{account}:user/podwarden",
        ),
    )


class CatalogInstanceTypes:
    """The instance catalog as the control and operator layers need it."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def problem(self, name: str) -> str | None:
        try:
            self.catalog.get(name)
        except Invalid as exc:
            return exc.message
        return None

    def is_cpu_only(self, name: str) -> bool:
        return self.catalog.get(name).is_cpu_only

    def monitored(self, name: str) -> bool:
        """The health agent watches GPU and Trainium instances only (R17, docs/requirements.md)."""
        return name in self.catalog and not self.catalog.get(name).is_cpu_only

    def gpus(self, name: str) -> int:
        return self.catalog.get(name).gpu_count if name in self.catalog else 0

    def capacity(self, name: str, extra_storage_gib: int) -> dict[str, str]:
        entry = self.catalog.get(name)
        return entry.capacity(entry.ephemeral_storage_gib + extra_storage_gib)


# ``--no-repair-limits``: every unhealthy node may be repaired, any number of times
NO_REPAIR_LIMITS = RemediationLimits(
    max_unhealthy_fraction=1.0, max_repairs=2**31, repair_window_seconds=600
)


@dataclass(frozen=True)
class ServerSettings:
    kubeconfig: Path
    database_url: str
    host: str = "127.0.0.1"
    port: int = 8600
    auth: bool = True
    agent: bool = True  # the simulated health agent for kwok nodes
    # the training services on each Kubernetes with HyperPod nodes (cli/training.py)
    training: bool = True
    fault_policy: Path | None = None
    repair_limits: bool = True  # HyperPod's safety limits of automatic repair (remediation.yaml)
    reconciler: ReconcilerSettings = field(default_factory=ReconcilerSettings)
    # where EKS clusters created through the API keep their control planes (<data_dir>/eks/...)
    data_dir: Path | None = None
    # seed the default local AWS account once (VPC, roles, bucket, the EKS cluster "podwarden"
    # adopting the Kubernetes at ``kubeconfig``)
    seed: bool = True
    # run the HyperPod preflight at CreateCluster/UpdateCluster (docs/preflight.md)
    preflight: bool = True
    # the simulated EC2 capacity at start (``policy/capacity.py``; the server works on a copy,
    # which ``podwarden capacity set`` changes); None: unlimited
    capacity: SimulatedCapacity | None = None
    # the TLS port of the EKS clusters' OIDC issuers (cli/oidc.py); 0: this store's port of the
    # last run if free, else any free one
    oidc_port: int = 0


@dataclass
class Running:
    """What ``Server.start`` brought up; ``Server.stop`` takes it down in reverse."""

    eks: EksReconciler
    providers: KubeProviders
    clusters: ClusterReconciler
    tasks: list[asyncio.Task[None]]


class Server:
    """The composition root of ``podwarden serve``: the store, the local account, the
    reconcilers, the providers of instances and the API, wired once and typed.

    ``start`` and ``stop`` run in the ASGI app's lifespan: they start and stop the work loop
    (``cli.work_loop``), where everything but the API runs, and what runs there. ``notify``
    routes a handler's ``ctx.wake``, from any thread, to the reconciler that owns the changed
    record, on the work loop."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.store = Store(settings.database_url)
        self.types = CatalogInstanceTypes(load_catalog())
        self.credential = local_credentials()[0]
        self.data_root = settings.data_dir or Path(settings.kubeconfig).parent
        self.planes = LocalControlPlanes(
            self.data_root / "eks-planes",
            settings.kubeconfig,
            self._webhook,
            issuer=functools.partial(plane_issuer, self.store.resources),
        )
        self.oidc: OidcListener | None = None  # the clusters' OIDC issuers (cli/oidc.py)
        self.running: Running | None = None  # the work loop's: read and changed only there
        self.work = WorkLoop()
        self.capacity = copy.deepcopy(settings.capacity or SimulatedCapacity())
        # counted at scrape time: the nodes the node watches hold, the clusters in the store
        self.metrics = metrics.Metrics(self._watched_nodes, self.store.list_clusters)
        services = Services(
            store=self.store,
            instance_types=self.types,
            notify=self.notify,
            now=time.time,
            on_startup=[self.start],
            on_shutdown=[self.stop],
            # the in-server health agent watches the simulated nodes: it counts as installed (R16)
            preflight=make_preflight(OPERATIONS, local_agent=settings.agent)
            if settings.preflight
            else None,
            capacity=self.capacity,
            metrics=self.metrics,
            # the capacity admin, the metrics and the mounts read what the work loop owns
            own_routes=self.work.asgi,
        )
        self.app = build_app(
            ApiSettings(credentials=local_credentials(), auth=settings.auth), services
        )
        self.dashboard = self._dashboard()
        services.mounts[DASHBOARD_PREFIX] = self.dashboard
        # EKS's pod identity webhook (its own HTTPS port) and agent (on the API's): R13
        self.pod_identity = PodIdentity(
            self.store, self.data_root, self.planes, settings.kubeconfig, self._api_address
        )
        prefix, agent = self.pod_identity.mount
        services.mounts[prefix] = agent

    def _dashboard(self) -> Dashboard:
        """The web dashboard: the store and the node watches' connections, signing in with the
        API's own credentials (``PodwardenApp.sign_in``); without auth, the first credential's
        account, as the API."""
        cred = self.credential
        return Dashboard(
            Sources(self.store, lambda: self.running.providers if self.running else None),
            self.app.sign_in,
            auth=self.settings.auth,
            anonymous=Principal(cred.access_key_id, cred.account_id, cred.principal_arn, math.inf),
            stopping=self._stopping,
        )

    def _stopping(self) -> bool:
        return self.app.stopping()  # set once uvicorn serves it (``serving.uvicorn_server``)

    def _nodes_changed(self, clusters: ClusterReconciler, cluster_id: str | None) -> None:
        """A node watch's news: the cluster reconciler and the dashboard's live pages."""
        clusters.wake(cluster_id)
        self.dashboard.nodes_changed(cluster_id)

    async def _webhook(self, key: str) -> str | None:
        """The EKS token webhook of the cluster in ``key``, once uvicorn has bound its port."""
        for _ in range(600):
            port = self.app.eks_authn.port()
            if port:
                return cluster_webhook_url(self.store.resources, self.settings.host, port, key)
            await asyncio.sleep(0.05)
        return None

    def _api_address(self) -> tuple[str, int] | None:
        port = self.app.eks_authn.port()
        return (self.settings.host, port) if port else None

    def _watched_nodes(self) -> Iterator[dict[str, Any]]:
        running = self.running
        return running.providers.cached_nodes() if running is not None else iter(())

    async def start(self) -> None:
        """Start the work loop, then everything but the API on it (``_start``)."""
        await asyncio.to_thread(self.work.start)
        try:
            await self.work.call(self._start)
        except BaseException:
            await asyncio.to_thread(self.work.close)  # what did start is cancelled with it
            raise

    async def stop(self) -> None:
        """Stop what ``_start`` started (on the work loop), then the work loop."""
        try:
            if self.work.running:
                await self.work.call(self._stop)
        finally:
            await asyncio.to_thread(self.work.close)

    async def _start(self) -> None:
        metrics.bind(self.metrics)  # the reconcilers', agents' and services' tasks inherit it
        # before the seed and the first CreateCluster: their issuers name its port
        self.oidc = await start_listener(
            self.store.resources, self.data_root, self.settings.oidc_port
        )
        await self.pod_identity.start()  # before the first pass applies its configuration
        eks = EksReconciler(
            self.store.resources, self.planes, _workloads, admission=self.pod_identity.admission
        )
        if self.settings.seed:
            seeded = seed_default_account(
                self.store,
                account=self.credential.account_id,
                region=DEFAULT_REGION,
                principal_arn=self.credential.principal_arn,
                instance_types=self.types,
            )
            await _first_pass(eks, seeded.eks_cluster_arn)
        tasks = [asyncio.create_task(eks.run(), name="eks-reconciler")]
        # each HyperPod cluster's nodes on the Kubernetes of its EKS cluster, with one health
        # agent per Kubernetes that hosts them (providers/kubes.py)
        providers = KubeProviders(
            self.store.resources,
            self.planes,
            self.settings.kubeconfig,
            self._agent(),
            services=training_services(self.store, self.data_root / "pod-logs")
            if self.settings.training
            else (),
        )
        await providers.start()
        clusters = ClusterReconciler(
            self.store,
            providers,
            self.types.capacity,
            self.settings.reconciler,
            is_cpu_only=self.types.is_cpu_only,
            limits=None if self.settings.repair_limits else NO_REPAIR_LIMITS,
            ec2_capacity=self.capacity,
        )
        # a node's change reconciles its cluster and updates the dashboard
        providers.nodes_changed = functools.partial(self._nodes_changed, clusters)
        tasks.append(asyncio.create_task(clusters.run(), name="cluster-reconciler"))
        self.running = Running(eks, providers, clusters, tasks)

    def _agent(self) -> AgentFactory | None:
        if not self.settings.agent:
            return None
        policy = load_policy(self.settings.fault_policy)
        types = self.types

        def local_agent(nodes: KubeNodes, instances: LocalInstances) -> LocalHealthAgent:
            return LocalHealthAgent(nodes, instances, policy, types.monitored, types.gpus)

        return local_agent

    async def _stop(self) -> None:
        running, self.running = self.running, None
        if running is not None:
            for task in reversed(running.tasks):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await running.providers.close()  # the agents, then the clients
            await running.eks.close()
        await self.planes.stop_all()
        await self.pod_identity.stop()
        if self.oidc is not None:
            await self.oidc.close()
            self.oidc = None

    def notify(self, change: Change) -> None:
        """From any thread: ``change`` reaches its reconciler on the work loop."""
        self.work.post(self._notify, change)

    def _notify(self, change: Change) -> None:
        running = self.running
        if running is None:
            return  # not started: the reconcilers' first passes read everything anyway
        if change.kind == SAGEMAKER_CLUSTER:
            running.clusters.wake(change.key)
        elif change.kind.startswith("eks:"):
            running.eks.wake(change)


async def _first_pass(eks: EksReconciler, arn: str) -> None:
    """The seeded EKS cluster adopts the control plane that already runs: reconcile it before
    the API listens, so that it is ACTIVE for the first request (the preflight refuses a
    HyperPod CreateCluster on a CREATING one). A failure is logged; the reconciler retries."""
    cluster = arns.parse_eks_cluster(arn)
    if cluster is None:
        return
    try:
        await eks.reconcile((cluster.scope, cluster.name))
    except Exception:  # the running reconciler tries again; start-up goes on
        log.exception("first pass over the seeded EKS cluster %s failed", cluster.name)


async def _workloads(kubeconfig: Path) -> Workloads:
    return await KubeWorkloads.from_kubeconfig(kubeconfig)


def default_database_url(data_dir: Path) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    return sqlite_url(data_dir)
