"""IAM OpenID Connect providers of the local AWS account: create, read, list, delete, client
IDs, thumbprints and tags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from podwarden.control.context import Context
from podwarden.control.iam import OPERATIONS as HANDLERS
from podwarden.model.errors import PodwardenError
from podwarden.wire.errors import wire_error
from tests.aws_helpers import ACCOUNT, assert_shape, make_context

ISSUER = "https://oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
HOST_PATH = ISSUER.removeprefix("https://")
ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{HOST_PATH}"
THUMB = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return make_context(tmp_path)


def call(ctx: Context, op: str, **params: Any) -> dict[str, Any]:
    out = HANDLERS[op](ctx, params)
    assert_shape("iam", op, out)
    return out


def fails(ctx: Context, op: str, code: str, status: int, **params: Any) -> str:
    with pytest.raises(PodwardenError) as info:
        HANDLERS[op](ctx, params)
    err = wire_error("iam", info.value)  # as IAM answers it (podwarden.wire.errors_iam)
    assert (err.code, err.status) == (code, status), err.message
    return err.message


def test_irsa_provider_for_an_eks_issuer(ctx: Context) -> None:
    out = call(ctx, "CreateOpenIDConnectProvider", Url=ISSUER, ClientIDList=["sts.amazonaws.com"])
    assert out == {"OpenIDConnectProviderArn": ARN}
    got = call(ctx, "GetOpenIDConnectProvider", OpenIDConnectProviderArn=ARN)
    assert got["Url"] == HOST_PATH  # without the scheme, as IAM returns it
    assert got["ClientIDList"] == ["sts.amazonaws.com"]
    assert got["ThumbprintList"] == [] and got["Tags"] == []
    listed = call(ctx, "ListOpenIDConnectProviders")["OpenIDConnectProviderList"]
    assert listed == [{"Arn": ARN}]
    message = fails(ctx, "CreateOpenIDConnectProvider", "EntityAlreadyExists", 409, Url=ISSUER)
    assert message == f"Provider with url {ISSUER} already exists."
    call(ctx, "DeleteOpenIDConnectProvider", OpenIDConnectProviderArn=ARN)
    assert call(ctx, "ListOpenIDConnectProviders")["OpenIDConnectProviderList"] == []
    message = fails(
        ctx, "GetOpenIDConnectProvider", "NoSuchEntity", 404, OpenIDConnectProviderArn=ARN
    )
    assert message == f"OpenIDConnect Provider not found for arn {ARN}"
    fails(ctx, "DeleteOpenIDConnectProvider", "NoSuchEntity", 404, OpenIDConnectProviderArn=ARN)


def test_urls_are_kept_as_given_and_listed_sorted(ctx: Context) -> None:
    call(ctx, "CreateOpenIDConnectProvider", Url="https://token.example.com")
    call(ctx, "CreateOpenIDConnectProvider", Url="https://a.example.com/tenant/Id")
    call(ctx, "CreateOpenIDConnectProvider", Url="https://a.example.com/tenant/id")
    listed = call(ctx, "ListOpenIDConnectProviders")["OpenIDConnectProviderList"]
    prefix = f"arn:aws:iam::{ACCOUNT}:oidc-provider/"
    assert [p["Arn"].removeprefix(prefix) for p in listed] == [
        "a.example.com/tenant/Id",
        "a.example.com/tenant/id",
        "token.example.com",
    ]


@pytest.mark.parametrize(
    "url", ["http://a.example.com", "a.example.com", "https://", "https://a.example.com/?x=1"]
)
def test_bad_urls(ctx: Context, url: str) -> None:
    fails(ctx, "CreateOpenIDConnectProvider", "InvalidInput", 400, Url=url)


def test_thumbprints_and_client_ids(ctx: Context) -> None:
    fails(
        ctx,
        "CreateOpenIDConnectProvider",
        "InvalidInput",
        400,
        Url=ISSUER,
        ThumbprintList=[THUMB] * 6,
    )
    fails(
        ctx,
        "CreateOpenIDConnectProvider",
        "InvalidInput",
        400,
        Url=ISSUER,
        ThumbprintList=["z" * 40],
    )
    fails(
        ctx,
        "CreateOpenIDConnectProvider",
        "LimitExceeded",
        409,
        Url=ISSUER,
        ClientIDList=[f"c{i}" for i in range(101)],
    )
    call(ctx, "CreateOpenIDConnectProvider", Url=ISSUER, ThumbprintList=[THUMB])
    ident = {"OpenIDConnectProviderArn": ARN}
    call(ctx, "AddClientIDToOpenIDConnectProvider", **ident, ClientID="sts.amazonaws.com")
    call(ctx, "AddClientIDToOpenIDConnectProvider", **ident, ClientID="sts.amazonaws.com")
    call(ctx, "AddClientIDToOpenIDConnectProvider", **ident, ClientID="other")
    assert call(ctx, "GetOpenIDConnectProvider", **ident)["ClientIDList"] == [
        "sts.amazonaws.com",
        "other",
    ]
    call(ctx, "RemoveClientIDFromOpenIDConnectProvider", **ident, ClientID="other")
    call(ctx, "RemoveClientIDFromOpenIDConnectProvider", **ident, ClientID="never")
    assert call(ctx, "GetOpenIDConnectProvider", **ident)["ClientIDList"] == ["sts.amazonaws.com"]
    new = "a" * 40
    call(ctx, "UpdateOpenIDConnectProviderThumbprint", **ident, ThumbprintList=[new])
    assert call(ctx, "GetOpenIDConnectProvider", **ident)["ThumbprintList"] == [new]
    missing = {"OpenIDConnectProviderArn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/nope.example"}
    fails(ctx, "AddClientIDToOpenIDConnectProvider", "NoSuchEntity", 404, **missing, ClientID="x")


def test_tags(ctx: Context) -> None:
    out = call(
        ctx,
        "CreateOpenIDConnectProvider",
        Url=ISSUER,
        Tags=[{"Key": "team", "Value": "ml"}],
    )
    assert out["Tags"] == [{"Key": "team", "Value": "ml"}]
    ident = {"OpenIDConnectProviderArn": ARN}
    call(ctx, "TagOpenIDConnectProvider", **ident, Tags=[{"Key": "env", "Value": "dev"}])
    tags = call(ctx, "ListOpenIDConnectProviderTags", **ident)
    assert tags == {
        "Tags": [{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "ml"}],
        "IsTruncated": False,
    }
    call(ctx, "UntagOpenIDConnectProvider", **ident, TagKeys=["team"])
    assert call(ctx, "GetOpenIDConnectProvider", **ident)["Tags"] == [
        {"Key": "env", "Value": "dev"}
    ]


def test_providers_belong_to_their_account(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    call(ctx, "CreateOpenIDConnectProvider", Url=ISSUER)
    other = make_context(tmp_path, account="111122223333", store=ctx.store)
    assert call(other, "ListOpenIDConnectProviders")["OpenIDConnectProviderList"] == []
    fails(other, "GetOpenIDConnectProvider", "NoSuchEntity", 404, OpenIDConnectProviderArn=ARN)
    call(other, "CreateOpenIDConnectProvider", Url=ISSUER)
