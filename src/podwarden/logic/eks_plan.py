"""One pass of the EKS reconciler over one cluster, decided from its records: a plan of actions
that ``operator.eks`` applies in order (the same shape as ``logic.cluster_plan``).

- ``DELETING``: stop the control plane, then forget the cluster's records;
- ``FAILED``: nothing;
- otherwise: make sure its control plane runs (``EnsurePlane``: a ``CREATING`` cluster is then
  activated with the plane's endpoint), carry out the cluster's pending update (a
  ``VersionUpdate`` first moves the plane to its target release: ``UpgradePlane``), then each
  add-on's: a ``CREATING`` one's workloads applied and the add-on activated, an updating one's
  workloads applied at the new version and its update finished, a ``DELETING`` one's workloads
  removed (unless it is to be preserved) and its records forgotten; last, the cluster's live state
  read for the preflight when it is due, and the next pass asked for when the next reading is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from podwarden.logic import eks_lifecycle as lifecycle
from podwarden.model.aws.private import peek


class Step(Enum):
    """What a pass does to the cluster itself."""

    ENSURE_PLANE = "start (or find) the control plane; the pass ends, failing the cluster, if not"
    STOP_PLANE = "stop the control plane and remove its data"
    FORGET_CLUSTER = "delete the cluster's records, its children's and its observed state"
    ACTIVATE_CLUSTER = "CREATING -> ACTIVE with the running plane's endpoint, CA and version"
    OBSERVE = "read the cluster's live state for the preflight (eks:observed)"


@dataclass(frozen=True)
class FinishUpdate:
    """Carry out the pending update ``update_id`` of the cluster (``addon`` None) or an add-on;
    ``update_id`` None: its record is gone, so nothing is pending any more."""

    addon: str | None
    update_id: str | None


class AddonStep(Enum):
    APPLY = "apply the add-on's workloads at ``version``"
    REMOVE = "delete the add-on's workloads of ``version``"
    FORGET = "delete the add-on's records (its updates, the associations it owns)"
    ACTIVATE = "CREATING -> ACTIVE"


@dataclass(frozen=True)
class Addon:
    step: AddonStep
    name: str
    version: str = ""


@dataclass(frozen=True)
class UpgradePlane:
    """Run the cluster's control plane on Kubernetes ``kubernetes`` (the exact release its
    pending update ``update_id`` moves it to) before that update is finished; if the plane
    cannot, the update fails and the pass ends."""

    kubernetes: str
    update_id: str


Action = Step | FinishUpdate | UpgradePlane | Addon

# the private change of a VersionUpdate: the release the cluster's plane runs afterwards
RELEASE_CHANGE = "_podwarden.kubernetes"


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
        return EksPlan([Step.STOP_PLANE, Step.FORGET_CLUSTER])
    if status == "FAILED":
        return EksPlan()
    plan = EksPlan([Step.ENSURE_PLANE])
    if status == "CREATING":
        plan.actions.append(Step.ACTIVATE_CLUSTER)
    plan.actions += _pending(None, cluster, updates)
    for addon in addons:
        plan.actions += _addon(addon, updates)
    if observed_at is None or now - observed_at >= observe_every:
        plan.actions.append(Step.OBSERVE)
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
    update = updates.get(update_id)
    if update is None:
        return [FinishUpdate(addon, None)]
    release = (peek(update).get("changes") or {}).get(RELEASE_CHANGE)
    upgrade: list[Action] = [UpgradePlane(str(release), update_id)] if release else []
    return [*upgrade, FinishUpdate(addon, update_id)]


def _addon(addon: Mapping[str, Any], updates: Mapping[str, Mapping[str, Any]]) -> list[Action]:
    name, status, version = addon["addonName"], addon["status"], addon["addonVersion"]
    if status == "DELETING":
        keep = bool(peek(addon).get("preserve"))
        removal: list[Action] = [] if keep else [Addon(AddonStep.REMOVE, name, version)]
        return [*removal, Addon(AddonStep.FORGET, name)]
    update_id = lifecycle.pending_update(addon)
    if update_id is not None:
        update = updates.get(update_id)
        if update is not None:
            changes = peek(update).get("changes") or {}
            version = str(changes.get("addonVersion", version))
        return [Addon(AddonStep.APPLY, name, version), *_pending(name, addon, updates)]
    if status == "CREATING":
        return [Addon(AddonStep.APPLY, name, version), Addon(AddonStep.ACTIVATE, name)]
    return []
