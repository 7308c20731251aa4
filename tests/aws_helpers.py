"""A handler context on a throwaway SQLite store, for unit tests of the local AWS account."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

from podwarden.control.context import Context
from podwarden.store.sql import Store, sqlite_url

ACCOUNT = "000000000000"
REGION = "us-west-2"
# The trust policy of a HyperPod execution role: SageMaker may assume it.
SAGEMAKER_TRUST_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
# The trust policy of a role for EKS Pod Identity: the Pod Identity agent may assume and tag it.
POD_TRUST: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "pods.eks.amazonaws.com"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
        }
    ],
}


class _AnyType:
    def problem(self, name: str) -> str | None:
        return None


def make_context(
    tmp_path: Path, *, account: str = ACCOUNT, region: str = REGION, store: Store | None = None
) -> Context:
    return Context(
        account=account,
        region=region,
        store=store or Store(sqlite_url(tmp_path)),
        instance_types=_AnyType(),
        notify=lambda _change: None,
        now=time.time,
        access_key_id="AKIAPODWARDEN0LOCAL0",
        principal_arn=f"arn:aws:iam::{account}:root",
    )


@functools.cache
def _service_model(service: str) -> Any:
    import botocore.session  # type: ignore[import-untyped]  # noqa: PLC0415

    return botocore.session.get_session().get_service_model(service)


def assert_shape(service: str, operation: str, output: dict[str, object]) -> None:
    """Every key of ``output`` (recursively) is a member of the operation's output shape, and
    every value has the shape's type; what the protocol layer would drop or choke on fails here.
    """
    import datetime as dt  # noqa: PLC0415

    model = _service_model(service)
    shape = model.operation_model(operation).output_shape

    def walk(s: object, value: object, path: str) -> None:
        kind = s.type_name  # type: ignore[attr-defined]
        if kind == "structure":
            assert isinstance(value, dict), f"{path}: expected a dict, got {value!r}"
            members = s.members  # type: ignore[attr-defined]
            for k, v in value.items():
                assert k in members, f"{path}: {k!r} is not a member of {s.name}"  # type: ignore[attr-defined]
                if v is not None:
                    walk(members[k], v, f"{path}.{k}")
        elif kind == "list":
            assert isinstance(value, list), f"{path}: expected a list, got {value!r}"
            for i, v in enumerate(value):
                walk(s.member, v, f"{path}[{i}]")  # type: ignore[attr-defined]
        elif kind == "map":
            assert isinstance(value, dict), f"{path}: expected a dict, got {value!r}"
            for k, v in value.items():
                walk(s.value, v, f"{path}[{k}]")  # type: ignore[attr-defined]
        else:
            expected: dict[str, tuple[type, ...]] = {
                "string": (str,),
                "boolean": (bool,),
                "integer": (int,),
                "long": (int,),
                "float": (int, float),
                "double": (int, float),
                "timestamp": (dt.datetime, int, float),
                "blob": (bytes,),
            }
            types = expected.get(kind, (object,))
            assert isinstance(value, types), f"{path}: {kind} expected, got {value!r}"

    if shape is None:
        assert output == {}, f"{operation} has no output shape"
        return
    walk(shape, output, operation)
