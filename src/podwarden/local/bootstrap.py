"""The objects a local control plane applies to itself, and where: pure, no I/O.

``runtime.ControlPlane`` applies them with server-side apply (idempotent: a restart or a version
bump converges) in two steps:

- ``before_components``: once the apiserver is ready and before the controllers start, the CRDs
  the components watch (kwok's ``Logs``; the Kubeflow training operator's jobs, from its module's
  manifests) and the training operator's ClusterRole (the module's ``role.yaml``), bound to the
  user of its client certificate (``pki.CLIENTS``), so it runs with its own permissions and not
  as an admin;
- ``after_components``: the training operator's ValidatingWebhookConfiguration (the module's
  ``manifests.yaml``), pointed at its webhook server on loopback by URL instead of an in-cluster
  Service, with podwarden's CA as the bundle. Applied only once the server answers, since its
  ``failurePolicy: Fail`` would otherwise refuse every job.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

# Cluster-scoped kinds applied here: kind -> (API path prefix, plural).
_PATHS = {
    "CustomResourceDefinition": ("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions"),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles"),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings"),
    "ValidatingWebhookConfiguration": (
        "/apis/admissionregistration.k8s.io/v1",
        "validatingwebhookconfigurations",
    ),
}
TRAINING_OPERATOR_USER = "training-operator"  # pki.CLIENTS' common name for it
WEBHOOK_CONFIGURATION = "validator.training-operator.kubeflow.org"


@dataclass(frozen=True)
class Apply:
    """One object to server-side apply at ``path``."""

    path: str
    body: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.body['kind']} {self.body['metadata']['name']}"


def apply_of(obj: dict[str, Any]) -> Apply:
    prefix, plural = _PATHS[obj["kind"]]
    return Apply(f"{prefix}/{plural}/{obj['metadata']['name']}", obj)


def _documents(texts: Iterable[str]) -> list[dict[str, Any]]:
    """Every document of the manifests, each text parsed once per process (the training
    operator's CRDs are large: PyYAML's pure-Python parser took about 0.9 s for them, twice
    per plane start, which was a quarter of a warm start), with libyaml's parser when
    PyYAML has it. The documents are shared: callers build new objects from them, never
    change them."""
    return [doc for text in texts for doc in _parsed(text)]


@functools.lru_cache(maxsize=32)
def _parsed(text: str) -> tuple[dict[str, Any], ...]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return tuple(doc for doc in yaml.load_all(text, Loader=loader) if doc)


def before_components(manifests: Mapping[str, str]) -> list[Apply]:
    """CRDs and the training operator's RBAC, from the files build-k8s copied (name -> text)."""
    objects = [
        doc
        for doc in _documents(manifests.values())
        if doc["kind"] in ("CustomResourceDefinition", "ClusterRole")
    ]
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "podwarden:training-operator"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "training-operator",
        },
        "subjects": [
            {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "User",
                "name": TRAINING_OPERATOR_USER,
            }
        ],
    }
    return [apply_of(o) for o in (*objects, binding)]


# the hash of what podwarden last applied, on each CRD it applies: a restart skips applying a CRD
# whose hash is unchanged (a server-side apply of the training operator's large CRDs took about
# 2 s of a warm start, each a no-op)
APPLIED_HASH = "podwarden.io/applied-hash"


def stamped(item: Apply) -> tuple[Apply, str]:
    """``item`` carrying the hash of its body in :data:`APPLIED_HASH`, and that hash."""
    digest = hashlib.sha256(json.dumps(item.body, sort_keys=True).encode()).hexdigest()[:32]
    meta = item.body["metadata"]
    annotations = {**(meta.get("annotations") or {}), APPLIED_HASH: digest}
    body = {**item.body, "metadata": {**meta, "annotations": annotations}}
    return Apply(item.path, body), digest


def crd_names(applies: Iterable[Apply]) -> list[str]:
    return [
        a.body["metadata"]["name"] for a in applies if a.body["kind"] == "CustomResourceDefinition"
    ]


def after_components(manifests: Mapping[str, str], webhook_url: str, ca_pem: bytes) -> list[Apply]:
    """The training operator's webhook configuration, each webhook called by URL on loopback."""
    [config] = [
        doc
        for doc in _documents(manifests.values())
        if doc["kind"] == "ValidatingWebhookConfiguration"
    ]
    bundle = base64.b64encode(ca_pem).decode()
    webhooks = []
    for hook in config["webhooks"]:
        path = hook["clientConfig"]["service"]["path"]
        webhooks.append({**hook, "clientConfig": {"url": webhook_url + path, "caBundle": bundle}})
    body = {**config, "metadata": {"name": WEBHOOK_CONFIGURATION}, "webhooks": webhooks}
    return [apply_of(body)]
