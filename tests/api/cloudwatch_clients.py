"""boto3 CloudWatch clients that speak each protocol CloudWatch's model lists.

botocore 1.44 prefers ``json`` to ``smithy-rpc-v2-cbor`` (``PRIORITY_ORDERED_SUPPORTED_PROTOCOLS``),
so a plain client (and the AWS CLI) calls CloudWatch in awsJson 1.0; SDKs that prefer CBOR (Go
v2, Java v2...) and older botocore releases (Query) call it otherwise. A client for one of those
is a plain boto3 client over a copy of botocore's own model whose ``protocols`` lists only that
one, found first on botocore's data path (``AWS_DATA_PATH`` does the same for the CLI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import botocore.session  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.loaders import Loader  # type: ignore[import-untyped]

from podwarden.cli.server import local_credentials
from tests.local_endpoint import REGION

PROTOCOLS = ("json", "smithy-rpc-v2-cbor", "query")


def data_path(root: Path, protocol: str) -> Path:
    """A botocore data directory whose CloudWatch model speaks only ``protocol``."""
    model = Loader().load_service_model("cloudwatch", "service-2")
    version = model["metadata"]["apiVersion"]
    model["metadata"]["protocols"] = [protocol]
    model["metadata"]["protocol"] = protocol
    folder = root / protocol
    target = folder / "cloudwatch" / version
    target.mkdir(parents=True, exist_ok=True)
    (target / "service-2.json").write_text(json.dumps(model))
    return folder


def cloudwatch_client(
    endpoint: str, root: Path, protocol: str, *, key: str | None = None, secret: str | None = None
) -> Any:
    """A CloudWatch client of ``endpoint`` speaking ``protocol``, without retries."""
    session = botocore.session.get_session()
    if protocol != "json":
        session.get_component("data_loader").search_paths.insert(0, str(data_path(root, protocol)))
    cred = local_credentials()[0]
    client = boto3.Session(botocore_session=session).client(
        "cloudwatch",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key or cred.access_key_id,
        aws_secret_access_key=secret or cred.secret_access_key,
        config=Config(retries={"max_attempts": 1}),
    )
    assert client.meta.service_model.resolved_protocol == protocol
    return client
