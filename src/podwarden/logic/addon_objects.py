"""The Kubernetes object an EKS add-on row is (pure): a DaemonSet or Deployment in the add-on's
namespace whose one container runs the add-on's image, the version in its tag, so a
live-cluster inspection sees what it would see on EKS (the ``aws-node`` DaemonSet's image tag is
how tools read the VPC CNI's version, R5 in docs/requirements.md); or one of the other objects an
add-on installs (``policy.eks_addon_objects``): a Namespace, a ServiceAccount, a CRD from its
packaged manifest.

Labels follow EKS's own objects where they are known (``k8s-app: <name>``, as aws-node,
kube-proxy and coredns carry); ``app.kubernetes.io/managed-by: EKS`` marks add-on objects as on
EKS, and ``podwarden.io/eks-addon`` names the add-on so it can be removed with it. DaemonSets
tolerate every taint (``operator: Exists``), as aws-node and kube-proxy do on EKS, so they also
run on nodes HyperPod tainted during deep health checks. A workload row may name its pods'
service account and extra pod labels (the HyperPod training operator's pods carry
``hp-training-control-plane``, which ``hyp get-operator-logs`` selects).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from podwarden.policy.eks_addon_objects import load_manifest

ADDON_LABEL: Final = "podwarden.io/eks-addon"


def workload_object(workload: Mapping[str, Any], addon: str) -> dict[str, Any]:
    kind = workload["kind"]
    labels = {"app.kubernetes.io/managed-by": "EKS", ADDON_LABEL: addon}
    if kind in ("DaemonSet", "Deployment"):
        return _workload(workload, {"k8s-app": workload["name"], **labels})
    if kind == "CustomResourceDefinition":
        crd = load_manifest(workload["manifest"])
        crd["metadata"]["labels"] = {**crd["metadata"].get("labels", {}), **labels}
        return crd
    meta = {"name": workload["name"], "labels": labels}
    if workload.get("namespace"):
        meta["namespace"] = workload["namespace"]
    return {"apiVersion": "v1", "kind": kind, "metadata": meta}


def _workload(workload: Mapping[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    name, kind = workload["name"], workload["kind"]
    pod_labels = {"k8s-app": name, **workload.get("pod_labels", {})}
    pod_spec: dict[str, Any] = {
        "containers": [{"name": workload["container"], "image": workload["image"]}]
    }
    if workload.get("service_account"):
        pod_spec["serviceAccountName"] = workload["service_account"]
    pod: dict[str, Any] = {"metadata": {"labels": pod_labels}, "spec": pod_spec}
    spec: dict[str, Any] = {"selector": {"matchLabels": {"k8s-app": name}}, "template": pod}
    if kind == "DaemonSet":
        pod_spec["tolerations"] = [{"operator": "Exists"}]
        pod_spec["hostNetwork"] = name in ("aws-node", "kube-proxy")
    else:
        spec["replicas"] = 2 if name == "coredns" else 1
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": workload["namespace"], "labels": labels},
        "spec": spec,
    }
