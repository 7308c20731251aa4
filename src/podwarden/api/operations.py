"""The operation table: service -> (operation name -> handler). Data, not an if-chain.

Every service is a subpackage of ``podwarden.control`` exporting ``OPERATIONS`` the same way
(``podwarden.control.registry``)."""

from __future__ import annotations

from collections.abc import Mapping

from podwarden.control import cloudwatch, ec2, eks, eks_auth, iam, s3, sagemaker, sts
from podwarden.control.context import Operations

# awsJson services: X-Amz-Target prefix -> botocore service name
JSON_TARGETS: Mapping[str, str] = {
    "SageMaker": "sagemaker",
    "GraniteServiceVersion20100801": "cloudwatch",  # CloudWatch's targetPrefix
}

OPERATIONS: Mapping[str, Operations] = {
    "sagemaker": sagemaker.OPERATIONS,
    "eks": eks.OPERATIONS,
    "eks-auth": eks_auth.OPERATIONS,  # EKS Pod Identity (its agent calls it)
    "ec2": ec2.OPERATIONS,
    "iam": iam.OPERATIONS,
    "sts": sts.OPERATIONS,
    "s3": s3.OPERATIONS,
    "cloudwatch": cloudwatch.OPERATIONS,
}
