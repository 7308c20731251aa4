"""The HyperPod AMI catalog (``policy/hyperpod_images``): the shipped table is consistent with
the EKS calendar it is modelled on, defaults and ImageVersionStatus follow the model's rules,
and a table that breaks its schema fails at load naming the entry."""

from __future__ import annotations

import datetime as dt

import pytest

from podwarden.policy.eks_catalog import load_versions
from podwarden.policy.hyperpod_images import (
    ImageVersionStatus,
    load_images,
    parse_images,
    version_key,
)
from podwarden.policy.yaml_tables import TableError

S = ImageVersionStatus
DAY = dt.date(2026, 1, 1)


def test_shipped_releases_fit_the_eks_calendar() -> None:
    catalog, eks = load_images(), load_versions()
    releases = list(catalog.releases.values())
    assert [r.key for r in releases] == sorted(r.key for r in releases)
    assert [r.released for r in releases] == sorted(r.released for r in releases)
    for r in releases:
        for minor in r.kubernetes:
            kube = eks.get(minor)
            assert kube is not None and kube.hyperpod, (r.version, minor)
            # published while EKS supported that minor
            assert kube.released <= r.released <= kube.end_of_extended_support, (r.version, minor)


def test_every_hyperpod_minor_has_a_default_release() -> None:
    catalog = load_images()
    for kube in load_versions().versions.values():
        default = catalog.default_release(kube.version)
        if not kube.hyperpod:
            assert default is None, kube.version
            continue
        assert default is not None, kube.version
        newest = max(catalog.for_kubernetes(kube.version), key=lambda r: r.key)
        assert default == newest.version


def test_release_problems() -> None:
    catalog = load_images()
    assert catalog.release_problem("1.2.0", "1.32") is None
    unknown = catalog.release_problem("9.9.9", "1.32")
    assert unknown is not None and "not a HyperPod AMI release" in unknown and "1.4.1" in unknown
    wrong = catalog.release_problem("1.0.1", "1.32")
    assert wrong is not None and "1.28, 1.29, 1.30" in wrong and "1.32" in wrong


TABLE = """
schema_version: 1
releases:
  "1.0.0": {released: 2025-01-01, kubernetes: "1.30-1.31", security: false, notes: a,
            end_of_life: 2025-06-01}
  "1.1.0": {released: 2025-02-01, kubernetes: "1.30-1.31", security: false, notes: b}
  "1.1.1": {released: 2025-03-01, kubernetes: "1.31", security: true, notes: c}
  "1.2.0": {released: 2025-04-01, kubernetes: "1.31", security: false, notes: d}
"""


@pytest.mark.parametrize(
    ("version", "minor", "today", "expected"),
    [
        # a newer release for the minor fixes vulnerabilities
        ("1.1.0", "1.31", DAY, S.SECURITY_UPDATE_REQUIRED),
        # past the security release: only a feature release is newer
        ("1.1.1", "1.31", DAY, S.UPDATE_AVAILABLE),
        ("1.2.0", "1.31", DAY, S.UP_TO_DATE),
        # 1.30's variants stop at 1.1.0: nothing newer for that minor
        ("1.1.0", "1.30", DAY, S.UP_TO_DATE),
        # the release's own end of life ...
        ("1.0.0", "1.31", dt.date(2025, 5, 31), S.SECURITY_UPDATE_REQUIRED),
        ("1.0.0", "1.31", dt.date(2025, 6, 1), S.END_OF_LIFE),
        # ... and its minor's end of extended support
        ("1.2.0", "1.31", dt.date(2026, 11, 26), S.END_OF_LIFE),
        ("1.2.0", "1.31", dt.date(2026, 11, 25), S.UP_TO_DATE),
        ("7.0.0", "1.31", DAY, None),
    ],
)
def test_status(version: str, minor: str, today: dt.date, expected: S | None) -> None:
    catalog = parse_images(TABLE, "t.yaml", {"1.31": dt.date(2026, 11, 26)})
    assert catalog.status(version, minor, today) == expected


def test_shipped_status_of_an_old_release() -> None:
    catalog = load_images()
    assert catalog.status("1.3.0", "1.32", DAY) == S.SECURITY_UPDATE_REQUIRED
    assert catalog.status("1.0.0", "1.28", DAY) == S.END_OF_LIFE  # end_of_life 2025-09-09


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"1.0": {released: 2025-01-01, kubernetes: "1.31", security: false, notes: a}', "1.0"),
        ('"01.0.0": {released: 2025-01-01, kubernetes: "1.31", security: false, notes: a}', "01"),
        ('"1.0.0": {released: 2025-01-01, kubernetes: "1.31", security: 1, notes: a}', "security"),
        ('"1.0.0": {released: 2025-01-01, kubernetes: "1.31", security: false}', "notes"),
        ('"1.0.0": {released: x, kubernetes: "1.31", security: false, notes: a}', "released"),
        ('"1.0.0": {released: 2025-01-01, kubernetes: 1.31, security: false, notes: a}', "range"),
        (
            '"1.0.0": {released: 2025-01-01, kubernetes: "1.31", security: false, notes: a,'
            " end_of_life: 2024-01-01}",
            "end_of_life",
        ),
        (
            '"1.0.0": {released: 2025-01-01, kubernetes: "1.31", security: false, notes: a,'
            " extra: 1}",
            "extra",
        ),
        (
            '"1.0.0": {released: 2025-02-01, kubernetes: "1.31", security: false, notes: a}\n'
            '  "1.0.1": {released: 2025-01-01, kubernetes: "1.31", security: false, notes: b}',
            "released before 1.0.0",
        ),
    ],
)
def test_bad_tables_fail(text: str, expected: str) -> None:
    with pytest.raises(TableError, match=r"t\.yaml") as info:
        parse_images(f"schema_version: 1\nreleases:\n  {text}\n", "t.yaml")
    assert expected in str(info.value)


def test_version_key() -> None:
    assert version_key("1.10.0") > version_key("1.9.9")
    with pytest.raises(ValueError, match=r"MAJOR\.MINOR\.PATCH"):
        version_key("1.2")
