"""IAM policy evaluation (logic.iam_evaluation, iam_conditions, iam_patterns) and the lifecycle
scripts' read check built on it (logic.lifecycle_access)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from podwarden.logic import iam_conditions as cond
from podwarden.logic.iam_evaluation import Decision, Policy, Request, evaluate
from podwarden.logic.iam_patterns import action_matches, arn_like, like, resolver
from podwarden.logic.lifecycle_access import ExecutionRole, Scripts, denied_read, read_requests
from podwarden.policy.aws_policies import load_aws_policies

ACCOUNT = "000000000000"
BUCKET = "hyperpod-eks-bucket-000000000000-us-west-2"
OBJECT = f"arn:aws:s3:::{BUCKET}/lifecycle/on_create.sh"
GET = Request("s3:GetObject", OBJECT)


def doc(*statements: dict[str, Any], version: str = "2012-10-17") -> Policy:
    return Policy("p", {"Version": version, "Statement": list(statements)})


def allow(action: Any = "s3:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "s3:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


# (case, statements, request, allowed, effect of the deciding statement)
CASES: list[tuple[str, list[dict[str, Any]], Request, bool, str]] = [
    ("no statement: implicit deny", [allow("s3:PutObject")], GET, False, ""),
    ("allow", [allow()], GET, True, "Allow"),
    ("deny wins over allow", [allow(), deny()], GET, False, "Deny"),
    ("deny wins whatever the order", [deny(), allow("s3:*")], GET, False, "Deny"),
    ("action wildcard", [allow("s3:Get*")], GET, True, "Allow"),
    ("action ? wildcard", [allow("s3:GetObjec?")], GET, True, "Allow"),
    ("action ignores case", [allow("S3:getobject")], GET, True, "Allow"),
    ("action list", [allow(["s3:ListBucket", "s3:GetObject"])], GET, True, "Allow"),
    ("[ is not a wildcard", [allow("s3:[G]etObject")], GET, False, ""),
    ("star allows all", [allow("*")], GET, True, "Allow"),
    (
        "NotAction allows the rest",
        [{"Effect": "Allow", "NotAction": "s3:PutObject", "Resource": "*"}],
        GET,
        True,
        "Allow",
    ),
    (
        "NotAction excludes the action",
        [{"Effect": "Allow", "NotAction": "s3:Get*", "Resource": "*"}],
        GET,
        False,
        "",
    ),
    (
        "Deny with NotAction of other actions denies",
        [allow(), {"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}],
        GET,
        False,
        "Deny",
    ),
    ("resource exact", [allow(resource=OBJECT)], GET, True, "Allow"),
    ("resource wildcard spans /", [allow(resource=f"arn:aws:s3:::{BUCKET}/*")], GET, True, "Allow"),
    (
        "resource prefix of the managed policy",
        [allow(resource="arn:aws:s3:::sagemaker-*")],
        GET,
        False,
        "",
    ),
    ("bucket ARN is not its objects", [allow(resource=f"arn:aws:s3:::{BUCKET}")], GET, False, ""),
    ("resource is case-sensitive", [allow(resource=OBJECT.upper())], GET, False, ""),
    (
        "NotResource allows other resources",
        [{"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::other/*"}],
        GET,
        True,
        "Allow",
    ),
    (
        "NotResource excludes the resource",
        [{"Effect": "Allow", "Action": "s3:*", "NotResource": f"arn:aws:s3:::{BUCKET}/*"}],
        GET,
        False,
        "",
    ),
    (
        "deny on NotResource protects the rest",
        [allow(), {"Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::safe/*"}],
        GET,
        False,
        "Deny",
    ),
    (
        "ARN segments: region wildcard",
        [allow("logs:PutLogEvents", "arn:aws:logs:*:*:log-group:/aws/sagemaker/Clusters/*")],
        Request(
            "logs:PutLogEvents", "arn:aws:logs:us-west-2:1:log-group:/aws/sagemaker/Clusters/c:s"
        ),
        True,
        "Allow",
    ),
]


@pytest.mark.parametrize(
    ("statements", "request_", "allowed", "effect"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_evaluation(
    statements: list[dict[str, Any]], request_: Request, allowed: bool, effect: str
) -> None:
    decision = evaluate([doc(*statements)], request_)
    assert (decision.allowed, decision.effect) == (allowed, effect)


def test_decision_names_the_deciding_statement() -> None:
    policies = [
        Policy("inline policy read", {"Version": "2012-10-17", "Statement": [allow()]}),
        Policy(
            "arn:aws:iam::0:policy/guard", {"Version": "2012-10-17", "Statement": deny(Sid="NoGet")}
        ),
    ]
    decision = evaluate(policies, GET)
    assert decision == Decision(False, "Deny", "arn:aws:iam::0:policy/guard", "NoGet")
    assert (
        decision.reason() == "explicitly denied by statement NoGet of arn:aws:iam::0:policy/guard"
    )
    allowed = evaluate(policies[:1], GET)
    assert allowed == Decision(True, "Allow", "inline policy read", "#1")
    assert evaluate([], GET).reason() == "no statement allows it (implicit deny)"


def test_permissions_boundary_limits_and_can_deny() -> None:
    everything = doc(allow("*"))
    only_list = Policy("boundary", {"Version": "2012-10-17", "Statement": allow("s3:ListBucket")})
    decision = evaluate([everything], GET, boundary=only_list)
    assert (
        not decision.allowed
        and decision.reason() == "not allowed by the permissions boundary boundary"
    )
    assert evaluate([everything], GET, boundary=doc(allow("s3:*"))).allowed
    assert evaluate([everything], GET, boundary=doc(allow("s3:*"), deny())).explicit_deny
    assert not evaluate([], GET, boundary=doc(allow("s3:*"))).allowed  # a boundary grants nothing


# --- conditions ----------------------------------------------------------------------------------

CTX = {"aws:ResourceAccount": (ACCOUNT,), "aws:PrincipalAccount": (ACCOUNT,), "s3:prefix": ("lc/",)}
COND_CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("StringEquals", {"StringEquals": {"aws:ResourceAccount": ACCOUNT}}, True),
    ("keys ignore case", {"StringEquals": {"AWS:resourceaccount": ACCOUNT}}, True),
    ("values of one key are ORed", {"StringEquals": {"aws:ResourceAccount": ["1", ACCOUNT]}}, True),
    ("keys are ANDed", {"StringEquals": {"aws:ResourceAccount": ACCOUNT, "s3:prefix": "x"}}, False),
    ("policy variable", {"StringEquals": {"aws:ResourceAccount": "${aws:PrincipalAccount}"}}, True),
    ("variable without value", {"StringEquals": {"aws:ResourceAccount": "${aws:username}"}}, False),
    ("variable default", {"StringEquals": {"s3:prefix": "${aws:username, 'lc/'}"}}, True),
    ("StringLike", {"StringLike": {"s3:prefix": ["lc/*", ""]}}, True),
    ("StringNotLike", {"StringNotLike": {"s3:prefix": "lc/*"}}, False),
    ("absent key: StringEquals false", {"StringEquals": {"aws:SourceVpce": "vpce-1"}}, False),
    ("absent key: negated true", {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}, True),
    ("absent key: IfExists true", {"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}, True),
    ("absent key: ForAnyValue false", {"ForAnyValue:StringEquals": {"aws:TagKeys": "a"}}, False),
    ("absent key: ForAllValues true", {"ForAllValues:StringEquals": {"aws:TagKeys": "a"}}, True),
    ("Null true for absent", {"Null": {"aws:SourceVpce": "true"}}, True),
    ("Null false for present", {"Null": {"s3:prefix": "false"}}, True),
    ("IgnoreCase", {"StringEqualsIgnoreCase": {"s3:prefix": "LC/"}}, True),
    ("unknown operator never holds", {"StringSortOf": {"s3:prefix": "lc/"}}, False),
    ("empty unknown operator is ignored", {"StringSortOf": {}}, True),
]


@pytest.mark.parametrize(
    ("block", "holds"), [c[1:] for c in COND_CASES], ids=[c[0] for c in COND_CASES]
)
def test_conditions(block: dict[str, Any], holds: bool) -> None:
    request = Request("s3:ListBucket", f"arn:aws:s3:::{BUCKET}", CTX)
    decision = evaluate([doc(allow("s3:ListBucket", Condition=block))], request)
    assert decision.allowed is holds


TYPED: list[tuple[str, str, str, bool]] = [
    ("NumericLessThan", "5", "10", True),
    ("NumericGreaterThanEquals", "5", "10", False),
    ("NumericEquals", "abc", "1", False),
    ("DateGreaterThan", "2024-06-01T00:00:00Z", "2024-01-01", True),
    ("DateLessThan", "2024-06-01T00:00:00Z", "1717200000", False),  # epoch = 2024-06-01
    ("DateEquals", "2024-06-01T02:00:00+02:00", "2024-06-01T00:00:00Z", True),
    ("Bool", "true", "True", True),
    ("IpAddress", "10.1.2.3", "10.1.0.0/16", True),
    ("NotIpAddress", "10.1.2.3", "10.1.0.0/16", False),
    ("IpAddress", "not-an-ip", "10.1.0.0/16", False),
    ("ArnLike", "arn:aws:iam::000000000000:role/x", "arn:aws:iam::*:role/*", True),
    ("ArnNotEquals", "arn:aws:iam::000000000000:role/x", "arn:aws:iam::*:role/y", True),
]


@pytest.mark.parametrize(("operator", "actual", "wanted", "holds"), TYPED)
def test_typed_operators(operator: str, actual: str, wanted: str, holds: bool) -> None:
    assert cond.holds({operator: {"k": wanted}}, {"k": (actual,)}, None) is holds


def test_set_operators_over_many_values() -> None:
    tags = {"aws:tagkeys": ("a", "b")}
    assert cond.holds({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b", "c"]}}, tags, None)
    assert not cond.holds({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, tags, None)
    assert cond.holds({"ForAnyValue:StringEquals": {"aws:TagKeys": ["b"]}}, tags, None)


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2017-07-01T00:00:00Z", 1498867200.0),
        ("2016-12-13T21:20:37.593194+00:00", 1481664037.593194),
        ("2016-12-13t2:00:00.593194+23", 1481594400.593194 - 23 * 3600),
        ("01T", -62135596800.0),
        ("1498867200", 1498867200.0),
        ("-292275054", -math.inf),
    ],
)
def test_dates_as_iam_reads_them(text: str, epoch: float) -> None:
    assert cond.parse_date(text) == pytest.approx(epoch)


@pytest.mark.parametrize(
    "text",
    [
        "sdfdsf",
        "234-13",
        "2016-12-13t2:00:00.593194+1",
        "2016-12-13t2:00:00.1999999999+10:59",
        "9223372036854775808",
        "2024-02-31",
        "2024-01-01T24:00:00Z",
    ],
)
def test_dates_iam_rejects(text: str) -> None:
    assert cond.parse_date(text) is None


# --- patterns ------------------------------------------------------------------------------------


def test_patterns() -> None:
    assert like("a*c", "abbbc") and like("a?c", "abc") and not like("a?c", "abbc")
    assert not like("a*C", "abc") and like("a*C", "abc", ignore_case=True)
    assert action_matches("sts:Assume*", "sts:AssumeRole") and not action_matches(
        "sts:[A]ssumeRole", "sts:AssumeRole"
    )
    assert arn_like("*", "anything")
    assert arn_like("arn:aws:s3:::b/*", "arn:aws:s3:::b/k:with:colons")
    assert not arn_like("arn:aws:s3:::b/*", "arn:aws:s3:us-east-1::b/k")
    resolve = resolver({"aws:username": ("al*ce",)})
    assert like("home/${aws:username}/*", "home/al*ce/x", resolve)
    assert not like("home/${aws:username}/*", "home/alXXce/x", resolve)  # a value is literal
    assert like("a${*}b", "a*b", resolve) and not like("a${*}b", "axb", resolve)
    assert like("${aws:username}", "${aws:username}", None)  # 2008-10-17: no variables


def test_variables_only_in_version_2012() -> None:
    request = Request(
        "s3:GetObject", "arn:aws:s3:::b/${aws:PrincipalAccount}", {"aws:PrincipalAccount": ("1",)}
    )
    statement = allow(resource="arn:aws:s3:::b/${aws:PrincipalAccount}")
    assert evaluate([doc(statement, version="2008-10-17")], request).allowed
    assert not evaluate([doc(statement)], request).allowed  # read as b/1


# --- lifecycle scripts ---------------------------------------------------------------------------

SCRIPTS = Scripts(BUCKET, ACCOUNT, "us-west-2", "lifecycle", "lifecycle/on_create.sh")
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/hp"
WORKSHOP: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
        }
    ],
}


def role(*policies: Policy, account: str = ACCOUNT) -> ExecutionRole:
    return ExecutionRole(ROLE_ARN, account, "AROAEXAMPLE", {"team": "ml"}, tuple(policies))


def test_lifecycle_read_asks_list_and_get() -> None:
    listing, get = read_requests(role(), SCRIPTS, 1_700_000_000)
    assert (listing.action, listing.resource) == ("s3:ListBucket", f"arn:aws:s3:::{BUCKET}")
    assert listing.context["s3:prefix"] == ("lifecycle/",)
    assert (get.action, get.resource) == (
        "s3:GetObject",
        f"arn:aws:s3:::{BUCKET}/lifecycle/on_create.sh",
    )
    assert get.context["aws:PrincipalTag/team"] == ("ml",)
    assert get.context["aws:CurrentTime"] == ("2023-11-14T22:13:20Z",)


def test_lifecycle_read_by_the_workshop_policy() -> None:
    assert denied_read(role(Policy("inline policy s3", WORKSHOP)), SCRIPTS, 0) is None
    request, decision = denied_read(role(), SCRIPTS, 0) or pytest.fail("not denied")
    assert request.action == "s3:ListBucket" and not decision.explicit_deny
    only_get = {**WORKSHOP, "Statement": [{**WORKSHOP["Statement"][0], "Action": "s3:GetObject"}]}
    denied = denied_read(role(Policy("inline policy s3", only_get)), SCRIPTS, 0)
    assert denied is not None and denied[0].action == "s3:ListBucket"


def test_the_managed_policy_reads_sagemaker_buckets_of_its_own_account() -> None:
    managed = load_aws_policies()[
        "arn:aws:iam::aws:policy/AmazonSageMakerClusterInstanceRolePolicy"
    ]
    policy = Policy(managed.arn, managed.document)
    assert denied_read(role(policy), SCRIPTS, 0) is not None  # hyperpod-eks-bucket-...: no
    ours = Scripts("sagemaker-lc", ACCOUNT, "us-west-2", "", "on_create.sh")
    assert denied_read(role(policy), ours, 0) is None
    theirs = Scripts("sagemaker-lc", "111111111111", "us-west-2", "", "on_create.sh")
    assert denied_read(role(policy), theirs, 0) is not None  # aws:ResourceAccount condition
    assert (
        denied_read(
            role(Policy("inline policy all", {**WORKSHOP, "Statement": allow("s3:*")})), theirs, 0
        )
        is not None
    )
