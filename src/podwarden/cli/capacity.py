"""The simulated EC2 capacity on the command line: ``podwarden serve/up --capacity TYPE=N
--capacity-file FILE`` at start, ``podwarden capacity show|set`` against a running server
(``api/capacity_admin.py``; docs/sources.md, "Continuous provisioning")."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from podwarden.api.capacity_admin import PATH
from podwarden.policy.capacity import SimulatedCapacity, load_capacity, parse_assignment
from podwarden.policy.catalog import load_catalog
from podwarden.policy.yaml_tables import TableError

ENDPOINT_ENV = "PODWARDEN_ENDPOINT"
DEFAULT_ENDPOINT = "http://127.0.0.1:8600"


def add_server_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--capacity",
        action="append",
        default=[],
        metavar="TYPE=N",
        help="simulated EC2 capacity: at most N instances of TYPE at once across every cluster "
        "(repeatable; TYPE=unlimited lifts a limit; default: unlimited). Continuous clusters "
        "launch what they can and retry the rest; others fail with AWS's insufficient-capacity "
        "message",
    )
    p.add_argument(
        "--capacity-file",
        type=Path,
        help="a YAML file of capacity limits and retry backoff, the shape of "
        "policy/tables/capacity.yaml (--capacity flags override its entries)",
    )


def _problem(name: str) -> str | None:
    catalog = load_catalog()
    return None if name in catalog else f"{name} is not an instance type podwarden knows"


def from_args(args: argparse.Namespace) -> SimulatedCapacity:
    """The capacity ``--capacity-file`` and ``--capacity`` describe; a bad one exits with a
    message that says what is wrong."""
    try:
        capacity = load_capacity(args.capacity_file, _problem)
        changes = dict(parse_assignment(text) for text in args.capacity)
    except (OSError, TableError, ValueError) as exc:
        raise SystemExit(f"podwarden: --capacity: {exc}") from None
    for name in changes:
        trouble = _problem(name)
        if trouble:
            raise SystemExit(f"podwarden: --capacity: {trouble}")
    capacity.set_limits(changes)
    return capacity


def _call(endpoint: str, method: str, doc: dict[str, Any] | None = None) -> dict[str, Any]:
    body = None if doc is None else json.dumps(doc).encode()
    request = urllib.request.Request(  # noqa: S310 - the URL is the user's podwarden endpoint
        endpoint.rstrip("/") + PATH,
        data=body,
        method=method,
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        message = json.loads(exc.read() or b"{}").get("message", exc.reason)
        raise SystemExit(f"podwarden capacity: {message}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise SystemExit(f"podwarden capacity: cannot reach {endpoint}: {exc}") from None
    return answer


def _print(answer: dict[str, Any]) -> None:
    limits, used = answer["available"], answer["in_use"]
    for name in sorted(set(limits) | set(used)):
        limit = limits.get(name, "unlimited")
        print(f"{name:<24} {used.get(name, 0):>6} in use of {limit}")
    retry = answer["retry"]
    print(
        f"retries: {retry['initial_seconds']:g} s doubling by {retry['multiplier']:g} "
        f"up to {retry['max_seconds']:g} s"
    )
    sys.stdout.flush()


def cmd_capacity(args: argparse.Namespace) -> int:
    if args.action == "set":
        try:
            changes = dict(parse_assignment(text) for text in args.limits)
        except ValueError as exc:
            raise SystemExit(f"podwarden capacity: {exc}") from None
        answer = _call(args.endpoint, "PUT", {"available": changes})
    else:
        answer = _call(args.endpoint, "GET")
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        _print(answer)
    return 0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    capacity = sub.add_parser(
        "capacity", help="show or change a running server's simulated EC2 capacity"
    )
    capacity.add_argument(
        "--endpoint",
        default=os.environ.get(ENDPOINT_ENV, DEFAULT_ENDPOINT),
        help=f"the podwarden server (default ${ENDPOINT_ENV} or {DEFAULT_ENDPOINT}; loopback)",
    )
    capacity.add_argument("--json", action="store_true", help="print the server's answer")
    actions = capacity.add_subparsers(dest="action", required=True)
    actions.add_parser("show", help="limits, instances in use, retry backoff")
    setter = actions.add_parser("set", help="change limits (TYPE=N or TYPE=unlimited)")
    setter.add_argument("limits", nargs="+", metavar="TYPE=N")
    capacity.set_defaults(func=cmd_capacity)
