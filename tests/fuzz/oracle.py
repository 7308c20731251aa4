"""What a fuzzed request may be answered: no 5xx (but the few ``codes.ALLOWED_5XX``), a body that
botocore's own response parser for the client's protocol reads (and, for the JSON protocols, that
is JSON at all: botocore's JSON parser would silently wrap garbage), and an error code from
``codes``. ``verdict`` returns None for an acceptable answer, else the cause, a short phrase that
groups failures."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import HeadersDict  # type: ignore[import-untyped]
from botocore.parsers import create_parser  # type: ignore[import-untyped]

from tests.fuzz import codes
from tests.fuzz.cases import Case, model

_ALL_COMMON = frozenset().union(*codes.COMMON.values())
# signing name -> botocore service, for the scopes the fuzzer signs with
_BY_SIGNING = {
    **{s: s for s in ("sagemaker", "eks", "ec2", "iam", "sts", "s3", "acm-pca", "sqs", "route53")},
    "monitoring": "cloudwatch",
}
_FOREIGN = ("scope:foreign-service", "header:foreign-target", "auth:garbage")
_SCOPE = re.compile(r"Credential=[^/,]*/[^/,]*/[^/,]*/([^/,]*)/")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def short(self) -> str:
        return f"HTTP {self.status} {self.body[:300]!r}"


def verdict(case: Case, answer: Answer) -> str | None:
    if b"root:x:0:0" in answer.body:
        return "local file disclosed in the response"
    if case.draft.method == "HEAD" and 400 <= answer.status < 500 and not answer.body:
        return None  # a HEAD answer has no body (RFC 9110): every client reads its status alone
    protocol, op_model = _client_view(case)
    try:
        parsed = _parse(protocol, op_model, case.operation, answer)
    except Exception as exc:
        if _path_without_scope(case, answer):
            return None
        if _signed_protocol(case, answer):
            return None if answer.status < 500 else f"HTTP {answer.status}"
        kind = "error" if answer.status >= 300 else "success"
        return f"unparseable {kind} response ({protocol}: {type(exc).__name__})"
    return None if answer.status < 300 else _error_verdict(case, answer, parsed)


def _path_without_scope(case: Case, answer: Answer) -> bool:
    """An unknown REST operation whose signature cannot be read names its service by nothing but
    its path, and a path no EKS route matches is S3's (``wire.dispatch``): S3's XML error then."""
    return (
        case.kind == "unknown-operation"
        and case.mutation == "auth:garbage"
        and 400 <= answer.status < 500
        and answer.body.lstrip().startswith(b"<?xml")
    )


def _error_verdict(case: Case, answer: Answer, parsed: Any) -> str | None:
    error = parsed.get("Error", {}) if isinstance(parsed, dict) else {}
    code = str(error.get("Code") or "")
    if answer.status >= 500 and (case.service, code, answer.status) not in codes.ALLOWED_5XX:
        return f"HTTP {answer.status} {code or '(no code)'}"
    if not code:
        return f"error without a code (HTTP {answer.status})"
    if code not in allowed_codes(case):
        return f"code {code} not modeled or documented"
    return None


def allowed_codes(case: Case) -> frozenset[str]:
    if case.kind == "foreign-service" or case.mutation in _FOREIGN:
        base = _ALL_COMMON
    else:
        base = codes.COMMON[case.service] | codes.PODWARDEN.get(case.service, frozenset())
    if case.draft.method == "HEAD":
        base = base | codes.HEAD_STATUS_CODES
    if not case.service:
        return base
    return base | _modeled(case.service)


@functools.cache
def _modeled(service: str) -> frozenset[str]:
    """The service's modeled error codes. Service-wide, not per operation: botocore's clients
    build one exception class per modeled error of the service and match any operation's error
    code against all of them (and the models list each operation's errors incompletely)."""
    shapes = model(service).error_shapes
    return frozenset({s.name for s in shapes} | {s.error_code for s in shapes if s.error_code})


def _signed_protocol(case: Case, answer: Answer) -> bool:
    """A request whose SigV4 scope or ``X-Amz-Target`` names another service than its format's
    (a foreign scope, a replayed target): a client of that service would parse the answer, so an
    error in that service's format is as good as one in the body's."""
    others = []
    scope = _SCOPE.search(case.draft.header("Authorization") or "")
    if scope and scope.group(1) in _BY_SIGNING:
        others.append(model(_BY_SIGNING[scope.group(1)]).protocol)
    if case.draft.header("X-Amz-Target") is not None:
        others.append("json")
    for protocol in others:
        try:
            _parse(protocol, None, case.operation, answer)
        except Exception:
            continue
        return True
    return False


def _client_view(case: Case) -> tuple[str, Any]:
    """The protocol the client parses with, and its operation model (None when it has none)."""
    if not case.service or case.mutation == "header:foreign-target":
        # X-Amz-Target makes it an awsJson call, whatever the rest of the request was built for
        return "json", None
    service = model(case.service)
    if case.operation in service.operation_names:
        return service.protocol, service.operation_model(case.operation)
    return service.protocol, None


def _parse(protocol: str, op_model: Any, operation: str, answer: Answer) -> Any:
    if protocol in ("json", "rest-json") and answer.body.strip():
        json.loads(answer.body)  # strict: botocore's parser would wrap non-JSON as a message
    headers = HeadersDict()
    for name, value in answer.headers:
        headers[name] = value
    response = {
        "status_code": answer.status,
        "headers": headers,
        "body": answer.body,
        "context": {"operation_name": operation},
    }
    shape = op_model.output_shape if op_model is not None else None
    return create_parser(protocol).parse(response, shape)
