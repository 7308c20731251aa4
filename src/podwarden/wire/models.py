"""botocore's service models, loaded once per process.

``service_model("sagemaker")`` reads ``botocore/data/sagemaker/<latest>/service-2.json(.gz)``
through ``botocore.loaders.Loader`` (about 0.1 s for SageMaker) and caches the result, so no request
ever loads a model. botocore caches each ``OperationModel`` on its ``ServiceModel`` and each shape's
members on the shape, so the shape objects reachable from an operation are the same on every
request; the codecs and the validator key their precomputed work on them.
"""

from __future__ import annotations

import functools
import gzip
import re
import threading
from collections.abc import Callable
from pathlib import Path
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


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of every partition in botocore's endpoint data (``us-west-2``,
    ``eu-central-1``, ``cn-north-1``...): the regions a credential scope may name."""
    with _lock:
        data = _loader.load_data("endpoints")
    return frozenset(
        region for partition in data["partitions"] for region in partition.get("regions", {})
    )


_SERVICE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_PROTOCOLS_LIST = re.compile(r'"protocols"\s*:\s*\[([^\]]*)\]')
_PROTOCOL = re.compile(r'"protocol"\s*:\s*"([^"]*)"')
_HEAD = 8192  # botocore's service-2 files begin with their metadata


@functools.lru_cache(maxsize=512)
def protocols_of(name: str) -> tuple[str, ...]:
    """The protocols botocore's model of ``name`` lists, best first, read from the head of its
    file without loading the whole model (a request may name any of ~400 services; loading one is
    0.1-1 s and megabytes); () when botocore has no such service."""
    if not _SERVICE_NAME.fullmatch(name):
        return ()
    with _lock:
        if name not in _loader.list_available_services("service-2"):
            return ()
        version = _loader.determine_latest_version(name, "service-2")
    for root in _loader.search_paths:
        base = Path(root) / name / version / "service-2.json"
        for path, opener in ((base, open), (base.with_suffix(".json.gz"), gzip.open)):
            if path.is_file():
                with opener(path, "rt", encoding="utf-8") as handle:
                    head = handle.read(_HEAD)
                return _protocols_in(head)
    return ()


def _protocols_in(head: str) -> tuple[str, ...]:
    listed = _PROTOCOLS_LIST.search(head)
    if listed is not None:
        return tuple(re.findall(r'"([^"]+)"', listed.group(1)))
    single = _PROTOCOL.search(head)
    return (single.group(1),) if single else ()
