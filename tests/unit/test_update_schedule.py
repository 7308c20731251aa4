"""ScheduledUpdateConfig's cron (``logic/update_schedule``): HyperPod's subset of AWS's syntax
is accepted and everything else refused naming the field, and ``next_due`` finds the first
occurrence strictly after a time, in UTC."""

from __future__ import annotations

import datetime as dt

import pytest

from podwarden.logic.update_schedule import ScheduleError, Weekday, next_due, parse


def epoch(year: int, month: int, day: int, hour: int, minute: int) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC).timestamp()


# Monday 2026-12-07 10:00 UTC
MONDAY = epoch(2026, 12, 7, 10, 0)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # every Monday at 03:00: today's is past, so next week's
        ("cron(0 3 ? * MON *)", MONDAY, epoch(2026, 12, 14, 3, 0)),
        ("cron(0 3 ? * 2 *)", MONDAY, epoch(2026, 12, 14, 3, 0)),  # 2 is Monday
        ("cron(0 12 ? * 2 *)", MONDAY, epoch(2026, 12, 7, 12, 0)),  # later today
        ("cron(0 10 ? * 2 *)", MONDAY, epoch(2026, 12, 14, 10, 0)),  # strictly after
        ("cron(0 3 ? * 1 *)", MONDAY, epoch(2026, 12, 13, 3, 0)),  # 1 is Sunday
        ("cron(0 3 ? * L *)", MONDAY, epoch(2026, 12, 12, 3, 0)),  # L: Saturday
        # the 15th of every month at 02:30
        ("cron(30 2 15 * ? *)", MONDAY, epoch(2026, 12, 15, 2, 30)),
        ("cron(05 02 01 * ? *)", MONDAY, epoch(2027, 1, 1, 2, 5)),  # leading zeros
        # the first Monday of the month, the last Saturday of the month
        ("cron(0 3 ? * 2#1 *)", MONDAY, epoch(2027, 1, 4, 3, 0)),
        ("cron(0 3 ? * 7L *)", MONDAY, epoch(2026, 12, 26, 3, 0)),
        # a fifth Tuesday: March 2027 has one, January and February do not
        ("cron(0 0 ? * 3#5 2027)", MONDAY, epoch(2027, 3, 30, 0, 0)),
        # every other month from January; the 31st is skipped where a month lacks it
        ("cron(0 0 31 */2 ? *)", MONDAY, epoch(2027, 1, 31, 0, 0)),
        ("cron(0 0 31 */2 ? *)", epoch(2027, 1, 31, 0, 0), epoch(2027, 3, 31, 0, 0)),
        ("cron(0 0 31 4 ? *)", MONDAY, None),  # April has 30 days
        # one-time schedules
        ("cron(0 4 20 12 ? 2026)", MONDAY, epoch(2026, 12, 20, 4, 0)),
        ("cron(0 4 1 1 ? 2026)", MONDAY, None),  # already past
        ("cron(0 0 29 2 ? *)", MONDAY, epoch(2028, 2, 29, 0, 0)),  # the next leap day
    ],
)
def test_next_due(expression: str, after: float, expected: float | None) -> None:
    assert next_due(expression, after) == expected


@pytest.mark.parametrize(
    ("expression", "field"),
    [
        ("0 3 ? * MON *", "must be cron("),
        ("cron(0 3 ? * MON)", "6 fields"),
        ("cron(0  3 ? * MON *)", "6 fields"),  # two spaces
        ("cron(60 3 ? * MON *)", "Minutes '60'"),
        ("cron(*/5 3 ? * MON *)", "Minutes"),
        ("cron(0 24 ? * MON *)", "Hours '24'"),
        ("cron(0 1-3 ? * MON *)", "Hours"),
        ("cron(0 3 32 * ? *)", "Day-of-month '32'"),
        ("cron(0 3 * * ? *)", "Day-of-month '*'"),  # EventBridge's daily form
        ("cron(0 3 15W * ? *)", "Day-of-month"),
        ("cron(0 3 ? 13 MON *)", "Month '13'"),
        ("cron(0 3 ? JAN MON *)", "Month 'JAN'"),
        ("cron(0 3 ? */13 MON *)", "Month"),
        ("cron(0 3 ? * 8 *)", "Day-of-week '8'"),
        ("cron(0 3 ? * 2#6 *)", "Day-of-week"),
        ("cron(0 3 ? * MON-FRI *)", "Day-of-week"),
        ("cron(0 3 ? * * *)", "Day-of-week '*'"),
        ("cron(0 3 ? * MON 2019)", "Year '2019'"),
        ("cron(0 3 ? * MON 2100)", "Year"),
        ("cron(0 3 ? *  *)", "Day-of-week ''"),  # an empty field between two spaces
        ("cron(0 3 1 * MON *)", "exactly one of Day-of-month and Day-of-week"),
        ("cron(0 3 ? * ? *)", "exactly one of Day-of-month and Day-of-week"),
        ("cron( 3 ? * MON *)", "Minutes ''"),  # the published pattern allows it
    ],
)
def test_refused(expression: str, field: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse(expression)
    assert field in str(info.value)
    assert expression in str(info.value) or "6 fields" in str(info.value)


def test_parsed_fields() -> None:
    s = parse("cron(7 23 ? */3 5#2 2030)")
    assert (s.minute, s.hour, s.day_of_month, s.year) == (7, 23, None, 2030)
    assert s.months == frozenset({1, 4, 7, 10})
    assert s.weekday == Weekday(day=3, nth=2)  # Thursday (datetime's 3), the second
    assert parse("cron(0 0 ? * SUN *)").weekday == Weekday(day=6)
    assert parse("cron(0 0 ? * 1L *)").weekday == Weekday(day=6, last=True)
