"""``podwarden`` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from podwarden import __version__
from podwarden.agent.inject import inject, signal_for
from podwarden.agent.service import NodeAgent
from podwarden.agent.sources import FaultSource
from podwarden.agent.sources.kernel_log import KernelLogFollower
from podwarden.agent.sources.nvml import NvmlSource, expected_gpus
from podwarden.agent.sources.nvml_api import NvmlNotAvailable, PynvmlApi
from podwarden.api.app import DEFAULT_REGION
from podwarden.api.eks_authn import webhook_url
from podwarden.checks import cli as preflight_cli
from podwarden.cli import capacity as capacity_cli
from podwarden.cli import goodput, serving
from podwarden.cli import status as status_cli
from podwarden.cli.account import EKS_CLUSTER, seeded_account
from podwarden.cli.oidc import ca_file, embedded_issuer
from podwarden.cli.server import ServerSettings, default_database_url, local_credentials
from podwarden.cli.server_args import add_server_arguments, server_settings
from podwarden.cli.serving import serve
from podwarden.control.oidc_issuers import listener_base
from podwarden.kube.nodes import KubeNodes
from podwarden.local import build
from podwarden.local.assets import find_kubectl
from podwarden.local.errors import LocalK8sError
from podwarden.local.runtime import ControlPlane, dry_run_plan, free_port
from podwarden.model.errors import PodwardenError
from podwarden.policy.catalog import load_catalog
from podwarden.policy.fault_policy import load_policy
from podwarden.store.sql import Store

DATA_DIR_ENV = "PODWARDEN_DATA_DIR"


def default_data_dir() -> Path:
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "podwarden"


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _print_endpoint(settings: ServerSettings, port: int) -> None:
    creds = local_credentials()[0]
    print(
        f"podwarden: API at http://{settings.host}:{port} "
        "(SageMaker HyperPod, EKS, EC2, IAM, STS, S3, CloudWatch alarms)"
    )
    print(f"  dashboard: http://{settings.host}:{port}/_podwarden/dashboard/ (sign in: the keys)")
    print(f"  metrics:   http://{settings.host}:{port}/_podwarden/metrics")
    print(f"  export AWS_ENDPOINT_URL=http://{settings.host}:{port}")
    print(f"  export AWS_ACCESS_KEY_ID={creds.access_key_id}")
    print(f"  export AWS_SECRET_ACCESS_KEY={creds.secret_access_key}")
    print(f"  export AWS_DEFAULT_REGION={DEFAULT_REGION}")
    store = Store(settings.database_url)
    try:
        seeded = seeded_account(store, creds.account_id, DEFAULT_REGION)
        oidc = listener_base(store.resources)
    finally:
        store.close()
    if seeded is not None:
        print("  default account (seeded once):")
        print(f"    EKS cluster      {seeded.eks_cluster_arn}")
        print(f"    execution role   {seeded.execution_role_arn}")
        print(f"    private subnets  {' '.join(seeded.private_subnets)}")
        print(f"    security group   {seeded.security_group}")
        print(f"    lifecycle        {seeded.lifecycle_uri} (on_create.sh)")
    if oidc is not None:
        ca = ca_file(Path(settings.data_dir or Path(settings.kubeconfig).parent))
        print(f"  OIDC issuers: {oidc}/id/<ID>, each EKS cluster's (TLS; CA {ca})")
    sys.stdout.flush()


def _run_server(settings: ServerSettings, health_check: Callable[[], None] | None = None) -> None:
    async def started(port: int) -> None:
        _print_endpoint(settings, port)

    serving.run(serve(settings, started, health_check))


def cmd_serve(args: argparse.Namespace) -> int:
    _run_server(server_settings(args, Path(args.kubeconfig)))
    return 0


def _embedded_webhook(args: argparse.Namespace) -> str:
    """The token webhook of the embedded control plane, the seeded EKS cluster: the API server
    this command starts after it, so its port is fixed first (``--port 0``: a free one now)."""
    if args.port == 0:
        args.port = free_port()
    account = local_credentials()[0].account_id
    return webhook_url(args.host, args.port, account, DEFAULT_REGION, EKS_CLUSTER)


def _embedded_issuer(args: argparse.Namespace) -> str:
    """The OIDC issuer of the embedded control plane, the seeded EKS cluster's: chosen once per
    store (``cli.oidc``); the listener's port is fixed now, since the issuer names it."""
    database_url = args.database_url or default_database_url(Path(args.data_dir))
    args.oidc_port, issuer = embedded_issuer(database_url, args.oidc_port)
    return issuer


def cmd_up(args: argparse.Namespace) -> int:
    k8s_dir = Path(args.data_dir) / "k8s"
    webhook = _embedded_webhook(args)
    if args.dry_run:
        the_plan, note = dry_run_plan(k8s_dir, webhook)
        if note:
            print(f"# note: {note}\n")
        print(the_plan.render(), end="")
        return 0
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    cp = ControlPlane(k8s_dir, token_webhook=webhook, issuer=_embedded_issuer(args))
    started = time.monotonic()
    try:
        cp.start()
        print(
            f"podwarden: local Kubernetes control plane ready in {time.monotonic() - started:.1f} s"
        )
        print(f"  apiserver:  {cp.url}")
        print(f"  kubeconfig: {cp.kubeconfig}")
        kubectl = find_kubectl() or "kubectl"
        print(f"  try:        {kubectl} --kubeconfig {cp.kubeconfig} get nodes")
        print(
            f"  as on EKS:  aws eks update-kubeconfig --name {EKS_CLUSTER} && {kubectl} get nodes"
            "  (with the exports below)"
        )
        print("  Ctrl-C stops it; its state stays in", args.data_dir, flush=True)
        _run_server(server_settings(args, cp.kubeconfig), health_check=cp.check)
        print("podwarden: stopping", flush=True)
        return 0
    except KeyboardInterrupt:
        print("\npodwarden: stopping", flush=True)
        return 0
    except LocalK8sError as exc:
        print(f"podwarden: error: {exc}", file=sys.stderr)
        return 1
    finally:
        cp.stop()


def cmd_fault_inject(args: argparse.Namespace) -> int:
    try:
        signal_ = signal_for(
            xid=args.xid, gpu_count=args.gpu_count, node_down=args.node_down, dhc_fail=args.dhc_fail
        )
    except ValueError as exc:
        print(f"podwarden: error: {exc}", file=sys.stderr)
        return 2
    kubeconfig = Path(args.kubeconfig or Path(args.data_dir) / "k8s" / "kubeconfig")

    async def run() -> str:
        nodes = await KubeNodes.from_kubeconfig(kubeconfig)
        try:
            return await inject(nodes, args.node, signal_)
        finally:
            await nodes.close()

    try:
        name = asyncio.run(run())
    except PodwardenError as exc:
        print(f"podwarden: error: {exc.message}", file=sys.stderr)
        return 1
    print(f"podwarden: injected {json.dumps(signal_)} into node {name}")
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    """The health agent of one node, fed by its kernel log and, with ``--nvml``, by NVML (a
    DaemonSet runs one per GPU or Trainium node: deploy/helm/podwarden-health-agent). Asked for
    NVML where there is none, it exits with the reason rather than watch less than asked."""
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    policy = load_policy(args.fault_policy)
    nvml = NvmlSource(PynvmlApi(), None) if args.nvml else None
    try:
        if nvml is not None:
            nvml.open()
    except NvmlNotAvailable as exc:
        print(f"podwarden agent: {exc}", file=sys.stderr)
        return 1
    sources: list[FaultSource] = [
        KernelLogFollower(Path(args.kernel_log), from_start=args.from_start)
    ]
    if nvml is not None:
        sources.append(nvml)

    async def run() -> None:
        nodes = await KubeNodes.from_kubeconfig(Path(args.kubeconfig))
        try:
            if nvml is not None:
                nvml.expected_gpus = expected_gpus(await nodes.get(args.node), load_catalog())
            watched = args.kernel_log + (f" and NVML ({len(nvml.devices)} GPUs)" if nvml else "")
            print(f"podwarden agent: watching {watched} for node {args.node}", flush=True)
            await NodeAgent(nodes, policy, args.node, sources, interval=args.interval).run()
        finally:
            await nodes.close()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        return 0
    except PodwardenError as exc:
        print(f"podwarden agent: error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        for source in sources:
            source.close()
    return 0


def cmd_preflight(args: argparse.Namespace) -> int:
    """Every HyperPod-on-EKS prerequisite as a rule, against an AWS account or podwarden's
    endpoint (docs/preflight.md); read-only, non-zero exit on any failure."""
    return preflight_cli.main(args)


def cmd_build(args: argparse.Namespace) -> int:
    argv = ["--force"] if args.force else []
    return build.main(argv)


def _agent_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agent = sub.add_parser("agent", help="the health-monitoring agent of one node")
    agent.add_argument("--node", required=True, help="the Kubernetes node name")
    agent.add_argument("--kubeconfig", required=True)
    agent.add_argument("--kernel-log", default="/dev/kmsg", help="kernel log to follow")
    agent.add_argument(
        "--nvml",
        action="store_true",
        help="also watch the GPUs through NVML (count, ECC, row remaps, Xid events, NVLink, "
        "throttling, recovery action); exits if NVML is not available",
    )
    agent.add_argument("--from-start", action="store_true", help="read the log from its start")
    agent.add_argument("--fault-policy", type=Path, help="a fault -> action policy YAML")
    agent.add_argument("--interval", type=float, default=0.5, help="seconds between reads")
    agent.set_defaults(func=cmd_agent)


def _fault_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fault = sub.add_parser("fault", help="fault injection for simulated nodes")
    fault_sub = fault.add_subparsers(dest="fault_command", required=True)
    inject_cmd = fault_sub.add_parser("inject", help="queue a fault on a node for the agent")
    inject_cmd.add_argument("--node", required=True, help="instance id (i-...) or node name")
    inject_cmd.add_argument("--cluster", help="HyperPod cluster name (informational)")
    inject_cmd.add_argument("--xid", type=int, help="an NVIDIA Xid code, e.g. 79")
    inject_cmd.add_argument("--gpu-count", type=int, help="the GPU count nvidia-smi would report")
    inject_cmd.add_argument("--node-down", action="store_true")
    inject_cmd.add_argument("--dhc-fail", action="store_true", help="a failed deep health check")
    inject_cmd.add_argument("--kubeconfig", help="default: the local control plane's")
    inject_cmd.add_argument("--data-dir", default=str(default_data_dir()))
    inject_cmd.set_defaults(func=cmd_fault_inject)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="podwarden", description=__doc__)
    p.add_argument("--version", action="version", version=f"podwarden {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start podwarden on the embedded local control plane")
    up.add_argument(
        "--data-dir",
        default=str(default_data_dir()),
        help=f"state directory (default ${DATA_DIR_ENV} or ~/.local/share/podwarden)",
    )
    up.add_argument("--dry-run", action="store_true", help="print the plan of processes and exit")
    add_server_arguments(up)
    up.set_defaults(func=cmd_up)

    serve_cmd = sub.add_parser("serve", help="serve the API against an existing Kubernetes cluster")
    serve_cmd.add_argument("--kubeconfig", required=True, help="kubeconfig of the target cluster")
    serve_cmd.add_argument(
        "--data-dir", default=str(default_data_dir()), help="state directory (SQLite store)"
    )
    add_server_arguments(serve_cmd)
    serve_cmd.set_defaults(func=cmd_serve)

    _agent_parser(sub)

    goodput.add_parser(sub)

    capacity_cli.add_parser(sub)

    status_cli.add_parser(sub)

    _fault_parser(sub)

    preflight = sub.add_parser(
        "preflight", help="check HyperPod-on-EKS prerequisites of a CreateCluster request"
    )
    preflight_cli.add_arguments(preflight)
    preflight.set_defaults(func=cmd_preflight)

    k8s = sub.add_parser("build-k8s", help="build the pinned Kubernetes binaries (needs Go)")
    k8s.add_argument("--force", action="store_true")
    k8s.set_defaults(func=cmd_build)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
