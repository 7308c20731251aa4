"""The instance catalog: what each HyperPod cluster instance type (``ml.X`` = EC2 type ``X``) is.

Data lives in ``tables/instance_types.yaml``; this module holds its schema and loader. A table
that breaks the schema fails at start-up with a :class:`TableError` naming the file, line, entry
and field. Max pods follow R12 (docs/requirements.md: one ENI per HyperPod instance, so IPv4
addresses of that ENI minus one); see the table's header for sources.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast, get_args

from podwarden.model.errors import Invalid
from podwarden.policy.yaml_tables import (
    KeyLines,
    compose_yaml,
    is_int,
    is_number,
    packaged,
)

TABLE = "instance_types.yaml"
ML_PREFIX = "ml."
SCHEMA_VERSION = 1

Architecture = Literal["x86_64", "arm64"]
AcceleratorKind = Literal["gpu", "neuron", "cpu"]
MaxPodsSource = Literal["R12", "derived"]

# Kubernetes extended resources advertised by the device plugins HyperPod installs.
GPU_RESOURCE = "nvidia.com/gpu"
NEURON_RESOURCE = "aws.amazon.com/neurondevice"
EFA_RESOURCE = "vpc.amazonaws.com/efa"

_NAME = re.compile(r"ml\.[a-z0-9]+(?:-[a-z0-9]+)*\.[a-z0-9]+")
_REQUIRED = frozenset(
    {"vcpu", "memory_gib", "gpu", "efa_interfaces", "max_pods", "max_pods_source"}
    | {"architecture", "accelerator"}
)
_OPTIONAL = frozenset({"neuron_devices", "ipv4_per_eni", "note"})
_GPU_FIELDS = frozenset({"count", "model", "memory_gib"})


@dataclass(frozen=True)
class Gpu:
    count: int
    model: str
    memory_gib: float  # per GPU


@dataclass(frozen=True)
class InstanceType:
    """One catalog entry. ``neuron_devices`` is 0 and ``gpu`` None where the type has none."""

    name: str
    vcpu: int
    memory_gib: float
    gpu: Gpu | None
    neuron_devices: int
    efa_interfaces: int
    ipv4_per_eni: int | None
    max_pods: int
    max_pods_source: MaxPodsSource
    architecture: Architecture
    accelerator: AcceleratorKind
    ephemeral_storage_gib: int
    note: str | None = None

    @property
    def ec2_type(self) -> str:
        """The underlying EC2 instance type, ``p5.48xlarge`` for ``ml.p5.48xlarge``."""
        return self.name.removeprefix(ML_PREFIX)

    @property
    def is_cpu_only(self) -> bool:
        """No GPU and no Trainium: no automatic node replacement (R15), no health agent (R17)."""
        return self.accelerator == "cpu"

    @property
    def gpu_count(self) -> int:
        return self.gpu.count if self.gpu else 0

    def capacity(self, ephemeral_storage_gib: int | None = None) -> dict[str, str]:
        """The node's ``status.capacity``: resource name to Kubernetes quantity string."""
        storage = ephemeral_storage_gib or self.ephemeral_storage_gib
        out = {
            "cpu": str(self.vcpu),
            "memory": _gib_quantity(self.memory_gib),
            "pods": str(self.max_pods),
            "ephemeral-storage": f"{storage}Gi",
        }
        if self.gpu is not None:
            out[GPU_RESOURCE] = str(self.gpu.count)
        if self.neuron_devices:
            out[NEURON_RESOURCE] = str(self.neuron_devices)
        if self.efa_interfaces:
            out[EFA_RESOURCE] = str(self.efa_interfaces)
        return out


def _gib_quantity(gib: float) -> str:
    return f"{int(gib)}Gi" if float(gib).is_integer() else f"{round(gib * 1024 * 1024)}Ki"


@dataclass(frozen=True)
class Catalog:
    source: str
    ephemeral_storage_gib: int
    types: Mapping[str, InstanceType] = field(hash=False, repr=False)

    def get(self, name: str) -> InstanceType:
        """The entry for ``name``; :class:`Invalid` (with the R11 hint) when there is none."""
        found = self.types.get(name)
        if found is None:
            raise Invalid(self._unknown_message(name))
        return found

    def names(self) -> tuple[str, ...]:
        """Every instance type, in table order (grouped by family)."""
        return tuple(self.types)

    def __contains__(self, name: object) -> bool:
        return name in self.types

    def __iter__(self) -> Iterator[InstanceType]:
        return iter(self.types.values())

    def __len__(self) -> int:
        return len(self.types)

    def _unknown_message(self, name: str) -> str:
        if not name.startswith(ML_PREFIX):
            if ML_PREFIX + name in self.types:
                return (
                    f"Instance type '{name}' is an EC2 name: use the SageMaker ML instance type "
                    f"with the ml. prefix, '{ML_PREFIX}{name}', not '{name}'."
                )
            return (
                f"Unknown instance type '{name}': HyperPod instance types are SageMaker ML "
                "instance types with the ml. prefix, for example ml.p5.48xlarge."
            )
        return f"Unknown instance type '{name}': not a SageMaker HyperPod cluster instance type."


def load_catalog(path: Path | None = None) -> Catalog:
    """The packaged catalog (parsed once, then cached), or the table at ``path``."""
    if path is None:
        return _packaged_catalog()
    return parse_catalog(path.read_text(encoding="utf-8"), source=str(path))


@functools.cache
def _packaged_catalog() -> Catalog:
    return parse_catalog(*packaged(TABLE))


def parse_catalog(text: str, source: str) -> Catalog:
    """Parse and check a catalog table; ``source`` names it in error messages."""
    node, data = compose_yaml(text, source)
    at = KeyLines(source, "instance_types", "entry")
    at.scan(node)
    return _build(data, at)


def _build(data: object, at: KeyLines) -> Catalog:
    if not isinstance(data, dict):
        at.fail((), "expected a mapping with schema_version, defaults and instance_types")
    for key in sorted(map(str, set(data) - {"schema_version", "defaults", "instance_types"})):
        at.fail((key,), f"unknown top-level key '{key}'")
    if data.get("schema_version") != SCHEMA_VERSION:
        at.fail(("schema_version",), f"schema_version must be {SCHEMA_VERSION}")
    defaults = data.get("defaults")
    storage = defaults.get("ephemeral_storage_gib") if isinstance(defaults, dict) else None
    if not is_int(storage) or storage < 1 or len(cast(dict[str, Any], defaults)) != 1:
        at.fail(("defaults",), "defaults must be {ephemeral_storage_gib: <positive int>}")
    entries = data.get("instance_types")
    if not isinstance(entries, dict) or not entries:
        at.fail(("instance_types",), "instance_types must be a non-empty mapping")
    types: dict[str, InstanceType] = {}
    for name, raw in entries.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            at.fail(("instance_types", str(name)), f"'{name}' is not an ml.<family>.<size> name")
        types[name] = _entry(name, raw, storage, at)
    return Catalog(source=at.source, ephemeral_storage_gib=storage, types=MappingProxyType(types))


def _entry(name: str, raw: object, storage: int, at: KeyLines) -> InstanceType:
    fields = at.fields(name, raw, _REQUIRED, _OPTIONAL)

    def integer(key: str, minimum: int) -> int:
        value = fields.get(key)
        if not is_int(value) or value < minimum:
            at.field(name, key, f"expected an integer >= {minimum}, got {value!r}")
        return value

    def choice(key: str, options: tuple[str, ...]) -> Any:
        if fields[key] not in options:
            at.field(name, key, f"expected one of {list(options)}, got {fields[key]!r}")
        return fields[key]

    memory = fields["memory_gib"]
    if not is_number(memory) or memory <= 0:
        at.field(name, "memory_gib", f"expected a positive number, got {memory!r}")
    gpu = _gpu(name, fields["gpu"], at)
    neuron = integer("neuron_devices", 1) if "neuron_devices" in fields else 0
    ipv4 = integer("ipv4_per_eni", 2) if "ipv4_per_eni" in fields else None
    max_pods = integer("max_pods", 1)
    source = choice("max_pods_source", get_args(MaxPodsSource))
    note = fields.get("note")
    if note is not None and (not isinstance(note, str) or not note.strip()):
        at.field(name, "note", "expected a non-empty string")
    if source == "derived" and ipv4 is None:
        at.field(name, "ipv4_per_eni", "required when max_pods_source is derived")
    if ipv4 is not None and max_pods != ipv4 - 1 and (source == "derived" or note is None):
        # R12 may disagree with a derivation (R12 wins) but the entry must then say why.
        at.field(name, "max_pods", f"{max_pods} != ipv4_per_eni - 1 = {ipv4 - 1}")
    if gpu and neuron:
        at.field(name, "neuron_devices", "an entry lists GPUs or Neuron devices, not both")
    accelerator = choice("accelerator", get_args(AcceleratorKind))
    expected = "gpu" if gpu else "neuron" if neuron else "cpu"
    if accelerator != expected:
        at.field(
            name, "accelerator", f"is {accelerator!r} but the devices listed make it {expected!r}"
        )
    return InstanceType(
        name=name,
        vcpu=integer("vcpu", 1),
        memory_gib=memory,
        gpu=gpu,
        neuron_devices=neuron,
        efa_interfaces=integer("efa_interfaces", 0),
        ipv4_per_eni=ipv4,
        max_pods=max_pods,
        max_pods_source=source,
        architecture=choice("architecture", get_args(Architecture)),
        accelerator=accelerator,
        ephemeral_storage_gib=storage,
        note=note,
    )


def _gpu(name: str, raw: object, at: KeyLines) -> Gpu | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) != _GPU_FIELDS:
        at.field(name, "gpu", f"expected null or a mapping with exactly {sorted(_GPU_FIELDS)}")
    count, model, memory = raw["count"], raw["model"], raw["memory_gib"]
    if not is_int(count) or count < 1:
        at.field(name, "gpu", f"count: expected an integer >= 1, got {count!r}")
    if not isinstance(model, str) or not model.strip():
        at.field(name, "gpu", f"model: expected a non-empty string, got {model!r}")
    if not is_number(memory) or memory <= 0:
        at.field(name, "gpu", f"memory_gib: expected a positive number, got {memory!r}")
    return Gpu(count=count, model=model, memory_gib=memory)
