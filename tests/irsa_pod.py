"""A process that acts as a pod with IAM roles for service accounts: it has what EKS's pod
identity webhook injects (``AWS_ROLE_ARN``, ``AWS_WEB_IDENTITY_TOKEN_FILE``, the Region) and the
endpoint, nothing else, and runs a boto3 script whose credentials come from boto3's unmodified
credential chain (its web identity provider calls STS AssumeRoleWithWebIdentity)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REGION = "us-west-2"

PUT_CHECKPOINT = """
import boto3
s3 = boto3.client("s3")
s3.put_object(Bucket={bucket!r}, Key={key!r}, Body={body!r})
print(boto3.client("sts").get_caller_identity()["Arn"])
"""


def run_as_pod(
    endpoint: str, role_arn: str, token: str, home: Path, script: str
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh Python with only the pod's environment (no keys, no config
    files, no instance metadata); the token is written where the webhook's env var points."""
    token_file = home / "token"
    token_file.write_text(token)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ROLE_ARN": role_arn,
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_MAX_ATTEMPTS": "1",
    }
    return subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
