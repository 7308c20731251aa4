"""A web identity token checked as a relying party checks it (``logic.web_identity_token``):
form, signature against a JWKS, times, audience; and the JWKS entry kube-apiserver serves."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from podwarden.logic.web_identity_token import (
    Problem,
    TokenRejected,
    key_id,
    parse,
    public_jwk,
    public_key,
    verify,
)
from tests.sa_tokens import Signer

ISSUER = "https://127.0.0.1:8643/id/0123456789ABCDEF0123456789ABCDEF"
NOW = 1_800_000_000.0
STS = "sts.amazonaws.com"
RS256 = base64.urlsafe_b64encode(b'{"alg":"RS256"}').rstrip(b"=").decode()


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(ISSUER)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(signer: Signer, **changes: Any) -> dict[str, Any]:
    doc = signer.claims("ml", "trainer", audience=STS, now=NOW)
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


def problem(signer: Signer, token: str, *, audiences: tuple[str, ...] = (STS,)) -> Problem:
    with pytest.raises(TokenRejected) as info:
        verify(parse(token), signer.jwks, now=NOW, audiences=audiences)
    return info.value.problem


def test_a_good_token_verifies_and_reads(signer: Signer) -> None:
    jwt = parse(signer.sign(claims(signer)))
    verify(jwt, signer.jwks, now=NOW, audiences=[STS])
    assert jwt.issuer == ISSUER
    assert jwt.subject == "system:serviceaccount:ml:trainer"
    assert jwt.audiences == (STS,)
    assert jwt.expires == NOW + 3600


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.e30.e30",  # not base64url
        f"{b64(b'[1]')}.{b64(b'{}')}.{b64(b'x')}",  # header not an object
        f"{b64(b'{}')}.{b64(b'{}')}.{b64(b'x')}",  # no alg
        f"{RS256}.{b64(b'not json')}.{b64(b'x')}",
        f"{RS256}.{b64(b'{}')}.{b64(b'x')}",  # no iss, sub, exp
        "é.é.é",
        "a" * 20001,
    ],
)
def test_what_is_not_a_jwt_is_malformed(token: str) -> None:
    with pytest.raises(TokenRejected) as info:
        parse(token)
    assert info.value.problem is Problem.MALFORMED


@pytest.mark.parametrize("missing", ["iss", "sub", "exp"])
def test_a_required_claim_missing_is_malformed(signer: Signer, missing: str) -> None:
    with pytest.raises(TokenRejected) as info:
        parse(signer.sign(claims(signer, **{missing: None})))
    assert info.value.problem is Problem.MALFORMED
    assert missing in info.value.message


def test_a_non_numeric_time_is_malformed(signer: Signer) -> None:
    for name in ("exp", "nbf", "iat"):
        with pytest.raises(TokenRejected) as info:
            parse(signer.sign(claims(signer, **{name: "tomorrow"})))
        assert info.value.problem is Problem.MALFORMED


def test_another_key_is_a_bad_signature(signer: Signer) -> None:
    other = Signer(ISSUER)
    forged = other.sign(claims(signer), {"alg": "RS256", "kid": signer.jwk["kid"]})
    assert problem(signer, forged) is Problem.BAD_SIGNATURE


def test_changed_claims_break_the_signature(signer: Signer) -> None:
    head, _, sig = signer.sign(claims(signer)).split(".")
    tampered = b64(
        json.dumps(claims(signer, sub="system:serviceaccount:kube-system:admin")).encode()
    )
    assert problem(signer, f"{head}.{tampered}.{sig}") is Problem.BAD_SIGNATURE


def test_an_unknown_kid_has_no_key(signer: Signer) -> None:
    token = signer.sign(claims(signer), {"alg": "RS256", "kid": "not-a-kid"})
    assert problem(signer, token) is Problem.NO_KEY


def test_without_kid_only_an_unambiguous_key_is_used(signer: Signer) -> None:
    token = signer.sign(claims(signer), {"alg": "RS256"})
    verify(parse(token), signer.jwks, now=NOW)
    two = {"keys": [signer.jwk, Signer(ISSUER).jwk]}
    with pytest.raises(TokenRejected) as info:
        verify(parse(token), two, now=NOW)
    assert info.value.problem is Problem.NO_KEY


@pytest.mark.parametrize("alg", ["none", "HS256", "RS512", "PS256"])
def test_other_algorithms_are_refused(signer: Signer, alg: str) -> None:
    body = b64(json.dumps(claims(signer)).encode())
    head = b64(json.dumps({"alg": alg, "kid": signer.jwk["kid"]}).encode())
    assert problem(signer, f"{head}.{body}.{b64(b'sig')}") is Problem.BAD_SIGNATURE


def test_es256_verifies_with_an_ec_key() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    jwk = public_jwk(pem)
    body = {"iss": ISSUER, "sub": "system:serviceaccount:a:b", "exp": NOW + 60}
    signing_input = (
        f"{b64(json.dumps({'alg': 'ES256', 'kid': jwk['kid']}).encode())}."
        f"{b64(json.dumps(body).encode())}"
    )
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    token = f"{signing_input}.{b64(r.to_bytes(32) + s.to_bytes(32))}"
    verify(parse(token), {"keys": [jwk]}, now=NOW)
    with pytest.raises(TokenRejected) as info:
        verify(parse(token[:-4] + "AAAA"), {"keys": [jwk]}, now=NOW)
    assert info.value.problem is Problem.BAD_SIGNATURE


def test_expired_is_its_own_problem_and_keeps_exp(signer: Signer) -> None:
    token = signer.sign(claims(signer, exp=int(NOW) - 1))
    with pytest.raises(TokenRejected) as info:
        verify(parse(token), signer.jwks, now=NOW)
    assert info.value.problem is Problem.EXPIRED
    assert info.value.claims["exp"] == int(NOW) - 1
    at_exp = signer.sign(claims(signer, exp=int(NOW)))  # exp is the first instant it is not good
    assert problem(signer, at_exp) is Problem.EXPIRED


@pytest.mark.parametrize("name", ["nbf", "iat"])
def test_a_token_from_the_future_is_not_valid_yet(signer: Signer, name: str) -> None:
    token = signer.sign(claims(signer, **{name: int(NOW) + 60}))
    assert problem(signer, token) is Problem.NOT_YET_VALID


def test_the_audience_must_be_one_asked_for(signer: Signer) -> None:
    token = signer.sign(claims(signer, aud=["pods.eks.amazonaws.com"]))
    assert problem(signer, token) is Problem.WRONG_AUDIENCE
    as_string = signer.sign(claims(signer, aud=STS))
    verify(parse(as_string), signer.jwks, now=NOW, audiences=[STS, "other"])
    no_aud = signer.sign(claims(signer, aud=None))
    assert problem(signer, no_aud) is Problem.WRONG_AUDIENCE
    verify(parse(no_aud), signer.jwks, now=NOW)  # no audience asked for: none checked


def test_key_id_is_kube_apiservers(signer: Signer) -> None:
    """``keyIDFromPublicKey``: base64url(SHA-256(PKIX DER)), unpadded: 43 characters."""
    der = signer.key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = key_id(der)
    assert kid == b64(hashlib.sha256(der).digest()) and len(kid) == 43
    assert signer.jwk["kid"] == kid
    assert signer.jwk["alg"] == "RS256" and signer.jwk["use"] == "sig"


def test_a_jwk_is_the_public_key_back(signer: Signer) -> None:
    back = public_key(signer.jwk)
    assert back.public_numbers() == signer.key.public_key().public_numbers()
    with pytest.raises(ValueError, match="unsupported"):
        public_key({"kty": "oct", "k": "c2VjcmV0"})
