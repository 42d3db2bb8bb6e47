"""Restart services with a rolling deployment, and judge each rollout by our own deployment id.

Assumptions (the top complaint against every peer tool): the stock `services_stable` waiter ignores
`rolloutState`, so a circuit-breaker rollback looks "stable" and is reported as success. Here each
service's new deployment id is kept and judged on its own: gone from `deployments` means rolled back
(failure); `rolloutState == FAILED` is failure; COMPLETED is success; where ECS reports no rolloutState,
being the sole deployment with running == desired is success. All services are polled in one loop, one
`describe_services` call per 10 services per poll.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .clock import Clock, poll
from .ecs import Cluster, Deployment, Event, Service, Task
from .errors import DeployError

Say = Callable[[str], None]

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
ROLLED_BACK = "ROLLED_BACK"
TIMED_OUT = "TIMED_OUT"
NOT_STARTED = "NOT_STARTED"


@dataclass
class Rollout:
    """One service's rollout as we follow it."""

    service: str
    deployment_id: str | None
    started_at: datetime
    state: str = IN_PROGRESS
    running: int = 0
    desired: int = 0
    reason: str | None = None
    events: list[Event] = field(default_factory=list)
    stopped_tasks: list[Task] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.state != IN_PROGRESS

    @property
    def ok(self) -> bool:
        return self.state == COMPLETED

    def line(self) -> str:
        text = f"{self.service}: {self.state} {self.running}/{self.desired} running"
        return text + (f" - {self.reason}" if self.reason else "")


def judge(deployment: Deployment | None, service: Service) -> tuple[str, str | None]:
    """The state of our deployment: (IN_PROGRESS | COMPLETED | FAILED | ROLLED_BACK, reason)."""
    if deployment is None:
        primary = service.primary
        now_on = f" (now on {primary.task_definition.rsplit('/', 1)[-1]})" if primary else ""
        return ROLLED_BACK, f"our deployment is gone: the circuit breaker rolled it back{now_on}"
    if deployment.rollout_state == FAILED:
        return FAILED, deployment.rollout_reason or "rollout failed"
    if deployment.rollout_state == COMPLETED:
        return COMPLETED, None
    if deployment.rollout_state is None and len(service.deployments) == 1 and deployment.running == deployment.desired:
        return COMPLETED, None
    return IN_PROGRESS, None


def start(
    cluster: Cluster, services: Sequence[str], clock: Clock, say: Say, rollouts: dict[str, Rollout] | None = None
) -> dict[str, Rollout]:
    """Force a new deployment of every service, at once, keeping each new deployment's id.

    Fills `rollouts` as it goes, so a Ctrl-C half-way still knows which services it restarted.
    """
    rollouts = {} if rollouts is None else rollouts
    for name in services:
        requested_at = clock.now()
        try:
            deployment = cluster.force_new_deployment(name)
        except DeployError as err:
            # The services already restarted keep rolling: follow them, and report this one as not started.
            rollouts[name] = Rollout(name, None, requested_at, state=NOT_STARTED, reason=str(err))
            say(f"    {name}: NOT restarted - {err}")
            continue
        rollouts[name] = Rollout(
            service=name,
            deployment_id=deployment.id,
            # ECS's own time, so events are compared with events' clock, not this machine's
            started_at=deployment.created_at or requested_at,
            running=deployment.running,
            desired=deployment.desired,
        )
        say(f"    {name}: new deployment {deployment.id} ({deployment.task_definition.rsplit('/', 1)[-1]})")
    return rollouts


def wait(
    cluster: Cluster,
    rollouts: dict[str, Rollout],
    clock: Clock,
    *,
    timeout: float,
    interval: float,
    say: Say,
) -> dict[str, Rollout]:
    """Poll every rollout in one loop until each is done or the timeout passes; explain each failure."""
    shown: dict[str, tuple[str, int, int]] = {}
    for _ in poll(clock, interval=interval, timeout=timeout):
        pending = [r for r in rollouts.values() if not r.done]
        if not pending:
            break
        services = cluster.services([r.service for r in pending])
        for rollout in pending:
            service = services[rollout.service]
            deployment = service.deployment(rollout.deployment_id or "")
            rollout.state, rollout.reason = judge(deployment, service)
            if deployment is not None:
                rollout.running, rollout.desired = deployment.running, deployment.desired
            rollout.events = [e for e in service.events if e.created_at >= rollout.started_at]
            key = (rollout.state, rollout.running, rollout.desired)
            if shown.get(rollout.service) != key:
                shown[rollout.service] = key
                say(f"    {rollout.line()}")
        if all(r.done for r in rollouts.values()):
            break
    for rollout in rollouts.values():
        if not rollout.done:
            rollout.state = TIMED_OUT
            rollout.reason = f"still in progress after {timeout:.0f}s"
    for rollout in rollouts.values():
        if not rollout.ok and rollout.deployment_id:
            rollout.stopped_tasks = cluster.stopped_tasks(rollout.deployment_id)
    return rollouts


def explain(rollouts: dict[str, Rollout]) -> list[str]:
    """Why each failed rollout failed, beyond its state line: the service's events since the restart and the
    stopped tasks of our deployment."""
    lines: list[str] = []
    for rollout in rollouts.values():
        if rollout.ok or not (rollout.events or rollout.stopped_tasks):
            continue
        lines.append(f"  why {rollout.service} failed:")
        for event in sorted(rollout.events, key=lambda e: e.created_at)[-10:]:
            lines.append(f"    event {event.created_at:%H:%M:%S}: {event.message}")
        for task in rollout.stopped_tasks:
            exits = ", ".join(f"{c.name} exit {c.exit_code}" for c in task.containers if c.exit_code is not None)
            detail = "; ".join(task.reasons() + ([exits] if exits else []))
            lines.append(f"    stopped task {task.id}: {detail or 'no reason given'}")
    return lines
