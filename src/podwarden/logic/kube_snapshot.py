"""What the preflight needs to know about a live EKS cluster, from raw Kubernetes objects.

Pure: :func:`snapshot` takes the JSON of DaemonSets, Deployments, Pods and ServiceAccounts (as
the API serves them, every namespace) and keeps only what the rules read: each workload's
containers (name, image, the names of its ``AWS_*`` environment variables, whether it names
the instance metadata service), where it may run
(nodeSelector, node affinity), its hostPath volumes, hostNetwork and service account, and the
service accounts that carry an IRSA role annotation. ``podwarden.kube.inspect.read_cluster``
lists the objects; inside the server the EKS reconciler stores ``to_doc()`` as the
``eks:observed`` record of each ACTIVE cluster, built from watched caches
(``kube.inspect.LiveSnapshot``) that hold only what the ``kept_*`` functions keep of each object.

Pods owned by a ReplicaSet or a DaemonSet are left out: their Deployment or DaemonSet stands for
them (a ReplicaSet's pods are taken to belong to a Deployment). Other pods (bare pods, Jobs,
StatefulSets) are workloads of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
AWS_ENV_PREFIX = "AWS_"
# the instance metadata service's addresses, IPv4 and IPv6 (docs/sources.md, "Instance metadata"):
# a container naming one in its environment, command or arguments relies on IMDS
IMDS_ADDRESSES = ("169.254.169.254", "fd00:ec2::254")
COVERED_OWNERS = frozenset({"ReplicaSet", "DaemonSet"})


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    aws_env: tuple[str, ...] = ()  # names of AWS_* environment variables
    imds: bool = False  # names an IMDS address in its env values, command or args

    @property
    def tag(self) -> str:
        """The image tag (``v1.19.2-eksbuild.1``), "" without one; a digest is not a tag."""
        ref = self.image.split("@", 1)[0]
        last = ref.rsplit("/", 1)[-1]
        return last.split(":", 1)[1] if ":" in last else ""


@dataclass(frozen=True)
class Requirement:
    """One node selector requirement of a node affinity (``In``, ``NotIn``, ``Exists``...)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Workload:
    kind: str  # DaemonSet | Deployment | Pod
    namespace: str
    name: str
    containers: tuple[Container, ...] = ()
    node_selector: Mapping[str, str] = field(default_factory=dict, hash=False)
    # requiredDuringScheduling nodeSelectorTerms: ORed terms of ANDed requirements
    required_terms: tuple[tuple[Requirement, ...], ...] = ()
    preferred: tuple[Requirement, ...] = ()  # every preferred term's requirements
    host_paths: tuple[str, ...] = ()
    host_network: bool = False
    service_account: str = "default"
    node_name: str = ""

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    def requirements(self) -> Iterable[Requirement]:
        for term in self.required_terms:
            yield from term
        yield from self.preferred

    def label_values(self, keys: Sequence[str]) -> tuple[str, ...]:
        """The values the workload names for any of the label ``keys``: nodeSelector and node
        affinity (required and preferred, ``In`` and ``NotIn``), in order, without repeats."""
        found = [v for k, v in self.node_selector.items() if k in keys]
        found += [v for r in self.requirements() if r.key in keys for v in r.values]
        return tuple(dict.fromkeys(found))

    def may_run_on(self, labels: Mapping[str, str]) -> bool:
        """Whether a node with ``labels`` satisfies the workload's nodeSelector and required node
        affinity, judging only the keys ``labels`` has (others are taken as satisfied)."""
        for key, value in self.node_selector.items():
            if key in labels and labels[key] != value:
                return False
        if not self.required_terms:
            return True
        return any(all(_satisfied(r, labels) for r in term) for term in self.required_terms)


def _satisfied(req: Requirement, labels: Mapping[str, str]) -> bool:
    if req.key not in labels:
        return True
    value = labels[req.key]
    match req.operator:
        case "In":
            return value in req.values
        case "NotIn":
            return value not in req.values
        case "DoesNotExist":
            return False
    return True


@dataclass(frozen=True)
class KubeSnapshot:
    daemonsets: tuple[Workload, ...] = ()
    workloads: tuple[Workload, ...] = ()  # Deployments and pods no Deployment/DaemonSet covers
    irsa_roles: Mapping[str, str] = field(default_factory=dict, hash=False)  # "ns/sa" -> role ARN

    def all_workloads(self) -> tuple[Workload, ...]:
        return self.daemonsets + self.workloads

    def daemonset(self, name: str, namespace: str | None = None) -> Workload | None:
        return next(
            (
                d
                for d in self.daemonsets
                if d.name == name and (namespace is None or d.namespace == namespace)
            ),
            None,
        )

    def to_doc(self) -> dict[str, Any]:
        return {
            "daemonsets": [_workload_doc(w) for w in self.daemonsets],
            "workloads": [_workload_doc(w) for w in self.workloads],
            "irsa_roles": dict(self.irsa_roles),
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> KubeSnapshot:
        """The inverse of :meth:`to_doc`; other keys (the reconciler's ``observed_at``) are
        ignored."""
        return cls(
            daemonsets=tuple(_workload_from(w) for w in doc.get("daemonsets", [])),
            workloads=tuple(_workload_from(w) for w in doc.get("workloads", [])),
            irsa_roles=dict(doc.get("irsa_roles", {})),
        )


# ---------------------------------------------------------------- from Kubernetes JSON


def snapshot(
    daemonsets: list[dict[str, Any]],
    deployments: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    service_accounts: list[dict[str, Any]],
) -> KubeSnapshot:
    """The snapshot of a cluster from its objects' JSON (``items`` of the list calls)."""
    return KubeSnapshot(
        daemonsets=tuple(_from_template("DaemonSet", o) for o in daemonsets),
        workloads=tuple(_from_template("Deployment", o) for o in deployments)
        + tuple(_workload("Pod", o, o.get("spec") or {}) for o in pods if not _covered(o)),
        irsa_roles={
            f"{_meta(sa)['namespace']}/{_meta(sa)['name']}": str(annotations[IRSA_ANNOTATION])
            for sa in service_accounts
            if IRSA_ANNOTATION in (annotations := _meta(sa).get("annotations") or {})
        },
    )


# ---------------------------------------------------------------- what a cache keeps


def kept_workload(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What :func:`snapshot` reads of a DaemonSet or Deployment: its names and its spec (status
    and the rest of the metadata left out)."""
    return {"metadata": _names(obj), "spec": obj.get("spec")}


def kept_pod(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """What :func:`snapshot` reads of a pod, or None for one it leaves out (a ReplicaSet or a
    DaemonSet controls it): a cache of every pod holds only the few that stand alone."""
    if _covered(obj):
        return None
    return {"metadata": _names(obj), "spec": obj.get("spec")}


def kept_service_account(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """What :func:`snapshot` reads of a service account: its names and IRSA role annotation;
    None without one (it adds nothing to the snapshot)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if IRSA_ANNOTATION not in annotations:
        return None
    role = {IRSA_ANNOTATION: annotations[IRSA_ANNOTATION]}
    return {"metadata": {**_names(obj), "annotations": role}}


def list_order(obj: Mapping[str, Any]) -> str:
    """The order the apiserver lists a namespaced kind in: by storage key
    (``/registry/<resource>/<namespace>/<name>``), so by ``<namespace>/<name>``. A snapshot
    built from cached objects sorted by it equals the one built from a LIST."""
    meta = _meta(obj)
    return f"{meta['namespace']}/{meta['name']}"


def _names(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {k: meta[k] for k in ("namespace", "name") if k in meta}


def _meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {"namespace": "default", "name": "", **(obj.get("metadata") or {})}
    return meta


def _covered(pod: Mapping[str, Any]) -> bool:
    owners = _meta(pod).get("ownerReferences") or []
    return any(o.get("controller") and o.get("kind") in COVERED_OWNERS for o in owners)


def _from_template(kind: str, obj: Mapping[str, Any]) -> Workload:
    template = (obj.get("spec") or {}).get("template") or {}
    return _workload(kind, obj, template.get("spec") or {})


def _workload(kind: str, obj: Mapping[str, Any], spec: Mapping[str, Any]) -> Workload:
    meta = _meta(obj)
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    node_affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    preferred = node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []
    return Workload(
        kind=kind,
        namespace=str(meta["namespace"]),
        name=str(meta["name"]),
        containers=tuple(_container(c) for c in containers),
        node_selector={str(k): str(v) for k, v in (spec.get("nodeSelector") or {}).items()},
        required_terms=tuple(
            _requirements(term) for term in required.get("nodeSelectorTerms") or []
        ),
        preferred=tuple(r for p in preferred for r in _requirements(p.get("preference") or {})),
        host_paths=tuple(
            str(v["hostPath"].get("path", ""))
            for v in spec.get("volumes") or []
            if isinstance(v.get("hostPath"), dict)
        ),
        host_network=bool(spec.get("hostNetwork", False)),
        service_account=str(
            spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        ),
        node_name=str(spec.get("nodeName") or ""),
    )


def _container(raw: Mapping[str, Any]) -> Container:
    env = [str(e.get("name", "")) for e in raw.get("env") or []]
    words = [str(e.get("value", "")) for e in raw.get("env") or []]
    words += [str(w) for w in [*(raw.get("command") or []), *(raw.get("args") or [])]]
    return Container(
        name=str(raw.get("name", "")),
        image=str(raw.get("image", "")),
        aws_env=tuple(n for n in env if n.startswith(AWS_ENV_PREFIX)),
        imds=any(a in w for w in words for a in IMDS_ADDRESSES),
    )


def _requirements(term: Mapping[str, Any]) -> tuple[Requirement, ...]:
    return tuple(
        Requirement(
            key=str(e.get("key", "")),
            operator=str(e.get("operator", "")),
            values=tuple(str(v) for v in e.get("values") or []),
        )
        for e in term.get("matchExpressions") or []
    )


# ---------------------------------------------------------------- documents


def _workload_doc(w: Workload) -> dict[str, Any]:
    return {
        "kind": w.kind,
        "namespace": w.namespace,
        "name": w.name,
        "containers": [
            {"name": c.name, "image": c.image, "aws_env": list(c.aws_env), "imds": c.imds}
            for c in w.containers
        ],
        "node_selector": dict(w.node_selector),
        "required_terms": [[_requirement_doc(r) for r in term] for term in w.required_terms],
        "preferred": [_requirement_doc(r) for r in w.preferred],
        "host_paths": list(w.host_paths),
        "host_network": w.host_network,
        "service_account": w.service_account,
        "node_name": w.node_name,
    }


def _requirement_doc(r: Requirement) -> dict[str, Any]:
    return {"key": r.key, "operator": r.operator, "values": list(r.values)}


def _requirement_from(doc: Mapping[str, Any]) -> Requirement:
    return Requirement(str(doc["key"]), str(doc["operator"]), tuple(doc.get("values", [])))


def _workload_from(doc: Mapping[str, Any]) -> Workload:
    return Workload(
        kind=str(doc["kind"]),
        namespace=str(doc["namespace"]),
        name=str(doc["name"]),
        containers=tuple(
            Container(
                str(c["name"]), str(c["image"]), tuple(c.get("aws_env", [])), bool(c.get("imds"))
            )
            for c in doc.get("containers", [])
        ),
        node_selector=dict(doc.get("node_selector", {})),
        required_terms=tuple(
            tuple(_requirement_from(r) for r in term) for term in doc.get("required_terms", [])
        ),
        preferred=tuple(_requirement_from(r) for r in doc.get("preferred", [])),
        host_paths=tuple(doc.get("host_paths", [])),
        host_network=bool(doc.get("host_network", False)),
        service_account=str(doc.get("service_account", "default")),
        node_name=str(doc.get("node_name", "")),
    )
