"""Typed doors to botocore's client-side serializer, parser and validator (the test oracle)."""

from __future__ import annotations

from typing import Any, cast

from botocore.exceptions import ParamValidationError  # type: ignore[import-untyped]
from botocore.parsers import create_parser  # type: ignore[import-untyped]
from botocore.serialize import create_serializer  # type: ignore[import-untyped]
from botocore.validate import ParamValidator  # type: ignore[import-untyped]

from podwarden.wire.models import OperationModel, operation_model


def op(name: str, service: str = "sagemaker") -> OperationModel:
    return operation_model(service, name)


def serialize(model: OperationModel, params: dict[str, Any]) -> bytes:
    """The request body boto3 would send for ``params`` (after botocore's client validation)."""
    request = create_serializer("json", include_validation=True).serialize_to_request(params, model)
    return cast(bytes, request["body"])


def parse(model: OperationModel, body: bytes) -> dict[str, Any]:
    """What boto3 would return for a 200 response with ``body``."""
    response = {"body": body, "headers": {}, "status_code": 200}
    parsed = cast(dict[str, Any], create_parser("json").parse(response, model.output_shape))
    parsed.pop("ResponseMetadata", None)
    return parsed


def client_accepts(model: OperationModel, params: dict[str, Any]) -> bool:
    """Whether botocore's client-side validator (required, min, types, unions) accepts params."""
    report = ParamValidator().validate(params, model.input_shape)
    return not report.has_errors()


__all__ = ["ParamValidationError", "client_accepts", "op", "parse", "serialize"]
