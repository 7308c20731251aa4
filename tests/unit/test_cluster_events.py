"""What each reconciler action records in the cluster event stream."""

from __future__ import annotations

from podwarden.logic import cluster_actions as ca
from podwarden.model.cluster import Cluster, Instance, InstanceGroup
from podwarden.operator.events import cluster_event

C = Cluster(
    "abcdefghijkl",
    "c",
    "arn",
    "us-west-2",
    "000000000000",
    "Creating",
    0.0,
    {},
    {"g": InstanceGroup(spec={"InstanceGroupName": "g"}, status="Creating")},
)
INST = Instance(
    "i-00000000000000001", "abcdefghijkl", "g", "g-1", "ml.c5.large", "Running", 0.0, 0.0
)
BY_ID = {INST.instance_id: INST}


def entry(action: ca.Action) -> tuple[str, str, str, str, str] | None:
    e = cluster_event(C, BY_ID, action, 5.0)
    return None if e is None else (e.resource_type, e.level, e.description, e.group, e.instance_id)


def test_instance_group_and_cluster_events() -> None:
    iid = INST.instance_id
    assert entry(ca.MarkRunning(iid)) == (
        "Instance",
        "Info",
        f"Instance {iid} is running",
        "g",
        iid,
    )
    assert entry(ca.Reboot(iid, True))[:2] == ("Instance", "Warn")  # type: ignore[index]
    assert "BatchReplaceClusterNodes" in entry(ca.Replace(iid, False))[2]  # type: ignore[index]
    assert entry(ca.FinishDeepCheck(iid, False))[1] == "Error"  # type: ignore[index]
    assert entry(ca.Launch("g", 3))[:2] == ("InstanceGroup", "Info")  # type: ignore[index]
    assert entry(ca.PauseRemediation("g", "too many"))[1:3] == ("Warn", "too many")  # type: ignore[index]
    assert entry(ca.SetCluster("InService"))[:3] == ("Cluster", "Info", "Cluster c is InService")  # type: ignore[index]


def test_no_event_without_a_change() -> None:
    assert entry(ca.SetGroup("g", "Creating", {"Labels": {}})) is None  # status unchanged
    assert entry(ca.CreateNode(INST.instance_id)) is None
