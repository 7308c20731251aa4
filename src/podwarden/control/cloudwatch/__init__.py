"""CloudWatch of the local AWS account (Smithy RPC v2 CBOR): metric alarms only.

``alarms`` stores them (PutMetricAlarm, DescribeAlarms, SetAlarmState, DeleteAlarms) and
``alarm_rules`` checks PutMetricAlarm's parameters. There is no metric data and no evaluation:
SetAlarmState is what moves an alarm. Errors are domain errors with a reason, worded on the wire
by ``podwarden.wire.errors_cloudwatch``. HyperPod reads alarm states through
``podwarden.control.alarm_states``, not through this package.
"""

from podwarden.control.cloudwatch import alarms
from podwarden.control.registry import merge

__all__ = ["OPERATIONS"]

OPERATIONS = merge(alarms.OPERATIONS)
