"""One pass of the EKS reconciler over one cluster, decided from its records: a plan of actions
that ``operator.eks`` applies in order (the same shape as ``logic.cluster_plan``).

- ``DELETING``: stop the control plane, then forget the cluster's records;
- ``FAILED``: nothing;
- otherwise: make sure its control plane runs (``EnsurePlane``: a ``CREATING`` cluster is then
  activated with the plane's endpoint), carry out the cluster's pending update, then each
  add-on's: a ``CREATING`` one's workloads applied and the add-on activated, an updating one's
  workloads applied at the new version and its update finished, a ``DELETING`` one's workloads
  removed (unless it is to be preserved) and its records forgotten; last, the cluster's live state
  read for the preflight when it is due, and the next pass asked for when the next reading is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podwarden.logic import eks_lifecycle as lifecycle
from podwarden.model.aws.private import peek


@dataclass(frozen=True)
class EnsurePlane:
    """Start (or find) the control plane; ends the pass (failing the cluster) if it cannot."""


@dataclass(frozen=True)
class StopPlane:
    pass


@dataclass(frozen=True)
class ForgetCluster:
    """Delete the cluster's records, its children and its observed state."""


@dataclass(frozen=True)
class ActivateCluster:
    """``CREATING`` -> ``ACTIVE`` with the running plane's endpoint, CA and version."""


@dataclass(frozen=True)
class FinishUpdate:
    addon: str | None  # None: the cluster's own update
    update_id: str


@dataclass(frozen=True)
class ForgetUpdate:
    """The pending update's record is gone: nothing is pending any more."""

    addon: str | None


@dataclass(frozen=True)
class ApplyAddon:
    name: str
    version: str


@dataclass(frozen=True)
class RemoveAddonWorkloads:
    name: str
    version: str


@dataclass(frozen=True)
class ForgetAddon:
    name: str


@dataclass(frozen=True)
class ActivateAddon:
    name: str


@dataclass(frozen=True)
class Observe:
    """Read the cluster's live state for the preflight (``eks:observed``)."""


Action = (
    EnsurePlane
    | StopPlane
    | ForgetCluster
    | ActivateCluster
    | FinishUpdate
    | ForgetUpdate
    | ApplyAddon
    | RemoveAddonWorkloads
    | ForgetAddon
    | ActivateAddon
    | Observe
)


@dataclass
class EksPlan:
    actions: list[Action] = field(default_factory=list)
    requeue_after: float | None = None  # seconds until the next pass is due


def plan_eks_cluster(
    cluster: Mapping[str, Any],
    addons: Sequence[Mapping[str, Any]],
    updates: Mapping[str, Mapping[str, Any]],
    *,
    observed_at: float | None,
    now: float,
    observe_every: float,
) -> EksPlan:
    """The pass for ``cluster`` (its stored document), its ``addons`` and its ``updates`` (by
    update id); ``observed_at``: when its live state was last read (None: never)."""
    status = cluster["status"]
    if status == "DELETING":
        return EksPlan([StopPlane(), ForgetCluster()])
    if status == "FAILED":
        return EksPlan()
    plan = EksPlan([EnsurePlane()])
    if status == "CREATING":
        plan.actions.append(ActivateCluster())
    plan.actions += _pending(None, cluster, updates)
    for addon in addons:
        plan.actions += _addon(addon, updates)
    if observed_at is None or now - observed_at >= observe_every:
        plan.actions.append(Observe())
        plan.requeue_after = observe_every
    else:
        plan.requeue_after = observed_at + observe_every - now
    return plan


def _pending(
    addon: str | None, target: Mapping[str, Any], updates: Mapping[str, Mapping[str, Any]]
) -> list[Action]:
    update_id = lifecycle.pending_update(target)
    if update_id is None:
        return []
    if update_id not in updates:
        return [ForgetUpdate(addon)]
    return [FinishUpdate(addon, update_id)]


def _addon(addon: Mapping[str, Any], updates: Mapping[str, Mapping[str, Any]]) -> list[Action]:
    name, status, version = addon["addonName"], addon["status"], addon["addonVersion"]
    if status == "DELETING":
        keep = bool(peek(addon).get("preserve"))
        removal: list[Action] = [] if keep else [RemoveAddonWorkloads(name, version)]
        return [*removal, ForgetAddon(name)]
    update_id = lifecycle.pending_update(addon)
    if update_id is not None:
        update = updates.get(update_id)
        if update is not None:
            changes = peek(update).get("changes") or {}
            version = str(changes.get("addonVersion", version))
        return [ApplyAddon(name, version), *_pending(name, addon, updates)]
    if status == "CREATING":
        return [ApplyAddon(name, version), ActivateAddon(name)]
    return []
