"""EKS's error table (``wire.errors_eks``) against botocore's ``eks`` model, and how its
entries render."""

from __future__ import annotations

from podwarden.model.errors import Invalid, InvalidToken, NotFound, Unsupported
from podwarden.wire.errors import wire_error
from podwarden.wire.errors_eks import EKS, MEMBERS
from podwarden.wire.models import service_model


def test_every_code_is_an_exception_of_the_model_with_its_status() -> None:
    shapes = {s.name: s for s in service_model("eks").error_shapes}
    for key, code in EKS.codes.items():
        assert code.code in shapes, key
        assert code.status == shapes[code.code].metadata["error"]["httpStatusCode"], key


def test_the_members_sent_are_members_of_the_models_exceptions() -> None:
    modeled = {m for s in service_model("eks").error_shapes for m in s.members} - {"message"}
    assert MEMBERS.issubset(modeled)
    assert EKS.members == MEMBERS


def test_a_bad_token_is_eks_invalid_parameter_and_plain_invalid_stays_common() -> None:
    wire = wire_error("eks", InvalidToken("The pagination token is not valid: x."))
    assert (wire.code, wire.status, wire.message) == (
        "InvalidParameterException",
        400,
        "The nextToken provided is not valid.",
    )
    assert dict(wire.fields) == {}
    assert wire_error("eks", Invalid("bad")).code == "ValidationException"


def test_templates_take_the_details_and_only_members_go_on_the_wire() -> None:
    wire = wire_error("eks", NotFound(reason="cluster-not-found", clusterName="c1"))
    assert (wire.code, wire.status) == ("ResourceNotFoundException", 404)
    assert wire.message == "No cluster found for name: c1."
    assert dict(wire.fields) == {"clusterName": "c1"}
    wire = wire_error("eks", Unsupported(reason="outposts", clusterName="c1"))
    assert (wire.code, wire.message) == (
        "InvalidParameterException",
        "podwarden does not run EKS clusters on Outposts.",
    )
    wire = wire_error(
        "eks", Invalid(reason="invalid-entry-type", type="X", valid=["A", "B"], clusterName="c")
    )
    assert wire.message == "The type X is not valid. Valid values are [A, B]"
    assert dict(wire.fields) == {"clusterName": "c"}  # type and valid fill the message only


def test_an_entry_without_a_template_carries_the_handlers_message() -> None:
    error = Invalid("No update was given.", reason="no-changes", clusterName="c1")
    wire = wire_error("eks", error)
    assert (wire.code, wire.message) == ("InvalidParameterException", "No update was given.")
