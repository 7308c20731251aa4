"""What the HyperPod reconciler may read of the account's CloudWatch alarms: which of the alarms
an update's ``DeploymentConfig.AutoRollbackConfiguration`` names are firing.

AWS: "During the wait interval, SageMaker AI observes these metrics and if any exceed their
threshold, the corresponding alarm goes into the ALARM state, and SageMaker AI rolls back the
AMI update." podwarden keeps no metric data: an alarm is in ALARM when SetAlarmState put it
there (``podwarden.control.cloudwatch``). A name that is no alarm of the account and Region
is not firing. Like ``lifecycle_access`` and ``lifecycle_scripts``, this module is the
operator's window on one service's records, so the operator never imports the service's
handlers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from podwarden.model.aws import kinds
from podwarden.model.aws.scope import regional
from podwarden.store.sql import Store

FIRING: Final = "ALARM"


def firing_alarms(store: Store, account: str, region: str, names: Iterable[str]) -> frozenset[str]:
    """The names among ``names`` whose alarm, in ``account`` and ``region``, is in ALARM."""
    wanted = frozenset(names)
    if not wanted:
        return frozenset()
    scope = regional(account, region)
    if len(wanted) == 1:  # the usual case: one point read
        (name,) = wanted
        rec = store.resources.get(kinds.CLOUDWATCH_ALARM, scope, name)
        return wanted if rec is not None and rec.doc.get("StateValue") == FIRING else frozenset()
    return frozenset(
        rec.key
        for rec in store.resources.list(kinds.CLOUDWATCH_ALARM, scope)
        if rec.key in wanted and rec.doc.get("StateValue") == FIRING
    )
