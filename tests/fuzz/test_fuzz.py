"""Fuzzing the endpoint as a hostile client would (issue #17): requests built from the botocore
models of every service podwarden serves, signed with SigV4 so they reach the codecs and handlers,
a share of them mutated (garbage, truncated and deeply nested bodies, invalid UTF-8, characters XML
cannot carry, crafted pagination tokens, odd headers, query strings, paths and signatures), sent
over real HTTP to a server on loopback.

Asserted for every case: no HTTP 5xx, a response botocore's own parser for the client's protocol
reads, and an error code the operation models or AWS (or podwarden) documents
(``tests.fuzz.codes``). Afterwards well-formed boto3 calls still give the right answers.

``make test`` runs ``DEFAULT_CASES`` cases of seed ``DEFAULT_SEED``. Environment:
``PODWARDEN_FUZZ_CASES=10000`` runs more, ``PODWARDEN_FUZZ_SEED=<n>`` another seed, and
``PODWARDEN_FUZZ_ONLY=<i>,<j>`` replays only those cases of the seed, and
``PODWARDEN_FUZZ_LOG=<file>`` writes every failing case there, one per line (a case is a pure function of
seed and index; a failure that needed earlier cases' stored state shows up in those earlier
cases' own verdicts or in the liveness checks).
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from podwarden.cli.server import local_credentials
from tests.api.aws_server import AwsServer
from tests.fuzz.account import build_pool, liveness_checks, plant_witnesses
from tests.fuzz.cases import Account, Case, generate
from tests.fuzz.oracle import Answer, verdict

DEFAULT_CASES = 500
DEFAULT_SEED = 17
EXAMPLES_PER_CAUSE = 3

Failure = tuple[Case, str, str]  # the case, the cause, what came back


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsServer]:
    running = AwsServer(Path(tmp_path_factory.mktemp("fuzz"))).start()
    yield running
    running.stop()


def _indices(count: int) -> list[int]:
    only = os.environ.get("PODWARDEN_FUZZ_ONLY", "")
    return [int(i) for i in only.split(",") if i.strip()] if only else list(range(count))


def _run(case: Case, port: int) -> tuple[str | None, str]:
    try:
        status, headers, body = case.draft.send(f"127.0.0.1:{port}", port)
    except Exception as exc:  # a reset, a timeout: the server did not answer
        return f"no answer ({type(exc).__name__})", repr(exc)
    answer = Answer(status, headers, body)
    return verdict(case, answer), answer.short()


def _report(seed: int, ran: int, failures: list[Failure], dead: list[str]) -> str:
    groups: dict[str, list[Failure]] = defaultdict(list)
    for failure in failures:
        case, cause, _ = failure
        groups[f"{cause} · {case.service or '?'} · {case.mutation}"].append(failure)
    lines = [f"fuzz seed {seed}: {len(failures)} of {ran} cases failed"]
    for key, members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"\n[{len(members)}] {key}")
        for case, _, got in members[:EXAMPLES_PER_CAUSE]:
            lines.append(f"  {case.describe()}\n    -> {got}")
    if dead:
        lines.append("\nafter fuzzing, well-formed calls failed:")
        lines.extend(f"  {line}" for line in dead)
    indices = ",".join(str(f[0].index) for f in failures[:20])
    lines.append(f"\nreplay: PODWARDEN_FUZZ_SEED={seed} PODWARDEN_FUZZ_ONLY={indices}")
    return "\n".join(lines)


def test_fuzzed_requests_get_parseable_aws_errors_and_the_server_stays_right(
    server: AwsServer,
) -> None:
    seed = int(os.environ.get("PODWARDEN_FUZZ_SEED", DEFAULT_SEED))
    count = int(os.environ.get("PODWARDEN_FUZZ_CASES", DEFAULT_CASES))
    credential = local_credentials()[0]
    account = Account(
        host=f"127.0.0.1:{server.port}",
        key=credential.access_key_id,
        secret=credential.secret_access_key,
        pool=build_pool(server),
    )
    witness_vpc = plant_witnesses(server)
    failures: list[Failure] = []
    statuses: Counter[str] = Counter()
    indices = _indices(count)
    for index in indices:
        case = generate(seed, index, account)
        cause, got = _run(case, server.port)
        statuses[got.split(" ")[1] if got.startswith("HTTP ") else "no answer"] += 1
        if cause is not None:
            failures.append((case, cause, got))
    # with -s: what the cases were answered with (the counts BENCHMARKS.md quotes)
    print(f"fuzz seed {seed}: {len(indices)} cases, answers {sorted(statuses.items())}")
    log = os.environ.get("PODWARDEN_FUZZ_LOG")
    if log:
        lines = (f"{cause}\t{case.describe()}\t{got}\n" for case, cause, got in failures)
        Path(log).write_text("".join(lines))
    dead = []
    for what, check in liveness_checks(server, witness_vpc):
        try:
            check()
        except Exception as exc:
            dead.append(f"{what}: {type(exc).__name__}: {str(exc)[:300]}")
    assert not failures and not dead, _report(seed, len(indices), failures, dead)
