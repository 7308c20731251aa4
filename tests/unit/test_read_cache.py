"""The read cache's own rules (``api.read_cache``): its table, keys, clock, request ids and bound.
Over HTTP, against the real app and store: tests/api/test_read_cache.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from podwarden.api.callers import Caller
from podwarden.api.read_cache import DAY_S, ClockReadings, ReadCache, check_table, header_members
from podwarden.policy.read_cache import Clock, ReadCacheTable, load_read_cache, parse_read_cache
from podwarden.policy.yaml_tables import TableError
from podwarden.store.resources import Record
from podwarden.store.sql import Store, sqlite_url
from podwarden.wire.http import HttpRequest, HttpResponse

CALLER = Caller("000000000000", "us-west-2", "AKIDEXAMPLE", "arn:aws:iam::000000000000:root")
TABLE = ReadCacheTable(
    {
        ("sagemaker", "DescribeCluster"): Clock.DAY,
        ("sagemaker", "ListClusters"): Clock.NONE,
    }
)
NOW = 20_000 * DAY_S + 3600.0  # an hour into a UTC day


def request(body: bytes = b'{"ClusterName": "a"}', path: str = "/") -> HttpRequest:
    return HttpRequest("POST", path, "", {"x-amz-target": "SageMaker.DescribeCluster"}, body)


class Generation:
    def __init__(self) -> None:
        self.value: Any = 1

    def __call__(self) -> Any:
        return self.value


def cache(**kwargs: Any) -> tuple[ReadCache, Generation]:
    gen = Generation()
    return ReadCache(gen, TABLE, **kwargs), gen


def ticket(rc: ReadCache, op: str = "DescribeCluster", **kwargs: Any) -> Any:
    args: dict[str, Any] = {"family": "json", "caller": CALLER, "now": NOW} | kwargs
    req = args.pop("request", request())
    return rc.ticket("sagemaker", op, req, **args)


def made(rc: ReadCache, t: Any, body: bytes, request_id: str, *readings: float) -> bool:
    clock = ClockReadings(iter(readings or ()).__next__)
    for _ in readings:
        clock()
    return rc.keep(t, HttpResponse(200, [("Content-Type", "x")], body), request_id, clock)


def test_an_answer_is_given_again_while_the_generation_holds() -> None:
    rc, gen = cache()
    first = ticket(rc)
    assert rc.answer(first, "r1") is None
    assert made(rc, first, b'{"ClusterName":"a"}', "r1", NOW)
    again = rc.answer(ticket(rc), "r2")
    assert again is not None and again.body == b'{"ClusterName":"a"}'
    gen.value = 2  # anything committed since
    assert rc.answer(ticket(rc), "r3") is None


def test_the_key_is_the_whole_request_and_the_caller() -> None:
    rc, _ = cache()
    t = ticket(rc)
    made(rc, t, b"{}", "r1")
    others = [
        ticket(rc, request=request(b'{"ClusterName": "b"}')),
        ticket(rc, request=request(path="/other")),
        ticket(rc, family="cbor"),
        ticket(rc, caller=Caller("111111111111", "us-west-2", "AKIDEXAMPLE", CALLER.principal_arn)),
        ticket(rc, caller=Caller(CALLER.account, "us-east-1", "AKIDEXAMPLE", CALLER.principal_arn)),
        ticket(rc, caller=Caller(CALLER.account, CALLER.region, "ASIAOTHER", CALLER.principal_arn)),
        ticket(rc, caller=Caller(CALLER.account, CALLER.region, "AKIDEXAMPLE", "arn:aws:sts::x")),
        ticket(rc, now=NOW + DAY_S),  # DescribeCluster's answer depends on the day
    ]
    assert all(rc.answer(o, "r2") is None for o in others)
    assert rc.answer(ticket(rc, now=NOW + 60), "r2") is not None  # same day


def test_operations_not_in_the_table_and_stores_without_a_generation_get_no_ticket() -> None:
    rc, gen = cache()
    assert (
        rc.ticket("sagemaker", "CreateCluster", request(), family="json", caller=CALLER, now=NOW)
        is None
    )
    assert (
        rc.ticket("eks", "DescribeCluster", request(), family="json", caller=CALLER, now=NOW)
        is None
    )
    gen.value = None  # PostgreSQL
    assert ticket(rc) is None


def test_each_answer_carries_its_own_request_id() -> None:
    rc, _ = cache()
    t = ticket(rc)
    body = b"<R><RequestId>req-1</RequestId><X>req-1</X></R>"
    response = HttpResponse(200, [("x-amzn-RequestId", "req-1"), ("Content-Type", "x")], body)
    assert rc.keep(t, response, "req-1", ClockReadings(lambda: NOW))
    again = rc.answer(ticket(rc), "req-2")
    assert again is not None
    assert again.body == b"<R><RequestId>req-2</RequestId><X>req-2</X></R>"
    assert again.headers == [("x-amzn-RequestId", "req-2"), ("Content-Type", "x")]


def test_only_successful_answers_are_kept() -> None:
    rc, _ = cache()
    t = ticket(rc)
    refused = HttpResponse(400, [], b'{"__type":"ResourceNotFound"}')
    assert not rc.keep(t, refused, "r1", ClockReadings(lambda: NOW))
    assert rc.answer(ticket(rc), "r2") is None and len(rc) == 0


def test_a_handler_that_reads_the_clock_beyond_its_entry_is_not_kept() -> None:
    rc, _ = cache()
    listed = ticket(rc, "ListClusters")
    assert not made(rc, listed, b"{}", "r1", NOW)  # "none": any reading
    assert made(rc, listed, b"{}", "r1")  # no reading
    described = ticket(rc)
    assert not made(rc, described, b"{}", "r1", NOW, NOW + DAY_S)  # "day": another day
    assert made(rc, described, b"{}", "r1", NOW, NOW + 60)


def test_clock_readings_pass_the_time_through() -> None:
    times = iter([5.0, DAY_S + 5.0])
    clock = ClockReadings(lambda: next(times))
    assert clock() == 5.0 and clock() == DAY_S + 5.0
    assert clock.days == {0, 1}


def test_memory_is_bounded_least_recently_used_first() -> None:
    rc, _ = cache(max_bytes=3500, max_entry_bytes=2000)
    tickets = [ticket(rc, request=request(f'{{"ClusterName": "c{i}"}}'.encode())) for i in range(4)]
    for i, t in enumerate(tickets):
        assert made(rc, t, b"x" * 900, f"r{i}")
        if i == 1:
            assert rc.answer(tickets[0], "again") is not None  # c0 used: c1 is now the oldest
    assert len(rc) == 3  # three of about 1,020 bytes (key included) fit in 3,500
    assert rc.answer(tickets[1], "x") is None
    assert all(rc.answer(tickets[i], "x") is not None for i in (0, 2, 3))
    assert not made(rc, ticket(rc, request=request(b'{"ClusterName": "big"}')), b"x" * 2500, "r")


def test_the_shipped_table_loads_and_names_read_operations_the_models_know() -> None:
    table = load_read_cache()
    check_table(table)
    assert table.clock("sagemaker", "DescribeCluster") is Clock.DAY
    assert table.clock("sagemaker", "CreateCluster") is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("sagemaker: [DescribeCluster]", "expected a mapping of operation -> clock"),
        ("sagemaker:\n  CreateCluster: none", "not the name of a read operation"),
        ("sagemaker:\n  DescribeCluster: hour", "clock 'hour' is not one of none, day"),
        ("- sagemaker", "expected a mapping of service -> operation -> clock"),
    ],
)
def test_a_broken_table_is_refused_with_where(text: str, problem: str) -> None:
    with pytest.raises(TableError, match=r"read_cache\.yaml") as err:
        parse_read_cache(text, "read_cache.yaml")
    assert problem in str(err.value)


def test_an_operation_with_input_in_headers_cannot_be_listed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = ReadCacheTable({("s3", "GetObject"): Clock.NONE})  # Range, If-Match... are headers
    with pytest.raises(ValueError, match="s3 GetObject takes input from headers"):
        check_table(table)
    # a server checks it when it first sees the operation, and never keeps its answers
    rc = ReadCache(Generation(), table)
    get = HttpRequest("GET", "/bucket/key", "", {}, b"")
    for _ in range(2):
        assert rc.ticket("s3", "GetObject", get, family="rest-xml", caller=CALLER, now=NOW) is None
    assert [r.getMessage() for r in caplog.records] == [
        "read cache: s3 GetObject takes input from headers "
        f"({', '.join(header_members('s3', 'GetObject'))}): never kept"
    ]


def test_store_generation_moves_with_every_commit(tmp_path: Path) -> None:
    store, other = Store(sqlite_url(tmp_path)), Store(sqlite_url(tmp_path))
    try:
        before = store.generation()
        assert before is not None and store.generation() == before  # reads change nothing
        other.resources.put(
            Record("test-kind", "scope", "key", {"a": 1})
        )  # another connection writes
        after = store.generation()
        assert after != before
        store.resources.put(
            Record("test-kind", "scope", "key2", {"a": 2})
        )  # this store's own writer
        assert store.generation() != after
    finally:
        store.close()
        other.close()
    memory = Store("sqlite://")
    try:
        assert memory.generation() is None  # no data_version to trust: nothing is kept
    finally:
        memory.close()
