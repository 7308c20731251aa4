"""The domain-error table and the model loader."""

from __future__ import annotations

import pytest

from podwarden.model.errors import (
    Conflict,
    InUse,
    Invalid,
    LimitExceeded,
    NotFound,
    PodwardenError,
    TemporaryError,
    TerminalError,
)
from podwarden.wire import errors
from podwarden.wire.error_table import Code, Family
from podwarden.wire.errors import COMMON, FAMILIES, UnknownOperation, WireError, wire_error
from podwarden.wire.models import operation_model, service_model


def test_every_modeled_sagemaker_code_is_an_exception_shape_of_the_model() -> None:
    modeled = {shape.name for shape in service_model("sagemaker").error_shapes}
    used = {c.code for c in FAMILIES["sagemaker"].codes.values()}
    # ValidationException is one of AWS's common errors, not an exception shape in the model.
    assert used - modeled == {"ValidationException"}
    assert "ValidationException" not in modeled
    assert all(c.status == 400 for c in FAMILIES["sagemaker"].codes.values())


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (NotFound("Cluster c not found"), "ResourceNotFound", 400),
        (InUse("Cluster c exists"), "ResourceInUse", 400),
        (Conflict("Cluster c is Creating"), "ConflictException", 400),
        (LimitExceeded("too many clusters"), "ResourceLimitExceeded", 400),
        (Invalid("Eks and Slurm are exclusive"), "ValidationException", 400),
        (TemporaryError("store busy", delay=2), "ServiceUnavailable", 503),
        (TerminalError("bug"), "InternalFailure", 500),
    ],
)
def test_domain_errors_map_to_sagemaker_codes(
    error: PodwardenError, code: str, status: int
) -> None:
    wire = wire_error("sagemaker", error)
    assert (wire.code, wire.status, wire.message) == (code, status, error.message)


def test_subclasses_inherit_the_mapping_and_other_services_get_the_common_table() -> None:
    class ClusterNotFound(NotFound):
        pass

    assert wire_error("sagemaker", ClusterNotFound("x")).code == "ResourceNotFound"
    assert wire_error("eks", Invalid("bad")).code == "ValidationException"
    assert wire_error("no-such-family", NotFound("x")).code == "InternalFailure"
    assert COMMON.codes[Invalid] == Code("ValidationException", 400)


def test_a_reason_picks_its_entry_and_details_fill_the_message_and_members(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    family = Family(
        {
            "vpc-not-found": Code(
                "InvalidVpcID.NotFound",
                400,
                "The vpc ID '{ids}' does not exist",
                many="The vpc IDs '{ids}' do not exist",
            ),
            NotFound: Code("ResourceNotFoundException", 404),
        },
        members=frozenset({"clusterName"}),
    )
    one = NotFound(reason="vpc-not-found", ids=["vpc-1"])
    two = NotFound(reason="vpc-not-found", ids=["vpc-1", "vpc-2"])
    plain = NotFound("No cluster found for name: c.", clusterName="c", other="x")
    assert family.code_for(one) == family.codes["vpc-not-found"]
    assert family.code_for(plain) == family.codes[NotFound]
    assert family.code_for(Invalid("x")) is None
    monkeypatch.setattr(errors, "FAMILIES", {**FAMILIES, "test": family})
    assert wire_error("test", one).message == "The vpc ID 'vpc-1' does not exist"
    assert wire_error("test", two).message == "The vpc IDs 'vpc-1, vpc-2' do not exist"
    wire = wire_error("test", plain)
    assert (wire.code, wire.status, wire.message) == (
        "ResourceNotFoundException",
        404,
        "No cluster found for name: c.",
    )
    assert dict(wire.fields) == {"clusterName": "c"}  # only the modeled members
    # a reason the family does not know falls back to the class
    assert wire_error("test", NotFound("gone", reason="nope")).code == ("ResourceNotFoundException")


def test_wire_errors_carry_code_message_status() -> None:
    err = WireError("ValidationException", "1 validation error detected: x")
    assert (err.code, err.status) == ("ValidationException", 400)
    assert str(err) == "ValidationException: 1 validation error detected: x"


def test_models_are_loaded_once_and_unknown_names_are_client_errors() -> None:
    assert service_model("sagemaker") is service_model("sagemaker")
    first = operation_model("sagemaker", "DescribeCluster")
    assert first is operation_model("sagemaker", "DescribeCluster")
    assert first.metadata["protocol"] == "json"
    with pytest.raises(UnknownOperation) as caught:
        operation_model("sagemaker", "DescribeClusterz")
    assert caught.value.code == "UnknownOperationException"
    assert caught.value.status == 400
    assert "DescribeClusterz" in caught.value.message
    with pytest.raises(UnknownOperation, match="no service model"):
        service_model("not-a-service")
