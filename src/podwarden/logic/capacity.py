"""Launches within the simulated EC2 capacity, and Continuous provisioning's retries of the
rest: pure (docs/sources.md, "Continuous provisioning").

A pass of the cluster planner asks :func:`launch_step` how many of the instances a group lacks
it may launch now. The :class:`CapacityPool` says how many instances of each type may still
be launched (the limit, less what every cluster holds, less what this pass already granted).
What it refuses is a shortfall:

- NodeProvisioningMode ``Continuous``: the group launches what it got and keeps the shortfall
  on its record (``InstanceGroup.capacity_*``) with the time of the next attempt, an exponential
  backoff (``policy/tables/capacity.yaml``). Passes before that time launch nothing and record
  nothing; each attempt that is refused records one ``Warn`` event, and an attempt that gets
  capacity after refusals an ``Info`` event. A group short only for capacity counts as done
  (``InService`` with the capacity it got) once it has its MinInstanceCount.
- Otherwise: all or nothing, as HyperPod was before continuous provisioning: the cluster fails
  with AWS's insufficient-capacity message and nothing of the pass is launched.

Where AWS is silent, podwarden chooses: the backoff (``capacity.yaml``) and the event texts; a
growing target (UpdateCluster, BatchAddClusterNodes) is new demand, tried at once whatever the
backoff says, and a target that falls shrinks the shortfall; a capacity that is raised is found
at the next attempt, not before; NodeLogicalIds BatchAddClusterNodes promised to instances still
short stay promised; replacements (BatchReplaceClusterNodes, automatic recovery) take no
capacity; a failed cluster keeps the instances earlier passes launched, as after other failures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from podwarden.logic.cluster_actions import (
    Action,
    CapacityFailed,
    CapacityNotice,
    CapacityRetry,
)
from podwarden.model.cluster import GroupStatus, InstanceGroup
from podwarden.policy.capacity import RetryBackoff, default_retry

# DescribeCluster's FailureMessage when HyperPod cannot get the capacity (awslabs/
# awsome-distributed-ai issue 204; docs/sources.md, "Continuous provisioning")
INSUFFICIENT_CAPACITY = (
    "We currently do not have sufficient capacity for the requested instance type(s). "
    "Please try again."
)


class CapacityPool:
    """Instances of each type that may be launched now. ``available`` holds the limits (a type
    not in it is unlimited); ``in_use`` counts the instances every cluster holds, read once, on
    the first grant of a limited type (a pass that launches nothing limited never reads it)."""

    def __init__(
        self, available: Mapping[str, int], in_use: Callable[[], Mapping[str, int]]
    ) -> None:
        self._available = dict(available)
        self._in_use = in_use
        self._left: dict[str, int] | None = None

    def grant(self, instance_type: str, wanted: int) -> int:
        """How many of ``wanted`` instances of ``instance_type`` may launch; they are taken."""
        if instance_type not in self._available:
            return wanted
        if self._left is None:
            used = self._in_use()
            self._left = {t: max(0, n - used.get(t, 0)) for t, n in self._available.items()}
        granted = max(0, min(wanted, self._left[instance_type]))
        self._left[instance_type] -= granted
        return granted


def unlimited() -> CapacityPool:
    return CapacityPool({}, dict)


@dataclass(frozen=True)
class Provisioning:
    """What a plan launches within: the pool, the backoff of refused launches (each delay
    multiplied by ``time_scale``, as the other simulated durations), and whether the cluster
    is in Continuous mode (the planner fills that in)."""

    pool: CapacityPool = field(default_factory=unlimited)
    retry: RetryBackoff = field(default_factory=default_retry)
    time_scale: float = 1.0
    continuous: bool = False

    def delay(self, attempt: int) -> float:
        """Seconds from the ``attempt``-th refusal (1, 2, ...) to the next attempt."""
        r = self.retry
        base = min(r.max_seconds, r.initial_seconds * r.multiplier ** max(0, attempt - 1))
        return base * self.time_scale


@dataclass(frozen=True)
class LaunchStep:
    """What a group does about the instances it lacks this pass: ``launch`` of them now,
    ``short`` wait for capacity, the record and event ``actions`` (before the launch), a later
    pass in ``requeue`` seconds (the next attempt), and whether the group waits for capacity
    with nothing to launch (``waiting``: it counts as done for its status)."""

    launch: int = 0
    short: int = 0
    actions: tuple[Action, ...] = ()
    requeue: float | None = None
    waiting: bool = False


def launch_step(
    group: InstanceGroup,
    current: int,
    wanted: int,
    now: float,
    provisioning: Provisioning,
    *,
    continuous: bool,
) -> LaunchStep:
    """The step of a group with ``current`` live instances that lacks ``wanted`` more (none or
    fewer: the target is met, and a shortfall on record is forgotten)."""
    on_record = group.capacity_shortfall > 0 or group.capacity_attempts > 0
    if wanted <= 0:
        return LaunchStep(actions=(CapacityRetry(group.name),) if on_record else ())
    if continuous and 0 < wanted <= group.capacity_shortfall and now < group.capacity_retry_at:
        shrunk = wanted < group.capacity_shortfall
        keep = CapacityRetry(group.name, wanted, group.capacity_attempts, group.capacity_retry_at)
        return LaunchStep(
            short=wanted,
            actions=(keep,) if shrunk else (),
            requeue=group.capacity_retry_at - now,
            waiting=_may_wait(group, current),
        )
    granted = provisioning.pool.grant(group.instance_type, wanted)
    short = wanted - granted
    if short and not continuous:
        return LaunchStep(actions=(CapacityFailed(INSUFFICIENT_CAPACITY),))
    notices: list[Action] = []
    if granted and group.capacity_attempts:
        notices.append(_arrived(group, current, granted, short))
    if not short:
        forget = (CapacityRetry(group.name),) if on_record else ()
        return LaunchStep(granted, actions=(*notices, *forget))
    attempt = group.capacity_attempts + 1
    delay = provisioning.delay(attempt)
    notices.append(
        _refused(group, current, wanted=wanted, granted=granted, attempt=attempt, delay=delay)
    )
    retry = CapacityRetry(group.name, short, attempt, now + delay)
    return LaunchStep(
        granted,
        short,
        (*notices, retry),
        requeue=delay,
        waiting=not granted and _may_wait(group, current),
    )


def _may_wait(group: InstanceGroup, current: int) -> bool:
    """A group short for capacity is done once it has its MinInstanceCount ("the minimum number
    of instances required for an instance group to become InService"; only the first time)."""
    least = int(group.spec.get("MinInstanceCount", 0))
    return group.status == GroupStatus.IN_SERVICE or current >= least


def _scaling(group: InstanceGroup, current: int, failure: str = "") -> dict[str, object]:
    """EventMetadata's InstanceGroupScaling (botocore's InstanceGroupScalingMetadata)."""
    out: dict[str, object] = {
        "InstanceCount": current,
        "TargetCount": group.target_count,
        "MinCount": int(group.spec.get("MinInstanceCount", 0)),
    }
    if failure:
        out["FailureMessage"] = failure
    return out


def _seconds(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _refused(
    group: InstanceGroup, current: int, *, wanted: int, granted: int, attempt: int, delay: float
) -> CapacityNotice:
    text = (
        f"Insufficient capacity for {group.instance_type}: launched {granted} of the {wanted} "
        f"instance(s) instance group {group.name} needs; retrying the other {wanted - granted} "
        f"in {_seconds(delay)} s (attempt {attempt})"
    )
    return CapacityNotice(group.name, "Warn", text, _scaling(group, current, INSUFFICIENT_CAPACITY))


def _arrived(group: InstanceGroup, current: int, granted: int, short: int) -> CapacityNotice:
    text = (
        f"Capacity for {group.instance_type} is available: launching {granted} instance(s) for "
        f"instance group {group.name} after {group.capacity_attempts} refused attempt(s)"
    )
    if short:
        text += f"; {short} still short"
    return CapacityNotice(group.name, "Info", text, _scaling(group, current))
