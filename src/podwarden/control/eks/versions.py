"""Kubernetes versions: DescribeClusterVersions, and the checks CreateCluster and
UpdateClusterVersion share, answered from ``policy/tables/eks_versions.yaml``.

Only versions podwarden can run (the table's ``runnable``: 1.32-1.34 today) make clusters. A version
EKS offers but podwarden cannot run is InvalidParameterException naming the runnable ones; one
EKS does not know is EKS's "unsupported Kubernetes version <v>".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.eks.records import page
from podwarden.model.errors import Invalid
from podwarden.policy import eks_catalog


def known(version: str, cluster: str) -> eks_catalog.KubeVersion:
    """The table's row of an EKS version; Invalid when EKS does not offer it."""
    found = eks_catalog.load_versions().get(version)
    if found is None:
        raise Invalid(reason="unsupported-version", version=version, clusterName=cluster)
    return found


def release(version: str, cluster: str) -> str:
    """The exact Kubernetes release podwarden runs for an EKS version it knows; Invalid when
    its local control plane cannot run that version."""
    versions = eks_catalog.load_versions()
    if version not in versions.runnable:
        raise Invalid(
            reason="version-not-runnable",
            version=version,
            runnable=versions.runnable_text(),
            clusterName=cluster,
        )
    return versions.runnable[version]


def describe_cluster_versions(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """The versions EKS offers (not only the ones podwarden runs), newest first; without
    ``includeAll`` the unsupported ones are left out."""
    table = eks_catalog.load_versions()
    today = dt.datetime.fromtimestamp(ctx.now(), dt.UTC).date()
    wanted = set(params.get("clusterVersions") or [])
    out = []
    for v in table.versions.values():
        status = v.status(today)
        info = _version_info(v, status, v.version == table.default)
        if wanted and v.version not in wanted:
            continue
        if params.get("defaultOnly") and not info["defaultVersion"]:
            continue
        if params.get("versionStatus") and params["versionStatus"] != status:
            continue
        if status == "UNSUPPORTED" and not (params.get("includeAll") or wanted):
            continue
        out.append(info)
    return page("clusterVersions", out, params)


def _version_info(v: eks_catalog.KubeVersion, status: str, default: bool) -> dict[str, Any]:
    def at(day: dt.date) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)

    return {
        "clusterVersion": v.version,
        "clusterType": "eks",
        "defaultPlatformVersion": v.platform_version,
        "defaultVersion": default,
        "releaseDate": at(v.released),
        "endOfStandardSupportDate": at(v.end_of_standard_support),
        "endOfExtendedSupportDate": at(v.end_of_extended_support),
        "status": status.lower().replace("_", "-"),
        "versionStatus": status,
    }


OPERATIONS: Operations = {"DescribeClusterVersions": describe_cluster_versions}
