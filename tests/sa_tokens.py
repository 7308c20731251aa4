"""Service-account tokens as a Kubernetes apiserver signs them, for tests without a control
plane: an RSA key whose JWKS a cluster record carries (``model.aws.private.ServiceAccountKeys``,
what the EKS reconciler stores from a running plane), and tokens with the claims the kubelet's
projected tokens have (``kubernetes.io``: namespace, service account, pod)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from podwarden.logic.web_identity_token import public_jwk
from podwarden.model.aws import kinds
from podwarden.model.aws.private import ServiceAccountKeys, private
from podwarden.store.resources import Resources

POD_AUDIENCE = "pods.eks.amazonaws.com"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    """One cluster's service-account signing key and issuer."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.jwk = public_jwk(pem)

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk]}

    def claims(
        self,
        namespace: str = "ml",
        service_account: str = "trainer",
        pod: str | None = "trainer-0",
        *,
        audience: str = POD_AUDIENCE,
        lifetime: float = 3600,
        now: float | None = None,
    ) -> dict[str, Any]:
        """The claims of a token the kubelet would project into ``pod`` (None: a token
        bound to no pod, as ``kubectl create token`` makes)."""
        at = int(now if now is not None else time.time())
        k8s: dict[str, Any] = {
            "namespace": namespace,
            "serviceaccount": {"name": service_account, "uid": str(uuid.uuid4())},
        }
        if pod is not None:
            k8s["pod"] = {"name": pod, "uid": str(uuid.uuid4())}
        return {
            "aud": [audience],
            "exp": int(at + lifetime),
            "iat": at,
            "nbf": at,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": k8s,
            "sub": f"system:serviceaccount:{namespace}:{service_account}",
        }

    def sign(self, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
        head = header or {"alg": "RS256", "kid": self.jwk["kid"]}
        signing_input = f"{_b64(json.dumps(head).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"

    def token(self, *args: Any, **kwargs: Any) -> str:
        return self.sign(self.claims(*args, **kwargs))


def install(resources: Resources, scope: str, cluster: str, signer: Signer) -> None:
    """Give the cluster record the signer's issuer and keys, as the EKS reconciler does once
    its plane runs."""
    rec = resources.get(kinds.EKS_CLUSTER, scope, cluster)
    assert rec is not None, f"no EKS cluster {cluster} in {scope}"
    rec.doc.setdefault("identity", {})["oidc"] = {"issuer": signer.issuer}
    private(rec.doc)[ServiceAccountKeys.FIELD] = {"issuer": signer.issuer, "jwks": signer.jwks}
    resources.save(rec)
