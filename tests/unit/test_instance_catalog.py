"""The instance catalog (policy/tables/instance_types.yaml): coverage, R12, facts, schema."""

from __future__ import annotations

import importlib
import re
from importlib import resources
from pathlib import Path

import pytest

from podwarden.model.errors import Invalid
from podwarden.policy.catalog import Catalog, load_catalog, parse_catalog
from podwarden.policy.yaml_tables import TableError

# Seed R12 ("Considerations for networking"), copied verbatim: HyperPod instances have one ENI and
# these are the maximum pods per instance type. The founding document: the table must match it.
R12_MAX_PODS = {
    "ml.p4d.24xlarge": 49,
    "ml.p4de.24xlarge": 49,
    "ml.p5.48xlarge": 49,
    "ml.p5e.48xlarge": 49,
    "ml.trn1.32xlarge": 49,
    "ml.trn1n.32xlarge": 49,
    "ml.g5.xlarge": 14,
    "ml.g5.2xlarge": 14,
    "ml.g5.4xlarge": 29,
    "ml.g5.8xlarge": 29,
    "ml.g5.12xlarge": 49,
    "ml.g5.16xlarge": 29,
    "ml.g5.24xlarge": 49,
    "ml.g5.48xlarge": 49,
    "ml.c5.large": 9,
    "ml.c5.xlarge": 14,
    "ml.c5.2xlarge": 14,
    "ml.c5.4xlarge": 29,
    "ml.c5.9xlarge": 29,
    "ml.c5.12xlarge": 29,
    "ml.c5.18xlarge": 49,
    "ml.c5.24xlarge": 49,
    "ml.c5n.large": 9,
    "ml.c5n.2xlarge": 14,
    "ml.c5n.4xlarge": 29,
    "ml.c5n.9xlarge": 29,
    "ml.c5n.18xlarge": 49,
    "ml.m5.large": 9,
    "ml.m5.xlarge": 14,
    "ml.m5.2xlarge": 14,
    "ml.m5.4xlarge": 29,
    "ml.m5.8xlarge": 29,
    "ml.m5.12xlarge": 29,
    "ml.m5.16xlarge": 49,
    "ml.m5.24xlarge": 49,
    "ml.t3.medium": 5,
    "ml.t3.large": 11,
    "ml.t3.xlarge": 14,
    "ml.t3.2xlarge": 14,
    "ml.g6.xlarge": 14,
    "ml.g6.2xlarge": 14,
    "ml.g6.4xlarge": 29,
    "ml.g6.8xlarge": 29,
    "ml.g6.12xlarge": 29,
    "ml.g6.16xlarge": 49,
    "ml.g6.24xlarge": 49,
    "ml.g6.48xlarge": 49,
    "ml.gr6.4xlarge": 29,
    "ml.gr6.8xlarge": 29,
    "ml.g6e.xlarge": 14,
    "ml.g6e.2xlarge": 14,
    "ml.g6e.4xlarge": 29,
    "ml.g6e.8xlarge": 29,
    "ml.g6e.12xlarge": 29,
    "ml.g6e.16xlarge": 49,
    "ml.g6e.24xlarge": 49,
    "ml.g6e.48xlarge": 49,
}


def cluster_instance_types() -> list[str]:
    """Every ml.* value of ClusterInstanceType in botocore's SageMaker model (the API's list)."""
    loaders = importlib.import_module("botocore.loaders")  # untyped package: keep mypy out of it
    model = loaders.Loader().load_service_model("sagemaker", "service-2")
    return [str(v) for v in model["shapes"]["ClusterInstanceType"]["enum"]]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def packaged_text() -> str:
    table = resources.files("podwarden.policy").joinpath("tables", "instance_types.yaml")
    return table.read_text(encoding="utf-8")


# --- coverage and max pods -------------------------------------------------------------------


def test_every_cluster_instance_type_has_an_entry(catalog: Catalog) -> None:
    enum = cluster_instance_types()
    assert len(enum) > 200
    assert all(name.startswith("ml.") for name in enum)
    assert sorted(set(enum) - set(catalog.names())) == []


def test_the_catalog_holds_only_api_or_r12_types(catalog: Catalog) -> None:
    known = set(cluster_instance_types()) | set(R12_MAX_PODS)
    assert sorted(set(catalog.names()) - known) == []
    assert len(catalog.names()) == len(set(catalog.names())) == len(catalog)


def test_every_r12_row_is_copied_exactly(catalog: Catalog) -> None:
    assert len(R12_MAX_PODS) == 57
    for name, max_pods in R12_MAX_PODS.items():
        entry = catalog.get(name)
        assert (entry.max_pods, entry.max_pods_source) == (max_pods, "R12"), name


def test_only_r12_rows_claim_r12_as_their_source(catalog: Catalog) -> None:
    claimed = {t.name for t in catalog if t.max_pods_source == "R12"}
    assert claimed == set(R12_MAX_PODS)


def test_derived_max_pods_is_one_eni_worth_of_ipv4_addresses_minus_one(catalog: Catalog) -> None:
    derived = [t for t in catalog if t.max_pods_source == "derived"]
    assert len(derived) == len(catalog) - len(R12_MAX_PODS)
    for t in derived:
        assert t.ipv4_per_eni is not None, t.name
        assert t.max_pods == t.ipv4_per_eni - 1, t.name


def test_r12_agrees_with_the_derivation_wherever_the_ipv4_limit_is_recorded(
    catalog: Catalog,
) -> None:
    # R12's note: max pods = IPv4 addresses of one ENI - 1. R12 would win a disagreement, but
    # then the entry must carry a note; today there is none.
    for name in R12_MAX_PODS:
        t = catalog.get(name)
        if t.ipv4_per_eni is not None and t.max_pods != t.ipv4_per_eni - 1:
            assert t.note, name


# --- well-known specifications --------------------------------------------------------------


def test_p5_48xlarge(catalog: Catalog) -> None:
    t = catalog.get("ml.p5.48xlarge")
    assert (t.vcpu, t.memory_gib, t.efa_interfaces) == (192, 2048, 32)
    assert t.gpu is not None
    assert (t.gpu.count, t.gpu.model, t.gpu.memory_gib) == (8, "NVIDIA H100", 80)
    assert (t.architecture, t.accelerator, t.ec2_type) == ("x86_64", "gpu", "p5.48xlarge")


def test_p4d_24xlarge(catalog: Catalog) -> None:
    t = catalog.get("ml.p4d.24xlarge")
    assert (t.vcpu, t.memory_gib, t.efa_interfaces) == (96, 1152, 4)
    assert t.gpu is not None
    assert (t.gpu.count, t.gpu.model, t.gpu.memory_gib) == (8, "NVIDIA A100", 40)


def test_trn1_32xlarge(catalog: Catalog) -> None:
    t = catalog.get("ml.trn1.32xlarge")
    assert (t.vcpu, t.memory_gib, t.neuron_devices, t.efa_interfaces) == (128, 512, 16, 8)
    assert (t.gpu, t.accelerator, t.is_cpu_only) == (None, "neuron", False)


def test_c5_large(catalog: Catalog) -> None:
    t = catalog.get("ml.c5.large")
    assert (t.vcpu, t.memory_gib, t.gpu, t.neuron_devices, t.efa_interfaces) == (2, 4, None, 0, 0)
    assert t.is_cpu_only


def test_g5_xlarge(catalog: Catalog) -> None:
    t = catalog.get("ml.g5.xlarge")
    assert (t.vcpu, t.memory_gib) == (4, 16)
    assert t.gpu is not None
    assert (t.gpu.count, t.gpu.model) == (1, "NVIDIA A10G")


def test_graviton_and_grace_types_are_arm64(catalog: Catalog) -> None:
    arm = {t.name for t in catalog if t.architecture == "arm64"}
    graviton = re.compile(r"ml\.[cm][678]g\.")
    assert {n for n in catalog.names() if graviton.match(n)} | {"ml.p6e-gb200.36xlarge"} == arm


def test_accelerator_kind_matches_the_devices(catalog: Catalog) -> None:
    for t in catalog:
        assert (t.accelerator == "gpu") == (t.gpu is not None), t.name
        assert (t.accelerator == "neuron") == (t.neuron_devices > 0), t.name
        assert t.is_cpu_only == (t.gpu_count == 0 and t.neuron_devices == 0), t.name
    neuron = {t.name for t in catalog if t.accelerator == "neuron"}
    assert neuron == {n for n in catalog.names() if n.startswith("ml.trn")}


def test_cpu_families_are_cpu_only(catalog: Catalog) -> None:
    for prefix in ("ml.c5.", "ml.m5.", "ml.t3.", "ml.c6g.", "ml.r7i.", "ml.i3en."):
        assert all(t.is_cpu_only for t in catalog if t.name.startswith(prefix)), prefix


# --- Kubernetes node capacity ---------------------------------------------------------------


def test_capacity_of_p5_48xlarge(catalog: Catalog) -> None:
    assert catalog.get("ml.p5.48xlarge").capacity() == {
        "cpu": "192",
        "memory": "2048Gi",
        "pods": "49",
        "ephemeral-storage": f"{catalog.ephemeral_storage_gib}Gi",
        "nvidia.com/gpu": "8",
        "vpc.amazonaws.com/efa": "32",
    }


def test_capacity_of_c5_large_has_no_device_resources(catalog: Catalog) -> None:
    cap = catalog.get("ml.c5.large").capacity(ephemeral_storage_gib=500)
    assert cap == {"cpu": "2", "memory": "4Gi", "pods": "9", "ephemeral-storage": "500Gi"}


def test_capacity_of_trainium_and_fractional_memory(catalog: Catalog) -> None:
    trn = catalog.get("ml.trn1.32xlarge").capacity()
    assert trn["aws.amazon.com/neurondevice"] == "16"
    assert trn["vpc.amazonaws.com/efa"] == "8"
    assert "nvidia.com/gpu" not in trn
    assert catalog.get("ml.c5n.large").capacity()["memory"] == f"{int(5.25 * 1024 * 1024)}Ki"


# --- lookups --------------------------------------------------------------------------------


def test_an_ec2_name_gets_the_r11_hint(catalog: Catalog) -> None:
    with pytest.raises(Invalid) as err:
        catalog.get("p5.48xlarge")
    msg = err.value.message
    assert "ml. prefix" in msg
    assert "'ml.p5.48xlarge', not 'p5.48xlarge'" in msg


def test_unknown_names_are_invalid(catalog: Catalog) -> None:
    with pytest.raises(Invalid, match=r"ml\. prefix, for example ml\.p5\.48xlarge"):
        catalog.get("x9.huge")
    with pytest.raises(Invalid, match=r"'ml\.x9\.huge': not a SageMaker HyperPod"):
        catalog.get("ml.x9.huge")
    assert "ml.x9.huge" not in catalog
    assert "ml.c5.large" in catalog


def test_the_packaged_table_is_parsed_once(catalog: Catalog) -> None:
    assert load_catalog() is catalog
    assert catalog.source.endswith("podwarden/policy/tables/instance_types.yaml")


# --- a bad table fails at load, saying where ------------------------------------------------


def corrupt(tmp_path: Path, old: str, new: str, entry: str = "ml.c5.large") -> tuple[Path, int]:
    """The packaged table with ``old`` replaced by ``new`` on ``entry``'s line."""
    lines = packaged_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.lstrip().startswith(f"{entry}:"))
    assert old in lines[index]
    lines[index] = lines[index].replace(old, new, 1)
    path = tmp_path / "instance_types.yaml"
    path.write_text("".join(lines), encoding="utf-8")
    return path, index + 1


@pytest.mark.parametrize(
    ("old", "new", "field", "problem"),
    [
        ("vcpu: 2, ", "", "vcpu", "missing required field"),
        ("vcpu: 2", "vcpu: two", "vcpu", "expected an integer"),
        ("vcpu: 2", "vcpu: true", "vcpu", "expected an integer"),
        ("memory_gib: 4", "memory_gib: -4", "memory_gib", "positive number"),
        ("gpu: null", "gpu: {count: 1}", "gpu", "expected null or a mapping"),
        ("max_pods: 9", "max_pods: 10", "max_pods", "10 != ipv4_per_eni - 1 = 9"),
        ("max_pods_source: R12", "max_pods_source: guess", "max_pods_source", "expected one of"),
        ("architecture: x86_64", "architecture: riscv", "architecture", "expected one of"),
        ("accelerator: cpu", "accelerator: gpu", "accelerator", "devices listed make it 'cpu'"),
        ("efa_interfaces: 0", "efa_interfaces: 0, colour: red", "colour", "unknown field"),
    ],
)
def test_a_bad_entry_names_file_line_entry_and_field(
    tmp_path: Path, old: str, new: str, field: str, problem: str
) -> None:
    path, line = corrupt(tmp_path, old, new)
    with pytest.raises(TableError) as err:
        load_catalog(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}:{line}: entry 'ml.c5.large', field '{field}': "), msg
    assert problem in msg


def test_a_derived_entry_needs_its_ipv4_limit(tmp_path: Path) -> None:
    path, _ = corrupt(tmp_path, "ipv4_per_eni: 10, ", "", entry="ml.c6i.large")
    with pytest.raises(TableError, match=r"field 'ipv4_per_eni': required when .* derived"):
        load_catalog(path)


def test_a_duplicate_entry_is_an_error(tmp_path: Path) -> None:
    text = packaged_text()
    line = next(s for s in text.splitlines() if s.lstrip().startswith("ml.c5.large:"))
    with pytest.raises(TableError, match=r"duplicate key 'ml\.c5\.large' \(first at line \d+\)"):
        parse_catalog(text + line + "\n", source="dup.yaml")


def test_broken_yaml_and_wrong_shapes_are_errors() -> None:
    with pytest.raises(TableError, match=r"^t\.yaml: not valid YAML"):
        parse_catalog("instance_types: {ml.c5.large: [", source="t.yaml")
    with pytest.raises(TableError, match=r"^t\.yaml: expected a mapping"):
        parse_catalog("- 1\n", source="t.yaml")
    with pytest.raises(TableError, match=r"^t\.yaml:1: schema_version must be 1"):
        parse_catalog("schema_version: 2\n", source="t.yaml")
    head = "schema_version: 1\ndefaults: {ephemeral_storage_gib: 100}\n"
    with pytest.raises(TableError, match=r"^t\.yaml:3: instance_types must be a non-empty"):
        parse_catalog(head + "instance_types: {}\n", source="t.yaml")
    with pytest.raises(TableError, match=r"^t\.yaml:4: 'c5\.large' is not an ml\."):
        parse_catalog(head + "instance_types:\n  c5.large: {}\n", source="t.yaml")
