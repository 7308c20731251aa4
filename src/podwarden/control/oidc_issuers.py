"""The local account's OIDC issuers: one per EKS cluster, and where podwarden serves them.

Records, not handlers (``logic.oidc_issuer`` has the URLs and documents, pure):

* The listener: podwarden's TLS listener for OIDC discovery (``api.oidc_listener``) records its
  port once bound (kind :data:`LISTENER_KIND`, global scope), so CreateCluster
  (:func:`new_cluster_issuer`) names issuers a client can fetch, a restart binds the same port
  (``cli.oidc``), and ``podwarden up`` keeps the embedded plane's issuer
  (:data:`EMBEDDED_ISSUER`).
* The keys: the EKS reconciler stores what each running plane signs with in the cluster's
  document (``model.aws.private.ServiceAccountKeys``); :func:`issuer_keys` finds a cluster by the
  issuer its record names (DescribeCluster's ``identity.oidc.issuer``), :func:`keys_at_path` by
  the path the listener was asked for.
* :func:`verify_cluster_token`: a service-account token of one of those clusters, verified
  in-process against that cluster's keys (no fetch: STS and eks-auth use it).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from podwarden.logic import oidc_issuer
from podwarden.logic.web_identity_token import Problem, TokenRejected, parse, verify
from podwarden.model.aws import kinds
from podwarden.model.aws.private import EksPlane, ServiceAccountKeys
from podwarden.model.aws.scope import GLOBAL
from podwarden.store.resources import Record, Resources

LISTENER_KIND = "podwarden:oidc-listener"
LISTENER_KEY = "listener"
EMBEDDED_ISSUER = "embedded_issuer"  # the listener record's member: the embedded plane's issuer
LOOPBACK = "127.0.0.1"


def listener(resources: Resources) -> Mapping[str, Any]:
    rec = resources.get(LISTENER_KIND, GLOBAL, LISTENER_KEY)
    return rec.doc if rec is not None else {}


def listener_base(resources: Resources) -> str | None:
    """``https://127.0.0.1:<port>`` of the listener this store last recorded, or None."""
    port = listener(resources).get("port")
    return f"https://{LOOPBACK}:{int(port)}" if port else None


def record_listener(resources: Resources, **members: Any) -> None:
    """Set members of the listener record (``port``, :data:`EMBEDDED_ISSUER`)."""
    rec = resources.get(LISTENER_KIND, GLOBAL, LISTENER_KEY)
    if rec is None:
        resources.put(Record(LISTENER_KIND, GLOBAL, LISTENER_KEY, dict(members), created=0.0))
    elif any(rec.doc.get(k) != v for k, v in members.items()):
        rec.doc.update(members)
        resources.save(rec)


def new_cluster_issuer(resources: Resources, region: str, cluster_id: str) -> str:
    """The issuer of a cluster created now: under the listener, else EKS's form."""
    base = listener_base(resources)
    if base is None:
        return oidc_issuer.eks_issuer(region, cluster_id)
    return oidc_issuer.local_issuer(base, cluster_id)


@dataclass(frozen=True)
class IssuerKeys:
    """An issuer's keys and the EKS cluster they belong to."""

    issuer: str
    jwks: Mapping[str, Any]
    scope: str  # the cluster's record scope, ``<account>/<region>``
    cluster: str


def _issuer_of(doc: Mapping[str, Any]) -> str:
    return str(((doc.get("identity") or {}).get("oidc") or {}).get("issuer") or "")


def _clusters(resources: Resources) -> list[tuple[Record, str, ServiceAccountKeys]]:
    found = []
    for rec in resources.list(kinds.EKS_CLUSTER):
        keys = ServiceAccountKeys.of(rec.doc)
        issuer = _issuer_of(rec.doc)
        if keys is not None and issuer and rec.doc.get("status") != "DELETING":
            found.append((rec, issuer, keys))
    return found


def issuer_keys(resources: Resources, issuer: str) -> IssuerKeys | None:
    """The keys of the cluster whose issuer is ``issuer`` (exactly), if its plane's are known."""
    for rec, named, keys in _clusters(resources):
        if named == issuer:
            return IssuerKeys(named, keys.jwks, rec.scope, rec.key)
    return None


def keys_at_path(resources: Resources, path: str) -> IssuerKeys | None:
    """The cluster whose issuer has the path ``path`` (``/id/<ID>``): what the listener serves.
    Routing by path alone serves an issuer whatever port it names (the listener may have moved)."""
    for rec, named, keys in _clusters(resources):
        if oidc_issuer.issuer_path(named) == path.rstrip("/"):
            return IssuerKeys(named, keys.jwks, rec.scope, rec.key)
    return None


@dataclass(frozen=True)
class ServiceAccountToken:
    """A verified service-account token of an EKS cluster of the local account."""

    issuer: str
    subject: str
    audiences: tuple[str, ...]
    claims: Mapping[str, Any]
    scope: str
    cluster: str

    @property
    def service_account(self) -> tuple[str, str] | None:
        """``(namespace, name)`` when the subject is a service account's."""
        return oidc_issuer.parse_subject(self.subject)


def verify_cluster_token(
    resources: Resources,
    token: str,
    *,
    now: float,
    audiences: Collection[str] | None,
    cluster: tuple[str, str] | None = None,
) -> ServiceAccountToken:
    """``token`` verified against the keys of the cluster its ``iss`` names (and, when
    ``cluster`` = (scope, name) is given, that cluster only): ``TokenRejected`` otherwise
    (``UNKNOWN_ISSUER`` for an issuer of no cluster whose keys are known)."""
    jwt = parse(token)
    found = issuer_keys(resources, jwt.issuer)
    if found is None or (cluster is not None and (found.scope, found.cluster) != cluster):
        raise TokenRejected(Problem.UNKNOWN_ISSUER, claims=jwt.claims)
    verify(jwt, found.jwks, now=now, audiences=audiences)
    return ServiceAccountToken(
        jwt.issuer, jwt.subject, jwt.audiences, jwt.claims, found.scope, found.cluster
    )


def plane_issuer(resources: Resources, key: str) -> str | None:
    """The issuer of the EKS cluster whose control plane lives in ``key`` (its
    ``_podwarden.data_dir``): what that plane's apiserver is to issue tokens with."""
    for rec in resources.list(kinds.EKS_CLUSTER):
        if EksPlane.of(rec.key, rec.doc).key == key:
            return _issuer_of(rec.doc) or None
    return None
