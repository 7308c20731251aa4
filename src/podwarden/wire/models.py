"""botocore's service models, loaded once per process.

``service_model("sagemaker")`` reads ``botocore/data/sagemaker/<latest>/service-2.json(.gz)``
through ``botocore.loaders.Loader`` (about 0.1 s for SageMaker) and caches the result, so no request
ever loads a model. botocore caches each ``OperationModel`` on its ``ServiceModel`` and each shape's
members on the shape, so the shape objects reachable from an operation are the same on every
request; the codecs and the validator key their precomputed work on them.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from botocore.exceptions import DataNotFoundError  # type: ignore[import-untyped]
from botocore.loaders import Loader  # type: ignore[import-untyped]
from botocore.model import (  # type: ignore[import-untyped]
    OperationModel,
    OperationNotFoundError,
    ServiceModel,
    Shape,
)

from podwarden.wire.errors import UnknownOperation

__all__ = [
    "OperationModel",
    "ServiceModel",
    "Shape",
    "compile_once",
    "operation_model",
    "service_model",
]

_loader = Loader()
_lock = threading.Lock()


@functools.cache
def service_model(name: str) -> ServiceModel:
    """The newest API version of botocore's model for ``name`` ("sagemaker", "eks", ...)."""
    with _lock:  # Loader's own caches are not meant for concurrent first loads
        try:
            description = _loader.load_service_model(name, "service-2")
        except DataNotFoundError as exc:
            raise UnknownOperation(f"botocore has no service model named {name!r}") from exc
    return ServiceModel(description, service_name=name)


def operation_model(service: str, op: str) -> OperationModel:
    """The model of ``op`` (e.g. "CreateCluster"); ``UnknownOperation`` if the service lacks it."""
    model = service_model(service)
    try:
        return model.operation_model(op)
    except OperationNotFoundError as exc:
        raise UnknownOperation(f"Operation {op!r} is not part of service {service!r}") from exc


F = TypeVar("F", bound=Callable[..., Any])


def compile_once(shape: Shape, memo: dict[str, F], build: Callable[[Shape, dict[str, F]], F]) -> F:
    """``build(shape, memo)`` once per structure name within one compilation (``memo``).

    Codecs and the validator compile each shape into a closure. Structures can be recursive; a
    reference met while its structure is still being built gets a forwarder to the finished one.
    """
    found = memo.get(shape.name)
    if found is None:
        cell: list[F] = []

        def forward(*args: Any) -> Any:
            return cell[0](*args)

        memo[shape.name] = cast(F, forward)
        found = memo[shape.name] = build(shape, memo)
        cell.append(found)
    return found
