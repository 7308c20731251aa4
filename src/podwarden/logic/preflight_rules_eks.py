"""Preflight rules about the EKS cluster: it exists and is ACTIVE (R2), its Kubernetes version
(R3), authentication mode and access entries (R4, R7), the VPC CNI and no other CNI (R5), its
add-ons (R8)."""

from __future__ import annotations

import re

from podwarden.logic.kube_snapshot import KubeSnapshot
from podwarden.logic.preflight import (
    Outcome,
    Rule,
    failed,
    listed,
    passed,
    skipped,
    warned,
)
from podwarden.logic.preflight_facts import EksCluster, Facts, Unknown
from podwarden.policy.eks_catalog import minor_key
from podwarden.policy.preflight import Tables

_SEMVER = re.compile(r"v?(?P<x>[0-9]+)\.(?P<y>[0-9]+)\.(?P<z>[0-9]+)")
NO_CLUSTER = "the EKS cluster could not be read (see eks-cluster-active)"
INSPECT = (
    "Inspect the live cluster: podwarden preflight --kubeconfig <the EKS cluster's>; inside "
    "podwarden the EKS reconciler observes it once the cluster is ACTIVE."
)


def semver(text: str) -> tuple[int, int, int] | None:
    """``v1.18.2-eksbuild.1`` or ``1.18.2`` -> ``(1, 18, 2)``; None when it is not one."""
    m = _SEMVER.match(text)
    return (int(m["x"]), int(m["y"]), int(m["z"])) if m else None


def eks_of(facts: Facts) -> EksCluster | None:
    return facts.eks if isinstance(facts.eks, EksCluster) else None


def not_inspected(kube: Unknown) -> str:
    return f"live cluster not inspected ({kube.reason})"


# ---------------------------------------------------------------- R2


def cluster_active(facts: Facts, tables: Tables) -> Outcome:
    eks = facts.eks
    if isinstance(eks, Unknown):
        return failed(
            [eks.reason],
            "Create the EKS cluster first and wait until it is ACTIVE (aws eks create-cluster; "
            "aws eks wait cluster-active); Orchestrator.Eks.ClusterArn must name it.",
        )
    if eks.status != "ACTIVE":
        return failed(
            [f"EKS cluster {eks.name} is {eks.status}"],
            f"Wait until EKS cluster {eks.name} is ACTIVE "
            f"(aws eks wait cluster-active --name {eks.name}).",
        )
    return passed(f"EKS cluster {eks.name} is ACTIVE ({eks.arn})")


# ---------------------------------------------------------------- R3


def kubernetes_version(facts: Facts, tables: Tables) -> Outcome:
    eks = eks_of(facts)
    if eks is None:
        return skipped(NO_CLUSTER)
    supported = tables.preflight.kubernetes_versions
    if eks.version in supported:
        return passed(f"EKS cluster {eks.name} runs Kubernetes {eks.version}")
    evidence = [
        f"EKS cluster {eks.name} runs Kubernetes {eks.version}; HyperPod supports "
        f"{listed(supported)}"
    ]
    try:
        older = minor_key(eks.version) < min(minor_key(v) for v in supported)
    except ValueError:
        older = False
    if older:
        fix = (
            f"Upgrade the EKS cluster one minor version at a time (aws eks update-cluster-version "
            f"--name {eks.name} --kubernetes-version <next minor>) until it runs a supported one."
        )
    else:
        fix = (
            "EKS versions only move forward: create an EKS cluster with a supported version "
            f"(aws eks create-cluster --kubernetes-version {supported[-1]} ...) and attach "
            "HyperPod to it."
        )
    return failed(evidence, fix)


# ---------------------------------------------------------------- R4, R7


def authentication_mode(facts: Facts, tables: Tables) -> Outcome:
    eks = eks_of(facts)
    if eks is None:
        return skipped(NO_CLUSTER)
    modes = tables.preflight.authentication_modes
    evidence = f"EKS cluster {eks.name} has authentication mode {eks.authentication_mode}"
    if eks.authentication_mode in modes:
        return passed(evidence)
    return failed(
        [f"{evidence}; HyperPod needs {' or '.join(modes)}"],
        f"aws eks update-cluster-config --name {eks.name} --access-config "
        "authenticationMode=API_AND_CONFIG_MAP (the mode moves forward only: CONFIG_MAP -> "
        "API_AND_CONFIG_MAP -> API).",
    )


def access_entries(facts: Facts, tables: Tables) -> Outcome:
    eks = eks_of(facts)
    if eks is None:
        return skipped(NO_CLUSTER)
    if eks.authentication_mode not in tables.preflight.authentication_modes:
        return failed(
            [
                f"EKS cluster {eks.name} has authentication mode {eks.authentication_mode}: it "
                "refuses access entries, so HyperPod cannot grant its service identity and its "
                "nodes access to the cluster"
            ],
            f"Switch EKS cluster {eks.name} to API_AND_CONFIG_MAP or API (aws eks "
            "update-cluster-config --access-config authenticationMode=API_AND_CONFIG_MAP).",
        )
    evidence = [f"authentication mode {eks.authentication_mode} permits access entries"]
    if isinstance(eks.access_entries, Unknown):
        return passed(*evidence, f"access entries not listed ({eks.access_entries.reason})")
    wanted = tables.preflight.execution_role.hyperpod_entry_type
    clashes = [
        f"ExecutionRole {arn} already has an access entry of type {kind}; HyperPod's nodes "
        f"join through a {wanted} entry for it"
        for arn in facts.execution_roles()
        if (kind := eks.access_entries.get(arn)) is not None and kind != wanted
    ]
    if clashes:
        return warned(
            evidence + clashes,
            "Delete the conflicting access entry (aws eks delete-access-entry --cluster-name "
            f"{eks.name} --principal-arn <role>) so HyperPod can create its own.",
        )
    return passed(*evidence)


# ---------------------------------------------------------------- R5


def vpc_cni_version(facts: Facts, tables: Tables) -> Outcome:
    eks = eks_of(facts)
    if eks is None:
        return skipped(NO_CLUSTER)
    cni = tables.preflight.vpc_cni
    minimum = cni.minimum_text
    evidence: list[str] = []
    too_old = ok = absent = False
    if isinstance(eks.addons, Unknown):
        evidence.append(f"add-ons could not be listed ({eks.addons.reason})")
    elif (addon := eks.addons.get(cni.addon)) is None:
        evidence.append(f"no {cni.addon} EKS add-on")
        absent = True
    else:
        v = semver(addon.version)
        low = v is None or v < cni.minimum
        too_old, ok = too_old or low, ok or not low
        evidence.append(
            f"{cni.addon} add-on {addon.version} ({addon.status})"
            + (f" < {minimum}" if low else "")
        )
    if isinstance(facts.kube, Unknown):
        evidence.append(not_inspected(facts.kube))
    else:
        ds = facts.kube.daemonset(cni.daemonset, cni.namespace)
        container = (
            next((c for c in ds.containers if c.name == cni.container), None) if ds else None
        )
        where = f"DaemonSet {cni.namespace}/{cni.daemonset}"
        if ds is None or container is None:
            evidence.append(f"no {where} in the live cluster")
            too_old = too_old or absent  # neither an add-on nor the plugin itself
        else:
            v = semver(container.tag)
            low = v is None or v < cni.minimum
            too_old, ok = too_old or low, ok or not low
            evidence.append(f"{where} runs {container.image}" + (f" (< {minimum})" if low else ""))
    fix = (
        f"Install or update the Amazon VPC CNI to {minimum} or later: aws eks update-addon "
        f"--cluster-name {eks.name} --addon-name {cni.addon} --addon-version <v{minimum} or "
        f"later> (create-addon if it is not an add-on yet)."
    )
    if too_old:
        return failed(evidence, fix)
    if ok:
        return passed(*evidence)
    return warned([*evidence, f"the VPC CNI version could not be confirmed >= {minimum}"], fix)


def other_cnis(snapshot: KubeSnapshot, tables: Tables) -> list[str]:
    found = []
    for ds in snapshot.daemonsets:
        for cni in tables.preflight.other_cnis:
            by_image = any(i in c.image for c in ds.containers for i in cni.images)
            if ds.name in cni.daemonsets or by_image:
                found.append(f"DaemonSet {ds.namespace}/{ds.name} ({cni.name})")
                break
    return found


def single_cni(facts: Facts, tables: Tables) -> Outcome:
    if isinstance(facts.kube, Unknown):
        return warned([not_inspected(facts.kube)], INSPECT)
    found = other_cnis(facts.kube, tables)
    if found:
        return failed(
            [f"another CNI runs in the cluster: {listed(found)}"],
            "Remove the other CNI (its DaemonSet, and its config in /etc/cni/net.d on the "
            "nodes): the Amazon VPC CNI is the only CNI HyperPod supports.",
        )
    n = len(facts.kube.daemonsets)
    return passed(f"no other CNI among the cluster's {n} DaemonSets")


# ---------------------------------------------------------------- R8


def addons_compatible(facts: Facts, tables: Tables) -> Outcome:
    eks = eks_of(facts)
    if eks is None:
        return skipped(NO_CLUSTER)
    if isinstance(eks.addons, Unknown):
        return warned([f"add-ons could not be listed ({eks.addons.reason})"])
    names = sorted(eks.addons)
    others = [n for n in names if n not in tables.preflight.compatible_addons]
    if others:
        return warned(
            [f"add-ons not on HyperPod's compatible list: {listed(others)}"],
            "Check that these add-ons work with HyperPod nodes, or remove them.",
        )
    return passed(f"add-ons: {listed(names)}")


RULES = (
    Rule(
        "eks-cluster-active",
        "R2",
        "The EKS cluster named by Orchestrator.Eks.ClusterArn exists and is ACTIVE.",
        cluster_active,
    ),
    Rule(
        "kubernetes-version",
        "R3",
        "The EKS cluster runs a Kubernetes version HyperPod supports.",
        kubernetes_version,
    ),
    Rule(
        "authentication-mode",
        "R4",
        "The EKS cluster's authentication mode is API or API_AND_CONFIG_MAP.",
        authentication_mode,
    ),
    Rule(
        "vpc-cni-version",
        "R5",
        "The Amazon VPC CNI is installed at version 1.18.3 or later (add-on and live aws-node).",
        vpc_cni_version,
    ),
    Rule(
        "single-cni",
        "R5",
        "No CNI other than the Amazon VPC CNI runs in the cluster.",
        single_cni,
    ),
    Rule(
        "access-entries",
        "R4, R7",
        "HyperPod can create the access entries its service identity and nodes need.",
        access_entries,
    ),
    Rule(
        "addons-compatible",
        "R8",
        "The EKS add-ons installed are ones HyperPod works with.",
        addons_compatible,
    ),
)
