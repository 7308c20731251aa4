"""Preflight rules that read the live cluster (and the EKS facts that go with them): the health
agent when recovery is automatic (R16, R17), workloads' instance-type labels (R11), hostPath
volumes (R10), pods per node (R12), and how pods get AWS credentials (R13)."""

from __future__ import annotations

from podwarden.logic.kube_snapshot import KubeSnapshot, Workload
from podwarden.logic.preflight import (
    Outcome,
    Rule,
    failed,
    listed,
    passed,
    plural,
    skipped,
    warned,
)
from podwarden.logic.preflight_facts import Facts, Unknown
from podwarden.logic.preflight_rules_eks import INSPECT, eks_of, not_inspected
from podwarden.logic.preflight_rules_groups import group_types
from podwarden.model import ids, labels
from podwarden.policy.preflight import Tables

SAGEMAKER_LABELS = labels.COMPUTE_TYPE.split("/", 1)[0] + "/"


def targets_hyperpod(w: Workload, tables: Tables) -> bool:
    """The workload runs on, or selects, HyperPod nodes."""
    prefix = tables.preflight.instance_type_prefix
    keys = [*w.node_selector, *(r.key for r in w.requirements())]
    return (
        w.node_name.startswith(ids.NODE_NAME_PREFIX)
        or any(k.startswith(SAGEMAKER_LABELS) for k in keys)
        or any(v.startswith(prefix) for v in w.label_values(tables.preflight.instance_type_labels))
    )


# ---------------------------------------------------------------- R16, R17


def _agent_not_needed(facts: Facts, tables: Tables) -> Outcome | None:
    if facts.request is not None and not facts.automatic_recovery():
        return skipped("NodeRecovery is not Automatic")
    catalog = tables.catalog
    types = [t for g in facts.groups() for t in group_types(g)]
    if types and all(t in catalog and catalog.types[t].is_cpu_only for t in types):
        return skipped(
            "only CPU instance groups: the agent does not run on them (R17) and CPU instances "
            "are not replaced automatically (R15)"
        )
    if facts.local_agent:
        return passed("podwarden's own health agent watches this server's nodes (local mode)")
    return None


def health_agent(facts: Facts, tables: Tables) -> Outcome:
    if (outcome := _agent_not_needed(facts, tables)) is not None:
        return outcome
    fix = (
        "Install the health-monitoring agent before creating the cluster (HyperPod's Helm "
        "chart, or podwarden's: helm install podwarden-health-agent "
        "deploy/helm/podwarden-health-agent), or set NodeRecovery to None."
    )
    if isinstance(facts.kube, Unknown):
        return warned([not_inspected(facts.kube)], fix)
    names = tables.preflight.health_agent_daemonsets
    found = [f"{d.namespace}/{d.name}" for d in facts.kube.daemonsets if d.name in names]
    if found:
        return passed(f"health agent DaemonSet(s): {listed(found)}")
    evidence = [f"no health agent DaemonSet ({listed(names)}) in the cluster"]
    if facts.request is None:
        return warned(evidence, fix)
    return failed(
        [*evidence, "NodeRecovery is Automatic: without the agent nothing triggers recovery"],
        fix,
    )


# ---------------------------------------------------------------- R11


def workload_instance_type_labels(facts: Facts, tables: Tables) -> Outcome:
    if isinstance(facts.kube, Unknown):
        return warned([not_inspected(facts.kube)], INSPECT)
    keys = tables.preflight.instance_type_labels
    prefix = tables.preflight.instance_type_prefix
    found = []
    for w in facts.kube.all_workloads():
        bare = [v for v in w.label_values(keys) if not v.startswith(prefix)]
        if bare:
            found.append(f"{w.ref} selects instance type {listed(bare)} without {prefix}")
    if found:
        return warned(
            found,
            f"HyperPod nodes are labelled {keys[0]}={prefix}<type> (ml.p5.48xlarge, not "
            "p5.48xlarge): use the ml. values to schedule on them.",
        )
    return passed("no workload selects an instance type without the ml. prefix")


# ---------------------------------------------------------------- R10


def hostpath_volumes(facts: Facts, tables: Tables) -> Outcome:
    if isinstance(facts.kube, Unknown):
        return warned([not_inspected(facts.kube)], INSPECT)
    table = tables.preflight

    def under(path: str, roots: tuple[str, ...]) -> bool:
        return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)

    found = []
    for w in facts.kube.all_workloads():
        if not targets_hyperpod(w, tables):
            continue
        odd = [
            p
            for p in w.host_paths
            if not under(p, table.volume_paths) and not under(p, table.system_host_paths)
        ]
        if odd:
            found.append(f"{w.ref} mounts hostPath {listed(odd)} on HyperPod nodes")
    if found:
        return warned(
            found,
            f"HyperPod mounts its volumes under {listed(table.volume_paths)}: point hostPath "
            "volumes there (InstanceStorageConfigs' volume is /opt/sagemaker).",
        )
    return passed("no HyperPod workload mounts a hostPath outside the HyperPod volume paths")


# ---------------------------------------------------------------- R12


def _node_labels(instance_type: str, group: str) -> dict[str, str]:
    return {
        labels.INSTANCE_TYPE: instance_type,
        labels.INSTANCE_TYPE_BETA: instance_type,
        labels.COMPUTE_TYPE: "hyperpod",
        labels.GROUP_NAME: group,
    }


def daemonsets_on(snapshot: KubeSnapshot, instance_type: str, group: str) -> list[Workload]:
    node = _node_labels(instance_type, group)
    return [d for d in snapshot.daemonsets if d.may_run_on(node)]


def pods_per_node(facts: Facts, tables: Tables) -> Outcome:
    groups = facts.groups()
    if not groups:
        return skipped("the request has no instance groups")
    if isinstance(facts.kube, Unknown):
        return warned([not_inspected(facts.kube)], INSPECT)
    crowded: list[str] = []
    fine: list[str] = []
    for g in groups:
        name = str(g["InstanceGroupName"])
        for t in group_types(g):
            if t not in tables.catalog:
                continue
            max_pods = tables.catalog.types[t].max_pods
            n = len(daemonsets_on(facts.kube, t, name))
            line = f"{name} ({t}): {max_pods} pods per node, {plural(n, 'DaemonSet')}"
            (crowded if max_pods < n + 1 else fine).append(line)
    if crowded:
        return warned(
            [f"{c}: no room for a workload pod" for c in crowded],
            "Use a larger instance type (one ENI: max pods = IPv4 addresses per ENI - 1), or "
            "keep DaemonSets off these nodes with node affinity.",
        )
    return passed(*fine) if fine else skipped("no instance type of the catalog")


# ---------------------------------------------------------------- R13


def pod_credentials(facts: Facts, tables: Tables) -> Outcome:
    eks = eks_of(facts)
    if eks is None:
        return skipped("the EKS cluster could not be read (see eks-cluster-active)")
    creds = tables.preflight.pod_credentials
    evidence = []
    if not isinstance(eks.addons, Unknown) and creds.pod_identity_addon in eks.addons:
        return passed(f"the {creds.pod_identity_addon} add-on is installed (EKS Pod Identity)")
    if isinstance(facts.kube, KubeSnapshot) and facts.kube.daemonset(creds.pod_identity_daemonset):
        return passed(f"the {creds.pod_identity_daemonset} DaemonSet runs (EKS Pod Identity)")
    issuer = eks.oidc_issuer.removeprefix("https://")
    if isinstance(facts.oidc_providers, Unknown):
        evidence.append(f"IAM OIDC providers not listed ({facts.oidc_providers.reason})")
    elif issuer and issuer in facts.oidc_providers:
        return passed(f"IAM OIDC provider {issuer} exists (IRSA)")
    else:
        evidence.append(f"no IAM OIDC provider for {issuer or 'the cluster'}")
    evidence.insert(0, f"no {creds.pod_identity_addon} add-on")
    return warned(
        [*evidence, "pods off hostNetwork cannot reach IMDS, so they get no AWS credentials"],
        f"aws eks create-addon --cluster-name {eks.name} --addon-name "
        f"{creds.pod_identity_addon} (Pod Identity), or create an IAM OIDC provider for the "
        "cluster's issuer (IRSA).",
    )


def workload_aws_credentials(facts: Facts, tables: Tables) -> Outcome:
    if isinstance(facts.kube, Unknown):
        return warned([not_inspected(facts.kube)], INSPECT)
    creds = tables.preflight.pod_credentials
    eks = eks_of(facts)
    associations = eks.pod_identity_associations if eks else Unknown("no EKS cluster")
    covered = set() if isinstance(associations, Unknown) else set(associations)
    found, imds = [], []
    for w in facts.kube.all_workloads():
        if w.host_network:
            continue
        env = {e for c in w.containers for e in c.aws_env}
        account = f"{w.namespace}/{w.service_account}"
        if any(c.imds for c in w.containers):
            imds.append(
                f"{w.ref} names the instance metadata service (169.254.169.254) off "
                "hostNetwork: on HyperPod nodes only hostNetwork pods reach IMDS"
            )
        if (
            not env & set(creds.sdk_env)
            or env & set(creds.credential_env)
            or account in facts.kube.irsa_roles
            or account in covered
        ):
            continue
        found.append(f"{w.ref} (service account {account}) uses the AWS SDK without credentials")
    if found or imds:
        if found and isinstance(associations, Unknown):
            found.append(f"Pod Identity associations not listed ({associations.reason})")
        return warned(
            [*found, *imds],
            "Give these service accounts an IAM role: aws eks create-pod-identity-association, "
            f"or annotate them with {creds.irsa_annotation} (IRSA); do not rely on IMDS off "
            "hostNetwork.",
        )
    return passed("every workload that calls AWS has a way to get credentials")


RULES = (
    Rule(
        "health-agent",
        "R16, R17",
        "The health-monitoring agent is installed when NodeRecovery is Automatic.",
        health_agent,
    ),
    Rule(
        "workload-instance-type-labels",
        "R11",
        "Workloads select HyperPod instance types by their ml. names.",
        workload_instance_type_labels,
    ),
    Rule(
        "hostpath-volumes",
        "R10",
        "Workloads on HyperPod nodes mount hostPath volumes under /opt/sagemaker.",
        hostpath_volumes,
    ),
    Rule(
        "pods-per-node",
        "R12",
        "Each group's pods per node leave room for the DaemonSets and a workload pod.",
        pods_per_node,
    ),
    Rule(
        "pod-credentials",
        "R13",
        "Pods can get AWS credentials without IMDS: EKS Pod Identity or IRSA.",
        pod_credentials,
    ),
    Rule(
        "workload-aws-credentials",
        "R13",
        "Workloads that call AWS off hostNetwork have a Pod Identity association or IRSA role, "
        "and none relies on IMDS.",
        workload_aws_credentials,
    ),
)
