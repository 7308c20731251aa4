"""The cluster event stream (ListClusterEvents): what each applied action records."""

from __future__ import annotations

import uuid

from podwarden.logic import cluster_actions as ca
from podwarden.model.cluster import Cluster, ClusterEvent, Instance

# (resource type, level, description) of one event
Entry = tuple[str, str, str]


def _make(
    cluster: Cluster, now: float, entry: Entry, *, group: str = "", instance_id: str = ""
) -> ClusterEvent:
    resource, level, text = entry
    return ClusterEvent(
        str(uuid.uuid4()), cluster.cluster_id, now, resource, level, text, group, instance_id
    )


def failure_event(cluster: Cluster, now: float, message: str) -> ClusterEvent:
    return _make(cluster, now, ("Cluster", "Error", message))


def _instance_entry(action: ca.Action) -> tuple[str, Entry] | None:
    """(instance id, entry) for actions on one instance."""
    entry: tuple[str, Entry] | None = None
    match action:
        case ca.MarkRunning(iid):
            entry = iid, ("Instance", "Info", f"Instance {iid} is running")
        case ca.Terminate(iid):
            entry = iid, ("Instance", "Info", f"Terminating instance {iid}")
        case ca.Reboot(iid, automatic) | ca.Replace(iid, automatic):
            verb = "Rebooting" if isinstance(action, ca.Reboot) else "Replacing"
            api = "BatchRebootClusterNodes" if verb == "Rebooting" else "BatchReplaceClusterNodes"
            why = "a health label" if automatic else api
            entry = (
                iid,
                ("Instance", "Warn" if automatic else "Info", f"{verb} instance {iid} ({why})"),
            )
        case ca.StartDeepCheck(iid):
            entry = iid, ("Instance", "Info", f"Deep health checks started on instance {iid}")
        case ca.FinishDeepCheck(iid, passed):
            result = "passed" if passed else "failed"
            level = "Info" if passed else "Error"
            entry = iid, ("Instance", level, f"Deep health checks {result} on instance {iid}")
    return entry


def _group_entry(cluster: Cluster, action: ca.Action) -> tuple[str, Entry] | None:
    """(group, entry) for actions on an instance group."""
    entry: tuple[str, Entry] | None = None
    match action:
        case ca.Launch(group, count):
            text = f"Launching {count} instance(s) in instance group {group}"
            entry = group, ("InstanceGroup", "Info", text)
        case ca.PauseRemediation(group, reason):
            text = reason or f"Automatic recovery of instance group {group} resumed"
            entry = group, ("InstanceGroup", "Warn" if reason else "Info", text)
        case ca.SetGroup(group, status) if cluster.groups[group].status != status:
            entry = group, ("InstanceGroup", "Info", f"Instance group {group} is {status}")
    return entry


def cluster_event(
    cluster: Cluster, by_id: dict[str, Instance], action: ca.Action, now: float
) -> ClusterEvent | None:
    """The event an action records, if any (computed before the action changes anything)."""
    on_instance = _instance_entry(action)
    if on_instance is not None:
        iid, entry = on_instance
        return _make(cluster, now, entry, group=by_id[iid].group, instance_id=iid)
    on_group = _group_entry(cluster, action)
    if on_group is not None:
        group, entry = on_group
        return _make(cluster, now, entry, group=group)
    if isinstance(action, ca.SetCluster):
        return _make(
            cluster, now, ("Cluster", "Info", f"Cluster {cluster.name} is {action.status}")
        )
    return None
