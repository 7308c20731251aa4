"""The simulated EC2 capacity of a running server: ``/_podwarden/capacity`` (podwarden's own
route, not an AWS API; ``podwarden capacity`` is its client). podwarden's own routes live under
``/_podwarden/``, which no S3 path-style request can address: bucket names have no ``_``.

- ``GET`` answers ``{"available": {type: count}, "in_use": {type: count}, "retry": {...}}``:
  the limits (a type not listed is unlimited), the instances every cluster holds, the backoff
  of Continuous provisioning's retries.
- ``PUT`` takes ``{"available": {type: count or null}}`` (null lifts a type's limit), checks each
  type against the instance catalog, applies the changes to the limits the cluster reconciler
  reads on its next launch decision (refused launches are retried on their own schedule, as
  HyperPod's are) and answers as ``GET``. Changes last until the server stops (the flags of
  ``podwarden serve`` say what it starts with).

Loopback only: a request from another address is refused (403), even when ``--host`` widens
the listener; there is no SigV4, as for the EKS token webhook. Errors are ``{"message": ...}``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from podwarden.control.context import InstanceTypes
from podwarden.policy.capacity import SimulatedCapacity
from podwarden.store.sql import Store
from podwarden.store.usage import instances_by_type
from podwarden.wire.asgi import Receive, Scope, Send, is_loopback, read_body, reply_json

PATH = "/_podwarden/capacity"
MAX_BODY = 64 * 1024


class CapacityAdmin:
    """The ASGI route at :data:`PATH` (``api.app`` dispatches to it)."""

    def __init__(
        self, capacity: SimulatedCapacity | None, store: Store, types: InstanceTypes
    ) -> None:
        self.capacity = capacity
        self.store = store
        self.types = types

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, doc = await self._answer(scope, receive)
        await reply_json(send, status, doc)

    async def _answer(self, scope: Scope, receive: Receive) -> tuple[int, dict[str, Any]]:
        if not is_loopback(scope):
            return 403, {"message": f"{PATH} answers loopback clients only"}
        if self.capacity is None:
            return 404, {"message": "this server simulates no EC2 capacity"}
        if scope["method"] == "GET":
            return 200, self.describe()
        if scope["method"] != "PUT":
            return 405, {"message": "expected GET or PUT"}
        body = await read_body(receive, MAX_BODY)
        changes, problem = self._changes(body)
        if problem:
            return 400, {"message": problem}
        self.capacity.set_limits(changes)
        return 200, self.describe()

    def describe(self) -> dict[str, Any]:
        assert self.capacity is not None
        return {
            "available": dict(sorted(self.capacity.available.items())),
            "in_use": dict(sorted(instances_by_type(self.store).items())),
            "retry": asdict(self.capacity.retry),
        }

    def _changes(self, body: bytes | None) -> tuple[dict[str, int | None], str]:
        """The ``type -> count or None`` changes of a PUT body, or what is wrong with it."""
        try:
            doc = json.loads(body) if body is not None else None
        except ValueError:
            doc = None
        available = doc.get("available") if isinstance(doc, dict) else None
        if not isinstance(available, dict) or not available:
            return {}, 'expected {"available": {"<instance type>": <count or null>, ...}}'
        changes: dict[str, int | None] = {}
        for name, count in available.items():
            trouble = self.types.problem(name)
            if trouble:
                return {}, trouble
            if count is not None and (
                isinstance(count, bool) or not isinstance(count, int) or count < 0
            ):
                return {}, f"{name}: the count must be a non-negative integer or null"
            changes[name] = count
        return changes, ""
