"""CloudWatch's error codes: what each domain error raised by ``podwarden.control.cloudwatch``
becomes on the wire (see ``podwarden.wire.error_table``).

Codes and HTTP statuses are the exception shapes of CloudWatch's model (botocore's
``cloudwatch``; its wire codes are its Query API's, the service being ``awsQueryCompatible``):
``ResourceNotFound`` 404, ``InvalidNextToken`` 400, ``InvalidFormat`` 400 ("Data was not
syntactically valid JSON."), ``InvalidParameterCombination`` 400, ``ValidationError`` 400 (the
shape ``ValidationException``), ``LimitExceeded`` 400, ``ConcurrentModificationException`` 429.
``wire.cbor_protocol`` puts each code in ``x-amzn-query-error`` and the shape's id in
``__type``.

That SetAlarmState answers ``ResourceNotFound`` for an alarm that does not exist is observed on
AWS (a public emulator's bug report, floci-io/floci#1582, quotes the AWS CLI against CloudWatch);
its message was not quoted, so the one here is ours, as are the messages of PutMetricAlarm's
checks beyond the model's constraints (``podwarden.control.cloudwatch.alarm_rules`` says which
are AWS's documented rules). A NextToken podwarden did not issue for this very request is
``InvalidNextToken``, the exception DescribeAlarms models.
"""

from __future__ import annotations

from podwarden.model.errors import Conflict, Invalid, InvalidToken, LimitExceeded, NotFound
from podwarden.wire.error_table import Code, Family


def _validation(message: str) -> Code:
    return Code("ValidationError", 400, message)


def _combination(message: str) -> Code:
    return Code("InvalidParameterCombination", 400, message)


CLOUDWATCH = Family(
    {
        "alarm-not-found": Code("ResourceNotFound", 404, "Alarm {AlarmName} does not exist."),
        "state-reason-data-not-json": Code(
            "InvalidFormat", 400, "StateReasonData is not syntactically valid JSON: {problem}"
        ),
        "names-with-prefix": _combination("AlarmNames and AlarmNamePrefix cannot both be set."),
        "family-with-filters": _combination(
            "{parameter} cannot be combined with any parameter but MaxRecords and NextToken."
        ),
        "metric-with-metrics": _combination(
            "Metrics cannot be combined with {parameters}: an alarm watches either one metric "
            "(MetricName, Namespace, Statistic or ExtendedStatistic, Period) or the Metrics "
            "array."
        ),
        "statistic-with-extended": _combination(
            "Statistic and ExtendedStatistic cannot both be set."
        ),
        "metric-incomplete": _validation(
            "An alarm on a single metric needs {missing}; an alarm on metric math needs Metrics."
        ),
        "parameter-missing": _validation("{parameter} must be set for a metric alarm."),
        "threshold-missing": _validation(
            "ComparisonOperator {operator} compares with a static threshold: set Threshold."
        ),
        "band-needs-threshold-metric": _validation(
            "ComparisonOperator {operator} compares with an anomaly detection band: set "
            "ThresholdMetricId."
        ),
        "datapoints-over-periods": _validation(
            "DatapointsToAlarm ({datapoints}) cannot be greater than EvaluationPeriods ({periods})."
        ),
        "period-not-allowed": _validation(
            "Period {period} is not valid: it must be 10, 20, 30 or a multiple of 60."
        ),
        "metrics-return-data": _validation(
            "Exactly one element of Metrics must have ReturnData set to true; found {count}."
        ),
        InvalidToken: Code("InvalidNextToken", 400, "The NextToken is not valid for this request."),
        NotFound: Code("ResourceNotFound", 404),
        Invalid: Code("ValidationError", 400),
        LimitExceeded: Code("LimitExceeded", 400),
        Conflict: Code("ConcurrentModificationException", 429),
    }
)
