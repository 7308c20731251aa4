"""A change of desired state, as a handler announces it to the reconciler that owns the record.

Handlers write desired state and then ``ctx.wake(kind, key)``; the composition root routes the
``Change`` to the reconciler watching ``kind``, which queues ``(scope, key)`` and re-reads it
(controller-runtime's reconcile request: a key, never the change itself).
"""

from __future__ import annotations

from typing import NamedTuple

# SageMaker HyperPod clusters live in their own tables (``podwarden.store.sql``), not as records;
# this kind names them for wake-ups (key: the cluster id)
SAGEMAKER_CLUSTER = "sagemaker:cluster"


class Change(NamedTuple):
    kind: str  # a record kind (``podwarden.model.aws.kinds``) or SAGEMAKER_CLUSTER
    scope: str
    key: str
