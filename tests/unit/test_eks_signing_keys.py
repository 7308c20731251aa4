"""The EKS reconciler keeps what each running plane signs service-account tokens with in the
cluster's document (``model.aws.private.ServiceAccountKeys``), where STS and the OIDC listener
read them (IRSA, R13); an adopted cluster's issuer follows its plane. The fakes are
``test_eks_reconciler``'s."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

from podwarden.control.context import Context
from podwarden.model.aws import kinds
from podwarden.model.aws.private import ServiceAccountKeys, private
from podwarden.model.planes import SigningKeys
from tests.unit.test_eks_reconciler import (
    KEY,
    ROLE,
    SCOPE,
    VPC,
    Objects,
    Planes,
    call,
    ctx,
    reconciler,
)

__all__ = ["ctx"]  # the fixture used below

JWKS = {
    "keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig", "n": "AQAB", "e": "AQAB"}]
}


def planes_signing(tmp_path: Path, issuer: str) -> Planes:
    planes = Planes(tmp_path)
    planes.info = dataclasses.replace(planes.info, signing=SigningKeys(issuer, json.dumps(JWKS)))
    return planes


def test_a_planes_keys_are_recorded_once(ctx: Context, tmp_path: Path) -> None:
    described = call(ctx, "CreateCluster", name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)
    issuer = described["cluster"]["identity"]["oidc"]["issuer"]
    eks = reconciler(ctx, planes_signing(tmp_path, issuer), Objects())
    asyncio.run(eks.reconcile(KEY))
    rec = ctx.store.resources.get(kinds.EKS_CLUSTER, SCOPE, "c1")
    assert rec is not None
    keys = ServiceAccountKeys.of(rec.doc)
    assert keys is not None and keys.issuer == issuer and keys.jwks == JWKS
    version = rec.version
    asyncio.run(eks.reconcile(KEY))  # the same keys: no write
    again = ctx.store.resources.get(kinds.EKS_CLUSTER, SCOPE, "c1")
    assert again is not None and again.version == version


def test_a_started_cluster_keeps_its_issuer(ctx: Context, tmp_path: Path) -> None:
    described = call(ctx, "CreateCluster", name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)
    issuer = described["cluster"]["identity"]["oidc"]["issuer"]
    eks = reconciler(ctx, planes_signing(tmp_path, "https://elsewhere"), Objects())
    asyncio.run(eks.reconcile(KEY))
    cluster = call(ctx, "DescribeCluster", name="c1")["cluster"]
    assert cluster["identity"]["oidc"]["issuer"] == issuer


def test_an_adopted_clusters_issuer_is_its_planes(ctx: Context, tmp_path: Path) -> None:
    call(ctx, "CreateCluster", name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)
    rec = ctx.store.resources.get(kinds.EKS_CLUSTER, SCOPE, "c1")
    assert rec is not None
    private(rec.doc)["adopted"] = True
    ctx.store.resources.save(rec)
    embedded = "https://127.0.0.1:8643/id/0123456789ABCDEF0123456789ABCDEF"
    eks = reconciler(ctx, planes_signing(tmp_path, embedded), Objects())
    asyncio.run(eks.reconcile(KEY))
    cluster = call(ctx, "DescribeCluster", name="c1")["cluster"]
    assert cluster["identity"]["oidc"]["issuer"] == embedded
    assert "_podwarden" not in cluster  # the keys stay private


def test_no_keys_no_write(ctx: Context, tmp_path: Path) -> None:
    call(ctx, "CreateCluster", name="c1", roleArn=ROLE, resourcesVpcConfig=VPC)
    asyncio.run(reconciler(ctx, Planes(tmp_path), Objects()).reconcile(KEY))
    rec = ctx.store.resources.get(kinds.EKS_CLUSTER, SCOPE, "c1")
    assert rec is not None and ServiceAccountKeys.of(rec.doc) is None
