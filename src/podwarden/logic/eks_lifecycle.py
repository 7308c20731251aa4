"""The lifecycle of the local account's EKS records, as pure transitions of their documents.

A cluster is ``CREATING`` -> ``ACTIVE`` (its control plane answers: :func:`activate_cluster`)
-> ``UPDATING`` while an update is in progress (:func:`start_update`, then
:func:`finish_update` or :func:`fail_update`) -> ``DELETING`` (:func:`begin_deletion`), and
``FAILED`` when its control plane cannot start (:func:`fail_cluster`). An add-on is
``CREATING`` -> ``ACTIVE`` (:func:`activate_addon`), ``UPDATING`` the same way as a cluster
(a failed update leaves it ``UPDATE_FAILED``), and ``DELETING``
(:func:`begin_addon_deletion`). An update is ``InProgress`` (:func:`new_update`) until it is
``Successful`` or ``Failed``.

Each function changes the documents it is given (the stored ``Cluster``, ``Addon`` and
``Update`` shapes, with podwarden's private state under ``_podwarden``) and nothing else; the
handlers (``podwarden.control.eks``) and the reconciler (``podwarden.operator.eks``) read and
save the records. Timestamps are epoch seconds, passed in as ``now``.

What the private state holds: a cluster or add-on's ``pending_update`` (the id of its update in
progress, or None), a cluster's ``kubernetes`` (the exact release its control plane runs), an
update's ``addonName`` (None for a cluster's own update) and ``changes`` (dotted paths of the
target's document -> their new values, applied by :func:`finish_update`).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

from podwarden.model.aws.private import KEY, peek, private

_KUBERNETES_VERSION = re.compile(r"v?(?P<minor>[0-9]+\.[0-9]+)(?:\.[0-9]+.*)?")


def _is_addon(target: Mapping[str, Any]) -> bool:
    return "addonName" in target


# ---------------------------------------------------------------- clusters


def activate_cluster(
    doc: dict[str, Any], *, endpoint: str, certificate_authority: str, kubernetes_version: str
) -> None:
    """A ``CREATING`` cluster's control plane answers: ``endpoint`` is its https URL,
    ``certificate_authority`` the base64 PEM of its CA (kubeconfig's
    certificate-authority-data), ``kubernetes_version`` the apiserver's gitVersion
    (``v1.32.9``): DescribeCluster reports its minor, ``1.32``."""
    m = _KUBERNETES_VERSION.fullmatch(kubernetes_version)
    if m is None:
        raise ValueError(f"not a Kubernetes version: {kubernetes_version!r}")
    doc["endpoint"] = endpoint
    doc["certificateAuthority"] = {"data": certificate_authority}
    doc["version"] = m["minor"]
    private(doc)["kubernetes"] = kubernetes_version
    doc["status"] = "ACTIVE"


def same_minor(running: str, release: str) -> bool:
    """Whether two Kubernetes versions (``v1.33.4``, ``1.33``) name the same minor."""
    a, b = (_KUBERNETES_VERSION.fullmatch(v) for v in (running, release))
    return a is not None and b is not None and a["minor"] == b["minor"]


def fail_cluster(doc: dict[str, Any], reason: str) -> None:
    """The cluster's control plane cannot start: ``FAILED``, with ``reason`` (its first 1,000
    characters) as the cluster's one health issue."""
    doc["status"] = "FAILED"
    doc["health"] = {
        "issues": [
            {"code": "InternalFailure", "message": reason[:1000], "resourceIds": [doc["name"]]}
        ]
    }


def begin_deletion(doc: dict[str, Any]) -> None:
    """DeleteCluster: ``DELETING`` (the reconciler stops the control plane and forgets the
    records)."""
    doc["status"] = "DELETING"


# ---------------------------------------------------------------- add-ons


def activate_addon(doc: dict[str, Any], now: float) -> None:
    """A ``CREATING`` add-on's workloads run."""
    doc["status"] = "ACTIVE"
    doc["modifiedAt"] = now


def begin_addon_deletion(doc: dict[str, Any], now: float, *, preserve: bool | None = None) -> None:
    """DeleteAddon (``preserve``: keep its workloads, stop managing them) or its cluster's
    DeleteCluster (``preserve`` None: left as it was)."""
    doc["status"] = "DELETING"
    doc["modifiedAt"] = now
    if preserve is not None:
        private(doc)["preserve"] = preserve


# ---------------------------------------------------------------- updates


def new_update(
    update_id: str,
    update_type: str,
    params: Iterable[tuple[str, str]],
    changes: dict[str, Any],
    now: float,
    *,
    addon: str | None = None,
) -> dict[str, Any]:
    """An ``InProgress`` update of a cluster (or of its add-on ``addon``): ``params`` are the
    ``(UpdateParamType, value)`` pairs it reports, ``changes`` maps dotted paths of the target's
    doc to their new values (:func:`finish_update` applies them)."""
    return {
        "id": update_id,
        "status": "InProgress",
        "type": update_type,
        "params": [{"type": t, "value": v} for t, v in params],
        "createdAt": now,
        "errors": [],
        KEY: {"addonName": addon, "changes": changes},
    }


def start_update(target: dict[str, Any], update_id: str) -> None:
    """The cluster or add-on ``target`` is ``UPDATING`` until its update ``update_id`` ends."""
    target["status"] = "UPDATING"
    private(target)["pending_update"] = update_id


def pending_update(target: Mapping[str, Any]) -> str | None:
    """The id of the update ``target`` (a cluster or add-on) has in progress, if any."""
    found = peek(target).get("pending_update")
    return str(found) if found else None


def updated_addon(update_doc: Mapping[str, Any]) -> str | None:
    """The add-on an update is for; None for the cluster's own update."""
    found = peek(update_doc).get("addonName")
    return str(found) if found is not None else None


def pending_changes(update_doc: dict[str, Any]) -> dict[str, Any]:
    """What an update changes: dotted paths of the target doc (``version``,
    ``accessConfig.authenticationMode``, ``addonVersion``...) to their new values."""
    changes: dict[str, Any] = private(update_doc).get("changes", {})
    return changes


def finish_update(target: dict[str, Any], update_doc: dict[str, Any], now: float) -> None:
    """The reconciler carried the update out: apply its changes to the cluster's or add-on's
    doc, mark it ``Successful`` and the target ``ACTIVE`` again. Save both records after."""
    for path, value in pending_changes(update_doc).items():
        _set_path(target, path, copy.deepcopy(value))
    update_doc["status"] = "Successful"
    _settle(target, now)


def fail_update(
    target: dict[str, Any], update_doc: dict[str, Any], now: float, code: str, message: str
) -> None:
    """The reconciler could not carry the update out: ``Failed`` with one error (``code`` from
    the model's ErrorCode enum); the cluster goes back to ``ACTIVE``, an add-on to
    ``UPDATE_FAILED``."""
    update_doc["status"] = "Failed"
    update_doc["errors"] = [{"errorCode": code, "errorMessage": message, "resourceIds": []}]
    _settle(target, now)
    if _is_addon(target):
        target["status"] = "UPDATE_FAILED"


def forget_update(target: dict[str, Any]) -> None:
    """The update ``target`` waited for is gone (its record was deleted): nothing pending."""
    private(target)["pending_update"] = None


def _settle(target: dict[str, Any], now: float) -> None:
    forget_update(target)
    target["status"] = "ACTIVE"
    if _is_addon(target):
        target["modifiedAt"] = now


def _set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[leaf] = value
