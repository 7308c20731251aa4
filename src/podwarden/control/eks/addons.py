"""EKS add-ons: CreateAddon, DescribeAddon, ListAddons, UpdateAddon, DeleteAddon and
DescribeAddonVersions, answered from ``policy/tables/eks_addons.yaml``.

A new add-on is ``CREATING``: the reconciler installs the workloads of its ``addonVersion``
(``eks_catalog.addon_workloads``) into the cluster and calls ``eks_lifecycle.activate_addon``.
UpdateAddon records an ``AddonUpdate`` the reconciler carries out (its ``pending_changes`` hold
the new ``addonVersion`` and the rest); DeleteAddon marks it ``DELETING`` with
``_podwarden.preserve`` (keep the workloads, stop managing them) and the reconciler forgets it
(``operator.eks.forget_addon``).

EKS's messages: "Addon already exists." (409), "Addon version specified is not supported"
(400, with clusterName and addonName; terraform-provider-aws#20559), "No addon: <name> found
in cluster: <cluster>" (404, EKS guide "Remove an Amazon EKS add-on"), "Addon specified is not
supported" (aws/containers-roadmap#1429).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import yaml

from podwarden.control.context import Context, Operations
from podwarden.control.eks import pod_identity, records
from podwarden.logic import eks_lifecycle
from podwarden.model.aws import arns, kinds
from podwarden.model.aws.private import KEY
from podwarden.model.errors import Conflict, InUse, Invalid, NotFound
from podwarden.policy import eks_catalog
from podwarden.store.resources import Record

UPDATABLE = frozenset({"ACTIVE", "DEGRADED", "CREATE_FAILED", "UPDATE_FAILED"})
# UpdateAddon members, the UpdateParamType each is reported as, and how its value is written
UPDATE_PARAMS: tuple[tuple[str, str], ...] = (
    ("addonVersion", "AddonVersion"),
    ("serviceAccountRoleArn", "ServiceAccountRoleArn"),
    ("resolveConflicts", "ResolveConflicts"),
    ("configurationValues", "ConfigurationValues"),
    ("podIdentityAssociations", "PodIdentityAssociations"),
)


def _catalog_addon(name: str, cluster: str) -> eks_catalog.Addon:
    found = eks_catalog.load_addons().get(name)
    if found is None:
        raise Invalid(reason="addon-not-supported", clusterName=cluster, addonName=name)
    return found


def _version(addon: eks_catalog.Addon, wanted: str | None, kube: str, cluster: str) -> str:
    """The requested version if it runs on Kubernetes ``kube``, else the default for it."""
    found = addon.version(wanted) if wanted else addon.default_for(kube)
    if found is None or kube not in found.kubernetes:
        raise Invalid(
            reason="addon-version-not-supported", clusterName=cluster, addonName=addon.name
        )
    return found.version


def _configuration(values: str | None, cluster: str, addon: str) -> None:
    """configurationValues must be a JSON or YAML object (EKS then checks the add-on's schema;
    podwarden does not model the schemas)."""
    if values is None:
        return
    try:
        parsed = yaml.safe_load(values)
    except yaml.YAMLError:
        parsed = None
    if not isinstance(parsed, dict):
        raise Invalid(reason="invalid-configuration", clusterName=cluster, addonName=addon)


def get_addon(ctx: Context, cluster: str, name: str) -> Record:
    records.get_cluster(ctx, cluster)
    rec = ctx.store.resources.get(kinds.EKS_ADDON, ctx.scope, kinds.child_key(cluster, name))
    if rec is None:
        raise NotFound(reason="addon-not-found", clusterName=cluster, addonName=name)
    return rec


def _namespace(addon: dict[str, Any]) -> str:
    """Where the add-on's service accounts live: its ``namespaceConfig`` or the catalog's."""
    given = (addon.get("namespaceConfig") or {}).get("namespace")
    if given:
        return str(given)
    found = eks_catalog.load_addons().get(addon["addonName"])
    return found.namespace if found else "kube-system"


def _check_pairs(
    ctx: Context, cluster: str, namespace: str, pairs: list[dict[str, str]], owner: str | None
) -> None:
    """Each service account once, and not associated already other than by this add-on."""
    accounts = [p["serviceAccount"] for p in pairs]
    if len(accounts) != len(set(accounts)):
        raise Invalid(reason="service-account-repeated", clusterName=cluster)
    for account in accounts:
        found = pod_identity.taken(ctx, cluster, namespace, account)
        if found is not None and (owner is None or found.doc.get("ownerArn") != owner):
            raise InUse(reason="association-exists", associationId=found.doc["associationId"])


def _sync_associations(
    ctx: Context, cluster: str, namespace: str, owner: str, pairs: list[dict[str, str]]
) -> list[str]:
    """Make the add-on's Pod Identity associations (``ownerArn`` its ARN) the ``pairs``: keep
    or re-point those of the same service account, create the new ones, delete the others.
    The ARNs, in the order of ``pairs``."""
    owned = {
        r.doc["serviceAccount"]: r
        for r in records.children(ctx, kinds.EKS_POD_IDENTITY, cluster)
        if r.doc.get("ownerArn") == owner
    }
    arns = []
    for pair in pairs:
        rec = owned.pop(pair["serviceAccount"], None)
        if rec is None:
            rec = pod_identity.add_association(
                ctx, cluster, namespace, pair["serviceAccount"], pair["roleArn"], owner=owner
            )
        elif rec.doc["roleArn"] != pair["roleArn"]:
            rec.doc["roleArn"] = pair["roleArn"]
            rec.doc["modifiedAt"] = ctx.now()
            ctx.store.resources.save(rec)
        arns.append(str(rec.doc["associationArn"]))
    for rec in owned.values():
        ctx.store.resources.delete(kinds.EKS_POD_IDENTITY, rec.scope, rec.key)
    return arns


def create_addon(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster, name = params["clusterName"], params["addonName"]
    crec = records.get_cluster(ctx, cluster)
    records.require_live(crec)
    addon = _catalog_addon(name, cluster)
    version = _version(addon, params.get("addonVersion"), crec.doc["version"], cluster)
    _configuration(params.get("configurationValues"), cluster, name)
    pairs = list(params.get("podIdentityAssociations") or [])
    doc = _addon_doc(ctx, params, addon, version, pairs)
    key = kinds.child_key(cluster, name)
    taken = InUse(reason="addon-exists", clusterName=cluster, addonName=name)
    if ctx.store.resources.get(kinds.EKS_ADDON, ctx.scope, key) is not None:
        raise taken
    namespace = _namespace(doc)
    _check_pairs(ctx, cluster, namespace, pairs, None)
    rec = records.create(
        ctx, kinds.EKS_ADDON, key, doc, created=doc["createdAt"], parent=cluster, taken=taken
    )
    if pairs:
        doc["podIdentityAssociations"] = _sync_associations(
            ctx, cluster, namespace, doc["addonArn"], pairs
        )
        ctx.store.resources.save(rec)
    ctx.wake(kinds.EKS_CLUSTER, params["clusterName"])
    return {"addon": records.public(doc)}


def _addon_doc(
    ctx: Context,
    params: dict[str, Any],
    addon: eks_catalog.Addon,
    version: str,
    pairs: list[dict[str, str]],
) -> dict[str, Any]:
    """A new add-on's record: ``CREATING``, its Pod Identity associations still to make."""
    cluster, name, now = params["clusterName"], params["addonName"], ctx.now()
    doc: dict[str, Any] = {
        "addonName": name,
        "clusterName": cluster,
        "status": "CREATING",
        "addonVersion": version,
        "health": {"issues": []},
        "addonArn": arns.eks_child(
            ctx.region, ctx.account, "addon", cluster, name, str(uuid.uuid4())
        ),
        "createdAt": now,
        "modifiedAt": now,
        "tags": dict(params.get("tags") or {}),
        "publisher": addon.publisher,
        "owner": addon.owner,
        "podIdentityAssociations": [],
        KEY: {
            "pending_update": None,
            "preserve": False,
            "resolveConflicts": params.get("resolveConflicts"),
            "podIdentityAssociations": pairs,
        },
    }
    for member in ("serviceAccountRoleArn", "configurationValues", "namespaceConfig"):
        if params.get(member) is not None:
            doc[member] = params[member]
    return doc


def describe_addon(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"addon": records.public(get_addon(ctx, params["clusterName"], params["addonName"]).doc)}


def list_addons(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster = params["clusterName"]
    records.get_cluster(ctx, cluster)
    names = [r.doc["addonName"] for r in records.children(ctx, kinds.EKS_ADDON, cluster)]
    return records.page("addons", names, params)


def update_addon(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    cluster, name = params["clusterName"], params["addonName"]
    rec = get_addon(ctx, cluster, name)
    _require_updatable(rec)
    changes = _addon_changes(ctx, rec, params)
    shown = [
        (kind, v if isinstance(v, str) else json.dumps(v))
        for member, kind in UPDATE_PARAMS
        if (v := params.get(member)) is not None
    ]
    return records.start_update(ctx, rec, "AddonUpdate", shown, changes, addon=name)


def _require_updatable(rec: Record) -> None:
    status, name = rec.doc["status"], rec.doc["addonName"]
    fields = {"clusterName": rec.doc["clusterName"], "addonName": name}
    if status in ("DELETING", "DELETE_FAILED"):
        raise Conflict(reason="addon-deleting", status=status, **fields)
    if status not in UPDATABLE:
        pending = eks_lifecycle.pending_update(rec.doc)
        doing = f"has update {pending} in progress" if pending else f"is {status}"
        raise InUse(reason="addon-busy", doing=doing, **fields)


def _addon_changes(ctx: Context, rec: Record, params: dict[str, Any]) -> dict[str, Any]:
    """Paths of the add-on doc an UpdateAddon changes once carried out."""
    cluster, name = rec.doc["clusterName"], rec.doc["addonName"]
    changes: dict[str, Any] = {}
    if params.get("addonVersion") is not None:
        kube = records.get_cluster(ctx, cluster).doc["version"]
        changes["addonVersion"] = _version(
            _catalog_addon(name, cluster), params["addonVersion"], kube, cluster
        )
    if params.get("configurationValues") is not None:
        _configuration(params["configurationValues"], cluster, name)
        changes["configurationValues"] = params["configurationValues"]
    if params.get("serviceAccountRoleArn") is not None:
        changes["serviceAccountRoleArn"] = params["serviceAccountRoleArn"]
    if params.get("resolveConflicts") is not None:
        changes["_podwarden.resolveConflicts"] = params["resolveConflicts"]
    if params.get("podIdentityAssociations") is not None:
        pairs = list(params["podIdentityAssociations"])
        namespace, owner = _namespace(rec.doc), rec.doc["addonArn"]
        _check_pairs(ctx, cluster, namespace, pairs, owner)
        changes["_podwarden.podIdentityAssociations"] = pairs
        changes["podIdentityAssociations"] = _sync_associations(
            ctx, cluster, namespace, owner, pairs
        )
    return changes


def delete_addon(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = get_addon(ctx, params["clusterName"], params["addonName"])
    if rec.doc["status"] != "DELETING":
        preserve = bool(params.get("preserve"))
        eks_lifecycle.begin_addon_deletion(rec.doc, ctx.now(), preserve=preserve)
        ctx.store.resources.save(rec)
        ctx.wake(kinds.EKS_CLUSTER, params["clusterName"])
    return {"addon": records.public(rec.doc)}


# ---------------------------------------------------------------- DescribeAddonVersions


def describe_addon_versions(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    kube = params.get("kubernetesVersion")
    wanted = {
        "addonName": {params["addonName"]} if params.get("addonName") else None,
        "type": set(params.get("types") or []) or None,
        "publisher": set(params.get("publishers") or []) or None,
        "owner": set(params.get("owners") or []) or None,
    }
    found = []
    for addon in eks_catalog.load_addons().addons.values():
        values = {"addonName": addon.name, "type": addon.type}
        values |= {"publisher": addon.publisher, "owner": addon.owner}
        if any(allowed is not None and values[k] not in allowed for k, allowed in wanted.items()):
            continue
        versions = [_version_info(addon, v, kube) for v in addon.versions]
        versions = [v for v in versions if v["compatibilities"]]
        if versions:
            found.append({**values, "addonVersions": versions, "defaultNamespace": addon.namespace})
    return records.page("addons", found, params)


def _version_info(
    addon: eks_catalog.Addon, version: eks_catalog.AddonVersion, kube: str | None
) -> dict[str, Any]:
    """One ``AddonVersionInfo``; with ``kube`` its compatibilities name only that version."""
    compatible = [k for k in version.kubernetes if kube is None or k == kube]
    compatible.sort(key=eks_catalog.minor_key, reverse=True)
    return {
        "addonVersion": version.version,
        "architecture": list(addon.architecture),
        "computeTypes": list(addon.compute_types),
        "compatibilities": [
            {
                "clusterVersion": k,
                "platformVersions": ["*"],
                "defaultVersion": k in version.default_for,
            }
            for k in compatible
        ],
        "requiresConfiguration": addon.requires_configuration,
        "requiresIamPermissions": addon.requires_iam_permissions,
    }


OPERATIONS: Operations = {
    "CreateAddon": create_addon,
    "DescribeAddon": describe_addon,
    "ListAddons": list_addons,
    "UpdateAddon": update_addon,
    "DeleteAddon": delete_addon,
    "DescribeAddonVersions": describe_addon_versions,
}
