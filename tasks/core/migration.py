"""The migration: a one-off Fargate task on the release image, watched to the end, its logs streamed.

Assumptions: the task definition runs `repository:release_tag`, so once the release tag has moved a new
task runs the new image. The network settings are those of the environment's first service unless the
config gives its own. We poll `describe_tasks` until STOPPED (never the `tasks_running` waiter, which fails
on a task that already stopped) and judge the container's exit code ourselves: a task that never started,
a missing exit code or a non-zero one is a failure, with ECS's stop reason and the container's reason.
On a timeout the task is left running (stopping a migration half-way is worse) and the output says how
to stop it. A read that fails for a while (throttled, 5xx, dropped) is a missed poll, never the end of the
watch: the task runs on against the database whatever this process sees, so giving up early would only hide it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .clock import Clock, Say, Wait
from .config import Environment
from .ecs import Cluster, Service, Task, TaskDefinition
from .errors import DeployError
from .logs import LogStream, StreamFactory, stream_name

FINAL_READS = 5  # tries at the lines written just before the task stopped, one poll interval apart


@dataclass(frozen=True)
class MigrationSpec:
    """Everything needed to start the migration, resolved during preflight."""

    cluster: str
    task_definition: TaskDefinition
    container: str
    command: tuple[str, ...]
    network_configuration: dict[str, Any] | None
    capacity_provider_strategy: tuple[dict[str, Any], ...]
    platform_version: str | None

    def describe(self) -> list[str]:
        log = self.task_definition.container(self.container).log
        return [
            f"run task {self.task_definition.label} (container {self.container}) in cluster {self.cluster}: "
            f"{' '.join(self.command)}",
            f"logs: {log.group} {log.stream_prefix or ''}/{self.container}/<task id>" if log else "logs: not awslogs",
        ]


@dataclass(frozen=True)
class MigrationResult:
    task: Task
    exit_code: int
    seconds: float


def resolve(
    env: Environment,
    cluster: Cluster,
    services: dict[str, Service],
    command: Sequence[str],
) -> MigrationSpec:
    """Which task definition, container and network the migration uses (reads only)."""
    first = services[env.services[0]]
    settings = env.migrate
    task_definition = cluster.task_definition(
        settings.task_definition if settings and settings.task_definition else first.task_definition
    )
    container = task_definition.container(settings.container if settings else None)
    network = _network(first, settings)
    if network is None:
        raise DeployError(
            f"no network settings for the migration: service {first.name} has none; set migrate.subnets and "
            "migrate.security_groups for environment " + repr(env.name)
        )
    return MigrationSpec(
        cluster=cluster.name,
        task_definition=task_definition,
        container=container.name,
        command=tuple(command),
        network_configuration=network,
        capacity_provider_strategy=first.capacity_provider_strategy,
        platform_version=first.platform_version,
    )


def _network(service: Service, settings: Any) -> dict[str, Any] | None:
    base = dict((service.network_configuration or {}).get("awsvpcConfiguration") or {})
    if settings is not None:
        if settings.subnets:
            base["subnets"] = list(settings.subnets)
        if settings.security_groups:
            base["securityGroups"] = list(settings.security_groups)
        if settings.assign_public_ip is not None:
            base["assignPublicIp"] = "ENABLED" if settings.assign_public_ip else "DISABLED"
    if not base.get("subnets"):
        return None
    return {"awsvpcConfiguration": base}


def start(spec: MigrationSpec, cluster: Cluster, *, say: Say, started_by: str = "fab-migrate") -> Task:
    """Start the migration task (the caller keeps it, so an interrupted run can say what still runs)."""
    task = cluster.run_task(
        task_definition=spec.task_definition.arn,
        container=spec.container,
        command=spec.command,
        network_configuration=spec.network_configuration,
        capacity_provider_strategy=spec.capacity_provider_strategy,
        platform_version=spec.platform_version,
        started_by=started_by,
        client_token=uuid.uuid4().hex,  # a retried request must not start a second migration
    )
    say(f"    task {task.id} started on {spec.task_definition.label}")
    return task


def follow(
    spec: MigrationSpec,
    task: Task,
    cluster: Cluster,
    open_stream: StreamFactory,
    clock: Clock,
    *,
    timeout: float,
    interval: float,
    say: Say,
    on_task: Callable[[Task], None] = lambda task: None,
) -> MigrationResult:
    """Stream the task's log lines, wait for it to stop, and judge its exit code.

    `on_task` gets each fresh read of the task, so a caller knows its last state even when this raises.
    """
    log = spec.task_definition.container(spec.container).log
    stream = open_stream(log.group, stream_name(log, spec.container, task.id)) if log else None
    if stream is None:
        say("    (the container does not log with awslogs: no log lines to show)")
    wait = Wait(clock, interval=interval, timeout=timeout, say=say)

    def show_new_lines() -> bool:
        if stream is None:
            return True
        lines: list[str] | None = None
        with wait.tolerating("logs:GetLogEvents"):
            lines = stream.read_new()
        for line in lines or ():
            say(f"    | {line}")
        return lines is not None

    started = clock.monotonic()
    last_status = task.last_status
    stopped = False
    for _ in wait.ticks():
        fresh: Task | None = None
        with wait.tolerating("ecs:DescribeTasks"):
            fresh = cluster.task(task.arn)
        show_new_lines()
        if fresh is not None:
            task = fresh
            on_task(task)
            if task.last_status != last_status:
                last_status = task.last_status
                say(f"    task {task.id}: {last_status}")
            stopped = task.last_status == "STOPPED"
        if stopped:
            break
    if not stopped:
        raise DeployError(
            f"task {task.id} still {task.last_status} after {timeout:.0f}s{wait.trouble()}; it was left running. "
            f"Watch it in the ECS console, or stop it: {stop_command(spec.cluster, task.id)}"
        )
    seconds = clock.monotonic() - started
    # Once more: lines written just before the stop arrive late. A read that fails now is tried again.
    for attempt in range(FINAL_READS):
        if show_new_lines():
            break
        if attempt + 1 < FINAL_READS:
            clock.sleep(interval)
    else:
        say(f"    the last log lines could not be read{wait.trouble()}; they are in {stream.location}")
    return MigrationResult(task=task, exit_code=exit_code_of(task, spec.container, stream), seconds=seconds)


def stop_command(cluster: str, task_id: str) -> str:
    return f"aws ecs stop-task --cluster {cluster} --task {task_id}"


def exit_code_of(task: Task, container_name: str, stream: LogStream | None = None) -> int:
    """The container's exit code when it is 0; otherwise a `DeployError` saying why the task failed."""
    container = task.container(container_name)
    reasons = task.reasons(container_name)
    why = f" ({'; '.join(reasons)})" if reasons else ""
    where = f"; its logs: {stream.location}" if stream is not None else ""
    if task.stop_code == "TaskFailedToStart":
        raise DeployError(f"task {task.id} failed to start{why}{where}")
    if container is None or container.exit_code is None:
        raise DeployError(f"task {task.id} stopped without an exit code: it never ran{why}{where}")
    if container.exit_code != 0:
        raise DeployError(f"task {task.id} exited with code {container.exit_code}{why}{where}")
    return 0
