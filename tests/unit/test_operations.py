"""Cluster operations: scaling details and when operations are done."""

from __future__ import annotations

from podwarden.logic.operations import finished, scaling_details
from podwarden.model.cluster import Cluster, ClusterOperation, Instance, InstanceGroup


def g(name: str, count: int) -> InstanceGroup:
    return InstanceGroup(spec={"InstanceGroupName": name, "InstanceCount": count})


def test_scaling_details_name_only_the_groups_that_change() -> None:
    details = scaling_details(
        {"a": g("a", 1), "b": g("b", 2)},
        {"a": g("a", 3), "b": g("b", 2), "c": g("c", 1)},
        {"a": 1, "b": 2},
    )
    assert [d["InstanceGroupName"] for d in details] == ["a", "c"]
    assert details[0]["Original"] == {"CurrentCount": 1, "TargetCount": 1, "MinCount": 0}
    assert details[0]["Desired"] == {"TargetCount": 3, "MinCount": 0}


def test_operations_finish_with_the_cluster_and_the_checks() -> None:
    cluster = Cluster("abcdefghijkl", "c", "arn", "r", "a", "Updating", 0.0, {}, {})
    scaling = ClusterOperation(
        "1", "abcdefghijkl", "Scaling", "InProgress", 0.0, [{"Status": "InProgress"}]
    )
    checks = ClusterOperation("2", "abcdefghijkl", "DeepHealthCheck", "InProgress", 0.0)
    busy = Instance(
        "i-00000000000000001",
        "abcdefghijkl",
        "g",
        "g-1",
        "ml.g5.xlarge",
        "DeepHealthCheckInProgress",
        0.0,
        0.0,
        deep_check="InProgress",
    )
    assert finished([scaling, checks], cluster, [busy]) == []
    cluster.status = "InService"
    busy.deep_check = "Passed"
    done = finished([scaling, checks], cluster, [busy])
    assert [o.operation_id for o in done] == ["1", "2"]
    assert scaling.status == "Done" and scaling.scaling[0]["Status"] == "Done"
