"""IAM OpenID Connect (OIDC) identity providers: create, read, list, delete, client IDs,
thumbprints and tags.

An IRSA setup (IAM roles for service accounts, R13 in docs/requirements.md) registers the EKS
cluster's issuer (DescribeCluster ``identity.oidc.issuer``) as a provider: ``aws iam
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
from typing import Any
from urllib.parse import urlsplit

from podwarden.control.context import Context, Handler, Operations
from podwarden.control.iam import records
from podwarden.control.iam.records import Doc, when
from podwarden.control.iam.tags import Tagged
from podwarden.model.aws import arns, kinds
from podwarden.model.errors import InUse, Invalid, LimitExceeded, NotFound
from podwarden.store.resources import Record

MAX_THUMBPRINTS = 5
MAX_CLIENT_IDS = 100
_THUMBPRINT = re.compile(r"[0-9A-Fa-f]{40}")
# returned as given at creation, when given
_OPTIONAL = ("ContextProvider", "IdentityCenterInstanceArn")


def _missing(arn: str) -> NotFound:
    return NotFound(reason="oidc-provider-not-found", arn=arn)


def _key(ctx: Context, arn: str) -> str:
    """The record key an ARN of this account names; NoSuchEntity for any other string (an ARN
    of another account names none)."""
    found = arns.parse_oidc_provider(arn)
    if found is None or arns.oidc_provider(ctx.account, found[1]) != arn:
        raise _missing(arn)
    return found[1]


def _get(ctx: Context, arn: str) -> Record:
    return records.require(ctx, kinds.IAM_OIDC_PROVIDER, _key(ctx, arn), _missing(arn))


def _on_provider(ctx: Context, params: dict[str, Any], edit: Callable[[Doc], None]) -> None:
    """Apply ``edit`` to the provider ``OpenIDConnectProviderArn`` names."""
    arn = params["OpenIDConnectProviderArn"]
    records.change(
        ctx, kinds.IAM_OIDC_PROVIDER, _key(ctx, arn), edit, missing=_missing(arn), label=arn
    )


TAGS = Tagged(
    "OpenIDConnectProvider",
    edit=_on_provider,
    read=lambda ctx, params: _get(ctx, params["OpenIDConnectProviderArn"]).doc["Tags"],
)


def _host_path(url: str) -> str:
    if not url.startswith("https://") or not urlsplit(url).hostname or "?" in url or "#" in url:
        raise Invalid(reason="invalid-oidc-url")
    return url.removeprefix("https://")


def _thumbprints(values: list[str]) -> list[str]:
    if len(values) > MAX_THUMBPRINTS:
        raise Invalid(reason="too-many-thumbprints", limit=MAX_THUMBPRINTS)
    for v in values:
        if not _THUMBPRINT.fullmatch(v):
            raise Invalid(reason="invalid-thumbprint", thumbprint=v)
    return list(values)


def _client_ids(values: list[str]) -> list[str]:
    unique = list(dict.fromkeys(values))
    if len(unique) > MAX_CLIENT_IDS:
        raise LimitExceeded(
            reason="quota-exceeded",
            quota="ClientIdsPerOpenIdConnectProvider",
            limit=MAX_CLIENT_IDS,
        )
    return unique


# ---------------------------------------------------------------- handlers


def create_provider(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    url = params["Url"]
    host_path = _host_path(url)
    doc: Doc = {
        "Url": host_path,
        "Arn": arns.oidc_provider(ctx.account, host_path),
        "ClientIDList": _client_ids(params.get("ClientIDList") or []),
        "ThumbprintList": _thumbprints(params.get("ThumbprintList") or []),
        "CreateDate": ctx.now(),
        "Tags": TAGS.initial(params),
    }
    doc.update({m: params[m] for m in _OPTIONAL if params.get(m) is not None})
    taken = InUse(reason="oidc-provider-exists", url=url)
    records.create(ctx, kinds.IAM_OIDC_PROVIDER, host_path, doc, taken)
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
    out.update({m: doc[m] for m in _OPTIONAL if doc.get(m) is not None})
    return out


def list_providers(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    providers = records.of_kind(ctx, kinds.IAM_OIDC_PROVIDER)
    return {
        "OpenIDConnectProviderList": [{"Arn": a} for a in sorted(r.doc["Arn"] for r in providers)]
    }


def delete_provider(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    rec = _get(ctx, params["OpenIDConnectProviderArn"])
    records.delete(ctx, kinds.IAM_OIDC_PROVIDER, rec.key)
    return {}


def _setter(member: str, value: Callable[[Doc, dict[str, Any]], list[str]]) -> Handler:
    """A handler that sets one list of the provider to ``value(doc, params)``."""

    def handler(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
        def edit(doc: Doc) -> None:
            doc[member] = value(doc, params)

        _on_provider(ctx, params, edit)
        return {}

    return handler


# Add/RemoveClientID are idempotent, as their docs say
add_client_id = _setter(
    "ClientIDList", lambda d, p: _client_ids([*d["ClientIDList"], p["ClientID"]])
)
remove_client_id = _setter(
    "ClientIDList", lambda d, p: [c for c in d["ClientIDList"] if c != p["ClientID"]]
)
update_thumbprint = _setter("ThumbprintList", lambda d, p: _thumbprints(p["ThumbprintList"]))


OPERATIONS: Operations = {
    "CreateOpenIDConnectProvider": create_provider,
    "GetOpenIDConnectProvider": get_provider,
    "ListOpenIDConnectProviders": list_providers,
    "DeleteOpenIDConnectProvider": delete_provider,
    "AddClientIDToOpenIDConnectProvider": add_client_id,
    "RemoveClientIDFromOpenIDConnectProvider": remove_client_id,
    "UpdateOpenIDConnectProviderThumbprint": update_thumbprint,
    **TAGS.operations(),
}
