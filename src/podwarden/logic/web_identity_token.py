"""A web identity token (a JWT: a Kubernetes service-account token, an OIDC ID token) checked
as a relying party checks it: its form, its signature against the issuer's JWKS, its times and
its audience.

Pure: a token, a JWKS (``{"keys": [...]}``, RFC 7517) and the time in; the decoded token out, or
:class:`TokenRejected` naming the :class:`Problem` and a message. Each service words a problem
its own way (STS: ``podwarden.control.sts.web_identity``; eks-auth for EKS Pod Identity).

* Form: three base64url parts (RFC 7515 compact serialization), a JSON object header with
  ``alg`` and a JSON object claims set with ``iss``, ``sub`` and ``exp``; anything else is
  ``MALFORMED``.
* Signature: ``RS256`` (RSASSA-PKCS1-v1_5 with SHA-256, what kube-apiserver signs with for an RSA
  key) or ``ES256``; the key is the JWKS entry whose ``kid`` the header names (the only entry of
  that algorithm family when the header names none). ``alg: none`` and HMAC algorithms are never
  accepted (a JWKS holds public keys only). No key: ``NO_KEY``; a key that does not verify it:
  ``BAD_SIGNATURE``.
* Times (RFC 7519 NumericDate, seconds): ``exp <= now`` is ``EXPIRED``; ``nbf`` or ``iat`` after
  ``now`` is ``NOT_YET_VALID``. No clock skew is allowed: the tokens podwarden checks come from
  apiservers on the same host and clock.
* Audience: ``aud`` (a string or a list) must name one of ``audiences`` when the caller passes
  them; ``WRONG_AUDIENCE`` otherwise.

``key_id(der)`` is the ``kid`` kube-apiserver gives a public key (``keyIDFromPublicKey`` in
``k8s.io/kubernetes/pkg/serviceaccount/jwt.go``: SHA-256 of the PKIX DER, base64url without
padding); ``public_jwk(pem)`` the JWKS entry it serves for it at ``/openid/v1/jwks``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

MAX_TOKEN_BYTES = 20000  # STS's WebIdentityToken limit (botocore's model: max 20000)
ALGORITHMS = {"RS256": "RSA", "ES256": "EC"}


class Problem(Enum):
    MALFORMED = "the token is not a well-formed JWT"
    UNKNOWN_ISSUER = "no identity provider is known for the token's issuer"
    NO_KEY = "the issuer's JWKS has no key for the token"
    BAD_SIGNATURE = "the token's signature does not verify"
    EXPIRED = "the token has expired"
    NOT_YET_VALID = "the token is not valid yet"
    WRONG_AUDIENCE = "the token is not for this audience"


class TokenRejected(Exception):
    """Why a token was refused: ``problem`` for the service's error table, ``message`` for
    people, and the claims when they could be read (``exp`` for an expired token)."""

    def __init__(
        self, problem: Problem, message: str = "", claims: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message or problem.value)
        self.problem = problem
        self.message = message or problem.value
        self.claims: Mapping[str, Any] = claims or {}


@dataclass(frozen=True)
class Jwt:
    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def issuer(self) -> str:
        return str(self.claims["iss"])

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])

    @property
    def audiences(self) -> tuple[str, ...]:
        aud = self.claims.get("aud")
        if isinstance(aud, str):
            return (aud,)
        return tuple(a for a in aud if isinstance(a, str)) if isinstance(aud, list) else ()

    @property
    def expires(self) -> float:
        return float(self.claims["exp"])


def _b64(part: str) -> bytes:
    if not part or "=" in part or "+" in part or "/" in part:
        raise TokenRejected(Problem.MALFORMED)
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise TokenRejected(Problem.MALFORMED) from None


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise TokenRejected(Problem.MALFORMED) from None
    if not isinstance(value, dict):
        raise TokenRejected(Problem.MALFORMED)
    return value


def _numeric(claims: Mapping[str, Any], name: str, required: bool) -> None:
    value = claims.get(name)
    if value is None and not required:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenRejected(Problem.MALFORMED, f"the token's {name} claim is not a NumericDate")


def parse(token: str) -> Jwt:
    """The token's parts, decoded but not verified; ``MALFORMED`` unless it is a compact JWS
    with a JSON header naming ``alg`` and claims with ``iss``, ``sub`` and ``exp``."""
    if len(token) > MAX_TOKEN_BYTES or not token.isascii():
        raise TokenRejected(Problem.MALFORMED)
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise TokenRejected(Problem.MALFORMED)
    header, claims = _json_object(_b64(parts[0])), _json_object(_b64(parts[1]))
    signature = _b64(parts[2])
    if not isinstance(header.get("alg"), str):
        raise TokenRejected(Problem.MALFORMED)
    for name in ("iss", "sub"):
        if not isinstance(claims.get(name), str) or not claims[name]:
            raise TokenRejected(Problem.MALFORMED, f"the token has no {name} claim")
    _numeric(claims, "exp", required=True)
    _numeric(claims, "nbf", required=False)
    _numeric(claims, "iat", required=False)
    signing_input = f"{parts[0]}.{parts[1]}".encode()
    return Jwt(header, claims, signing_input, signature)


def verify(
    jwt: Jwt,
    jwks: Mapping[str, Any],
    *,
    now: float,
    audiences: Collection[str] | None = None,
) -> None:
    """Check the token's signature against ``jwks``, its times against ``now`` and, when given,
    its audience against ``audiences``; :class:`TokenRejected` on the first check that fails,
    in that order (the module docstring)."""
    check_signature(jwt, jwks)
    check_times(jwt, now)
    if audiences is not None and not set(jwt.audiences) & set(audiences):
        raise TokenRejected(Problem.WRONG_AUDIENCE, claims=jwt.claims)


def check_times(jwt: Jwt, now: float) -> None:
    if jwt.expires <= now:
        raise TokenRejected(Problem.EXPIRED, claims=jwt.claims)
    for name in ("nbf", "iat"):
        at = jwt.claims.get(name)
        if at is not None and float(at) > now:
            raise TokenRejected(Problem.NOT_YET_VALID, f"the token's {name} is in the future")


def check_signature(jwt: Jwt, jwks: Mapping[str, Any]) -> None:
    alg = str(jwt.header["alg"])
    family = ALGORITHMS.get(alg)
    if family is None:
        raise TokenRejected(Problem.BAD_SIGNATURE, f"the token's algorithm {alg[:16]!r}")
    key = _key_for(jwt.header.get("kid"), family, jwks)
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(jwt.signature, jwt.signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            key.verify(_der_signature(jwt.signature), jwt.signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise TokenRejected(Problem.BAD_SIGNATURE) from None


def _key_for(
    kid: object, family: str, jwks: Mapping[str, Any]
) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    keys = [k for k in jwks.get("keys") or [] if isinstance(k, Mapping) and k.get("kty") == family]
    if isinstance(kid, str):
        keys = [k for k in keys if k.get("kid") == kid]
    elif len(keys) != 1:  # without a kid, only an unambiguous key will do
        keys = []
    for jwk in keys:
        try:
            return public_key(jwk)
        except (KeyError, ValueError, TypeError):
            continue
    raise TokenRejected(Problem.NO_KEY)


def _der_signature(raw: bytes) -> bytes:
    """JWS's ES256 signature (r || s, 32 bytes each) as the DER ``cryptography`` verifies."""
    if len(raw) != 64:
        raise TokenRejected(Problem.BAD_SIGNATURE)
    return encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))


def _uint(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))


def public_key(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    """The public key a JWK (RSA, or EC on P-256) describes; ValueError/KeyError otherwise."""
    if jwk["kty"] == "RSA":
        return rsa.RSAPublicNumbers(_uint(jwk["e"]), _uint(jwk["n"])).public_key()
    if jwk["kty"] == "EC" and jwk.get("crv") == "P-256":
        numbers = ec.EllipticCurvePublicNumbers(_uint(jwk["x"]), _uint(jwk["y"]), ec.SECP256R1())
        return numbers.public_key()
    raise ValueError(f"unsupported key type {jwk['kty']!r}")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def key_id(der: bytes) -> str:
    """kube-apiserver's ``kid`` of a public key given as PKIX (SubjectPublicKeyInfo) DER."""
    return _b64url(hashlib.sha256(der).digest())


def public_jwk(pem: bytes) -> dict[str, str]:
    """The JWKS entry kube-apiserver serves for a PEM public key (RSA or P-256)."""
    key = serialization.load_pem_public_key(pem)
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if isinstance(key, rsa.RSAPublicKey):
        n = key.public_numbers()
        size = (n.n.bit_length() + 7) // 8
        fields = {
            "kty": "RSA",
            "alg": "RS256",
            "n": _b64url(n.n.to_bytes(size)),
            "e": _b64url(n.e.to_bytes((n.e.bit_length() + 7) // 8)),
        }
    elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        p = key.public_numbers()
        fields = {
            "kty": "EC",
            "alg": "ES256",
            "crv": "P-256",
            "x": _b64url(p.x.to_bytes(32)),
            "y": _b64url(p.y.to_bytes(32)),
        }
    else:
        raise ValueError("only RSA and P-256 keys sign service-account tokens")
    return {"use": "sig", **fields, "kid": key_id(der)}
