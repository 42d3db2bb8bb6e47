"""Restart services with a rolling deployment, judge each rollout by our own deployment id, and read what runs.

Assumptions: the stock `services_stable` waiter ignores `rolloutState`, so a circuit-breaker rollback looks
"stable" and is reported as success. Here each service's new deployment id is kept and judged on its own:
gone from `deployments` means rolled back (failure); `rolloutState == FAILED` is failure; COMPLETED is
success; where ECS reports no rolloutState, being the sole deployment with running == desired is success.
All services are polled in one loop, one `describe_services` call per 10 services per poll.

ECS resolves the image tag to a digest when it creates a deployment, and every task of that deployment runs
that digest. A rollout that COMPLETED is therefore checked by reading its service's running tasks
(`containers[].imageDigest`): the truth about what runs, which a task definition pinned to another tag or
digest would make differ from the release tag. New deployments are started a few at a time in parallel (a
boto3 client is thread-safe), since against real AWS one after another adds up with many services
(docs/benchmark.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .clock import Clock, Say, Wait
from .ecr import reference_repository, short
from .ecs import Cluster, Deployment, Event, Service, Task, arn_name
from .errors import DeployError
from .fanout import fan_out

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
ROLLED_BACK = "ROLLED_BACK"
TIMED_OUT = "TIMED_OUT"
NOT_STARTED = "NOT_STARTED"
WRONG_IMAGE = "WRONG_IMAGE"  # COMPLETED, but its tasks run another image than the one expected

FOLLOW_UP_READS = 5  # polls spent at most on reading a finished rollout's tasks while AWS fails
NO_DIGEST = "(no digest yet)"


@dataclass(frozen=True)
class Expectation:
    """What the services' tasks must run once their rollouts complete: `repository` at `digest`."""

    repository: str
    digest: str


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
    images: Counter[str] | None = None  # digest -> running tasks; None until read
    images_problem: str | None = None  # why `images` could not be read
    seconds: float | None = None  # from the start of the wait until it was seen done
    settled: bool = False  # done, and what follows it (its tasks' images, or why it failed) was read
    follow_ups: int = 0
    task_definition: str = ""  # `family:revision` of our deployment

    @property
    def done(self) -> bool:
        return self.state != IN_PROGRESS

    @property
    def ok(self) -> bool:
        return self.state == COMPLETED

    @property
    def ongoing(self) -> bool:
        """Its new deployment may still change what the service runs: it completed, or ECS is still rolling it."""
        return self.state in (COMPLETED, IN_PROGRESS, TIMED_OUT, FAILED, WRONG_IMAGE) and bool(self.deployment_id)

    def line(self) -> str:
        text = f"{self.service}: {self.state} {self.running}/{self.desired} running"
        return text + (f" - {self.reason}" if self.reason else "")

    def runs(self) -> str:
        """Which image its tasks run, in words."""
        if self.images is None:
            return f"tasks not read ({self.images_problem})" if self.images_problem else "tasks not read"
        return describe_images(self.images)


def describe_images(images: Counter[str]) -> str:
    if not images:
        return "no task runs"
    return ", ".join(f"{count} task{'s' if count > 1 else ''} on {short(d)}"
                     for d, count in images.most_common())


def judge(deployment: Deployment | None, service: Service) -> tuple[str, str | None]:
    """The state of our deployment: (IN_PROGRESS | COMPLETED | FAILED | ROLLED_BACK, reason)."""
    if deployment is None:
        primary = service.primary
        now_on = f" (now on {arn_name(primary.task_definition)})" if primary else ""
        return ROLLED_BACK, f"our deployment is gone: the circuit breaker rolled it back{now_on}"
    if deployment.rollout_state == FAILED:
        return FAILED, deployment.rollout_reason or "rollout failed"
    if deployment.rollout_state == COMPLETED:
        return COMPLETED, None
    if deployment.rollout_state is None and len(service.deployments) == 1 and deployment.running == deployment.desired:
        return COMPLETED, None
    return IN_PROGRESS, None


def start(
    cluster: Cluster,
    services: Sequence[str],
    clock: Clock,
    say: Say,
    rollouts: dict[str, Rollout] | None = None,
    *,
    parallel: int = 8,
) -> dict[str, Rollout]:
    """Force a new deployment of every service, `parallel` at a time, keeping each new deployment's id.

    Fills `rollouts` as each starts, so a Ctrl-C half-way still knows which services it restarted; after
    Ctrl-C the calls already sent are waited for (each is one request) and the others are not sent.
    """
    rollouts = {} if rollouts is None else rollouts

    def force(name: str) -> None:
        requested_at = clock.now()
        try:
            deployment = cluster.force_new_deployment(name)
        except DeployError as err:
            # The services already restarted keep rolling: follow them, and report this one as not started.
            rollouts[name] = Rollout(name, None, requested_at, state=NOT_STARTED, reason=str(err), settled=True)
            return
        rollouts[name] = Rollout(
            service=name,
            deployment_id=deployment.id,
            # ECS's own time, so events are compared with events' clock, not this machine's
            started_at=deployment.created_at or requested_at,
            running=deployment.running,
            desired=deployment.desired,
            task_definition=arn_name(deployment.task_definition),
        )

    fan_out(force, list(services), parallel)
    for name in services:  # in the order given, whichever call came back first
        rollouts[name] = r = rollouts.pop(name)
        if r.state == NOT_STARTED:
            say(f"    {name}: NOT restarted - {r.reason}")
        else:
            say(f"    {name}: new deployment {r.deployment_id} ({r.task_definition})")
    return rollouts


def wait(
    cluster: Cluster,
    rollouts: dict[str, Rollout],
    clock: Clock,
    *,
    timeout: float,
    interval: float,
    say: Say,
    expect: Expectation | None = None,
) -> dict[str, Rollout]:
    """Poll every rollout in one loop until each is settled or the timeout passes.

    A rollout that COMPLETED is settled once its tasks' images are read (and, with `expect`, checked: another
    image makes it WRONG_IMAGE); one that failed, once its stopped tasks are read for the explanation. Reads
    that fail for a while are missed polls (see `clock.Wait`); follow-up reads are given up after a few polls.
    """
    waiting = Wait(clock, interval=interval, timeout=timeout, say=say)
    shown: dict[str, tuple[str, int, int]] = {}
    for elapsed in waiting.ticks():
        judging = [r for r in rollouts.values() if r.state == IN_PROGRESS]
        services: dict[str, Service] | None = None
        if judging:
            with waiting.tolerating("ecs:DescribeServices"):
                services = cluster.services([r.service for r in judging])
        if services is not None:
            for rollout in judging:
                _judge(rollout, services[rollout.service], elapsed)
                key = (rollout.state, rollout.running, rollout.desired)
                if shown.get(rollout.service) != key:
                    shown[rollout.service] = key
                    say(f"    {rollout.line()}")
        due = [r for r in rollouts.values() if r.done and not r.settled]
        if due:
            _follow_up(cluster, due, waiting, expect, say)
        if all(r.settled for r in rollouts.values()):
            break
    for rollout in rollouts.values():
        if rollout.state == IN_PROGRESS:
            rollout.state = TIMED_OUT
            rollout.reason = f"still in progress after {timeout:.0f}s{waiting.trouble()}"
            if rollout.deployment_id:
                with waiting.tolerating("stopped tasks"):
                    rollout.stopped_tasks = cluster.stopped_tasks(rollout.deployment_id)
    return rollouts


def _judge(rollout: Rollout, service: Service, elapsed: float) -> None:
    deployment = service.deployment(rollout.deployment_id or "")
    rollout.state, rollout.reason = judge(deployment, service)
    if deployment is not None:
        rollout.running, rollout.desired = deployment.running, deployment.desired
    rollout.events = [e for e in service.events if e.created_at >= rollout.started_at]
    if rollout.done:
        rollout.seconds = elapsed


def _follow_up(cluster: Cluster, due: list[Rollout], waiting: Wait, expect: Expectation | None, say: Say) -> None:
    """Read what finished rollouts left behind: the running tasks of those that completed, the stopped tasks of
    those that failed, all at once; after `FOLLOW_UP_READS` polls that failed, say so and go on."""
    for rollout in due:
        rollout.follow_ups += 1
    completed = [r for r in due if r.ok]
    failed = [r for r in due if not r.ok and r.deployment_id]
    images: dict[str, Counter[str]] | None = None
    if completed:
        with waiting.tolerating("running tasks"):
            images = running_images(cluster, [r.service for r in completed], expect.repository if expect else None)
    for rollout in completed if images is not None else ():
        rollout.images, rollout.settled = images[rollout.service], True
        if expect is not None and not runs_only(rollout.images, expect.digest, rollout.desired):
            rollout.state = WRONG_IMAGE
            rollout.reason = (f"its tasks run {describe_images(rollout.images)}, not {short(expect.digest)}: its "
                              "task definition must name the release tag, not another tag or a digest")
            say(f"    {rollout.line()}")
    stopped: list[list[Task]] | None = None
    if failed:
        with waiting.tolerating("stopped tasks"):
            stopped = fan_out(lambda r: cluster.stopped_tasks(r.deployment_id or ""), failed, cluster.parallel)
    for rollout, tasks in zip(failed, stopped or (), strict=False):
        rollout.stopped_tasks, rollout.settled = tasks, True
    for rollout in due:
        if not rollout.settled and (rollout.follow_ups >= FOLLOW_UP_READS or not rollout.deployment_id):
            rollout.images_problem = f"gave up reading its tasks{waiting.trouble()}"
            rollout.settled = True


def running_images(cluster: Cluster, services: Sequence[str], repository: str | None = None
                   ) -> dict[str, Counter[str]]:
    """Per service, digest -> how many of its running tasks run it (containers of `repository`, else all)."""
    result: dict[str, Counter[str]] = {}
    for service, tasks in cluster.running_tasks(services).items():
        images: Counter[str] = Counter()
        for task in tasks:
            containers = [c for c in task.containers
                          if repository is None or reference_repository(c.image) == repository]
            if not containers:
                images[f"(no {repository} container)"] += 1
            for container in containers:
                images[container.image_digest or NO_DIGEST] += 1
        result[service] = images
    return result


def runs_only(images: Counter[str], digest: str, desired: int) -> bool:
    """Every running task runs `digest` (a service scaled to zero runs nothing, which is fine)."""
    if not images:
        return desired == 0
    return set(images) == {digest}


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
