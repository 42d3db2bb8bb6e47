"""Restart services, judge each rollout by the service deployment our UpdateService started, and read what runs.

Assumptions: the stock `services_stable` waiter ignores `rolloutState`, so a circuit-breaker rollback looks
"stable" and is reported as success, and it cannot tell a blue/green rollback from a success. Here each
service's own deployment is followed, whatever its strategy (rolling, BLUE_GREEN, LINEAR, CANARY): after
UpdateService, the newest service deployment created since (ListServiceDeployments; never the service's
`currentServiceDeployment`, which can be stale) is polled with DescribeServiceDeployments, 20 a call, beside one
`describe_services` call per 10 services per poll; its final status decides (only SUCCESSFUL is a success).
Where ECS does not offer that API, each deployment id in `deployments[]` is judged instead, as it was before the
API existed: gone means rolled back; `rolloutState` FAILED is failure, COMPLETED success; without a
rolloutState, the sole deployment with running == desired is success. Each change of a blue/green, linear or
canary deployment's stage or traffic weight is said once, and so is each PAUSE hook that waits for a decision.

ECS resolves the image tag to a digest when it creates a deployment, and every task of that deployment runs
that digest. A rollout that COMPLETED is therefore checked by reading its service's running tasks
(`containers[].imageDigest`): the truth about what runs, which a task definition pinned to another tag or
digest would make differ from the release tag. New deployments are started a few at a time in parallel (a
boto3 client is thread-safe), since against real AWS one after another adds up with many services
(docs/benchmark.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .clock import Clock, Say, Wait, duration, span
from .ecr import reference_repository, short
from .ecs import SKEW, Cluster, Deployment, Event, Service, Task, arn_name
from .errors import DeployError
from .fanout import fan_out
from .service_deployments import ServiceDeployment, not_offered, weight

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
ROLLED_BACK = "ROLLED_BACK"
TIMED_OUT = "TIMED_OUT"
NOT_STARTED = "NOT_STARTED"
WRONG_IMAGE = "WRONG_IMAGE"  # COMPLETED, but its tasks run another image than the one expected
STOPPED = "STOPPED"  # ECS stopped our deployment (superseded, or stopped by someone) before it finished

FIND_SECONDS = 60.0  # how long ListServiceDeployments may not yet list the deployment our UpdateService started

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
    strategy: str = "ROLLING"
    allowed: float | None = None  # seconds this rollout may take; None: the wait's timeout
    bake: float = 0.0  # seconds of the service's bakeTimeInMinutes, for the BAKE_TIME line
    tracked: str | None = None  # the ARN of our service deployment, once found
    seen: ServiceDeployment | None = None  # as last described
    undoing: bool = False  # following ECS rolling our deployment back: ROLLBACK_SUCCESSFUL is what we want
    finished_first: bool = False  # undoing, but it ended SUCCESSFUL before the rollback took: it runs the new image
    where: str | None = None  # the stage and weight last said
    error: DeployError | None = None  # why it was NOT_STARTED
    said: set[str] = field(default_factory=set)  # the hook lines already said

    @property
    def done(self) -> bool:
        return self.state != IN_PROGRESS

    @property
    def ok(self) -> bool:
        return self.state == COMPLETED

    @property
    def ongoing(self) -> bool:
        """Its new deployment may still change what the service runs: it completed, or ECS is still rolling it."""
        return (self.state in (COMPLETED, IN_PROGRESS, TIMED_OUT, FAILED, WRONG_IMAGE, STOPPED)
                and bool(self.deployment_id))

    @property
    def in_flight(self) -> bool:
        """ECS is still working on our service deployment: stopping it with ROLLBACK undoes it in place."""
        return bool(self.tracked) and self.state in (IN_PROGRESS, TIMED_OUT) and not (self.seen and self.seen.final)

    def stop_command(self, cluster: str) -> str:
        return (f"aws ecs stop-service-deployment --service-deployment-arn {self.tracked} --stop-type ROLLBACK"
                f"   # {self.service} in {cluster}")

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
    known: dict[str, Service] | None = None,
    allowed: Callable[[Service], float] | None = None,
    primaries: Mapping[str, str] | None = None,
) -> dict[str, Rollout]:
    """Force a new deployment of every service, `parallel` at a time, keeping each new deployment's id; `known`
    (the services as read) gives each rollout its strategy, and `allowed` its time; `primaries` each service's
    PRIMARY deployment id right before, where known (a lost answer is then told from a request that did not land
    whatever this machine's clock says: see `Cluster.force_new_deployment`).

    Fills `rollouts` as each starts, so a Ctrl-C half-way still knows which services it restarted; after
    Ctrl-C the calls already sent are waited for (each is one request) and the others are not sent.
    """
    rollouts = {} if rollouts is None else rollouts

    def force(name: str) -> None:
        requested_at = clock.now()
        try:
            deployment = cluster.force_new_deployment(name, (primaries or {}).get(name))
        except DeployError as err:
            # The services already restarted keep rolling: follow them, and report this one as not started.
            rollouts[name] = Rollout(name, None, requested_at, state=NOT_STARTED, reason=str(err), settled=True,
                                     error=err)
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
        service = (known or {}).get(name)
        if service is not None:
            r = rollouts[name]
            r.strategy, r.bake = service.strategy, float(service.bake_minutes or 0) * 60
            r.allowed = allowed(service) if allowed is not None else None

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
    env_name: str = "ENV",
) -> dict[str, Rollout]:
    """Poll every rollout in one loop until each is settled or its time (`allowed`, else `timeout`) passes.

    A rollout that COMPLETED is settled once its tasks' images are read (and, with `expect`, checked: another
    image makes it WRONG_IMAGE); one that failed, once its stopped tasks are read for the explanation. Reads
    that fail for a while are missed polls (see `clock.Wait`); follow-up reads are given up after a few polls.
    """
    longest = max([timeout, *(r.allowed for r in rollouts.values() if r.allowed is not None)])
    waiting = Wait(clock, interval=interval, timeout=longest, say=say)
    shown: dict[str, tuple[str, int, int]] = {}
    for elapsed in waiting.ticks():
        judging = [r for r in rollouts.values() if r.state == IN_PROGRESS]
        services: dict[str, Service] | None = None
        if judging:
            with waiting.tolerating("ecs:DescribeServices"):
                services = cluster.services([r.service for r in judging])
        described = _service_deployments(cluster, judging, waiting, say, elapsed) if judging else {}
        if services is not None:
            for rollout in judging:
                _judge(rollout, services[rollout.service], described, cluster, elapsed)
                _say_progress(rollout, clock, say, env_name)
                key = (rollout.state, rollout.running, rollout.desired)
                if shown.get(rollout.service) != key:
                    shown[rollout.service] = key
                    say(f"    {rollout.line()}")
        for rollout in rollouts.values():
            if rollout.state == IN_PROGRESS and elapsed >= (rollout.allowed if rollout.allowed is not None
                                                            else timeout):
                _time_out(cluster, rollout, waiting, elapsed, env_name)
        due = [r for r in rollouts.values() if r.done and not r.settled]
        if due:
            _follow_up(cluster, due, waiting, expect, say)
        if all(r.settled for r in rollouts.values()):
            break
    for rollout in rollouts.values():
        if rollout.state == IN_PROGRESS:
            _time_out(cluster, rollout, waiting, waiting.elapsed, env_name)
    return rollouts


def _time_out(cluster: Cluster, rollout: Rollout, waiting: Wait, elapsed: float, env_name: str) -> None:
    rollout.state = TIMED_OUT
    rollout.reason = f"still in progress after {span(elapsed)}{_waits_on(rollout, env_name)}{waiting.trouble()}"
    rollout.settled = True
    if rollout.deployment_id:
        with waiting.tolerating("stopped tasks"):
            rollout.stopped_tasks = cluster.stopped_tasks(rollout.deployment_id)


def _waits_on(rollout: Rollout, env_name: str) -> str:
    """What ECS was doing when time ran out: its stage, and the PAUSE hook it waits on."""
    seen = rollout.seen
    if seen is None or seen.final:
        return ""
    text = f" (ECS: {seen.where()})" if seen.stage else ""
    for hook in seen.paused:
        text += (f"; it waits on PAUSE hook {hook.hook_id}: fab continue --env {env_name} --service "
                 f"{rollout.service} (or --rollback)")
    return text


def _service_deployments(cluster: Cluster, judging: list[Rollout], waiting: Wait, say: Say,
                         elapsed: float) -> dict[str, ServiceDeployment]:
    """Find the service deployments not yet found, then describe all of ours, 20 a call. Where ECS lacks the API,
    the cluster remembers it and this says so once: `deployments[]` judges from then on."""
    if not cluster.deployments_api:
        return {}
    try:
        lost = [r for r in judging if not r.tracked and r.deployment_id]
        if lost:
            with waiting.tolerating("ecs:ListServiceDeployments"):
                found = fan_out(lambda r: cluster.service_deployments(r.service, after=r.started_at - SKEW),
                                lost, cluster.parallel)
                for rollout, listed in zip(lost, found, strict=True):
                    if listed:
                        rollout.tracked = listed[0][0]
                    elif elapsed >= FIND_SECONDS:
                        rollout.state = FAILED
                        rollout.reason = (f"ECS lists no service deployment since our UpdateService after "
                                          f"{duration(elapsed)}: see its events below")
        arns = [r.tracked for r in judging if r.tracked]
        if not arns:
            return {}
        described: dict[str, ServiceDeployment] = {}
        with waiting.tolerating("ecs:DescribeServiceDeployments"):
            described = cluster.describe_service_deployments(arns)
        return described
    except DeployError as err:
        if not not_offered(err):
            raise
        cluster.deployments_api = False
        say(f"    ECS here does not offer service deployments ({getattr(err, 'action', '')} answers "
            f"{getattr(err, 'code', '')}): each rollout is judged by the service's deployments[] instead")
        for rollout in judging:
            rollout.tracked = None
        return {}


def _judge(rollout: Rollout, service: Service, described: dict[str, ServiceDeployment], cluster: Cluster,
           elapsed: float) -> None:
    deployment = service.deployment(rollout.deployment_id or "")
    if rollout.undoing and service.primary is not None:  # ECS rolling ours back: the restored one's counts
        deployment = service.primary
    if rollout.state != IN_PROGRESS:  # found missing while listing
        pass
    elif rollout.tracked and rollout.tracked in described:
        rollout.seen = described[rollout.tracked]
        rollout.state, rollout.reason = judge_service_deployment(rollout.seen, undoing=rollout.undoing)
        rollout.finished_first = rollout.undoing and rollout.seen.status == "SUCCESSFUL"
    elif not cluster.deployments_api:
        rollout.state, rollout.reason = judge(deployment, service)
    if deployment is not None:
        rollout.running, rollout.desired = deployment.running, deployment.desired
    elif rollout.seen is not None and rollout.seen.running is not None:
        rollout.running, rollout.desired = rollout.seen.running, rollout.seen.requested or 0
    rollout.events = [e for e in service.events if e.created_at >= rollout.started_at]
    if rollout.done:
        rollout.seconds = elapsed


def judge_service_deployment(seen: ServiceDeployment, *, undoing: bool = False) -> tuple[str, str | None]:
    """The state of our rollout from its service deployment's status; only SUCCESSFUL is a success, unless we are
    following ECS rolling it back (`undoing`), where ROLLBACK_SUCCESSFUL is. An unknown status is still going on."""
    why = seen.why() or None
    if seen.status == "SUCCESSFUL":
        if undoing:
            return FAILED, "its deployment completed before ECS could roll it back: it runs the new image"
        return COMPLETED, None
    if seen.status == "ROLLBACK_SUCCESSFUL":
        if undoing:
            return COMPLETED, None
        return ROLLED_BACK, f"ECS rolled it back: {why or 'no reason given'}"
    if seen.status == "ROLLBACK_FAILED":
        return FAILED, f"ECS could not roll it back (ROLLBACK_FAILED): {why or 'no reason given'}"
    if seen.status == "STOPPED":
        return STOPPED, f"ECS stopped its deployment: {why or 'no reason given'}"
    return IN_PROGRESS, None


def _where(seen: ServiceDeployment) -> str | None:
    """What a progress line is said for: a stage and its weight while the deployment goes forward (a bake, once),
    its status while it stops or rolls back; None for a rolling deployment going forward (its counts say it)."""
    if seen.status not in ("PENDING", "IN_PROGRESS"):
        return None if seen.final else seen.status
    if not seen.stage:
        return None
    return "BAKE_TIME" if seen.stage == "BAKE_TIME" else seen.where()


def _say_progress(rollout: Rollout, clock: Clock, say: Say, env_name: str) -> None:
    """One line for each new stage or traffic weight of a blue/green, linear or canary deployment, and for each
    lifecycle hook that waits or runs; never one per poll."""
    seen = rollout.seen
    if seen is None:
        return
    name = rollout.service
    where = _where(seen)
    if where and where != rollout.where:
        before, rollout.where = rollout.where, where
        if seen.status not in ("PENDING", "IN_PROGRESS"):
            say(f"    {name}: {seen.status}" + (f" in {seen.stage}" if seen.stage else ""))
        elif seen.stage == "BAKE_TIME" and rollout.bake:
            until = clock.now() + timedelta(seconds=rollout.bake)
            say(f"    {name}: BAKE_TIME until {until:%H:%M:%S}")
        elif before is not None and before.startswith(seen.stage + " ") and seen.production_weight is not None:
            say(f"    {name}: {seen.stage} {before.split(' ', 1)[1]} -> {weight(seen.production_weight)}")
        else:
            say(f"    {name}: {where}")
    for hook in seen.hooks:
        key = f"hook {hook.hook_id} {hook.status}"
        if key in rollout.said:
            continue
        rollout.said.add(key)
        if hook.paused:
            expiry = f" until {hook.expires_at:%Y-%m-%d %H:%M:%S %Z}".rstrip() if hook.expires_at else ""
            then = f", then ECS will {hook.timeout_action}" if hook.timeout_action else ""
            stage = seen.stage or "no stage"
            say(f"    {name}: paused at PAUSE hook {hook.hook_id} ({stage}){expiry}{then}; decide it:")
            say(f"      fab continue --env {env_name} --service {name}              # go on")
            say(f"      fab continue --env {env_name} --service {name} --rollback   # roll it back")
        elif hook.status in ("IN_PROGRESS", "FAILED", "TIMED_OUT"):
            say(f"    {name}: lifecycle hook {hook.hook_id} ({hook.target_type}) {hook.status}"
                f"{' in ' + seen.stage if seen.stage else ''}")


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
