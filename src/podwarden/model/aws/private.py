"""podwarden's own state inside AWS-shaped documents.

A stored document is the service's output shape (``Cluster``, ``Addon``...) plus one private
member, ``_podwarden``, that no response shows: what the reconciler needs and AWS does not say
(the control plane's data directory, whether podwarden adopted it, the update in progress...).
The typed views here are the only readers of that member outside the handler that writes it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from podwarden.model.planes import PlaneNetwork

KEY = "_podwarden"


def private(doc: dict[str, Any]) -> dict[str, Any]:
    """The document's private dict, created empty when missing (for writers)."""
    found: dict[str, Any] = doc.setdefault(KEY, {})
    return found


def peek(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    """The document's private dict, or an empty one; never changes ``doc`` (for readers)."""
    found = doc.get(KEY)
    return found if isinstance(found, Mapping) else {}


@dataclass(frozen=True)
class EksPlane:
    """Where an EKS cluster's control plane is: its data directory's name (``data_dir``, the
    cluster's name unless set) and whether podwarden adopted a running one (``adopted``: the
    embedded control plane ``podwarden up`` seeds, never started or stopped by the reconciler);
    ``kubernetes``: the exact release it runs (``v1.32.9``; None: not recorded, the default);
    ``network``: its IP family and Service range (the cluster's ``kubernetesNetworkConfig``).
    """

    key: str
    adopted: bool
    kubernetes: str | None = None
    network: PlaneNetwork = field(default_factory=PlaneNetwork)

    @classmethod
    def of(cls, name: str, doc: Mapping[str, Any]) -> EksPlane:
        mine = peek(doc)
        release = mine.get("kubernetes")
        return cls(
            key=str(mine.get("data_dir") or name),
            adopted=bool(mine.get("adopted")),
            kubernetes=str(release) if release else None,
            network=plane_network(doc),
        )


def plane_network(doc: Mapping[str, Any]) -> PlaneNetwork:
    """An EKS cluster document's ``kubernetesNetworkConfig`` as its plane's network: IPv6 with
    the ``serviceIpv6Cidr`` EKS assigned it, else IPv4. A record whose range is not an IPv6
    network (podwarden wrote ``fdXXXX:XXXX::/108`` before its IPv6 planes) keeps the IPv4
    plane it was started with."""
    config = doc.get("kubernetesNetworkConfig") or {}
    cidr = str(config.get("serviceIpv6Cidr") or "")
    if config.get("ipFamily") != "ipv6":
        return PlaneNetwork()
    try:
        ipaddress.IPv6Network(cidr)
    except ValueError:
        return PlaneNetwork()
    return PlaneNetwork("ipv6", cidr)


@dataclass(frozen=True)
class ServiceAccountKeys:
    """What an EKS cluster's apiserver signs service-account tokens with, as the EKS reconciler
    read it from the running plane (``/.well-known/openid-configuration``, ``/openid/v1/jwks``):
    ``issuer`` (the ``iss`` of the tokens it issues) and ``jwks`` (``{"keys": [...]}``). None
    until the reconciler has read them (the plane is not running yet, or is not podwarden's)."""

    issuer: str
    jwks: Mapping[str, Any]

    FIELD = "service_accounts"

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> ServiceAccountKeys | None:
        found = peek(doc).get(cls.FIELD)
        if not isinstance(found, Mapping) or not isinstance(found.get("jwks"), Mapping):
            return None
        return cls(str(found.get("issuer") or ""), found["jwks"])
