"""Every status podwarden writes is a value of botocore's enum for it (no invented strings)."""

from __future__ import annotations

from enum import StrEnum

import pytest
from botocore.loaders import Loader  # type: ignore[import-untyped]

from podwarden.model.cluster import ClusterStatus, GroupStatus, InstanceStatus

SHAPES = Loader().load_service_model("sagemaker", "service-2")["shapes"]


@pytest.mark.parametrize(
    ("enum", "shape"),
    [
        (ClusterStatus, "ClusterStatus"),
        (GroupStatus, "InstanceGroupStatus"),
        (InstanceStatus, "ClusterInstanceStatus"),
    ],
)
def test_status_values_exist_in_the_model(enum: type[StrEnum], shape: str) -> None:
    assert {e.value for e in enum} <= set(SHAPES[shape]["enum"])
