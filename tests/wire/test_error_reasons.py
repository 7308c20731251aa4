"""Every reason a handler raises has its entry in its service family's table, and every entry
of a table is raised by some handler: the tables stay the complete, exact list of the codes
podwarden answers (``wire.errors``, ``wire.error_table``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from podwarden.wire.errors import FAMILIES

CONTROL = Path(__file__).parents[2] / "src/podwarden/control"
# reasons built from a record kind at run time (``control.ec2.resources``: "<type>-not-found",
# "<type>-malformed"), so no literal names them
GENERATED = {"ec2": ("-not-found", "-malformed")}
# packages whose errors a service's handlers pass on: STS checks session policies with IAM's
# policy grammar (``control.iam.policy_doc``)
BORROWS = {"sts": ("iam",)}
# services whose package name differs from botocore's name
PACKAGES = {"eks-auth": "eks_auth"}


def literal_reasons(service: str) -> dict[str, str]:
    """reason -> where it is raised, for every ``reason="..."`` literal in the service's
    package."""
    found: dict[str, str] = {}
    for path in sorted((CONTROL / PACKAGES.get(service, service)).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            for kw in node.keywords:
                value = kw.value.value if isinstance(kw.value, ast.Constant) else None
                if kw.arg == "reason" and isinstance(value, str) and value:
                    found[value] = f"{path.name}:{node.lineno}"
    return found


@pytest.mark.parametrize(
    "service", ["sagemaker", "eks", "eks-auth", "ec2", "iam", "sts", "s3", "cloudwatch"]
)
def test_every_raised_reason_is_in_the_family_table(service: str) -> None:
    table = FAMILIES[service].codes
    missing = {r: where for r, where in literal_reasons(service).items() if r not in table}
    assert missing == {}


@pytest.mark.parametrize("service", ["eks", "eks-auth", "ec2", "iam", "sts", "s3", "cloudwatch"])
def test_every_table_entry_is_raised_somewhere(service: str) -> None:
    raised = set(literal_reasons(service))
    for other in BORROWS.get(service, ()):
        raised |= set(literal_reasons(other))
    generated = GENERATED.get(service, ())
    unused = [
        reason
        for reason in FAMILIES[service].codes
        if isinstance(reason, str)
        and reason not in raised
        and not reason.endswith(generated or ("\0",))
    ]
    assert unused == []
