"""The actions a HyperPod training operator plan is made of (``logic.hpto_plan``). Each is a
fact about what to change; the operator applies them: the status first, the pod actions only
when that write succeeded, then the events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CreatePod:
    manifest: dict[str, Any]


@dataclass(frozen=True)
class DeletePod:
    name: str
    force: bool  # no grace period: the pod's node is gone or not Ready


@dataclass(frozen=True)
class LabelPod:
    name: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class Event:
    reason: str
    message: str
    warning: bool


PodAction = CreatePod | DeletePod | LabelPod


@dataclass(frozen=True)
class Plan:
    status: dict[str, Any] | None  # the whole new status; None when it stays as it is
    pods: tuple[PodAction, ...] = ()
    events: tuple[Event, ...] = ()
