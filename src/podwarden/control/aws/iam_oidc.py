"""IAM OpenID Connect (OIDC) identity providers: create, read, list, delete, client IDs,
thumbprints and tags.

An IRSA setup (IAM roles for service accounts, seed R13) registers the EKS cluster's issuer
(DescribeCluster ``identity.oidc.issuer``) as a provider: ``aws iam
create-open-id-connect-provider --url <issuer> --client-id-list sts.amazonaws.com``. The
preflight's ``pod-credentials`` rule looks for a provider whose ARN ends with the issuer.

One record per provider (kind ``iam:oidc-provider``, scope the account as every IAM record),
keyed by the URL without ``https://``, exactly as given: unlike role names, provider URLs are not
folded to lower case (a case difference or a trailing slash is another provider, floci-io/floci
#2106, which mirrors IAM's behaviour).

As IAM (botocore's model and docs, and the errors users report):

* ``Url`` must begin with ``https://``, with no query or fragment (CreateOpenIDConnectProvider's
  doc); otherwise InvalidInput. The ARN is ``arn:aws:iam::<account>:oidc-provider/<host/path>``
  and GetOpenIDConnectProvider returns ``Url`` without the scheme (floci-io/floci#2106;
  kubernetes-sigs/cluster-api-provider-aws#4017 compares both forms for that reason).
* The same URL twice is EntityAlreadyExists "Provider with url <url> already exists." (409,
  DrFaust92/terraform-kubernetes-ebs-csi-driver#107).
* ``ThumbprintList`` is optional (IAM then fetches one; podwarden records none): at most 5,
  each 40 hex digits. ``ClientIDList``: at most 100 (LimitExceeded). Add/RemoveClientID are
  idempotent, as their docs say.
* An unknown ARN is NoSuchEntity "OpenIDConnect Provider not found for arn <arn>" (moto's
  recording of IAM's message). ListOpenIDConnectProviders returns ARNs only, sorted.

``ContextProvider`` and ``IdentityCenterInstanceArn`` (trusted identity propagation) are
recorded and returned as given; podwarden does not model IAM Identity Center.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

from podwarden.control.aws.iam_common import STATUS, drop_tags, fail, merge_tags, page, when
from podwarden.control.context import Context
from podwarden.model.errors import Conflict, ServiceError
from podwarden.store.resources import Duplicate, Record

T = TypeVar("T")
PROVIDER = "iam:oidc-provider"
MARKER = ":oidc-provider/"
MAX_THUMBPRINTS = 5
MAX_CLIENT_IDS = 100
_THUMBPRINT = re.compile(r"[0-9A-Fa-f]{40}")
_RETRIES = 5


def provider_arn(account: str, url: str) -> str:
    return f"arn:aws:iam::{account}{MARKER}{url}"


def _key(ctx: Context, arn: str) -> str:
    """The record key an ARN of this account names (an ARN of another account names none)."""
    prefix = provider_arn(ctx.account, "")
    return arn[len(prefix) :] if arn.startswith(prefix) else ""


def _missing(arn: str) -> NoReturn:
    fail("NoSuchEntity", f"OpenIDConnect Provider not found for arn {arn}")


def _get(ctx: Context, arn: str) -> Record:
    rec = ctx.store.resources.get(PROVIDER, ctx.account, _key(ctx, arn)) if _key(ctx, arn) else None
    if rec is None:
        _missing(arn)
    return rec


def _change(ctx: Context, arn: str, change: Callable[[dict[str, Any]], T]) -> T:
    """Read, change and write back a provider, retrying on a concurrent write."""
    for _ in range(_RETRIES):
        rec = _get(ctx, arn)
        result = change(rec.doc)
        try:
            ctx.store.resources.save(rec)
        except Conflict:
            continue
        return result
    raise ServiceError(
        "ConcurrentModification",
        f"{arn} was modified concurrently; retry the request.",
        STATUS["ConcurrentModification"],
    )


def _host_path(url: str) -> str:
    if not url.startswith("https://") or not urlsplit(url).hostname or "?" in url or "#" in url:
        fail("InvalidInput", "Invalid Open ID Connect Provider URL")
    return url.removeprefix("https://")


def _thumbprints(values: list[str]) -> list[str]:
    if len(values) > MAX_THUMBPRINTS:
        fail("InvalidInput", f"Thumbprint list must contain fewer than {MAX_THUMBPRINTS} entries.")
    for v in values:
        if not _THUMBPRINT.fullmatch(v):
            fail("InvalidInput", f"Thumbprint {v} is not 40 hexadecimal digits.")
    return list(values)


def _client_ids(values: list[str]) -> list[str]:
    unique = list(dict.fromkeys(values))
    if len(unique) > MAX_CLIENT_IDS:
        fail(
            "LimitExceeded",
            f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}",
        )
    return unique


# ---------------------------------------------------------------- handlers


def create_provider(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    url = params["Url"]
    host_path = _host_path(url)
    doc: dict[str, Any] = {
        "Url": host_path,
        "Arn": provider_arn(ctx.account, host_path),
        "ClientIDList": _client_ids(params.get("ClientIDList") or []),
        "ThumbprintList": _thumbprints(params.get("ThumbprintList") or []),
        "CreateDate": ctx.now(),
        "Tags": merge_tags([], params.get("Tags") or []),
    }
    for member in ("ContextProvider", "IdentityCenterInstanceArn"):
        if params.get(member) is not None:
            doc[member] = params[member]
    rec = Record(PROVIDER, ctx.account, host_path, doc, created=doc["CreateDate"])
    try:
        ctx.store.resources.create(rec)
    except Duplicate:
        fail("EntityAlreadyExists", f"Provider with url {url} already exists.")
    out: dict[str, Any] = {"OpenIDConnectProviderArn": doc["Arn"]}
    if doc["Tags"]:
        out["Tags"] = doc["Tags"]
    return out


def get_provider(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    doc = _get(ctx, params["OpenIDConnectProviderArn"]).doc
    out: dict[str, Any] = {
        "Url": doc["Url"],
        "ClientIDList": doc["ClientIDList"],
        "ThumbprintList": doc["ThumbprintList"],
        "CreateDate": when(doc["CreateDate"]),
        "Tags": doc["Tags"],
    }
    for member in ("ContextProvider", "IdentityCenterInstanceArn"):
        if doc.get(member) is not None:
            out[member] = doc[member]
    return out


def list_providers(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    arns = sorted(r.doc["Arn"] for r in ctx.store.resources.list(PROVIDER, ctx.account))
    return {"OpenIDConnectProviderList": [{"Arn": a} for a in arns]}


def delete_provider(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["OpenIDConnectProviderArn"]
    rec = _get(ctx, arn)
    ctx.store.resources.delete(PROVIDER, ctx.account, rec.key)
    return {}


def add_client_id(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    def change(doc: dict[str, Any]) -> None:
        doc["ClientIDList"] = _client_ids([*doc["ClientIDList"], params["ClientID"]])

    _change(ctx, params["OpenIDConnectProviderArn"], change)
    return {}


def remove_client_id(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    def change(doc: dict[str, Any]) -> None:
        doc["ClientIDList"] = [c for c in doc["ClientIDList"] if c != params["ClientID"]]

    _change(ctx, params["OpenIDConnectProviderArn"], change)
    return {}


def update_thumbprint(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    def change(doc: dict[str, Any]) -> None:
        doc["ThumbprintList"] = _thumbprints(params["ThumbprintList"])

    _change(ctx, params["OpenIDConnectProviderArn"], change)
    return {}


def tag_provider(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    def change(doc: dict[str, Any]) -> None:
        doc["Tags"] = merge_tags(doc["Tags"], params["Tags"])

    _change(ctx, params["OpenIDConnectProviderArn"], change)
    return {}


def untag_provider(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    def change(doc: dict[str, Any]) -> None:
        doc["Tags"] = drop_tags(doc["Tags"], params["TagKeys"])

    _change(ctx, params["OpenIDConnectProviderArn"], change)
    return {}


def list_provider_tags(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    tags = sorted(_get(ctx, params["OpenIDConnectProviderArn"]).doc["Tags"], key=lambda t: t["Key"])
    chunk, more = page(tags, params)
    return {"Tags": chunk, **more}


HANDLERS: dict[str, Callable[[Context, dict[str, Any]], dict[str, Any]]] = {
    "CreateOpenIDConnectProvider": create_provider,
    "GetOpenIDConnectProvider": get_provider,
    "ListOpenIDConnectProviders": list_providers,
    "DeleteOpenIDConnectProvider": delete_provider,
    "AddClientIDToOpenIDConnectProvider": add_client_id,
    "RemoveClientIDFromOpenIDConnectProvider": remove_client_id,
    "UpdateOpenIDConnectProviderThumbprint": update_thumbprint,
    "TagOpenIDConnectProvider": tag_provider,
    "UntagOpenIDConnectProvider": untag_provider,
    "ListOpenIDConnectProviderTags": list_provider_tags,
}
