"""Whether a HyperPod instance may read its instance group's lifecycle scripts from S3.

HyperPod's instances run with the group's ExecutionRole and download the SourceS3Uri folder
before running OnCreate; AWS's failure for a role that cannot names the two permissions it
needs: "Please ensure that the role has minimum permissions to read the bucket (s3:ListBucket,
s3:GetObject)". So both are asked, as IAM would be asked by S3:

* ``s3:ListBucket`` on ``arn:aws:s3:::<bucket>``, with ``s3:prefix`` the folder (SourceS3Uri's
  path, ending in ``/`` when not empty: the folder is listed to download it);
* ``s3:GetObject`` on ``arn:aws:s3:::<bucket>/<OnCreate's key>`` (the script podwarden stores
  with each instance; the other files of the folder are not read by podwarden).

The request context is what S3 would put there for a call with the role's session credentials:
the principal (``aws:PrincipalArn``, ``aws:PrincipalAccount``, ``aws:PrincipalType``
``AssumedRole``, ``aws:userid`` ``<RoleId>:SageMaker``, the role's tags as
``aws:PrincipalTag/<key>``), the bucket's account and region (``aws:ResourceAccount``,
``aws:RequestedRegion``), ``aws:SecureTransport`` true, ``aws:CurrentTime`` and
``aws:EpochTime``, S3's ``s3:authType`` / ``s3:signatureversion``. Keys podwarden cannot know
(``aws:SourceIp``, ``aws:SourceVpce``, ``aws:PrincipalOrgID``...) are absent, and IAM's rules for
absent keys apply (``logic.iam_evaluation``).

A bucket of another account would also need its bucket policy's consent; podwarden keeps no
bucket policies, so such a read is denied.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from podwarden.logic.iam_evaluation import Decision, Policy, Request, evaluate

LIST, GET = "s3:ListBucket", "s3:GetObject"
SESSION_NAME = "SageMaker"  # HyperPod's session: assumed-role/<role>/SageMaker on the instances


@dataclass(frozen=True)
class ExecutionRole:
    """The role as IAM evaluates it: identity policies (managed and inline) and boundary."""

    arn: str
    account: str
    role_id: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    policies: tuple[Policy, ...] = ()
    boundary: Policy | None = None


@dataclass(frozen=True)
class Scripts:
    """Where the scripts are: the bucket (its account and region) and the keys read."""

    bucket: str
    owner: str
    region: str
    prefix: str  # SourceS3Uri's path
    key: str  # OnCreate's key

    @property
    def folder(self) -> str:
        return self.prefix if not self.prefix or self.prefix.endswith("/") else self.prefix + "/"


def read_requests(role: ExecutionRole, scripts: Scripts, now: float) -> list[Request]:
    """The two S3 requests an instance makes to fetch its lifecycle scripts."""
    base = _context(role, scripts, now)
    return [
        Request(LIST, f"arn:aws:s3:::{scripts.bucket}", {**base, "s3:prefix": (scripts.folder,)}),
        Request(GET, f"arn:aws:s3:::{scripts.bucket}/{scripts.key}", base),
    ]


def denied_read(
    role: ExecutionRole, scripts: Scripts, now: float
) -> tuple[Request, Decision] | None:
    """The first read IAM would refuse the role, with IAM's decision; None if both pass."""
    for request in read_requests(role, scripts, now):
        decision = evaluate(role.policies, request, role.boundary)
        if decision.allowed and scripts.owner != role.account:
            decision = Decision(False)  # another account's bucket: no bucket policy consents
        if not decision.allowed:
            return request, decision
    return None


def _context(role: ExecutionRole, scripts: Scripts, now: float) -> dict[str, tuple[str, ...]]:
    when = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    context: dict[str, tuple[str, ...]] = {
        "aws:PrincipalArn": (role.arn,),
        "aws:PrincipalAccount": (role.account,),
        "aws:PrincipalType": ("AssumedRole",),
        "aws:userid": (f"{role.role_id}:{SESSION_NAME}",),
        "aws:PrincipalIsAWSService": ("false",),
        "aws:ViaAWSService": ("false",),
        "aws:ResourceAccount": (scripts.owner,),
        "aws:RequestedRegion": (scripts.region,),
        "aws:SecureTransport": ("true",),
        "aws:CurrentTime": (when,),
        "aws:EpochTime": (str(int(now)),),
        "s3:authType": ("REST-HEADER",),
        "s3:signatureversion": ("AWS4-HMAC-SHA256",),
    }
    for k, v in role.tags.items():
        context[f"aws:PrincipalTag/{k}"] = (v,)
    return context
