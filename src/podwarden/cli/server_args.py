"""The flags of ``podwarden serve`` and ``podwarden up`` that configure the server, and the
:class:`ServerSettings` they make."""

from __future__ import annotations

import argparse
from pathlib import Path

from podwarden.cli import capacity as capacity_cli
from podwarden.cli.server import ServerSettings, default_database_url
from podwarden.operator.clusters import ReconcilerSettings


def server_settings(args: argparse.Namespace, kubeconfig: Path) -> ServerSettings:
    data_dir = Path(args.data_dir)
    return ServerSettings(
        kubeconfig=kubeconfig,
        database_url=args.database_url or default_database_url(data_dir),
        host=args.host,
        port=args.port,
        auth=not args.no_auth,
        agent=not args.no_agent,
        seed=not args.no_seed,
        preflight=not args.no_preflight,
        fault_policy=args.fault_policy,
        repair_limits=not args.no_repair_limits,
        data_dir=data_dir,
        capacity=capacity_cli.from_args(args),
        oidc_port=args.oidc_port,
        reconciler=ReconcilerSettings(
            launch_delay=args.launch_delay,
            reboot_delay=args.reboot_delay,
            reimage_delay=args.reimage_delay,
            update_settle=args.update_settle,
            deep_check_duration=args.deep_check_duration,
            time_scale=args.time_scale,
            resync=args.resync,
        ),
    )


def add_server_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="listen address (default loopback)")
    p.add_argument("--port", type=int, default=8600, help="listen port (0: any free port)")
    p.add_argument(
        "--oidc-port",
        type=int,
        default=0,
        help="TLS port of the EKS clusters' OIDC issuers (default 0: the port of the last run "
        "if free, else any free one)",
    )
    p.add_argument(
        "--database-url",
        help="SQLAlchemy URL of the store (default: SQLite in the data directory; "
        "postgresql+psycopg://... for PostgreSQL)",
    )
    p.add_argument(
        "--no-auth", action="store_true", help="accept unsigned requests (SigV4 is on by default)"
    )
    _simulation_arguments(p)
    p.add_argument("--no-agent", action="store_true", help="do not run the simulated health agent")
    p.add_argument(
        "--no-seed",
        action="store_true",
        help="do not seed the default local AWS account (VPC, roles, bucket, EKS cluster)",
    )
    p.add_argument(
        "--no-preflight",
        action="store_true",
        help="do not check HyperPod's prerequisites at CreateCluster/UpdateCluster",
    )
    p.add_argument("--fault-policy", type=Path, help="a fault -> action policy YAML to use")
    capacity_cli.add_server_arguments(p)


def _simulation_arguments(p: argparse.ArgumentParser) -> None:
    """How long the simulated parts of HyperPod take."""
    p.add_argument(
        "--launch-delay", type=float, default=3.0, help="seconds until a new instance's node joins"
    )
    p.add_argument(
        "--reboot-delay", type=float, default=5.0, help="seconds a reboot keeps a node NotReady"
    )
    p.add_argument(
        "--reimage-delay",
        type=float,
        default=5.0,
        help="seconds a software update's re-image keeps a node NotReady",
    )
    p.add_argument(
        "--update-settle",
        type=float,
        default=2.0,
        help="seconds an updated node must stay healthy before its batch counts as done",
    )
    p.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiplier for simulated durations (launch, reboot, deep checks, repair window)",
    )
    p.add_argument(
        "--resync",
        type=float,
        default=30.0,
        help="seconds between the HyperPod reconciler's passes over every cluster: a safety net "
        "(node watches, API writes and each plan's own timing drive the passes)",
    )
    p.add_argument(
        "--no-repair-limits",
        action="store_true",
        help="turn off the safety limits of automatic repair (policy/tables/remediation.yaml)",
    )
    p.add_argument(
        "--deep-check-duration",
        type=float,
        default=10.0,
        help="seconds a simulated InstanceStress deep health check takes (HyperPod: about 2 "
        "hours); the other check types take their share (policy/tables/deep_checks.yaml)",
    )
