"""``podwarden preflight``: check a CreateCluster request (or just an EKS cluster) against an
AWS account or podwarden's endpoint, print the report, exit non-zero on any failure.

Read-only against real AWS: the collectors call Describe/List/Get operations only. Exit codes:
0 every requirement met (warnings allowed), 1 a requirement is not met, 2 the check could not
run (bad input, no credentials, endpoint unreachable).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from podwarden.checks.collect import collect, eks_name, eks_reference
from podwarden.checks.transport import TransportError, botocore_transport
from podwarden.kube.inspect import read_cluster
from podwarden.logic.kube_snapshot import KubeSnapshot
from podwarden.logic.preflight import Report, Status
from podwarden.logic.preflight_facts import Unknown
from podwarden.logic.preflight_rules import evaluate
from podwarden.model.aws import arns
from podwarden.policy.preflight import load_tables

STYLES = {
    Status.PASS: ("PASS", "bold green"),
    Status.WARN: ("WARN", "bold yellow"),
    Status.FAIL: ("FAIL", "bold red"),
    Status.SKIP: ("skip", "dim"),
}
NO_KUBECONFIG = "pass --kubeconfig to inspect the live cluster"


class InputError(Exception):
    """The request file or the arguments cannot be used."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    source = p.add_argument_group("what to check (one or both)")
    source.add_argument(
        "--cli-input-json",
        metavar="JSON",
        help="the CreateCluster request, as aws sagemaker create-cluster takes it: "
        "file://request.json, a path, or the JSON text",
    )
    source.add_argument(
        "--eks-cluster", metavar="NAME", help="the EKS cluster (default: the request's)"
    )
    p.add_argument("--endpoint-url", help="an AWS-compatible endpoint (podwarden's); default AWS")
    p.add_argument("--region", help="default: the EKS cluster ARN's, else the AWS configuration's")
    p.add_argument("--profile", help="a named AWS profile (default: the usual credential chain)")
    p.add_argument(
        "--kubeconfig",
        type=Path,
        help="kubeconfig of the EKS cluster, to inspect it live (CNI, agent, workloads); "
        "without it those checks say 'not inspected'",
    )
    p.add_argument("--output", choices=("table", "json"), default="table")


def load_request(spec: str) -> dict[str, Any]:
    """``file://path``, a path, or JSON text -> the request dict."""
    text = spec
    if spec.startswith("file://"):
        text = _read(Path(spec.removeprefix("file://")))
    elif not spec.lstrip().startswith("{"):
        text = _read(Path(spec))
    try:
        request = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"the request is not JSON: {exc}") from exc
    if not isinstance(request, dict):
        raise InputError("the request must be a JSON object (CreateCluster's input)")
    return request


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc


def inspect(kubeconfig: Path | None) -> KubeSnapshot | Unknown:
    if kubeconfig is None:
        return Unknown(NO_KUBECONFIG)
    try:
        return asyncio.run(read_cluster(kubeconfig))
    except Exception as exc:  # any failure to read the cluster is a fact, not a crash
        return Unknown(f"could not read the cluster through {kubeconfig}: {exc}")


def check(args: argparse.Namespace) -> Report:
    if not args.cli_input_json and not args.eks_cluster:
        raise InputError("give --cli-input-json (a CreateCluster request) or --eks-cluster")
    request = load_request(args.cli_input_json) if args.cli_input_json else None
    found = arns.parse_eks_cluster(eks_reference(request) or "")
    region = args.region or (found.region if found else None)
    call = botocore_transport(region=region, endpoint_url=args.endpoint_url, profile=args.profile)
    facts = collect(
        call,
        request,
        eks_name(request, args.eks_cluster),
        kube=inspect(args.kubeconfig),
        region=region or "",
    )
    return evaluate(facts, load_tables())


def render(report: Report, console: Console) -> None:
    subject = ", ".join(f"{k} {v}" for k, v in report.subject.items())
    table = Table(title=f"HyperPod preflight: {subject}", show_lines=True, expand=True)
    table.add_column("", no_wrap=True)
    table.add_column("rule (seed)", no_wrap=True)
    table.add_column("evidence, and the fix", overflow="fold")
    for f in report.findings:
        label, style = STYLES[f.status]
        rule = Text(f.rule, style=style if f.status != Status.PASS else "")
        rule.append(f"\n{f.seed}", style="dim")
        detail = Text("\n".join(f.evidence))
        if f.status in (Status.FAIL, Status.WARN) and f.fix:
            detail.append(f"\nfix: {f.fix}", style="cyan")
        table.add_row(Text(label, style=style), rule, detail)
    console.print(table)
    counts = report.summary()
    verdict = (
        Text("every requirement met", style="bold green")
        if report.ok
        else Text(f"{counts['fail']} requirement(s) not met", style="bold red")
    )
    totals = ", ".join(f"{n} {s}" for s, n in counts.items())
    console.print(verdict, Text(f"({totals})"))


def main(args: argparse.Namespace, console: Console | None = None) -> int:
    console = console or Console()
    try:
        report = check(args)
    except (InputError, TransportError) as exc:
        Console(stderr=True).print(f"podwarden preflight: error: {exc}", style="red")
        return 2
    if args.output == "json":
        console.out(json.dumps(report.to_doc(), indent=2), highlight=False)
    else:
        render(report, console)
    return 0 if report.ok else 1
