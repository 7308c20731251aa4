"""What EKS's pod identity webhook adds to a new pod: IRSA's web identity token and EKS Pod
Identity's container credentials (R13 in docs/requirements.md). Pure: the pod, its service
account's annotations and whether an association covers it in; a JSON patch out.

The rules are those of aws/amazon-eks-pod-identity-webhook (``pkg/handler/handler.go``,
``pkg/cache/cache.go``, ``main.go``'s flags; docs/sources.md, "EKS pod identity webhook"):

* **Pod Identity first.** A pod whose ``namespace``/``serviceAccountName`` has a Pod Identity
  association gets the container-credentials method: the projected token ``eks-pod-identity-token``
  (audience ``pods.eks.amazonaws.com``) mounted at
  ``/var/run/secrets/pods.eks.amazonaws.com/serviceaccount``, ``AWS_CONTAINER_CREDENTIALS_FULL_URI``
  (EKS: the agent's ``http://169.254.170.23/v1/credentials``; podwarden: its loopback URL) and
  ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE``, and the label ``eks.amazonaws.com/pod-identity:
  enabled``. The default expiration gets EKS's jitter (79200 to 86400 s).
* **Else IRSA.** A service account annotated ``eks.amazonaws.com/role-arn`` gives the projected
  token ``aws-iam-token`` (audience ``eks.amazonaws.com/audience`` or ``sts.amazonaws.com``, file
  ``token``) at ``/var/run/secrets/eks.amazonaws.com/serviceaccount``, ``AWS_ROLE_ARN`` and
  ``AWS_WEB_IDENTITY_TOKEN_FILE``.
* Both: ``AWS_STS_REGIONAL_ENDPOINTS=regional`` unless the annotation
  ``eks.amazonaws.com/sts-regional-endpoints`` says false (EKS runs the webhook regional by
  default); ``AWS_DEFAULT_REGION`` and ``AWS_REGION`` (the cluster's Region) unless a container sets
  either; the expiration from ``eks.amazonaws.com/token-expiration`` on the pod, else on the
  service account, else 86400, never under 600 s; containers named in the pod's
  ``eks.amazonaws.com/skip-containers`` (CSV) are left alone, init containers are mutated too;
  variables a container already sets are kept, as is a volume or mount of the same name; a
  Windows pod gets a ``C:\\`` path.

A pod labelled ``eks.amazonaws.com/skip-pod-identity-webhook`` never reaches the webhook (the
configuration's ``objectSelector``, :func:`webhook_configuration`).
"""

from __future__ import annotations

import base64
import csv
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

DOMAIN = "eks.amazonaws.com"
ROLE_ARN = f"{DOMAIN}/role-arn"
AUDIENCE = f"{DOMAIN}/audience"
REGIONAL_STS = f"{DOMAIN}/sts-regional-endpoints"
TOKEN_EXPIRATION = f"{DOMAIN}/token-expiration"
SKIP_CONTAINERS = f"{DOMAIN}/skip-containers"
SKIP_LABEL = f"{DOMAIN}/skip-pod-identity-webhook"
POD_IDENTITY_LABEL = f"{DOMAIN}/pod-identity"

DEFAULT_EXPIRATION = 86400
DEFAULT_MIN_EXPIRATION = 79200  # the jitter's floor for the default, container credentials only
MIN_EXPIRATION = 600

# EKS's agent address; the webhook's flag ``--container-credentials-full-uri``
EKS_CREDENTIALS_URI = "http://169.254.170.23/v1/credentials"

WEB_IDENTITY_ENV = ("AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")
CONTAINER_CREDENTIALS_ENV = (
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
)
REGION_ENV = ("AWS_REGION", "AWS_DEFAULT_REGION")
REGIONAL_STS_ENV = "AWS_STS_REGIONAL_ENDPOINTS"

CONFIGURATION_NAME = "pod-identity-webhook"
WEBHOOK_NAME = "pod-identity-webhook.amazonaws.com"


@dataclass(frozen=True)
class Mount:
    """Where a method's projected token lives, and for whom it is."""

    audience: str
    mount_path: str
    volume: str
    token_path: str


IRSA = Mount(
    "sts.amazonaws.com",
    "/var/run/secrets/eks.amazonaws.com/serviceaccount",
    "aws-iam-token",
    "token",
)
POD_IDENTITY = Mount(
    "pods.eks.amazonaws.com",
    "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount",
    "eks-pod-identity-token",
    "eks-pod-identity-token",
)


@dataclass(frozen=True)
class WebhookSettings:
    """The webhook's flags as EKS runs it for a cluster."""

    region: str  # --aws-default-region: the cluster's Region
    credentials_uri: str = EKS_CREDENTIALS_URI  # --container-credentials-full-uri
    regional_sts: bool = True  # --sts-regional-endpoint (EKS's default endpoint type: regional)


@dataclass(frozen=True)
class ServiceAccountEntry:
    """What the webhook's cache keeps of a service account's annotations."""

    role_arn: str | None
    audience: str
    regional_sts: bool
    expiration: int


@dataclass(frozen=True)
class PatchConfig:
    mount: Mount
    expiration: int
    regional_sts: bool
    skip: frozenset[str]
    role_arn: str | None = None  # IRSA
    credentials_uri: str | None = None  # Pod Identity


def _expiration(text: str | None, default: int) -> int:
    if text is None:
        return default
    try:
        return max(int(text), MIN_EXPIRATION)
    except ValueError:
        return default


def service_account_entry(
    annotations: Mapping[str, str], settings: WebhookSettings
) -> ServiceAccountEntry:
    """The cache's entry for a service account (``cache.addSA``)."""
    regional = settings.regional_sts
    text = annotations.get(REGIONAL_STS)
    if text is not None and text.lower() in ("true", "false", "1", "0", "t", "f"):
        regional = text.lower() in ("true", "1", "t")
    return ServiceAccountEntry(
        role_arn=annotations.get(ROLE_ARN) or None,
        audience=annotations.get(AUDIENCE, IRSA.audience),
        regional_sts=regional,
        expiration=_expiration(annotations.get(TOKEN_EXPIRATION), DEFAULT_EXPIRATION),
    )


def _skipped(pod: Mapping[str, Any]) -> frozenset[str]:
    value = (pod.get("metadata", {}).get("annotations") or {}).get(SKIP_CONTAINERS)
    if not value:
        return frozenset()
    try:
        return frozenset(next(csv.reader([value])))
    except (csv.Error, StopIteration):
        return frozenset()


def patch_config(
    pod: Mapping[str, Any],
    service_account: Mapping[str, str] | None,
    associated: bool,
    settings: WebhookSettings,
    jitter: Callable[[int, int], int],
) -> PatchConfig | None:
    """How to mutate ``pod`` (``buildPodPatchConfig``): None leaves it alone.
    ``service_account``: its annotations (None: no such service account); ``associated``: a Pod
    Identity association covers it; ``jitter(lo, hi)``: a number in ``[lo, hi]``."""
    entry = service_account_entry(service_account or {}, settings)
    pod_annotations = pod.get("metadata", {}).get("annotations") or {}
    skip = _skipped(pod)
    if associated:
        common = entry if service_account is not None else None
        expiration = common.expiration if common else DEFAULT_EXPIRATION
        expiration = _expiration(pod_annotations.get(TOKEN_EXPIRATION), expiration)
        if expiration == DEFAULT_EXPIRATION:
            expiration = jitter(DEFAULT_MIN_EXPIRATION, DEFAULT_EXPIRATION)
        regional = common.regional_sts if common else False
        return PatchConfig(
            POD_IDENTITY, expiration, regional, skip, credentials_uri=settings.credentials_uri
        )
    if entry.role_arn is None:
        return None
    expiration = _expiration(pod_annotations.get(TOKEN_EXPIRATION), entry.expiration)
    mount = Mount(entry.audience, IRSA.mount_path, IRSA.volume, IRSA.token_path)
    return PatchConfig(mount, expiration, entry.regional_sts, skip, role_arn=entry.role_arn)


def _token_file(pod: Mapping[str, Any], mount: Mount) -> str:
    path = f"{mount.mount_path.rstrip('/')}/{mount.token_path}"
    selector = pod.get("spec", {}).get("nodeSelector") or {}
    if "windows" in (selector.get("kubernetes.io/os"), selector.get("beta.kubernetes.io/os")):
        return "C:" + path.replace("/", "\\")
    return path


def _container(
    container: dict[str, Any], token_file: str, config: PatchConfig, region: str
) -> tuple[dict[str, Any], bool]:
    """The container with the method's variables and mount (``addEnvToContainer``)."""
    names = {e.get("name") for e in container.get("env") or []}
    own = CONTAINER_CREDENTIALS_ENV if config.credentials_uri else WEB_IDENTITY_ENV
    has_own, has_region = bool(names & set(own)), bool(names & set(REGION_ENV))
    has_sts = REGIONAL_STS_ENV in names
    mounts = container.get("volumeMounts") or []
    has_mount = any(m.get("name") == config.mount.volume for m in mounts)
    if has_own and has_region and has_sts:
        return container, False
    env = list(container.get("env") or [])
    if not has_sts and config.regional_sts:
        env.append({"name": REGIONAL_STS_ENV, "value": "regional"})
    if not has_region and region:
        env += [
            {"name": "AWS_DEFAULT_REGION", "value": region},
            {"name": "AWS_REGION", "value": region},
        ]
    if not has_own:
        first = config.credentials_uri or config.role_arn or ""
        env += [{"name": own[0], "value": first}, {"name": own[1], "value": token_file}]
    out = {**container, "env": env}
    if not has_mount:
        mount = {
            "name": config.mount.volume,
            "readOnly": True,
            "mountPath": config.mount.mount_path,
        }
        out["volumeMounts"] = [*mounts, mount]
    changed = len(env) != len(container.get("env") or []) or not has_mount
    return out, changed


def _volume(config: PatchConfig) -> dict[str, Any]:
    token = {
        "audience": config.mount.audience,
        "expirationSeconds": config.expiration,
        "path": config.mount.token_path,
    }
    return {"name": config.mount.volume, "projected": {"sources": [{"serviceAccountToken": token}]}}


def pod_patch(
    pod: Mapping[str, Any], config: PatchConfig, region: str
) -> tuple[list[dict[str, Any]], bool]:
    """The JSON patch for ``pod`` and whether it changes anything (``getPodSpecPatch``)."""
    spec, metadata = pod.get("spec", {}), pod.get("metadata", {})
    token_file = _token_file(pod, config.mount)
    changed = False

    def mutate(containers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nonlocal changed
        out = []
        for c in containers:
            if c.get("name") in config.skip:
                out.append(c)
                continue
            new, did = _container(c, token_file, config, region)
            changed |= did
            out.append(new)
        return out

    init = mutate(spec.get("initContainers") or [])
    containers = mutate(spec.get("containers") or [])
    patch: list[dict[str, Any]] = []
    if config.credentials_uri:
        if metadata.get("labels") is None:
            patch.append(
                {"op": "add", "path": "/metadata/labels", "value": {POD_IDENTITY_LABEL: "enabled"}}
            )
        else:
            path = "/metadata/labels/" + POD_IDENTITY_LABEL.replace("~", "~0").replace("/", "~1")
            patch.append({"op": "add", "path": path, "value": "enabled"})
        changed = True
    volumes = spec.get("volumes")
    if not any(v.get("name") == config.mount.volume for v in volumes or []):
        if volumes is None:
            patch.append({"op": "add", "path": "/spec/volumes", "value": [_volume(config)]})
        else:
            patch.append({"op": "add", "path": "/spec/volumes/0", "value": _volume(config)})
        changed = True
    patch.append({"op": "add", "path": "/spec/containers", "value": containers})
    if init:
        patch.append({"op": "add", "path": "/spec/initContainers", "value": init})
    return patch, changed


def admission_response(
    review: Mapping[str, Any], patch: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """The AdmissionReview answered: allowed, with the JSON patch when there is one."""
    request = review.get("request") or {}
    response: dict[str, Any] = {"uid": request.get("uid", ""), "allowed": True}
    if patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
    return {
        "apiVersion": review.get("apiVersion", "admission.k8s.io/v1"),
        "kind": "AdmissionReview",
        "response": response,
    }


def webhook_configuration(url: str, ca_pem: bytes) -> dict[str, Any]:
    """The MutatingWebhookConfiguration of EKS's webhook (its ``deploy/mutatingwebhook.yaml``:
    pods on CREATE, ``failurePolicy: Ignore``, the skip label as ``objectSelector``), calling
    ``url`` with ``ca_pem`` as the bundle instead of an in-cluster Service."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": CONFIGURATION_NAME},
        "webhooks": [
            {
                "name": WEBHOOK_NAME,
                "failurePolicy": "Ignore",
                "clientConfig": {"url": url, "caBundle": base64.b64encode(ca_pem).decode()},
                "objectSelector": {
                    "matchExpressions": [{"key": SKIP_LABEL, "operator": "DoesNotExist"}]
                },
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["pods"],
                    }
                ],
                "sideEffects": "None",
                "admissionReviewVersions": ["v1", "v1beta1"],
            }
        ],
    }
