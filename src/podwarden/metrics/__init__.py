"""podwarden's Prometheus metrics (docs/metrics.md lists them; docs/sources.md, "Metrics", says
where a name comes from).

Each server has its own :class:`Metrics` (its own ``CollectorRegistry``), so that several servers
in one process (the tests) never mix their numbers. The code that records an event (a reconcile
pass, a fault, a repair, a job restart) runs in that server's tasks, which all descend from its
start-up: :func:`bind` makes the server's metrics the *current* ones of that context
(a ``ContextVar``, which every task created later inherits), and a hook is one line,
``metrics.current().fault(...)``. Outside a bound context (a unit test of a reconciler)
:func:`current` answers a metrics object nobody scrapes.

The API records its requests through the metrics it was built with (``Services.metrics``);
``/_podwarden/metrics`` (:mod:`podwarden.metrics.route`) serves them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from podwarden.metrics.instruments import Metrics

__all__ = ["Metrics", "bind", "bound", "current"]

_UNBOUND = Metrics()
_CURRENT: ContextVar[Metrics] = ContextVar("podwarden_metrics", default=_UNBOUND)


def current() -> Metrics:
    """The metrics of the server whose task is running (an unscraped one outside any server)."""
    return _CURRENT.get()


def bind(metrics: Metrics) -> None:
    """Make ``metrics`` current in this context and in every task created from it from now on
    (a server's start-up, before it starts its reconcilers, agents and services)."""
    _CURRENT.set(metrics)


@contextlib.contextmanager
def bound(metrics: Metrics) -> Iterator[Metrics]:
    """``metrics`` current inside the block (tests)."""
    token = _CURRENT.set(metrics)
    try:
        yield metrics
    finally:
        _CURRENT.reset(token)
