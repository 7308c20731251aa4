"""An EKS cluster's OIDC issuer: its URL and the documents served under it (pure).

EKS gives every cluster an issuer ``https://oidc.eks.<region>.amazonaws.com/id/<ID>`` (``<ID>``:
32 upper-case hex digits), names it in DescribeCluster's ``identity.oidc.issuer``, makes the
cluster's apiserver issue service-account tokens with it as ``iss``, and serves the discovery
document at ``<issuer>/.well-known/openid-configuration`` and the JWKS at ``<issuer>/keys``
(aws/containers-roadmap#2234). podwarden's issuers have the same path on its TLS listener on
loopback: ``https://127.0.0.1:<port>/id/<ID>`` (:func:`local_issuer`); with no listener the
handler keeps EKS's form (:func:`eks_issuer`), and STS still verifies that cluster's tokens
in-process. The documents are the apiserver's discovery fields (``issuer``, ``jwks_uri``,
``response_types_supported``, ``subject_types_supported``,
``id_token_signing_alg_values_supported``) with the two EKS adds (``authorization_endpoint``
``urn:kubernetes:programmatic_authorization``, ``claims_supported``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from podwarden.model.aws.private import ServiceAccountKeys, private

DISCOVERY = "/.well-known/openid-configuration"
KEYS = "/keys"
# the issuer kube-apiserver used before issuers were per cluster (local.planner): planes keep
# accepting its tokens, and the audience of tokens for the apiserver itself stays this string
LEGACY_ISSUER = "https://kubernetes.default.svc.cluster.local"
_ID = re.compile(r"[0-9A-F]{32}")


def issuer_id(cluster_id: str) -> str:
    """The ``<ID>`` of a cluster's issuer: its id's hex digits, upper case (as EKS's look)."""
    hex_digits = cluster_id.replace("-", "").upper()
    if not _ID.fullmatch(hex_digits):
        raise ValueError(f"not a cluster id: {cluster_id!r}")
    return hex_digits


def eks_issuer(region: str, cluster_id: str) -> str:
    return f"https://oidc.eks.{region}.amazonaws.com/id/{issuer_id(cluster_id)}"


def local_issuer(base: str, cluster_id: str) -> str:
    """``<base>/id/<ID>``, ``base`` being podwarden's listener (``https://127.0.0.1:<port>``)."""
    return f"{base.rstrip('/')}/id/{issuer_id(cluster_id)}"


def issuer_path(issuer: str) -> str:
    """The path of an issuer URL (``/id/<ID>``), what the listener routes on."""
    _, _, rest = issuer.partition("://")
    _, slash, path = rest.partition("/")
    return (slash + path).split("?")[0].rstrip("/")


def jwks_uri(issuer: str) -> str:
    return issuer.rstrip("/") + KEYS


def discovery_document(issuer: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "jwks_uri": jwks_uri(issuer),
        "authorization_endpoint": "urn:kubernetes:programmatic_authorization",
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "claims_supported": ["sub", "iss"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }


def route(path: str) -> tuple[str, str] | None:
    """``(issuer path, "discovery" | "keys")`` for a request path under an issuer, else None."""
    for suffix, what in ((DISCOVERY, "discovery"), (KEYS, "keys")):
        if path.endswith(suffix) and len(path) > len(suffix):
            return path[: -len(suffix)].rstrip("/"), what
    return None


def service_account_subject(namespace: str, name: str) -> str:
    """The ``sub`` of a Kubernetes service-account token."""
    return f"system:serviceaccount:{namespace}:{name}"


def parse_subject(sub: str) -> tuple[str, str] | None:
    """``(namespace, service account)`` of a service-account ``sub``, else None."""
    prefix, _, rest = sub.partition("system:serviceaccount:")
    namespace, colon, name = rest.partition(":")
    if prefix or not colon or not namespace or not name or ":" in name:
        return None
    return namespace, name


def public_keys(jwks: Mapping[str, Any]) -> dict[str, Any]:
    """A JWKS with public members only (what the keys endpoint serves), whatever was stored."""
    allowed = ("kty", "kid", "use", "alg", "n", "e", "crv", "x", "y")
    keys = [
        {k: v for k, v in key.items() if k in allowed}
        for key in jwks.get("keys") or []
        if isinstance(key, Mapping)
    ]
    return {"keys": keys}


def record_signing_keys(
    doc: dict[str, Any], issuer: str, jwks: Mapping[str, Any], *, adopted: bool
) -> bool:
    """Keep what a cluster's running plane signs service-account tokens with in the cluster's
    document (``model.aws.private.ServiceAccountKeys``); an adopted cluster's issuer becomes the
    plane's own, whatever it is (podwarden did not start that plane, so it cannot choose it: a
    Kubernetes ``podwarden serve`` was pointed at, or a plane started without an issuer of its
    own, says ``https://kubernetes.default.svc.cluster.local``). True if the document
    changed."""
    mine = private(doc)
    keys = {"issuer": issuer, "jwks": dict(jwks)}
    changed = mine.get(ServiceAccountKeys.FIELD) != keys
    mine[ServiceAccountKeys.FIELD] = keys
    if adopted and issuer:
        oidc = doc.setdefault("identity", {}).setdefault("oidc", {})
        changed = changed or oidc.get("issuer") != issuer
        oidc["issuer"] = issuer
    return changed
