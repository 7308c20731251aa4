"""EKS tokens: reading them as aws-iam-authenticator does, and checking their signature.

Tokens are made by botocore exactly as aws-cli's ``eks get-token`` makes them (``customizations/
eks/get_token.py``: a presigned GetCallerIdentity with ``x-k8s-aws-id`` injected before signing,
then ``k8s-aws-v1.`` + unpadded base64url). The awscli package itself is not imported here: it
swaps in its own botocore; tests/integration/test_kubectl.py runs the real ``aws`` instead.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import botocore.session  # type: ignore[import-untyped]
import pytest

from podwarden.wire.eks_token import (
    TOKEN_PREFIX,
    TokenError,
    decode_token,
    encode_token,
    verify_token,
)
from podwarden.wire.sigv4 import AuthFailure, Credential, FailureKind

KEY, SECRET = "AKIAPODWARDENTOKEN01", "token/test/secret/000000000000000000000"
ALICE = Credential(KEY, SECRET, "123456789012", "arn:aws:iam::123456789012:user/alice")


def lookup(key: str) -> Credential | None:
    return ALICE if key == KEY else None


def presigned_url(
    cluster: str = "podwarden",
    *,
    endpoint: str | None = None,
    secret: str = SECRET,
    token: str | None = None,
    header: bool = True,
) -> str:
    session = botocore.session.get_session()
    sts = session.create_client(
        "sts",
        region_name="us-west-2",
        endpoint_url=endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=secret,
        aws_session_token=token,
    )

    def retrieve(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "x-k8s-aws-id" in params:
            context["x-k8s-aws-id"] = params.pop("x-k8s-aws-id")

    def inject(request: Any, **_: Any) -> None:
        if header and "x-k8s-aws-id" in request.context:
            request.headers["x-k8s-aws-id"] = request.context["x-k8s-aws-id"]

    sts.meta.events.register("provide-client-params.sts.GetCallerIdentity", retrieve)
    sts.meta.events.register("before-sign.sts.GetCallerIdentity", inject)
    url: str = sts.generate_presigned_url(
        "get_caller_identity",
        Params={"x-k8s-aws-id": cluster},
        ExpiresIn=60,
        HttpMethod="GET",
    )
    return url


def now() -> datetime:
    return datetime.now(UTC)


def with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for field, value in changes.items():
        name = field.replace("_", "-")
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def refused(token: str, match: str, when: datetime | None = None) -> None:
    with pytest.raises(TokenError, match=match) as info:
        decode_token(token, when or now())
    assert str(info.value).startswith("input token was not properly formatted: ")


def test_aws_cli_token_verifies_for_its_cluster() -> None:
    url = presigned_url()
    assert urlsplit(url).netloc == "sts.us-west-2.amazonaws.com"
    token = encode_token(url)
    assert token.startswith(TOKEN_PREFIX) and "=" not in token
    verified = verify_token(token, "podwarden", lookup, now())
    assert verified.credential == ALICE
    assert (verified.service, verified.region, verified.presigned) == ("sts", "us-west-2", True)


def test_token_presigned_against_podwarden_endpoint_verifies() -> None:
    # AWS_ENDPOINT_URL pointing at podwarden: the CLI presigns http://127.0.0.1:<port>/
    url = presigned_url(endpoint="http://127.0.0.1:8600")
    assert url.startswith("http://127.0.0.1:8600/?")
    assert verify_token(encode_token(url), "podwarden", lookup, now()).credential == ALICE


def test_session_token_is_reported() -> None:
    url = presigned_url(token="FwoGZXIvYXdzEJr//session==")
    verified = verify_token(encode_token(url), "podwarden", lookup, now())
    assert verified.session_token == "FwoGZXIvYXdzEJr//session=="


def test_token_for_another_cluster_fails_the_signature() -> None:
    token = encode_token(presigned_url("other"))
    with pytest.raises(AuthFailure) as info:
        verify_token(token, "podwarden", lookup, now())
    assert info.value.kind is FailureKind.SIGNATURE_MISMATCH


def test_tampered_or_unknown_tokens_fail() -> None:
    url = presigned_url()
    with pytest.raises(AuthFailure) as info:
        verify_token(encode_token(presigned_url(secret="wrong")), "podwarden", lookup, now())
    assert info.value.kind is FailureKind.SIGNATURE_MISMATCH
    tampered = with_query(url, X_Amz_Date="20260101T000000Z")
    with pytest.raises((AuthFailure, TokenError)):
        verify_token(encode_token(tampered), "podwarden", lookup, now())
    scope = dict(parse_qsl(urlsplit(url).query))["X-Amz-Credential"].split("/", 1)[1]
    other_key = with_query(url, X_Amz_Credential=f"AKIANOBODY0000000000/{scope}")
    with pytest.raises(AuthFailure) as info:
        verify_token(encode_token(other_key), "podwarden", lookup, now())
    assert info.value.kind is FailureKind.UNKNOWN_ACCESS_KEY


def test_token_lives_fifteen_minutes() -> None:
    token = encode_token(presigned_url())
    verify_token(token, "podwarden", lookup, now() + timedelta(minutes=14))
    refused(token, "X-Amz-Date parameter is expired", now() + timedelta(minutes=16))


def test_form_checks_in_the_authenticators_words() -> None:
    url = presigned_url()
    refused("Bearer abc", 'missing expected "k8s-aws-v1." prefix')
    refused(TOKEN_PREFIX + "a" * 5000, "token is too large")
    refused(TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode(), "illegal base64")
    refused(TOKEN_PREFIX + "not+base64/", "illegal base64")
    refused(encode_token(url.replace("https", "ftp", 1)), 'unexpected scheme "ftp"')
    refused(encode_token(url.replace(".com/?", ".com/x?", 1)), "unexpected path")
    refused(encode_token(with_query(url, Extra="1")), 'non-whitelisted query parameter "Extra"')
    refused(encode_token(url + "&Action=GetCallerIdentity"), "multiple values")
    refused(encode_token(with_query(url, Action="AssumeRole")), "unexpected action")
    refused(encode_token(presigned_url(header=False)), "did not sign the x-k8s-aws-id header")
    refused(encode_token(with_query(url, X_Amz_Expires="901")), "invalid X-Amz-Expires")
    refused(encode_token(with_query(url, X_Amz_Expires=None)), "invalid X-Amz-Expires")
    refused(encode_token(with_query(url, X_Amz_Date=None)), "X-Amz-Date parameter must be")
    refused(encode_token(with_query(url, X_Amz_Date="yesterday")), "error parsing X-Amz-Date")


def test_decoded_call_names_its_key_and_host() -> None:
    call = decode_token(encode_token(presigned_url()), now())
    assert call.access_key_id == KEY
    assert call.host == "sts.us-west-2.amazonaws.com"
    assert call.params["action"] == "GetCallerIdentity"
    assert "x-k8s-aws-id" in call.params["x-amz-signedheaders"].split(";")
