"""AWS's HyperPod-on-EKS workshop bucket on the real control plane: a lifecycle bucket not named
``sagemaker-...`` is accepted by CreateCluster; instances launch (nodes join) when the execution
role's inline policy lets them read it, and the cluster fails at launch with HyperPod's message
when it does not (issue #17). tests/api/test_workshop_flow.py runs the AWS CLI form of the same
steps without Kubernetes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .hyperpod_helpers import create, group, server, sm, wait_status
from .hyperpod_server import ROLE_ARN, ThreadServer
from .kube_objects import wait_for

__all__ = ["server", "sm"]

pytestmark = pytest.mark.integration

BUCKET = "hyperpod-eks-bucket-000000000000-us-west-2"
ROLE = ROLE_ARN.rsplit("/", 1)[-1]  # the seeded execution role: the managed policy only
READ = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        }
    ],
}


def workshop_group() -> dict[str, Any]:
    g = group("w", "ml.c5.large", 1)
    g["LifeCycleConfig"] = {"SourceS3Uri": f"s3://{BUCKET}", "OnCreate": "on_create.sh"}
    return g


def test_workshop_bucket(server: ThreadServer, sm: Any) -> None:
    s3, iam = server.client("s3"), server.client("iam")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    s3.put_object(Bucket=BUCKET, Key="on_create.sh", Body=b"#!/bin/bash\necho hi\n")

    create(sm, "no-read", workshop_group())  # accepted: the API does not judge the bucket

    def failed() -> dict[str, Any] | None:
        d: dict[str, Any] = sm.describe_cluster(ClusterName="no-read")
        return d if d["ClusterStatus"] == "Failed" else None

    message = wait_for("cluster no-read Failed", failed, timeout=60)["FailureMessage"]
    assert "Execution role provided does not have permissions to access the bucket" in message
    assert f"s3://{BUCKET}" in message and "(s3:ListBucket, s3:GetObject)" in message
    sm.delete_cluster(ClusterName="no-read")

    iam.put_role_policy(RoleName=ROLE, PolicyName="workshop-s3", PolicyDocument=json.dumps(READ))
    try:
        create(sm, "workshop", workshop_group())
        wait_status(sm, "workshop", timeout=120)
        nodes = sm.list_cluster_nodes(ClusterName="workshop")["ClusterNodeSummaries"]
        assert len(nodes) == 1
        sm.delete_cluster(ClusterName="workshop")
    finally:
        iam.delete_role_policy(RoleName=ROLE, PolicyName="workshop-s3")
