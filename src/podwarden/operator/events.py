"""The cluster event stream (ListClusterEvents): what each applied action records."""

from __future__ import annotations

import uuid

from podwarden.logic import cluster_actions as ca
from podwarden.model.cluster import Cluster, ClusterEvent, Instance, InstanceStatus, SoftwareUpdate
from podwarden.model.cluster import SoftwareUpdateStatus as S

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


def _instance_entry(action: ca.Action, by_id: dict[str, Instance]) -> tuple[str, Entry] | None:
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
        case ca.DrainForUpdate(iid, release) if by_id[iid].status != InstanceStatus.SYSTEM_UPDATING:
            text = f"Draining instance {iid} for the software update to release {release}"
            entry = iid, ("Instance", "Info", text)
        case ca.Reimage(iid, release):
            entry = iid, ("Instance", "Info", f"Re-imaging instance {iid} with release {release}")
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
        case ca.SoftwareUpdateStep(group, update):
            before = cluster.groups[group].software_update
            text_level = _update_text(group, before, update)
            if text_level is not None:
                entry = group, ("InstanceGroup", text_level[1], text_level[0])
        case ca.SetGroup(group, status) if cluster.groups[group].status != status:
            entry = group, ("InstanceGroup", "Info", f"Instance group {group} is {status}")
    return entry


def _update_text(
    group: str, before: SoftwareUpdate | None, after: SoftwareUpdate
) -> tuple[str, str] | None:
    """(description, level) of a software update's step, None for a step worth no event."""
    what = f"Software update of instance group {group} to release {after.to_release}"
    status = after.status
    if before is None or before.status != status:
        texts = {
            S.IN_PROGRESS: (f"{what} started", "Info"),
            S.SUCCEEDED: (f"{what} succeeded", "Info"),
            S.ROLLBACK_IN_PROGRESS: (
                f"{what} failed: {after.rollback_reason}; rolling back to release "
                f"{after.from_release}",
                "Error",
            ),
            S.ROLLBACK_COMPLETE: (
                f"{what} was rolled back to release {after.from_release}: {after.rollback_reason}",
                "Warn",
            ),
            S.FAILED: (f"{what} failed: {after.rollback_reason}", "Error"),
        }
        return texts.get(S(status))
    if after.batch and not before.batch:
        verb = "Rolling back" if status == S.ROLLBACK_IN_PROGRESS else "Updating"
        return f"{verb} {len(after.batch)} instance(s): {', '.join(after.batch)}", "Info"
    return None


def cluster_event(
    cluster: Cluster, by_id: dict[str, Instance], action: ca.Action, now: float
) -> ClusterEvent | None:
    """The event an action records, if any (computed before the action changes anything)."""
    on_instance = _instance_entry(action, by_id)
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
    if isinstance(action, ca.CapacityNotice):
        entry = ("InstanceGroup", action.level, action.text)
        event = _make(cluster, now, entry, group=action.group)
        event.metadata = {"InstanceGroupScaling": dict(action.scaling)}
        return event
    return None
