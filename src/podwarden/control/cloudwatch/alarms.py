"""CloudWatch metric alarms: PutMetricAlarm, DescribeAlarms, SetAlarmState, DeleteAlarms.

An alarm is a ``cloudwatch:alarm`` record in the caller's regional scope, keyed by its name; the
document is the ``MetricAlarm`` output shape (timestamps as epoch seconds) plus the alarm's tags
under ``_podwarden``. podwarden stores no metric data and evaluates nothing: an alarm is
``INSUFFICIENT_DATA`` from its creation, as on AWS, until SetAlarmState sets it, which is how a
user or a test fires an alarm (AWS documents SetAlarmState as the way to test alarms). HyperPod's
rolling software updates read the states through ``podwarden.control.alarm_states``.

What AWS documents and podwarden does (docs/sources.md, "CloudWatch alarms"):

- PutMetricAlarm creates the alarm with ``StateValue`` ``INSUFFICIENT_DATA``; on an existing
  alarm it "completely overwrites the previous configuration" and leaves the state alone, and
  its ``Tags`` are ignored. Its parameters are checked by ``alarm_rules``.
- DescribeAlarms returns alarms sorted by name, filtered by ``AlarmNames`` or
  ``AlarmNamePrefix`` (not both: ``InvalidParameterCombination``), ``StateValue`` and
  ``ActionPrefix``, ``MaxRecords`` (default 50) at a time. Only metric alarms exist here, so
  ``CompositeAlarms`` is always empty, and so are the answers for ``ChildrenOfAlarmName`` and
  ``ParentsOfAlarmName`` (which take no other filter, as on AWS).
- SetAlarmState needs an existing alarm (``ResourceNotFound``) and a ``StateReasonData`` that is
  JSON (``InvalidFormat``); ``StateUpdatedTimestamp`` moves on every call,
  ``StateTransitionedTimestamp`` only when the value changes.
- DeleteAlarms deletes the named alarms that exist: "If you specify any incorrect alarm names,
  the alarms you specify with correct names are still deleted", and nothing is reported.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

from podwarden.control import pagination
from podwarden.control.cloudwatch import alarm_rules
from podwarden.control.context import Context, Operations
from podwarden.model.aws import kinds
from podwarden.model.aws.arns import PARTITION, Arn
from podwarden.model.aws.private import KEY, private
from podwarden.model.errors import Invalid, NotFound
from podwarden.store.resources import Duplicate, Record

INITIAL_STATE: Final = "INSUFFICIENT_DATA"
INITIAL_REASON: Final = "Unchecked: Initial alarm creation"
DEFAULT_PAGE: Final = 50
TIMESTAMPS: Final = (
    "AlarmConfigurationUpdatedTimestamp",
    "StateUpdatedTimestamp",
    "StateTransitionedTimestamp",
)
# what PutMetricAlarm stores as the alarm's configuration (the rest is state or identity)
CONFIGURATION: Final = (
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
    "EvaluationInterval",
)
STATE: Final = ("StateValue", "StateReason", "StateReasonData", *TIMESTAMPS[1:])
FAMILY_FILTERS: Final = ("ChildrenOfAlarmName", "ParentsOfAlarmName")
_ACTION_LISTS: Final = ("OKActions", "AlarmActions", "InsufficientDataActions")


def alarm_arn(ctx: Context, name: str) -> str:
    return str(Arn(PARTITION, "cloudwatch", ctx.region, ctx.account, f"alarm:{name}"))


def public(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored alarm as the ``MetricAlarm`` shape: no ``_podwarden``, timestamps as aware
    datetimes."""
    out = {k: v for k, v in doc.items() if k != KEY}
    for name in TIMESTAMPS:
        if name in out:
            out[name] = datetime.fromtimestamp(out[name], UTC)
    return out


def _configuration(params: dict[str, Any]) -> dict[str, Any]:
    doc = {name: params[name] for name in CONFIGURATION if params.get(name) is not None}
    doc.setdefault("ActionsEnabled", True)
    for name in _ACTION_LISTS:
        doc.setdefault(name, [])
    if "Metrics" not in doc:
        doc.setdefault("Dimensions", [])
    return doc


def put_metric_alarm(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    alarm_rules.check(params)
    name, now = params["AlarmName"], ctx.now()
    config = _configuration(params)
    found = ctx.store.resources.get(kinds.CLOUDWATCH_ALARM, ctx.scope, name)
    if found is not None:  # an update: the state and the tags stay
        kept = {k: found.doc[k] for k in (*STATE, KEY) if k in found.doc}
        found.doc = _document(ctx, name, config, now) | kept
        ctx.store.resources.save(found)  # Conflict: ConcurrentModificationException
        return {}
    doc = _document(ctx, name, config, now) | {
        "StateValue": INITIAL_STATE,
        "StateReason": INITIAL_REASON,
        "StateUpdatedTimestamp": now,
        "StateTransitionedTimestamp": now,
    }
    private(doc)["tags"] = list(params.get("Tags") or [])
    rec = Record(kinds.CLOUDWATCH_ALARM, ctx.scope, name, doc, created=now)
    try:
        ctx.store.resources.create(rec)
    except Duplicate:  # created meanwhile by another request: put again, as an update
        return put_metric_alarm(ctx, params)
    return {}


def _document(ctx: Context, name: str, config: dict[str, Any], now: float) -> dict[str, Any]:
    return {
        "AlarmName": name,
        "AlarmArn": alarm_arn(ctx, name),
        "AlarmConfigurationUpdatedTimestamp": now,
        **config,
    }


def describe_alarms(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    _check_filters(params)
    types = params.get("AlarmTypes")
    out: dict[str, Any] = {"MetricAlarms": [], "CompositeAlarms": []}
    if types is not None and "LogAlarm" in types:
        out["LogAlarms"] = []
    alarms: list[dict[str, Any]] = []
    family = any(params.get(name) is not None for name in FAMILY_FILTERS)
    if not family and (types is None or "MetricAlarm" in types):  # no composite alarms here
        records = ctx.store.resources.list(kinds.CLOUDWATCH_ALARM, ctx.scope)
        alarms = sorted((r.doc for r in records if _matches(r.doc, params)), key=_name)
    query = {k: v for k, v in params.items() if k not in ("MaxRecords", "NextToken")}
    size = int(params.get("MaxRecords") or DEFAULT_PAGE)
    chunk, token = pagination.window(alarms, params.get("NextToken"), size, query)
    out["MetricAlarms"] = [public(doc) for doc in chunk]
    if token:
        out["NextToken"] = token
    return out


def _name(doc: dict[str, Any]) -> str:
    return str(doc["AlarmName"])


def _check_filters(params: dict[str, Any]) -> None:
    if params.get("AlarmNames") is not None and params.get("AlarmNamePrefix") is not None:
        raise Invalid(reason="names-with-prefix")
    for name in FAMILY_FILTERS:
        if params.get(name) is None:
            continue
        others = set(params) - {name, "MaxRecords", "NextToken"}
        if any(params[other] is not None for other in others):
            raise Invalid(reason="family-with-filters", parameter=name)


def _matches(doc: dict[str, Any], params: dict[str, Any]) -> bool:
    names, prefix = params.get("AlarmNames"), params.get("AlarmNamePrefix")
    state, action = params.get("StateValue"), params.get("ActionPrefix")
    if names is not None and doc["AlarmName"] not in names:
        return False
    if prefix is not None and not doc["AlarmName"].startswith(prefix):
        return False
    if state is not None and doc["StateValue"] != state:
        return False
    actions = (arn for name in _ACTION_LISTS for arn in doc.get(name, ()))
    return action is None or any(arn.startswith(action) for arn in actions)


def set_alarm_state(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name, value, now = params["AlarmName"], params["StateValue"], ctx.now()
    data = params.get("StateReasonData")
    if data is not None:
        try:
            json.loads(data)
        except ValueError as exc:
            raise Invalid(reason="state-reason-data-not-json", problem=str(exc)) from None
    found = ctx.store.resources.get(kinds.CLOUDWATCH_ALARM, ctx.scope, name)
    if found is None:
        raise NotFound(reason="alarm-not-found", AlarmName=name)
    doc = found.doc
    if doc["StateValue"] != value:
        doc["StateTransitionedTimestamp"] = now
    doc.update(StateValue=value, StateReason=params["StateReason"], StateUpdatedTimestamp=now)
    if data is None:
        doc.pop("StateReasonData", None)
    else:
        doc["StateReasonData"] = data
    ctx.store.resources.save(found)  # Conflict: ConcurrentModificationException
    return {}


def delete_alarms(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    for name in dict.fromkeys(params["AlarmNames"]):
        ctx.store.resources.delete(kinds.CLOUDWATCH_ALARM, ctx.scope, name)
    return {}


OPERATIONS: Operations = {
    "PutMetricAlarm": put_metric_alarm,
    "DescribeAlarms": describe_alarms,
    "SetAlarmState": set_alarm_state,
    "DeleteAlarms": delete_alarms,
}
