"""Fuzz cases: case ``i`` of seed ``s`` is a pure function of ``(s, i)`` and the resource pool, so
any case a run reports can be rebuilt alone (``PODWARDEN_FUZZ_SEED=s PODWARDEN_FUZZ_ONLY=i``).

Most cases call an operation podwarden serves, with inputs walked from its botocore input shape
(``tests.fuzz.shapes``); some call an operation of the same service that podwarden does not serve,
an operation no model has, or a service podwarden does not speak. A share of them are then mutated
(``tests.fuzz.mutations``) before or after SigV4 signing.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import botocore.session  # type: ignore[import-untyped]

from podwarden.api.operations import OPERATIONS
from tests.fuzz.draft import Draft
from tests.fuzz.mutations import Mutation, pick
from tests.fuzz.shapes import ShapeValues

# Services a client may sign for that podwarden does not serve: (signing name, botocore model or
# None for a made-up one).
FOREIGN_SERVICES: tuple[tuple[str, str | None], ...] = (
    ("acm-pca", "acm-pca"),
    ("sqs", "sqs"),
    ("sns", "sns"),
    ("route53", "route53"),
    ("madeup", None),
)


@dataclass(frozen=True)
class Case:
    seed: int
    index: int
    kind: str  # served | unserved | unknown-operation | foreign-service
    service: str  # the botocore model the client used ("" for a made-up service)
    operation: str
    mutation: str
    detail: str
    draft: Draft

    def describe(self) -> str:
        return (
            f"case {self.seed}:{self.index} {self.kind} {self.service or '?'} {self.operation} "
            f"[{self.mutation}: {self.detail}] {self.draft.method} {self.draft.path[:80]}"
            f"{'?' + self.draft.query[:80] if self.draft.query else ''} "
            f"body={self.draft.body[:120]!r}"
        )


@functools.cache
def model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


@dataclass(frozen=True)
class Account:
    host: str
    key: str
    secret: str
    pool: Mapping[str, Sequence[Any]]


def generate(seed: int, index: int, account: Account) -> Case:
    rng = random.Random(f"{seed}:{index}")
    roll = rng.random()
    if roll < 0.82:
        kind, service, operation = "served", *_served(rng)
    elif roll < 0.92:
        kind, service, operation = "unserved", *_unserved(rng)
    elif roll < 0.96:
        kind = "unknown-operation"
        service = rng.choice(sorted(OPERATIONS))
        operation = rng.choice(sorted(OPERATIONS[service]))
    else:
        return _foreign(rng, seed, index, account)
    values = ShapeValues(rng, account.pool)
    op_model = model(service).operation_model(operation)
    draft = _serialized(rng, values, service, op_model)
    if kind == "unknown-operation":
        operation = _rename(rng, draft, service)
    mutation = pick(rng, model(service).protocol) if rng.random() < 0.75 else None
    detail = _apply(rng, draft, mutation, account)
    name = mutation.name if mutation else "none"
    return Case(seed, index, kind, service, operation, name, detail, draft)


def _served(rng: random.Random) -> tuple[str, str]:
    service = rng.choice(sorted(OPERATIONS))
    return service, rng.choice(sorted(OPERATIONS[service]))


def _unserved(rng: random.Random) -> tuple[str, str]:
    service = rng.choice(_partly_served())
    names = sorted(set(model(service).operation_names) - set(OPERATIONS[service]))
    return service, rng.choice(names)


@functools.cache
def _partly_served() -> list[str]:
    """The services with operations podwarden does not serve (eks-auth serves its only one)."""
    return [s for s in sorted(OPERATIONS) if set(model(s).operation_names) - set(OPERATIONS[s])]


def _serialized(rng: random.Random, values: ShapeValues, service: str, op_model: Any) -> Draft:
    for _ in range(16):
        params = values.params(op_model.input_shape)
        try:
            return Draft.serialized(model(service), op_model, params)
        except Exception:  # the generator made a value the serializer cannot write: draw again
            continue
    # no draw serialized (a URI label left out every time): the required members, as short
    # strings, always do
    shape = op_model.input_shape
    required = dict.fromkeys(shape.required_members if shape is not None else [], "fuzz")
    return Draft.serialized(model(service), op_model, required)


def _rename(rng: random.Random, draft: Draft, service: str) -> str:
    """Point the request at an operation no model has."""
    name = rng.choice(("NoSuchOperation", "Describe", "listClusters", "DeleteEverything"))
    protocol = model(service).protocol
    if protocol == "json":
        draft.set_header("X-Amz-Target", f"SageMaker.{name}")
    elif protocol in ("query", "ec2"):
        draft.body = draft.body.replace(b"Action=", f"Action={name}&Was=".encode(), 1)
    elif protocol == "smithy-rpc-v2-cbor":  # /service/<S>/operation/<Op>: another <Op>
        draft.path = draft.path.rsplit("/", 1)[0] + f"/{name}"
    else:
        draft.path = f"/{name}" + draft.path
        draft.method = rng.choice(("GET", "POST", "PATCH"))
    return name


def _apply(rng: random.Random, draft: Draft, mutation: Mutation | None, account: Account) -> str:
    detail = "as serialized"
    if mutation is not None and not mutation.after_signing:
        detail = mutation.mutate(rng, draft)
    draft.sign(account.host, account.key, account.secret)
    if mutation is not None and mutation.after_signing:
        detail = mutation.mutate(rng, draft)
    return detail


def _foreign(rng: random.Random, seed: int, index: int, account: Account) -> Case:
    signing, service = rng.choice(FOREIGN_SERVICES)
    if service is None:
        draft = Draft("POST", "/", "", [("Content-Type", "application/json")], b"{}", signing)
        operation = "Anything"
    else:
        op_model = model(service).operation_model(rng.choice(model(service).operation_names))
        draft = _serialized(rng, ShapeValues(rng, account.pool), service, op_model)
        operation = op_model.name
    draft.signing_name = signing
    draft.s3_signer = False
    draft.sign(account.host, account.key, account.secret)
    return Case(seed, index, "foreign-service", service or "", operation, "none", signing, draft)
