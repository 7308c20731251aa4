"""``podwarden status``'s reads: the SageMaker HyperPod API of a running server through botocore
(SigV4, as any AWS client), and its ``/_podwarden/metrics`` for the nodes' health labels.

Read-only: ListClusters, DescribeCluster, ListClusterNodes and, for Continuous clusters,
ListClusterEvents. botocore rather than boto3: boto3 is a thin layer over botocore's clients and
only botocore is a runtime dependency of podwarden (as for the preflight's transport).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import botocore.session  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]
from prometheus_client.parser import text_string_to_metric_families

from podwarden.metrics.route import PATH as METRICS_PATH
from podwarden.status.picture import ClusterView, Health, Picture, cluster_view, health_from_samples

NODES_FAMILY = "podwarden_cluster_nodes"
PAGE = 100  # MaxResults of ListClusters and ListClusterNodes (the API's maximum)


class StatusError(Exception):
    """The server cannot be read at all (unreachable, refused the credentials)."""


@dataclass(frozen=True)
class Target:
    endpoint: str
    region: str
    # explicit keys (podwarden's local ones); None: botocore's credential chain (``profile``)
    access_key_id: str | None = None
    secret_access_key: str | None = None
    profile: str | None = None


def sagemaker(target: Target) -> Any:
    try:
        session = botocore.session.Session(profile=target.profile)
        return session.create_client(
            "sagemaker",
            endpoint_url=target.endpoint,
            region_name=target.region,
            aws_access_key_id=target.access_key_id,
            aws_secret_access_key=target.secret_access_key,
            config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5),
        )
    except BotoCoreError as exc:
        raise StatusError(str(exc)) from exc


def take_picture(
    target: Target, *, events: int = 10, only: Iterable[str] = (), client: Any = None
) -> Picture:
    """Every cluster of the account and Region (or only those named), with its groups, nodes
    and newest ``events`` events."""
    sm = client if client is not None else sagemaker(target)
    problems: list[str] = []
    health = node_health(target.endpoint, problems)
    try:
        names = list(only) or _cluster_names(sm)
        views = [_cluster(sm, name, events, health, problems) for name in names]
    except (ClientError, BotoCoreError) as exc:
        raise StatusError(f"{target.endpoint}: {exc}") from exc
    return Picture(
        endpoint=target.endpoint,
        region=target.region,
        taken_at=datetime.now(UTC),
        clusters=tuple(v for v in views if v is not None),
        health_known=health is not None,
        problems=tuple(problems),
    )


def _cluster_names(sm: Any) -> list[str]:
    pages = sm.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": PAGE})
    summaries = [s for page in pages for s in page["ClusterSummaries"]]
    return [str(s["ClusterName"]) for s in sorted(summaries, key=lambda s: s["CreationTime"])]


def _cluster(
    sm: Any, name: str, events: int, health: Health | None, problems: list[str]
) -> ClusterView | None:
    try:
        described = sm.describe_cluster(ClusterName=name)
        pages = sm.get_paginator("list_cluster_nodes").paginate(
            ClusterName=name, PaginationConfig={"PageSize": PAGE}
        )
        nodes = [n for page in pages for n in page["ClusterNodeSummaries"]]
    except ClientError as exc:  # deleted meanwhile, or a name that is not a cluster
        problems.append(f"{name}: {_message(exc)}")
        return None
    recent: list[Mapping[str, Any]] = []
    if described.get("NodeProvisioningMode") == "Continuous" and events > 0:
        try:
            recent = sm.list_cluster_events(
                ClusterName=name, SortBy="EventTime", SortOrder="Descending", MaxResults=events
            )["Events"]
        except ClientError as exc:
            problems.append(f"{name} events: {_message(exc)}")
    return cluster_view(described, nodes, recent, health)


def _message(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', '')}: {error.get('Message', '')}"


def node_health(endpoint: str, problems: list[str]) -> Health | None:
    """The nodes' health labels per group from the server's metrics; None when it has none to
    give (not a podwarden server, or one that does not answer this client)."""
    url = endpoint.rstrip("/") + METRICS_PATH
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the user's endpoint
            text = response.read().decode()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        problems.append(f"node health from {url}: {exc}")
        return None
    samples = [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        if family.name == NODES_FAMILY
        for sample in family.samples
    ]
    return health_from_samples(samples)
