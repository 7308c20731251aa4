"""What the EKS handlers share: the record layout, EKS's errors, lookups, pagination, and the
functions the reconciler calls to move records along.

Records (``ctx.store.resources``, scope ``"<account>/<region>"``):

====================  =====================  =======  ==================================
kind                  key                    parent   doc
====================  =====================  =======  ==================================
``eks:cluster``       cluster name           ""       the ``Cluster`` output shape
``eks:addon``         ``<cluster>/<addon>``  cluster  the ``Addon`` output shape
``eks:access-entry``  ``<cluster>/<arn>``    cluster  the ``AccessEntry`` output shape
``eks:update``        ``<cluster>/<id>``     cluster  the ``Update`` output shape
``eks:pod-identity``  ``<cluster>/<id>``     cluster  the ``PodIdentityAssociation`` shape
====================  =====================  =======  ==================================

Every doc also holds a private ``_podwarden`` dict the handlers strip on output (see
:func:`public`); timestamps are stored as epoch seconds and leave as aware datetimes.

Handlers record desired state only. The reconciler does the I/O and then calls:

* :func:`activate_cluster` when a ``CREATING`` cluster's control plane answers (it fills
  ``endpoint``, ``certificateAuthority.data`` and ``version`` from the running apiserver);
* :func:`pending_changes` / :func:`finish_update` / :func:`fail_update` for a cluster or add-on
  whose ``_podwarden.pending_update`` names an ``InProgress`` update;
* :func:`activate_addon` once a ``CREATING`` add-on's workloads run (the add-on's
  ``addonVersion`` is the one to install; ``podwarden.policy.eks_catalog.addon_workloads``
  says which objects);
* :func:`forget_addon` when a ``DELETING`` add-on's workloads are gone (or kept: the add-on's
  ``_podwarden.preserve``), :func:`forget_cluster` when a ``DELETING`` cluster's control plane
  is stopped and its data directory removed.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from podwarden.control import pagination
from podwarden.control.context import Context
from podwarden.model.errors import InvalidToken, ServiceError
from podwarden.store.resources import Record, Resources

CLUSTER = "eks:cluster"
ADDON = "eks:addon"
ACCESS_ENTRY = "eks:access-entry"
UPDATE = "eks:update"
POD_IDENTITY = "eks:pod-identity"
CHILD_KINDS = (ADDON, ACCESS_ENTRY, UPDATE, POD_IDENTITY)
PRIVATE = "_podwarden"
TIMESTAMPS = frozenset({"createdAt", "modifiedAt", "associatedAt", "activationExpiry"})
CLUSTER_ARN = re.compile(
    r"arn:aws[a-z-]*:eks:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12})"
    r":cluster/(?P<name>[0-9A-Za-z][A-Za-z0-9_-]*)"
)
T = TypeVar("T")


def scope(ctx: Context) -> str:
    return f"{ctx.account}/{ctx.region}"


def child_key(cluster: str, name: str) -> str:
    return f"{cluster}/{name}"


def cluster_name_from_arn(arn: str) -> str | None:
    """The cluster name in an EKS cluster ARN (what a HyperPod ``Orchestrator.Eks.ClusterArn``
    names), or None when ``arn`` is not one."""
    m = CLUSTER_ARN.fullmatch(arn)
    return m["name"] if m else None


# ---------------------------------------------------------------- output


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored doc as the output shape: no ``_podwarden``, timestamps as aware datetimes."""

    def convert(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: convert(v, k) for k, v in value.items() if k != PRIVATE}
        if isinstance(value, list):
            return [convert(v) for v in value]
        if key in TIMESTAMPS and isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        return value

    out: dict[str, Any] = convert(doc)
    return out


def private(doc: dict[str, Any]) -> dict[str, Any]:
    """The doc's ``_podwarden`` dict (created if missing)."""
    found: dict[str, Any] = doc.setdefault(PRIVATE, {})
    return found


# ---------------------------------------------------------------- errors


def not_found(message: str, **fields: object) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message, 404, **fields)


def in_use(message: str, **fields: object) -> ServiceError:
    return ServiceError("ResourceInUseException", message, 409, **fields)


def invalid_parameter(message: str, **fields: object) -> ServiceError:
    return ServiceError("InvalidParameterException", message, 400, **fields)


def invalid_request(message: str, **fields: object) -> ServiceError:
    return ServiceError("InvalidRequestException", message, 400, **fields)


def cluster_not_found(name: str) -> ServiceError:
    """EKS's message, as the ``ClusterDeleted`` waiter and moto's recordings of it show."""
    return not_found(f"No cluster found for name: {name}.", clusterName=name)


def not_active(name: str) -> ServiceError:
    """A cluster that is not ``ACTIVE`` (moto's recording of EKS's message)."""
    return invalid_request(f"Cluster '{name}' is not in ACTIVE status", clusterName=name)


# ---------------------------------------------------------------- lookups


def get_cluster(ctx: Context, name: str) -> Record:
    rec = ctx.store.resources.get(CLUSTER, scope(ctx), name)
    if rec is None:
        raise cluster_not_found(name)
    return rec


def require_live(rec: Record) -> None:
    """Adding add-ons, access entries or policies to a cluster being deleted (or failed) is
    refused; a ``CREATING`` cluster takes them (they are desired state the reconciler applies
    once the control plane runs)."""
    if rec.doc["status"] in ("DELETING", "FAILED"):
        raise not_active(rec.key)


def children(ctx: Context, kind: str, cluster: str) -> list[Record]:
    return ctx.store.resources.list(kind, scope(ctx), parent=cluster)


# ---------------------------------------------------------------- pagination


def paged(items: Sequence[T], params: dict[str, Any]) -> tuple[list[T], str | None]:
    """EKS's ``maxResults``/``nextToken`` over ``items``; the token is bound to the request's
    other members. A bad token is EKS's InvalidParameterException (its message is ours)."""
    query = {k: v for k, v in params.items() if k not in ("maxResults", "nextToken")}
    size = int(params.get("maxResults") or pagination.DEFAULT_PAGE)
    try:
        return pagination.window(items, params.get("nextToken"), size, query)
    except InvalidToken:
        raise invalid_parameter("The nextToken provided is not valid.") from None


def listing(key: str, items: list[Any], token: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {key: items}
    if token:
        out["nextToken"] = token
    return out


# ---------------------------------------------------------------- updates


def new_update(
    ctx: Context,
    cluster: str,
    update_type: str,
    params: Iterable[tuple[str, str]],
    changes: dict[str, Any],
    *,
    addon: str | None = None,
) -> Record:
    """An ``InProgress`` update of ``cluster`` (or of its add-on ``addon``). ``changes`` maps
    dotted paths of the target's doc to their new values; :func:`finish_update` applies them."""
    update_id = str(uuid.uuid4())
    doc: dict[str, Any] = {
        "id": update_id,
        "status": "InProgress",
        "type": update_type,
        "params": [{"type": t, "value": v} for t, v in params],
        "createdAt": ctx.now(),
        "errors": [],
        PRIVATE: {"addonName": addon, "changes": changes},
    }
    rec = Record(UPDATE, scope(ctx), child_key(cluster, update_id), doc, parent=cluster)
    rec.created = ctx.now()
    return ctx.store.resources.create(rec)


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
    if "addonName" in target:
        target["status"] = "UPDATE_FAILED"


def _settle(target: dict[str, Any], now: float) -> None:
    private(target)["pending_update"] = None
    target["status"] = "ACTIVE"
    if "addonName" in target:
        target["modifiedAt"] = now


def _set_path(doc: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
    doc[leaf] = value


# ---------------------------------------------------------------- reconciler transitions


def activate_cluster(
    doc: dict[str, Any], *, endpoint: str, certificate_authority: str, kubernetes_version: str
) -> None:
    """A ``CREATING`` cluster's control plane answers: ``endpoint`` is its https URL,
    ``certificate_authority`` the base64 PEM of its CA (kubeconfig's
    certificate-authority-data), ``kubernetes_version`` the apiserver's gitVersion
    (``v1.32.9``): DescribeCluster reports its minor, ``1.32``."""
    m = re.fullmatch(r"v?(?P<minor>[0-9]+\.[0-9]+)(?:\.[0-9]+.*)?", kubernetes_version)
    if m is None:
        raise ValueError(f"not a Kubernetes version: {kubernetes_version!r}")
    doc["endpoint"] = endpoint
    doc["certificateAuthority"] = {"data": certificate_authority}
    doc["version"] = m["minor"]
    private(doc)["kubernetes"] = kubernetes_version
    doc["status"] = "ACTIVE"


def activate_addon(doc: dict[str, Any], now: float) -> None:
    """A ``CREATING`` add-on's workloads run."""
    doc["status"] = "ACTIVE"
    doc["modifiedAt"] = now


def forget_addon(resources: Resources, scope_: str, cluster: str, addon: str) -> None:
    """A ``DELETING`` add-on is gone: drop its record, its updates and the Pod Identity
    associations it owns (their ``ownerArn`` is the add-on's ARN)."""
    rec = resources.get(ADDON, scope_, child_key(cluster, addon))
    if rec is not None:
        for owned in resources.list(POD_IDENTITY, scope_, parent=cluster):
            if owned.doc.get("ownerArn") == rec.doc["addonArn"]:
                resources.delete(POD_IDENTITY, scope_, owned.key)
    resources.delete(ADDON, scope_, child_key(cluster, addon))
    for rec in resources.list(UPDATE, scope_, parent=cluster):
        if private(rec.doc).get("addonName") == addon:
            resources.delete(UPDATE, scope_, rec.key)


def forget_cluster(resources: Resources, scope_: str, cluster: str) -> None:
    """A ``DELETING`` cluster is gone: drop it with its add-ons, access entries, updates and
    Pod Identity associations (EKS deletes add-ons, access entries and associations with the
    cluster)."""
    for kind in CHILD_KINDS:
        for rec in resources.list(kind, scope_, parent=cluster):
            resources.delete(kind, scope_, rec.key)
    resources.delete(CLUSTER, scope_, cluster)
