"""ScheduledUpdateConfig's ``ScheduleExpression``: HyperPod's subset of AWS's cron syntax, and
when an expression next falls due.

``cron(Minutes Hours Day-of-month Month Day-of-week Year)``, six fields separated by single
spaces, times in UTC. HyperPod accepts far less than EventBridge's cron: its published pattern
(AWS::SageMaker::Cluster ScheduledUpdateConfig, docs/sources.md, "Platform software updates")
allows exactly:

- Minutes: one value 0-59; Hours: one value 0-23 (no lists, ranges, ``*`` or steps);
- Day-of-month: one value 1-31, or ``?``;
- Month: one value 1-12, ``*``, or ``*/N`` (every N months from January, N 1-12);
- Day-of-week: ``SUN``-``SAT`` or 1-7 (1 is Sunday), ``?``, ``L`` (the last day of the week:
  Saturday), ``N#K`` (the K-th weekday N of the month, K 1-5) or ``NL`` (the last weekday N
  of the month);
- Year: one value 2020-2099, or ``*``.

As in EventBridge, one of Day-of-month and Day-of-week is ``?`` and the other is not. The
pattern also lets Minutes, Month and Year be empty without saying what that means; podwarden
refuses empty fields. A day that a month lacks (the 31st of April, a fifth Monday) is skipped,
as EventBridge does. Pure: :func:`parse` raises :class:`ScheduleError` with the reason, and
:func:`next_due` answers the first time after a given one.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

# how far ahead next_due looks for an expression without a year: every combination of
# month, day and weekday recurs within 28 years, and the 29th of February within 8
HORIZON_YEARS = 28
LAST_YEAR = 2099
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # 1-7, as AWS numbers them
_MINUTE = re.compile(r"[0-5][0-9]|[0-9]")
_HOUR = re.compile(r"[01][0-9]|2[0-3]|[0-9]")
_DAY_OF_MONTH = re.compile(r"[1-9]|0[1-9]|[12][0-9]|3[01]|\?")
_MONTH = re.compile(r"(?P<one>[1-9]|0[1-9]|1[0-2])|\*|\*/(?P<step>[1-9]|1[0-2])")
_DAY_OF_WEEK = re.compile(
    r"(?P<name>SUN|MON|TUE|WED|THU|FRI|SAT)|(?P<num>[1-7])|\?|L"
    r"|(?P<nth_day>[1-7])#(?P<nth>[1-5])|(?P<last_day>[1-7])L"
)
_YEAR = re.compile(r"20[2-9][0-9]|\*")
_FIELDS = ("Minutes", "Hours", "Day-of-month", "Month", "Day-of-week", "Year")
_ALLOWED = {
    "Minutes": "one value 0-59",
    "Hours": "one value 0-23",
    "Day-of-month": "one value 1-31 or ?",
    "Month": "one value 1-12, * or */N (N 1-12)",
    "Day-of-week": "SUN-SAT, 1-7, ?, L, N#K (K 1-5) or NL",
    "Year": "one value 2020-2099 or *",
}
_PATTERNS = dict(
    zip(_FIELDS, (_MINUTE, _HOUR, _DAY_OF_MONTH, _MONTH, _DAY_OF_WEEK, _YEAR), strict=True)
)


class ScheduleError(ValueError):
    """A ScheduleExpression HyperPod would not accept; the message says which field and why."""


@dataclass(frozen=True)
class Weekday:
    """A Day-of-week value: ``day`` 0-6 (Monday 0, as ``datetime.weekday``); ``nth`` the K of
    ``N#K``; ``last``: ``NL`` (the last such day of the month)."""

    day: int
    nth: int = 0
    last: bool = False


@dataclass(frozen=True)
class Schedule:
    minute: int
    hour: int
    day_of_month: int | None  # None: "?"
    months: frozenset[int]
    weekday: Weekday | None  # None: "?"
    year: int | None  # None: "*"


def _python_weekday(aws_day: int) -> int:
    """AWS's 1 (Sunday) ... 7 (Saturday) -> datetime's 0 (Monday) ... 6 (Sunday)."""
    return (aws_day + 5) % 7


def _month(m: re.Match[str]) -> frozenset[int]:
    if m["one"]:
        return frozenset({int(m["one"])})
    step = int(m["step"] or 1)
    return frozenset(range(1, 13, step))


def _weekday(m: re.Match[str]) -> Weekday | None:
    text = m[0]
    if text == "?":
        return None
    if text == "L":
        return Weekday(_python_weekday(7))
    if m["name"]:
        return Weekday(_python_weekday(_DAYS.index(m["name"]) + 1))
    if m["num"]:
        return Weekday(_python_weekday(int(m["num"])))
    if m["nth_day"]:
        return Weekday(_python_weekday(int(m["nth_day"])), nth=int(m["nth"]))
    return Weekday(_python_weekday(int(m["last_day"])), last=True)


def parse(expression: str) -> Schedule:
    """The schedule ``expression`` describes; ScheduleError naming the first field at fault."""
    if not (expression.startswith("cron(") and expression.endswith(")")):
        raise ScheduleError(
            f"ScheduleExpression {expression!r} must be cron(Minutes Hours Day-of-month Month "
            "Day-of-week Year)."
        )
    fields = expression[len("cron(") : -1].split(" ")
    if len(fields) != len(_FIELDS):
        raise ScheduleError(
            f"ScheduleExpression {expression!r} must have 6 fields separated by single spaces "
            f"(Minutes Hours Day-of-month Month Day-of-week Year); it has {len(fields)}."
        )
    found: dict[str, re.Match[str]] = {}
    for name, text in zip(_FIELDS, fields, strict=True):
        m = _PATTERNS[name].fullmatch(text)
        if m is None:
            raise ScheduleError(
                f"ScheduleExpression {expression!r}: {name} {text!r} is not valid; HyperPod "
                f"accepts {_ALLOWED[name]}."
            )
        found[name] = m
    day, weekday = found["Day-of-month"][0], found["Day-of-week"][0]
    if (day == "?") == (weekday == "?"):
        raise ScheduleError(
            f"ScheduleExpression {expression!r}: exactly one of Day-of-month and Day-of-week "
            "must be ?."
        )
    year = found["Year"][0]
    return Schedule(
        minute=int(found["Minutes"][0]),
        hour=int(found["Hours"][0]),
        day_of_month=None if day == "?" else int(day),
        months=_month(found["Month"]),
        weekday=_weekday(found["Day-of-week"]),
        year=None if year == "*" else int(year),
    )


def _days_in(schedule: Schedule, year: int, month: int) -> list[int]:
    """The days of ``month`` the schedule runs on, in order."""
    length = calendar.monthrange(year, month)[1]
    if schedule.day_of_month is not None:
        return [schedule.day_of_month] if schedule.day_of_month <= length else []
    w = schedule.weekday
    assert w is not None  # parse guarantees one of the two
    days = [d for d in range(1, length + 1) if dt.date(year, month, d).weekday() == w.day]
    if w.last:
        return days[-1:]
    if w.nth:
        return days[w.nth - 1 : w.nth]
    return days


def next_after(schedule: Schedule, after: dt.datetime) -> dt.datetime | None:
    """The first time the schedule runs strictly after ``after`` (aware, UTC), or None when it
    never runs again (its year is past, or no month it names has the day it asks for)."""
    first = after.year if schedule.year is None else schedule.year
    last = min(LAST_YEAR, first + HORIZON_YEARS) if schedule.year is None else schedule.year
    for year in range(max(first, after.year), last + 1):
        for month in sorted(schedule.months):
            for day in _days_in(schedule, year, month):
                at = dt.datetime(year, month, day, schedule.hour, schedule.minute, tzinfo=dt.UTC)
                if at > after:
                    return at
    return None


def next_due(expression: str, after_epoch: float) -> float | None:
    """When ``expression`` next falls due strictly after ``after_epoch`` (epoch seconds), or
    None when it never does. ScheduleError when the expression is not valid."""
    at = next_after(parse(expression), dt.datetime.fromtimestamp(after_epoch, dt.UTC))
    return None if at is None else at.timestamp()
