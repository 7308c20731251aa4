"""AssumeRoleWithWebIdentity: a web identity token (IRSA: a pod's service-account token) for the
temporary credentials of a role whose trust policy federates the token's identity provider.

The call is unsigned, as on AWS (botocore's model: ``smithy.api#noAuth``; ``api.app`` lets it
through with no caller). STS checks the token, in this order, and issues nothing unless every
check passes (R13 in docs/requirements.md; docs/sources.md, "IRSA"):

1. it is a JWT (``logic.web_identity_token.parse``): else ``InvalidIdentityToken``;
2. the role's account has an IAM OIDC provider whose URL is the token's ``iss`` (the provider
   ``arn:aws:iam::<account>:oidc-provider/<iss without https://>``): else ``InvalidIdentityToken``
   "No OpenIDConnect provider found in your account for <iss>";
3. the token's audience (``azp``, else ``aud``) is one of the provider's client IDs: else
   ``InvalidIdentityToken`` "Incorrect token audience";
4. its signature verifies with the issuer's keys: podwarden knows the keys of every EKS
   cluster whose plane it runs (``control.oidc_issuers``, read from the apiserver itself) and of
   no other issuer, so another issuer is AWS's "Couldn't retrieve verification key from your
   identity provider" (``InvalidIdentityToken``) and a key that does not verify it is
   ``InvalidIdentityToken`` too;
5. it has not expired (``ExpiredTokenException`` "Token expired: current date/time <now> must be
   before the expiration date/time <exp>") and is valid already (``nbf``/``iat`` not in the
   future: ``IDPRejectedClaim``, podwarden's choice of code);
6. the role exists and its trust policy allows ``sts:AssumeRoleWithWebIdentity`` for the
   principal ``{"Federated": <provider ARN>}`` with its conditions holding on the request's keys
   (``<provider>:sub``, ``<provider>:aud``, ``<provider>:oaud``, ``aws:FederatedProvider``,
   ``sts:RoleSessionName``: ``logic.iam_conditions``) and no Deny applying: else ``AccessDenied``
   (403) "Not authorized to perform sts:AssumeRoleWithWebIdentity", a missing role included;
7. DurationSeconds (900 s to the role's MaxSessionDuration) and a session policy, as AssumeRole.

Thumbprints: AWS verifies an IdP's TLS certificate with its library of trusted root CAs and uses
a provider's thumbprints only when the certificate does not chain to one of them (IAM's
CreateOpenIDConnectProvider doc), and never for EKS's own issuers. podwarden fetches nothing: it
verifies with the keys it read from the cluster's apiserver, so thumbprints are recorded and
returned but pin nothing, as for an IdP whose certificate AWS trusts.

The session is AssumeRole's (``assume_role.issue_session``): the endpoint accepts its keys until
it expires. The output adds ``SubjectFromWebIdentityToken`` (``sub``), ``Provider`` (the
provider's ARN), ``Audience`` (the client ID that matched).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from podwarden.control.context import Context, Operations
from podwarden.control.iam import policy_doc as pdoc
from podwarden.control.oidc_issuers import issuer_keys
from podwarden.control.sts.assume_role import (
    duration,
    issue_session,
    packed_size,
    role_record,
)
from podwarden.logic.iam_evaluation import Request, applies
from podwarden.logic.iam_patterns import resolver
from podwarden.logic.web_identity_token import (
    Jwt,
    Problem,
    TokenRejected,
    check_signature,
    check_times,
    parse,
)
from podwarden.model.aws import arns, kinds
from podwarden.model.aws.scope import account_wide
from podwarden.model.errors import Denied, Invalid, PodwardenError
from podwarden.store.resources import Record

ACTION = "sts:AssumeRoleWithWebIdentity"
VARIABLES_VERSION = "2012-10-17"


def _refusal(exc: TokenRejected, now: float) -> PodwardenError:
    """A token problem as STS answers it (the reasons of ``wire.errors_sts``)."""
    detail = exc.message
    match exc.problem:
        case Problem.EXPIRED:
            exp = int(float(exc.claims.get("exp", 0)))
            return Invalid(reason="web-identity-expired", now=int(now), exp=exp)
        case Problem.NOT_YET_VALID:
            return Denied(reason="web-identity-not-yet-valid", detail=detail)
        case Problem.WRONG_AUDIENCE:
            return Invalid(reason="web-identity-audience")
        case Problem.UNKNOWN_ISSUER:
            return Invalid(reason="web-identity-no-keys")
        case Problem.NO_KEY | Problem.BAD_SIGNATURE:
            return Invalid(reason="web-identity-signature", detail=detail)
        case _:
            return Invalid(reason="web-identity-malformed", detail=detail)


def _provider(ctx: Context, role_arn: str, jwt: Jwt) -> Record:
    """The IAM OIDC provider of the token's issuer in the role's account."""
    parsed = arns.parse_role(role_arn)
    host_path = jwt.issuer.removeprefix("https://")
    rec = None
    if parsed is not None and jwt.issuer.startswith("https://"):
        rec = ctx.store.resources.get(
            kinds.IAM_OIDC_PROVIDER, account_wide(parsed.account), host_path
        )
    if rec is None:
        raise Invalid(reason="web-identity-no-provider", issuer=jwt.issuer)
    return rec


def _audience(jwt: Jwt, client_ids: list[str]) -> str:
    """The token's audience that the provider lists: ``azp`` when the token has one (IAM's
    ``<provider>:aud`` key), else the first of ``aud`` that is a client ID."""
    azp = jwt.claims.get("azp")
    wanted = (azp,) if isinstance(azp, str) and azp else jwt.audiences
    for aud in wanted:
        if aud in client_ids:
            return aud
    raise Invalid(reason="web-identity-audience")


def _context(
    jwt: Jwt, provider: Mapping[str, Any], params: dict[str, Any], now: float
) -> dict[str, tuple[str, ...]]:
    """The request's condition keys (lower case), as IAM names them for OIDC federation."""
    url = str(provider["Url"]).lower()
    azp = jwt.claims.get("azp")
    aud = (azp,) if isinstance(azp, str) and azp else jwt.audiences
    keys = {
        f"{url}:sub": (jwt.subject,),
        f"{url}:aud": tuple(aud),
        "aws:federatedprovider": (str(provider["Arn"]),),
        "sts:rolesessionname": (params["RoleSessionName"],),
        "aws:epochtime": (str(int(now)),),
    }
    if isinstance(azp, str) and azp:
        keys[f"{url}:oaud"] = jwt.audiences
    return keys


def _principal_matches(st: Mapping[str, Any], provider_arn: str) -> bool:
    principal = st.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    return provider_arn in pdoc.as_list(principal.get("Federated"))


def trusted(
    trust_policy: str, role_arn: str, provider_arn: str, context: dict[str, tuple[str, ...]]
) -> bool:
    """Whether a role's trust policy lets the provider's identity assume the role: an Allow
    naming the provider whose conditions hold, and no Deny that applies."""
    doc = json.loads(trust_policy)
    resolve = resolver(context) if doc.get("Version") == VARIABLES_VERSION else None
    request = Request(ACTION, role_arn, context)
    effects = [
        st.get("Effect")
        for st in pdoc.statements_of(doc)
        if _principal_matches(st, provider_arn)
        and applies({k: v for k, v in st.items() if k != "Resource"}, request, context, resolve)
    ]
    return "Allow" in effects and "Deny" not in effects


def _verified(ctx: Context, params: dict[str, Any], now: float) -> tuple[Jwt, Record, str]:
    """Steps 1-5 of the module docstring: the token, its provider and matched audience."""
    try:
        jwt = parse(params["WebIdentityToken"])
        provider = _provider(ctx, params["RoleArn"], jwt)
        audience = _audience(jwt, list(provider.doc["ClientIDList"]))
        keys = issuer_keys(ctx.store.resources, jwt.issuer)
        if keys is None:
            raise TokenRejected(Problem.UNKNOWN_ISSUER)
        check_signature(jwt, keys.jwks)
        check_times(jwt, now)
    except TokenRejected as exc:
        raise _refusal(exc, now) from exc
    return jwt, provider, audience


def assume_role_with_web_identity(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    now = ctx.now()
    jwt, provider, audience = _verified(ctx, params, now)
    role_arn = params["RoleArn"]
    rec = role_record(ctx, role_arn)
    context = _context(jwt, provider.doc, params, now)
    if rec is None or not trusted(
        rec.doc["AssumeRolePolicyDocument"], role_arn, provider.doc["Arn"], context
    ):
        raise Denied(reason="web-identity-denied")
    seconds = duration(params, rec.doc, chained=False)
    packed = packed_size(params)
    out = issue_session(ctx, rec, params["RoleSessionName"], seconds, jwt.subject)
    out.update(
        SubjectFromWebIdentityToken=jwt.subject,
        Provider=provider.doc["Arn"],
        Audience=audience,
    )
    if packed is not None:
        out["PackedPolicySize"] = packed
    return out


OPERATIONS: Operations = {"AssumeRoleWithWebIdentity": assume_role_with_web_identity}
