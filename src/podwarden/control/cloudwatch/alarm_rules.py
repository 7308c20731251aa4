"""What PutMetricAlarm checks beyond the model's constraints (which ``wire.validate`` enforces):
the rules AWS documents for a metric alarm's parameters, one row each, checked in order; the
first broken one is the error (a domain error with a reason; ``wire.errors_cloudwatch`` words it
as CloudWatch's ``InvalidParameterCombination`` or ``ValidationError``).

AWS's rules (the PutMetricAlarm API reference, member by member):

- an alarm watches either one metric (``MetricName``, ``Namespace``, ``Statistic`` or
  ``ExtendedStatistic``, ``Period``, ``Dimensions``, ``Unit``) or ``Metrics``, never both: "If
  you specify the Metrics parameter, you cannot specify MetricName, Dimensions, Period,
  Namespace, Statistic, or ExtendedStatistic";
- ``Statistic`` and ``ExtendedStatistic``: "You must specify either Statistic or
  ExtendedStatistic, but not both";
- ``EvaluationPeriods`` and ``ComparisonOperator`` are required of a metric alarm (the API
  reference marks them "Required: No" only because PromQL alarms omit them; podwarden stores no
  PromQL alarms);
- ``Threshold`` is what the four static comparisons compare with; the three band comparisons
  (``LessThanLowerOrGreaterThanUpperThreshold``...) are "used only for alarms based on anomaly
  detection models" and need ``ThresholdMetricId``;
- ``DatapointsToAlarm``: "the number of datapoints that must be breaching to trigger the alarm",
  out of ``EvaluationPeriods`` ("M out of N");
- ``Period``: "Valid values are 10, 20, 30, and any multiple of 60";
- ``Metrics``: "exactly one of the MetricDataQuery objects in the array ... must have ReturnData
  set to true" (a missing ReturnData counts as true, its default).

The messages are podwarden's (AWS's are not published).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from podwarden.model.errors import Invalid

Params = Mapping[str, Any]

SINGLE_METRIC: Final = (
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
)
STATIC_COMPARISONS: Final = frozenset(
    {
        "GreaterThanOrEqualToThreshold",
        "GreaterThanThreshold",
        "LessThanThreshold",
        "LessThanOrEqualToThreshold",
    }
)
HIGH_RESOLUTION_PERIODS: Final = frozenset({10, 20, 30})


def _metric_with_metrics(p: Params) -> Invalid | None:
    mixed = [name for name in SINGLE_METRIC if p.get(name) is not None]
    if p.get("Metrics") is not None and mixed:
        return Invalid(reason="metric-with-metrics", parameters=", ".join(mixed))
    return None


def _statistic_with_extended(p: Params) -> Invalid | None:
    both = p.get("Statistic") is not None and p.get("ExtendedStatistic") is not None
    return Invalid(reason="statistic-with-extended") if both else None


def _metric_incomplete(p: Params) -> Invalid | None:
    if p.get("Metrics") is not None:
        return None
    missing = [name for name in ("MetricName", "Namespace", "Period") if p.get(name) is None]
    if p.get("Statistic") is None and p.get("ExtendedStatistic") is None:
        missing.append("Statistic or ExtendedStatistic")
    return Invalid(reason="metric-incomplete", missing=", ".join(missing)) if missing else None


def _required(name: str) -> Callable[[Params], Invalid | None]:
    def check(p: Params) -> Invalid | None:
        return Invalid(reason="parameter-missing", parameter=name) if p.get(name) is None else None

    return check


def _threshold(p: Params) -> Invalid | None:
    operator = p["ComparisonOperator"]
    if operator in STATIC_COMPARISONS:
        if p.get("Threshold") is None and p.get("ThresholdMetricId") is None:
            return Invalid(reason="threshold-missing", operator=operator)
    elif p.get("ThresholdMetricId") is None:
        return Invalid(reason="band-needs-threshold-metric", operator=operator)
    return None


def _datapoints(p: Params) -> Invalid | None:
    datapoints, periods = p.get("DatapointsToAlarm"), p["EvaluationPeriods"]
    if datapoints is not None and datapoints > periods:
        return Invalid(reason="datapoints-over-periods", datapoints=datapoints, periods=periods)
    return None


def _period(p: Params) -> Invalid | None:
    period = p.get("Period")
    if period is None or period in HIGH_RESOLUTION_PERIODS or period % 60 == 0:
        return None
    return Invalid(reason="period-not-allowed", period=period)


def _metrics_return_data(p: Params) -> Invalid | None:
    metrics = p.get("Metrics")
    if metrics is None:
        return None
    count = sum(1 for query in metrics if query.get("ReturnData", True))
    return None if count == 1 else Invalid(reason="metrics-return-data", count=count)


# in order: the first broken rule is the answer (later rules may rely on earlier ones)
RULES: Final[tuple[Callable[[Params], Invalid | None], ...]] = (
    _metric_with_metrics,
    _statistic_with_extended,
    _metric_incomplete,
    _required("EvaluationPeriods"),
    _required("ComparisonOperator"),
    _threshold,
    _datapoints,
    _period,
    _metrics_return_data,
)


def check(params: Params) -> None:
    """Raise the first rule a PutMetricAlarm request breaks."""
    for rule in RULES:
        problem = rule(params)
        if problem is not None:
            raise problem
