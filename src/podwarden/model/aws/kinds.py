"""The kinds of the account's records (``podwarden.store.resources``), one constant each.

A kind is ``"<service>:<type>"``; a record is addressed by ``(kind, scope, key)`` (see
``podwarden.model.aws.scope`` for scopes). The table says what each record's key and document
are; the handler subpackage named first writes it, the others only read it.

=============================  ==============================  ===============================
kind                           key                             document
=============================  ==============================  ===============================
``eks:cluster``                cluster name                    EKS ``Cluster`` output shape
``eks:addon``                  ``<cluster>/<addon>``           EKS ``Addon``
``eks:access-entry``           ``<cluster>/<principal ARN>``   EKS ``AccessEntry``
``eks:update``                 ``<cluster>/<update id>``       EKS ``Update``
``eks:pod-identity``           ``<cluster>/<association id>``  ``PodIdentityAssociation``
``eks:observed``               cluster name                    live state for the preflight
``ec2:<type>``                 resource id (``vpc-…``)         EC2 output shapes
``iam:role`` / ``iam:policy``  name / ARN                      IAM output shapes
``iam:instance-profile``       name                            ``InstanceProfile``
``iam:oidc-provider``          ARN                             ``GetOpenIDConnectProvider``
``sts:session``                access key id                   a session's credentials
``s3:bucket``                  bucket name                     bucket and its configuration
``s3:object``                  ``<bucket>/<key>``              object metadata (body: a blob)
``s3:upload``                  ``<bucket>/<upload id>``        a multipart upload
``s3:part``                    ``<bucket>/<upload>/<n>``       a part's metadata (body: a blob)
``cloudwatch:alarm``            alarm name                      CloudWatch ``MetricAlarm``
=============================  ==============================  ===============================
"""

from __future__ import annotations

EKS_CLUSTER = "eks:cluster"
EKS_ADDON = "eks:addon"
EKS_ACCESS_ENTRY = "eks:access-entry"
EKS_UPDATE = "eks:update"
EKS_POD_IDENTITY = "eks:pod-identity"
EKS_CHILDREN = (EKS_ADDON, EKS_ACCESS_ENTRY, EKS_UPDATE, EKS_POD_IDENTITY)
# the live state of an ACTIVE cluster (DaemonSets, Deployments...) the preflight reads
EKS_OBSERVED = "eks:observed"

EC2_VPC = "ec2:vpc"
EC2_SUBNET = "ec2:subnet"
EC2_ROUTE_TABLE = "ec2:route-table"
EC2_INTERNET_GATEWAY = "ec2:internet-gateway"
EC2_EGRESS_ONLY_GATEWAY = "ec2:egress-only-internet-gateway"
EC2_NAT_GATEWAY = "ec2:nat-gateway"
EC2_ADDRESS = "ec2:address"
EC2_SECURITY_GROUP = "ec2:security-group"

IAM_ROLE = "iam:role"
IAM_POLICY = "iam:policy"
IAM_INSTANCE_PROFILE = "iam:instance-profile"
IAM_OIDC_PROVIDER = "iam:oidc-provider"
# a DeleteServiceLinkedRole task, for GetServiceLinkedRoleDeletionStatus
IAM_SLR_DELETION = "iam:slr-deletion"

STS_SESSION = "sts:session"

S3_BUCKET = "s3:bucket"
S3_OBJECT = "s3:object"
S3_UPLOAD = "s3:upload"
S3_PART = "s3:part"

# a metric alarm, regional: its state changes only by SetAlarmState (no metric data is kept)
CLOUDWATCH_ALARM = "cloudwatch:alarm"

# the marker that the default account (``podwarden up``) was seeded
ACCOUNT_SEEDED = "podwarden:seed"


def child_key(parent: str, name: str) -> str:
    """The key of a record that lives under another: ``<cluster>/<add-on>`` and the like."""
    return f"{parent}/{name}"
