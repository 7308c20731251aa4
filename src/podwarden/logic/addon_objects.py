"""The Kubernetes object an EKS add-on workload is (pure): a DaemonSet or Deployment in the
add-on's namespace whose one container runs the add-on's image, the version in its tag, so a
live-cluster inspection sees what it would see on EKS (the ``aws-node`` DaemonSet's image tag is
how tools read the VPC CNI's version, seed R5).

Labels follow EKS's own objects where they are known (``k8s-app: <name>``, as aws-node,
kube-proxy and coredns carry); ``app.kubernetes.io/managed-by: EKS`` marks add-on objects as on
EKS, and ``podwarden.io/eks-addon`` names the add-on so it can be removed with it. DaemonSets
tolerate every taint (``operator: Exists``), as aws-node and kube-proxy do on EKS, so they also
run on nodes HyperPod tainted during deep health checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

ADDON_LABEL: Final = "podwarden.io/eks-addon"


def workload_object(workload: Mapping[str, str], addon: str) -> dict[str, Any]:
    name, kind = workload["name"], workload["kind"]
    labels = {"k8s-app": name, "app.kubernetes.io/managed-by": "EKS", ADDON_LABEL: addon}
    pod: dict[str, Any] = {
        "metadata": {"labels": {"k8s-app": name}},
        "spec": {"containers": [{"name": workload["container"], "image": workload["image"]}]},
    }
    spec: dict[str, Any] = {"selector": {"matchLabels": {"k8s-app": name}}, "template": pod}
    if kind == "DaemonSet":
        pod["spec"]["tolerations"] = [{"operator": "Exists"}]
        pod["spec"]["hostNetwork"] = name in ("aws-node", "kube-proxy")
    else:
        spec["replicas"] = 2 if name == "coredns" else 1
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": workload["namespace"], "labels": labels},
        "spec": spec,
    }
