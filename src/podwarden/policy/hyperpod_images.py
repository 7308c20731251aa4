"""HyperPod's AMI releases for EKS clusters (``tables/hyperpod_images.yaml``): which releases
exist, which Kubernetes minors each ships for, which is a minor's default, and the
ImageVersionStatus of a group or node on a release.

The table's versions are representative (its header says why); the rules here are the model's:
a release is ``MAJOR.MINOR.PATCH``, the default is "the latest available version", and
ImageVersionStatus is ``EndOfLife`` once the release's variant for the cluster's Kubernetes
minor is past its support, else ``SecurityUpdateRequired`` when a newer release for that minor
fixes vulnerabilities, else ``UpdateAvailable`` when a newer one exists, else ``UpToDate``
(docs/sources.md, "Platform software updates"). A variant's support ends with the release's
``end_of_life`` or with its minor's end of EKS extended support (``eks_versions.yaml``),
whichever comes first.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from podwarden.policy.eks_catalog import load_versions
from podwarden.policy.eks_table_schema import (
    check_keys,
    check_schema,
    minor_key,
    minor_range,
    nonempty_mapping,
)
from podwarden.policy.yaml_tables import fail, load_yaml, packaged

TABLE = "hyperpod_images.yaml"
_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")


class ImageVersionStatus(StrEnum):
    """The model's ClusterImageVersionStatus."""

    UP_TO_DATE = "UpToDate"
    UPDATE_AVAILABLE = "UpdateAvailable"
    SECURITY_UPDATE_REQUIRED = "SecurityUpdateRequired"
    END_OF_LIFE = "EndOfLife"


def version_key(version: str) -> tuple[int, int, int]:
    """``"1.4.1"`` -> ``(1, 4, 1)``, for ordering; ValueError when it is not MAJOR.MINOR.PATCH."""
    m = _VERSION.fullmatch(version)
    if m is None:
        raise ValueError(f"'{version}' is not a MAJOR.MINOR.PATCH release version")
    return int(m[1]), int(m[2]), int(m[3])


def day_of(epoch: float) -> dt.date:
    """The UTC date of an epoch time (what ``status`` compares support dates with)."""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).date()


@dataclass(frozen=True)
class ImageRelease:
    version: str
    released: dt.date
    kubernetes: tuple[str, ...]  # the minors it ships a variant for, oldest first
    security: bool
    end_of_life: dt.date | None
    notes: str

    @functools.cached_property
    def key(self) -> tuple[int, int, int]:  # compared on every DescribeCluster: parsed once
        return version_key(self.version)


@dataclass(frozen=True)
class ImageCatalog:
    releases: Mapping[str, ImageRelease]  # by version, oldest first
    # a minor -> the day its EKS extended support ends (its AMI variants' end of life)
    support_ends: Mapping[str, dt.date]

    def get(self, version: str) -> ImageRelease | None:
        return self.releases.get(version)

    def for_kubernetes(self, minor: str) -> tuple[ImageRelease, ...]:
        """The releases that ship a variant for ``minor``, oldest first."""
        return tuple(r for r in self.releases.values() if minor in r.kubernetes)

    def default_release(self, minor: str) -> str | None:
        """The newest release for ``minor`` (None when none ships for it)."""
        found = self.for_kubernetes(minor)
        return found[-1].version if found else None

    def release_problem(self, version: str, minor: str) -> str | None:
        """Why an instance group of a cluster on Kubernetes ``minor`` cannot run release
        ``version``, or None when it can."""
        release = self.get(version)
        if release is None:
            known = ", ".join(r.version for r in self.for_kubernetes(minor)) or "none"
            return (
                f"ImageReleaseVersion {version} is not a HyperPod AMI release; the releases for "
                f"Kubernetes {minor} are: {known}."
            )
        if minor not in release.kubernetes:
            shipped = ", ".join(release.kubernetes)
            return (
                f"HyperPod AMI release {version} ships for Kubernetes {shipped}, not for the "
                f"cluster's Kubernetes {minor}."
            )
        return None

    def end_of_life(self, version: str, minor: str) -> dt.date | None:
        """The day the variant of ``version`` for ``minor`` stops being supported (None: not
        known to end)."""
        release = self.get(version)
        ends = [self.support_ends.get(minor), release.end_of_life if release else None]
        known = [d for d in ends if d is not None]
        return min(known) if known else None

    def status(self, version: str, minor: str, today: dt.date) -> ImageVersionStatus | None:
        """ImageVersionStatus of a group or node on ``version`` in a cluster on ``minor``
        (None for a release the catalog does not know)."""
        release = self.get(version)
        if release is None:
            return None
        end = self.end_of_life(version, minor)
        if end is not None and today >= end:
            return ImageVersionStatus.END_OF_LIFE
        newer = [r for r in self.for_kubernetes(minor) if r.key > release.key]
        if any(r.security for r in newer):
            return ImageVersionStatus.SECURITY_UPDATE_REQUIRED
        if newer:
            return ImageVersionStatus.UPDATE_AVAILABLE
        return ImageVersionStatus.UP_TO_DATE


def parse_images(
    text: str, source: str, support_ends: Mapping[str, dt.date] | None = None
) -> ImageCatalog:
    data = nonempty_mapping(load_yaml(text, source), source, "the table")
    check_keys(data, {"schema_version", "releases"}, source, "the table")
    check_schema(data, source)
    releases = [
        _release(str(name), raw, source)
        for name, raw in nonempty_mapping(data["releases"], source, "releases").items()
    ]
    ordered = sorted(releases, key=lambda r: r.key)
    for earlier, later in itertools.pairwise(ordered):
        if later.released < earlier.released:
            fail(source, f"release '{later.version}'", f"released before {earlier.version}")
    return ImageCatalog(
        releases=MappingProxyType({r.version: r for r in ordered}),
        support_ends=MappingProxyType(dict(support_ends or {})),
    )


def _release(version: str, raw: object, source: str) -> ImageRelease:
    where = f"release '{version}'"
    if _VERSION.fullmatch(version) is None:
        fail(source, where, "the version must be MAJOR.MINOR.PATCH (numbers, no leading zeros)")
    fields = nonempty_mapping(raw, source, where)
    check_keys(
        fields,
        {"released", "kubernetes", "security", "notes"},
        source,
        where,
        optional={"end_of_life"},
    )
    released, end = fields["released"], fields.get("end_of_life")
    if not isinstance(released, dt.date):
        fail(source, where, "released must be a date (YYYY-MM-DD)")
    if end is not None and (not isinstance(end, dt.date) or end <= released):
        fail(source, where, "end_of_life must be a date after released")
    if not isinstance(fields["security"], bool):
        fail(source, where, "security must be true or false")
    if not isinstance(fields["notes"], str) or not fields["notes"]:
        fail(source, where, "notes must be a non-empty string")
    minors = minor_range(fields["kubernetes"], source, f"{where}, field 'kubernetes'")
    return ImageRelease(
        version=version,
        released=released,
        kubernetes=tuple(sorted(minors, key=minor_key)),
        security=fields["security"],
        end_of_life=end,
        notes=fields["notes"],
    )


@functools.cache
def load_images() -> ImageCatalog:
    """The packaged catalog, each minor's variants ending with its EKS extended support."""
    ends = {v.version: v.end_of_extended_support for v in load_versions().versions.values()}
    return parse_images(*packaged(TABLE), support_ends=ends)
