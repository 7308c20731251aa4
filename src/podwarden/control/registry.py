"""How a service's operations are registered: every handler module of a service subpackage
declares ``OPERATIONS = {"CreateVpc": create_vpc, ...}`` and the subpackage's ``__init__``
exports ``OPERATIONS = merge(module_a.OPERATIONS, module_b.OPERATIONS, ...)``;
``podwarden.api.operations`` maps each service's name to it. Nothing else registers handlers."""

from __future__ import annotations

from collections.abc import Callable

from podwarden.control.context import Handler, Operations


def merge(*tables: Operations, wrap: Callable[[Handler], Handler] | None = None) -> Operations:
    """One service's operations from its modules' tables; an operation declared twice is a
    bug and fails at import. ``wrap`` decorates every handler (EC2's ``DryRun``)."""
    merged: dict[str, Handler] = {}
    for table in tables:
        for name, handler in table.items():
            if name in merged:
                raise ValueError(f"operation {name} is registered twice")
            merged[name] = wrap(handler) if wrap else handler
    return merged
