"""``podwarden status``: a running server's HyperPod clusters in the terminal, for people who live
there: clusters, instance groups (counts, status, AMI release), nodes by InstanceStatus and by
``node-health-status``, and the newest cluster events (Continuous clusters). The same picture as
``/_podwarden/metrics``, read through the SageMaker API with the local credentials
(``podwarden.status.client``). ``--watch`` redraws it every few seconds.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Mapping
from datetime import datetime

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from podwarden.api.app import DEFAULT_REGION
from podwarden.cli.capacity import DEFAULT_ENDPOINT, ENDPOINT_ENV
from podwarden.cli.server import local_credentials
from podwarden.status.client import StatusError, Target, take_picture
from podwarden.status.picture import GroupView, Picture

# colours of the values a reader scans for
STYLES = {
    "InService": "green",
    "Running": "green",
    "Schedulable": "green",
    "Info": "dim",
    "Warn": "yellow",
    "Failed": "red",
    "Failure": "red",
    "Error": "red",
}


def _styled(value: str) -> Text:
    style = STYLES.get(value)
    if style is None and value.startswith("Unschedulable"):
        style = "red"
    return Text(value, style=style or "")


def _counts(counts: Mapping[str, int] | None) -> Text:
    if counts is None:
        return Text("?", style="dim")
    if not counts:
        return Text("-", style="dim")
    out = Text()
    for i, (name, count) in enumerate(counts.items()):
        if i:
            out.append(", ")
        out.append(f"{count} ")
        out.append_text(_styled(name))
    return out


def _when(at: datetime | None) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M:%S") if at else ""


def clusters_table(picture: Picture) -> Table:
    table = Table(title="Clusters", title_justify="left")
    for column in ("Cluster", "Status", "Nodes", "Recovery", "Provisioning", "Created"):
        table.add_column(column)
    for c in picture.clusters:
        table.add_row(
            c.name,
            _styled(c.status),
            f"{c.current}/{c.target}",
            c.recovery or "-",
            c.provisioning or "-",
            _when(c.created),
        )
        if c.failure:
            table.add_row("", Text(c.failure, style="red"), "", "", "", "")
    return table


def _release(g: GroupView) -> str:
    if g.desired_release and g.desired_release != g.release:
        return f"{g.release or '?'} -> {g.desired_release}"
    return g.release or "-"


def groups_table(picture: Picture) -> Table:
    table = Table(title="Instance groups", title_justify="left")
    for column in ("Cluster", "Group", "Type", "Status", "Nodes", "Release", "Instances"):
        table.add_column(column)
    table.add_column("Health" if picture.health_known else "Health (unknown)")
    for c in picture.clusters:
        for g in c.groups:
            table.add_row(
                c.name,
                g.name,
                g.instance_type,
                _styled(g.status),
                f"{g.current}/{g.target}",
                _release(g),
                _counts(g.nodes),
                _counts(g.health),
            )
    return table


def events_table(picture: Picture, limit: int) -> Table:
    table = Table(title="Recent events (Continuous clusters)", title_justify="left")
    for column in ("Time", "Cluster", "Level", "Resource", "Description"):
        table.add_column(column)
    for e in picture.events(limit):
        table.add_row(_when(e.time), e.cluster, _styled(e.level), e.resource, e.description)
    return table


def render(picture: Picture, events: int) -> RenderableType:
    stamp = _when(picture.taken_at)
    head = Text(f"podwarden at {picture.endpoint} ({picture.region}), {stamp}", style="bold")
    parts: list[RenderableType] = [head]
    if not picture.clusters:
        parts.append(Text("no HyperPod clusters", style="dim"))
    else:
        parts += [clusters_table(picture), groups_table(picture)]
        if any(c.continuous for c in picture.clusters):
            parts.append(events_table(picture, events))
    parts += [Text(problem, style="yellow") for problem in picture.problems]
    return Group(*parts)


def _target(args: argparse.Namespace) -> Target:
    if args.profile:
        return Target(args.endpoint, args.region, profile=args.profile)
    cred = local_credentials()[0]
    return Target(args.endpoint, args.region, cred.access_key_id, cred.secret_access_key)


def _picture(args: argparse.Namespace) -> Picture:
    try:
        return take_picture(_target(args), events=args.events, only=args.cluster)
    except StatusError as exc:
        raise SystemExit(f"podwarden status: {exc}") from None


def cmd_status(args: argparse.Namespace) -> int:
    console = Console()
    if args.watch is None:
        console.print(render(_picture(args), args.events))
        return 0
    with Live(render(_picture(args), args.events), console=console, screen=False) as live:
        try:
            while True:
                time.sleep(args.watch)
                live.update(render(_picture(args), args.events))
        except KeyboardInterrupt:
            pass
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "status", help="a running server's clusters, groups, nodes and recent events"
    )
    p.add_argument(
        "--endpoint",
        default=os.environ.get(ENDPOINT_ENV, DEFAULT_ENDPOINT),
        help=f"the podwarden server (default ${ENDPOINT_ENV} or {DEFAULT_ENDPOINT})",
    )
    p.add_argument(
        "--region",
        default=os.environ.get("AWS_DEFAULT_REGION", DEFAULT_REGION),
        help=f"the Region whose clusters to show (default $AWS_DEFAULT_REGION or {DEFAULT_REGION})",
    )
    p.add_argument(
        "--profile",
        help="sign with a named AWS profile (default: podwarden's local credentials, "
        "$PODWARDEN_ACCESS_KEY_ID / $PODWARDEN_SECRET_ACCESS_KEY or the built-in pair)",
    )
    p.add_argument("--cluster", action="append", default=[], help="only this cluster (repeatable)")
    p.add_argument("--events", type=int, default=10, help="recent events to show (default 10)")
    p.add_argument(
        "--watch",
        type=float,
        nargs="?",
        const=2.0,
        metavar="SECONDS",
        help="redraw every SECONDS (default 2) until interrupted",
    )
    p.set_defaults(func=cmd_status)
