"""Play ECS's part where moto stops: migration tasks that run, log and exit, and rollouts that finish or fail.

Assumptions (moto 5.2.5): moto serves ECS from one backend object per account and region, shared by every
thread of this process, but never runs a container, never rolls a deployment, writes no logs and ignores
`list_tasks(serviceName=...)`. So the emulator wraps `run_task`, `update_service` and `list_tasks` on that one
instance to notice new work when it is asked for, and `advance(seconds)` alone moves it along: the tests call it
from their fake clock, the sandbox from a thread in real time. What each scenario plays, and which ECS
behaviour the emulator copies (a deployment resolving its image tag to a digest when it is created, a new task
definition starting a deployment, RUNNING task records per service), is in docs/sandbox.md.

The scenario's failures belong to the new build's digest only, so a put-back onto the old image works. Task
states are set explicitly, so moto's process-global `state_manager` pace neither applies to them nor changes for
anyone else; lists and dicts the API serialises are replaced whole, never changed in place, so a request
answered on another thread never sees one half-updated. `ended_rollouts` keeps when each rollout started and
ended, on this process's monotonic clock, for the benchmark.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from moto.core.utils import utcnow
from moto.ecr.models import ecr_backends
from moto.ecs.models import EC2ContainerServiceBackend, Task

from . import settings
from .deployments import (
    HOOK_SHARE,
    ROLLBACK_SHARE,
    SUPERSEDED_REASON,
    ServiceDeployment,
    ServiceDeployments,
    install_api,
    uninstall_api,
)

TICK_SECONDS = 0.02

MIGRATION_LINES = {
    "success": (
        "Operations to perform:",
        "  Apply all migrations: accounts, billing, orders",
        "Running migrations:",
        "  Applying orders.0042_invoice_index... OK",
        "  Applying billing.0007_tax_rates... OK",
        "Migrations complete: 2 applied.",
    ),
    "failure": (
        "Operations to perform:",
        "  Apply all migrations: accounts, billing, orders",
        "Running migrations:",
        "  Applying orders.0042_invoice_index...",
        "Traceback (most recent call last):",
        '  File "/app/manage.py", line 22, in <module>',
        'django.db.utils.OperationalError: could not obtain lock on relation "orders_invoice"',
    ),
}

ROLLBACK_STOP_REASON = "Task failed container health checks"
PULL_ERROR = (
    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref "
    '{image}: failed to do request: Head "https://{host}/v2/{repository}/manifests/{tag}": '
    "dial tcp 10.0.12.7:443: i/o timeout"
)
CIRCUIT_BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."


def migration_lines(scenario: str) -> tuple[str, ...]:
    """The log lines a migration task writes in this scenario; the last one is written just before it stops."""
    return MIGRATION_LINES["failure" if scenario == "migration-fails" else "success"]


OUTCOMES = ("complete", "rollback", "fail", "hang")


def rollout_outcome(scenario: str, service: str) -> str:
    """How a service's new deployment on a broken image ends: `complete`, `rollback` (vanishes, the old one is
    PRIMARY again), `fail` (FAILED, the old one still runs) or `hang` (tasks never get healthy, and with no
    circuit breaker to stop it the rollout never ends)."""
    if scenario == "rollout-fails" and service == "web":
        return "rollback"
    if scenario == "worker-fails" and service == "worker":
        return "fail"
    if scenario == "tasks-stop":
        return "fail"
    if scenario == "rollout-hangs":
        return "hang"
    return "complete"


def _task_id() -> str:
    return uuid.uuid4().hex


def _deployment_id() -> str:
    return f"ecs-svc/{uuid.uuid4().int % 10**19:019d}"


@dataclass(frozen=True)
class RolloutEnd:
    """A rollout the emulator finished: how it ended, and when (`time.monotonic()` of this process)."""

    service: str
    deployment_id: str
    state: str  # COMPLETED, ROLLED_BACK, FAILED
    started: float
    ended: float


@dataclass
class _Migration:
    task: Task
    started: float  # emulated seconds
    lines: tuple[str, ...]
    exit_code: int
    group: str
    stream: str
    written: int = 0
    running: bool = False


@dataclass
class _Rollout:
    key: str  # "<cluster>:<service>" as moto keys services
    service: str
    deployment_id: str
    previous_id: str | None
    desired: int
    outcome: str
    started: float  # emulated seconds
    started_real: float  # time.monotonic(), for `ended_rollouts`
    announced: bool = False
    running: int = 0
    failed: int = 0
    pending_tasks: list[str] = field(default_factory=list)
    record: ServiceDeployment | None = None  # its service deployment
    breaker_tripped: bool = False
    rollback_seconds: float = 0.0  # how long its rollback takes once in progress


class EcsEmulator:
    """Drives one moto ECS backend. `install()`, then `advance(seconds)` (or `run_in_real_time()`); `uninstall()`.

    What a test may script, beside the scenario: `outcomes[service]` (one of `OUTCOMES`) for deployments on a
    broken image, `broken` (the digests whose deployments and migrations fail; None: every digest), and the
    migration's `migration_exit_code`, `migration_lines` and `migration_stop_reason`. For service deployments
    (sandbox/deployments.py): `minute_seconds` (emulated seconds per ECS minute of bake or hook timeout),
    `failing_hooks` (Lambda hook ARNs that answer FAILED on a broken image), `alarm_stages[service]` (the
    lifecycle stage halfway through which the service's first alarm fires on a broken image), and
    `deployments_api` (False: the five operations answer UnknownOperationException, as an older endpoint does).
    """

    def __init__(
        self,
        backend: EC2ContainerServiceBackend,
        logs_client: Any,
        *,
        scenario: str,
        migration_seconds: float,
        rollout_seconds: float,
        broken: Collection[str] | None = None,
        say: Callable[[str], None] = lambda line: None,
        minute_seconds: float = 60.0,
        deployments_api: bool = True,
    ) -> None:
        self.backend = backend
        self.logs = logs_client
        self.scenario = scenario
        self.migration_seconds = migration_seconds
        self.rollout_seconds = rollout_seconds
        self.broken = set(broken) if broken is not None else None
        self.outcomes: dict[str, str] = {}
        self.migration_exit_code: int | None = None  # None: from the scenario
        self.migration_lines: tuple[str, ...] | None = None
        self.migration_stop_reason = "Essential container in task exited"
        self.say = say
        self.minute_seconds = minute_seconds
        self.deployments_api = deployments_api
        self.failing_hooks: set[str] = set()
        self.alarm_stages: dict[str, str] = {}
        self.deployments = ServiceDeployments(backend)
        self.now = 0.0  # emulated seconds since install
        self._lock = threading.RLock()
        self.lock = self._lock  # the API's handlers answer under it
        self._migrations: list[_Migration] = []
        self._rollouts: dict[str, _Rollout] = {}
        self._digests: dict[str, str | None] = {}  # deployment id -> the digest it resolved its image to
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._errors: list[BaseException] = []
        # What clients asked ECS for, in order: an auditor's view of a deploy.
        self.started_deployments: list[tuple[str, str]] = []  # (service, deployment id)
        self.one_off_tasks: list[str] = []  # task ARNs
        self.ended_rollouts: list[RolloutEnd] = []

    # --- lifecycle -------------------------------------------------------------------------------------

    def install(self) -> None:
        original_run_task = self.backend.run_task
        original_update_service = self.backend.update_service
        original_list_tasks = self.backend.list_tasks

        def run_task(*args: Any, **kwargs: Any) -> list[Task]:
            with self._lock:
                tasks = original_run_task(*args, **kwargs)
                for task in tasks:
                    if not task.started_by.startswith("ecs-svc/"):
                        self._start_migration(task)
                return tasks

        def update_service(properties: dict[str, Any]) -> Any:
            with self._lock:
                name = str(properties.get("service", "")).split("/")[-1]
                cluster = str(properties.get("cluster", "default")).split("/")[-1]
                before = self.backend.services.get(f"{cluster}:{name}")
                old = [dict(d) for d in before.deployments] if before is not None else []
                old_definition = before.task_definition if before is not None else None
                service = original_update_service(properties)
                new_id = service.deployments[0]["id"] if service.deployments else None
                if old and new_id == old[0]["id"] and self._arn(service.task_definition) != self._arn(old_definition):
                    new_id = _deployment_id()  # ECS deploys a new task definition; moto only swaps it
                if old and new_id and new_id != old[0]["id"]:
                    self._start_rollout(service, new_id, old)
                return service

        def list_tasks(cluster_str: Any = None, container_instance: Any = None, family: Any = None,
                       started_by: Any = None, service_name: Any = None, desiredStatus: Any = None) -> list[Task]:
            tasks = original_list_tasks(cluster_str, container_instance, family, started_by, None, desiredStatus)
            if service_name:  # moto ignores it; ECS lists the tasks the service started
                tasks = [t for t in tasks if t.group == f"service:{str(service_name).split('/')[-1]}"]
            return tasks

        # Instance attributes shadow the class's methods for this backend only; `uninstall` removes them.
        self.backend.run_task = run_task  # type: ignore[method-assign]
        self.backend.update_service = update_service  # type: ignore[method-assign]
        self.backend.list_tasks = list_tasks  # type: ignore[method-assign]
        install_api(self.backend, self)

    def uninstall(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for name in ("run_task", "update_service", "list_tasks"):
            self.backend.__dict__.pop(name, None)
        uninstall_api(self.backend, self)

    def run_in_real_time(self) -> None:
        """Advance with this process's monotonic clock, on a thread, until `uninstall()` (the sandbox's way)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._real_time, name="sandbox-ecs", daemon=True)
        self._thread.start()

    def advance(self, seconds: float) -> None:
        """Let `seconds` of emulated time pass: migrations and rollouts move on as ECS's would."""
        with self._lock:
            self.now += max(seconds, 0.0)
            try:
                for migration in list(self._migrations):
                    self._advance_migration(migration, self.now)
                for rollout in list(self._rollouts.values()):
                    self._advance_rollout(rollout, self.now)
            except Exception as err:  # keep serving; tests check `errors`
                self._errors.append(err)
                self.say(f"emulator error: {err!r}")

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions the background thread hit (a broken emulator must fail tests, not hang them)."""
        return list(self._errors)

    def running_digests(self) -> dict[str, dict[str | None, int]]:
        """Each service's tasks that run now, by the image digest they run: what an application's health URL
        would reflect (the sandbox's stand-in for it reads this)."""
        with self._lock:
            tasks = [t for listed in self.backend.tasks.values() for t in listed.values()]
        running: dict[str, dict[str | None, int]] = {name.split(":", 1)[1]: {} for name in self.backend.services}
        for task in tasks:
            group = task.group or ""
            service = group.split(":", 1)[1] if group.startswith("service:") else None
            if service in running and task.desired_status == "RUNNING" and task.last_status == "RUNNING":
                digest = task.containers[0].image_digest if task.containers else None
                running[service][digest] = running[service].get(digest, 0) + 1
        return running

    def idle(self) -> bool:
        """True when no migration is running and no rollout is moving."""
        with self._lock:
            return not self._migrations and not self._rollouts

    def settle(self) -> None:
        """Put every service in the state of a finished rollout: one COMPLETED deployment, all tasks running.

        A service that another controller deploys (CODE_DEPLOY, EXTERNAL) has no deployments (moto, like ECS,
        lists none for it): its tasks run under a task set of its own, as CodeDeploy's would.
        """
        with self._lock:
            for service in self.backend.services.values():
                if not service.deployments:
                    task_set = {"id": _deployment_id(), "taskDefinition": service.task_definition,
                                "desiredCount": service.desired_count}
                    self._digests[task_set["id"]] = self.resolve(service.task_definition)
                    self._run_tasks(service, task_set)
                    service.running_count, service.pending_count = service.desired_count, 0
                    continue
                now = utcnow()
                deployment = dict(service.deployments[0])
                deployment.update(
                    rolloutState="COMPLETED",
                    rolloutStateReason=f"ECS deployment {deployment['id']} completed.",
                    runningCount=service.desired_count,
                    pendingCount=0,
                    failedTasks=0,
                    updatedAt=now,
                )
                service.deployments = [deployment]
                service.running_count = service.desired_count
                service.pending_count = 0
                self._digests[deployment["id"]] = self.resolve(service.task_definition)
                self.deployments.settled(service, deployment["id"], self._digests[deployment["id"]])
                self._run_tasks(service, deployment)
                self._event(service, f"(service {service.name}) has reached a steady state.")

    # --- real time -------------------------------------------------------------------------------------

    def _real_time(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(TICK_SECONDS):
            now = time.monotonic()
            self.advance(now - last)
            last = now

    # --- images ----------------------------------------------------------------------------------------

    def resolve(self, task_definition: str) -> str | None:
        """The digest the task definition's first container image names in ECR now (None: no such image)."""
        definition = self.backend.describe_task_definition(task_definition)
        image = (definition.container_definitions[0].get("image") or "") if definition.container_definitions else ""
        name, _, tag = image.partition("/")[2].rpartition(":") if "/" in image else image.rpartition(":")
        repository = ecr_backends[self.backend.account_id][self.backend.region_name].repositories.get(name)
        if repository is None or not tag:
            return None
        found = [i for i in repository.images if tag in i.image_tags]
        return found[0].image_digest if found else None

    def _outcome(self, service: str, digest: str | None) -> str:
        if self.broken is not None and digest not in self.broken:
            return "complete"
        outcome = self.outcomes.get(service) or rollout_outcome(self.scenario, service)
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r} for {service}: choose one of {', '.join(OUTCOMES)}")
        return outcome

    # --- migrations ------------------------------------------------------------------------------------

    def _start_migration(self, task: Task) -> None:
        digest = self.resolve(task.task_definition_arn)
        failing = self.scenario == "migration-fails" and (self.broken is None or digest in self.broken)
        exit_code = self.migration_exit_code if self.migration_exit_code is not None else int(failing)
        lines = self.migration_lines if self.migration_lines is not None else migration_lines(
            "migration-fails" if failing else "success")
        definition = self.backend.describe_task_definition(task.task_definition_arn)
        container = self._overridden_container(task, definition.container_definitions)
        options = (container.get("logConfiguration") or {}).get("options") or {}
        group = options.get("awslogs-group", settings.LOG_GROUP)
        stream = f"{options.get('awslogs-stream-prefix', 'ecs')}/{container['name']}/{task.id}"
        task._transitions = []  # states are ours to set (module docstring)
        task.last_status = "PROVISIONING"
        task.containers[0].name = container["name"]
        task.containers[0].last_status = "PENDING"
        task.containers[0].exitCode = None
        task.containers[0].image_digest = digest
        self.one_off_tasks.append(task.task_arn)
        self._migrations.append(
            _Migration(task=task, started=self.now, lines=lines, exit_code=exit_code, group=group, stream=stream)
        )
        self.say(f"ECS: task {task.id} ({definition.family}) provisioning; logs go to {group} {stream}")

    @staticmethod
    def _overridden_container(task: Task, containers: list[dict[str, Any]]) -> dict[str, Any]:
        overrides = (task.overrides or {}).get("containerOverrides") or []
        names = [o.get("name") for o in overrides if o.get("name")]
        for wanted in names:
            for container in containers:
                if container.get("name") == wanted:
                    return container
        essential = [c for c in containers if c.get("essential", True)]
        return (essential or containers)[0]

    def _advance_migration(self, migration: _Migration, now: float) -> None:
        fraction = (now - migration.started) / self.migration_seconds
        task = migration.task
        if not migration.running and fraction >= 0.1:
            self.logs.create_log_stream(logGroupName=migration.group, logStreamName=migration.stream)
            task.started_at = utcnow()
            task.containers[0].last_status = "RUNNING"
            task.last_status = "RUNNING"
            migration.running = True
        if not migration.running:
            return
        # Lines spread over the run; the last one falls due at 95 %, and all are written before STOPPED.
        count = len(migration.lines)
        due = count if fraction >= 1 else min(count, int((fraction - 0.1) / 0.85 * count) + 1)
        if due > migration.written:
            self._write_logs(migration, migration.lines[migration.written : due])
            migration.written = due
        if fraction < 1:
            return
        container = task.containers[0]
        container.exitCode = migration.exit_code
        container.last_status = "STOPPED"
        task.stop_code = "EssentialContainerExited"
        task.stopped_reason = self.migration_stop_reason
        task.stopping_at = task.stopped_at = task.execution_stopped_at = utcnow()
        task.desired_status = "STOPPED"
        task.last_status = "STOPPED"  # last, so a reader never sees STOPPED without the exit code
        self._migrations.remove(migration)
        self.say(f"ECS: task {task.id} stopped, exit code {migration.exit_code}")

    def _write_logs(self, migration: _Migration, lines: tuple[str, ...]) -> None:
        stamp = int(time.time() * 1000)
        self.logs.put_log_events(
            logGroupName=migration.group,
            logStreamName=migration.stream,
            logEvents=[{"timestamp": stamp, "message": line} for line in lines],
        )

    # --- rollouts --------------------------------------------------------------------------------------

    def _start_rollout(self, service: Any, new_id: str, old: list[dict[str, Any]]) -> None:
        now = utcnow()
        previous = dict(old[0])  # moto renamed the PRIMARY in place; give the old deployment its id back
        previous.update(status="ACTIVE", updatedAt=now)
        others = [dict(d, status="ACTIVE") for d in old[1:] if d["id"] != new_id]
        primary = dict(
            old[0],
            id=new_id,
            status="PRIMARY",
            rolloutState="IN_PROGRESS",
            rolloutStateReason=f"ECS deployment {new_id} in progress.",
            runningCount=0,
            pendingCount=0,
            failedTasks=0,
            desiredCount=service.desired_count,
            taskDefinition=service.task_definition,
            createdAt=now,
            updatedAt=now,
        )
        service.deployments = [primary, previous, *others]
        superseded = self._rollouts.pop(f"{service.cluster_name}:{service.name}", None)
        if superseded is not None:
            if superseded.record is not None and superseded.record.ongoing:
                self.deployments.stop(superseded.record, SUPERSEDED_REASON)
            self.say(f"ECS: {service.name}: deployment {superseded.deployment_id} superseded")
        digest = self._digests[new_id] = self.resolve(service.task_definition)
        rollout = _Rollout(
            key=f"{service.cluster_name}:{service.name}",
            service=service.name,
            deployment_id=new_id,
            previous_id=previous["id"],
            desired=service.desired_count,
            outcome=self._outcome(service.name, digest),
            started=self.now,
            started_real=time.monotonic(),
        )
        rollout.record = self.deployments.start(service, new_id, previous["id"], digest,
                                                rollout_seconds=self.rollout_seconds,
                                                minute_seconds=self.minute_seconds, now=self.now)
        self._rollouts[rollout.key] = rollout
        self.started_deployments.append((service.name, new_id))
        self.say(f"ECS: {service.name}: new deployment {new_id} ({rollout.outcome} in {self.rollout_seconds:g}s)")

    def _advance_rollout(self, rollout: _Rollout, now: float) -> None:
        service = self.backend.services.get(rollout.key)
        if service is None:
            self._rollouts.pop(rollout.key, None)
            return
        record = rollout.record
        assert record is not None
        if record.rolling_back:
            if self.deployments.rollback_done(record, now, rollout.rollback_seconds or
                                              ROLLBACK_SHARE * self.rollout_seconds):
                self._finish_rollout(service, rollout, "rollback")
            return
        if record.strategy == "ROLLING":
            fraction = (now - rollout.started) / self.rollout_seconds
            if fraction > 0:
                self.deployments.begin(record)
            self._move_tasks(service, rollout, fraction, drain=True)
            if rollout.outcome == "rollback" and fraction >= 0.9 and not rollout.breaker_tripped:
                # every new task has failed: the circuit breaker rolls back, done when the rollout's time is up
                self._trip_breaker(rollout, (1.0 - fraction) * self.rollout_seconds, now)
            elif fraction >= 1 and rollout.outcome in ("complete", "fail"):
                if rollout.outcome == "fail":
                    self._trip_breaker(rollout, 0.0, now)
                self._finish_rollout(service, rollout, rollout.outcome)
            return
        progress = self.deployments.advance_plan(
            record, now, hook_seconds=HOOK_SHARE * self.rollout_seconds,
            failing_hooks=self.failing_hooks if self._fails(rollout) else (),
            alarm_stage=self.alarm_stages.get(rollout.service) if self._fails(rollout) else None,
            hold_scale_up=rollout.outcome != "complete", minute_seconds=self.minute_seconds,
        )
        if record.status == "STOPPED":  # an alarm without rollback stopped it
            self._finish_rollout(service, rollout, "fail")
            return
        if progress.scale > 0 or record.stage == "SCALE_UP":
            self._move_tasks(service, rollout, 0.1 + 0.8 * progress.scale, drain=False)
            record.source_running = rollout.desired
        if progress.held and rollout.outcome == "rollback":
            self._trip_breaker(rollout, ROLLBACK_SHARE * self.rollout_seconds, now)
        elif progress.held and rollout.outcome == "fail":
            self._trip_breaker(rollout, 0.0, now)
            self._finish_rollout(service, rollout, "fail")
        elif progress.done:
            self._finish_rollout(service, rollout, "complete")

    def _fails(self, rollout: _Rollout) -> bool:
        """Whether the scenario's failures apply to this rollout's image (the new build's only, by default)."""
        return self.broken is None or self._digests.get(rollout.deployment_id) in self.broken

    def _trip_breaker(self, rollout: _Rollout, rollback_seconds: float, now: float) -> None:
        """The circuit breaker has seen every new task fail: with rollback on, the rollback starts."""
        service = self.backend.services[rollout.key]
        while rollout.failed < rollout.desired:
            rollout.failed += 1
            self._stopped_task(service, rollout)
            self._update(service, rollout.deployment_id, failedTasks=rollout.failed)
        rollout.breaker_tripped = True
        record = rollout.record
        assert record is not None
        self.deployments.trip_breaker(record, rollout.failed)
        if rollout.outcome == "rollback":
            rollout.rollback_seconds = max(rollback_seconds, 0.0)
            self.deployments.start_rollback(record, CIRCUIT_BREAKER_REASON, now)

    def _move_tasks(self, service: Any, rollout: _Rollout, fraction: float, *, drain: bool) -> None:
        """The new deployment's tasks between 10 % and 90 % of `fraction`: they come up one by one (draining the
        old deployment's when `drain`, as a rolling update does) or, for failures, die one by one."""
        if fraction < 0.1:
            return
        record = rollout.record
        if not rollout.announced:
            rollout.announced = True
            rollout.pending_tasks = [_task_id() for _ in range(rollout.desired)]
            started = " ".join(f"(task {t})" for t in rollout.pending_tasks)
            if rollout.outcome == "complete":
                rollout.pending_tasks = []
            self._event(service, f"(service {service.name}) has started {rollout.desired} tasks: {started}.")
            self._update(service, rollout.deployment_id, pendingCount=rollout.desired)
            if record is not None:
                record.pending = rollout.desired
        progress = min(1.0, (fraction - 0.1) / 0.8)
        if rollout.outcome == "complete":
            target = min(rollout.desired, int(progress * rollout.desired + 1e-9))
            if target > rollout.running:
                drained = target - rollout.running
                rollout.running = target
                self._update(service, rollout.deployment_id, runningCount=target, pendingCount=rollout.desired - target)
                if record is not None:
                    record.running, record.pending = target, rollout.desired - target
                if drain:
                    self._update(service, rollout.previous_id, runningCount=rollout.desired - target)
                    stopped = " ".join(f"(task {_task_id()})" for _ in range(drained))
                    self._event(service, f"(service {service.name}) has stopped {drained} running tasks: {stopped}.")
                    if record is not None:
                        record.source_running = rollout.desired - target
                if record is not None:
                    record.touch()
        else:
            target = min(rollout.desired, int(progress * (rollout.desired + 1)))
            while rollout.failed < target:
                rollout.failed += 1
                self._stopped_task(service, rollout)
                self._update(service, rollout.deployment_id, failedTasks=rollout.failed)
                if record is not None:
                    record.breaker = {**record.breaker, "failureCount": rollout.failed}
                    record.touch()

    def _finish_rollout(self, service: Any, rollout: _Rollout, ending: str) -> None:
        """The rollout ends `complete` (the new deployment runs the service), `rollback` (the old one runs it
        again) or `fail` (the new one FAILED, the old one still runs)."""
        self._rollouts.pop(rollout.key, None)
        name, new_id = service.name, rollout.deployment_id
        record = rollout.record
        assert record is not None
        if ending == "complete":
            self._update(
                service,
                new_id,
                rolloutState="COMPLETED",
                rolloutStateReason=f"ECS deployment {new_id} completed.",
                runningCount=rollout.desired,
                pendingCount=0,
            )
            service.deployments = [d for d in service.deployments if d["id"] == new_id]
            self._run_tasks(service, service.deployments[0])
            self._event(service, f"(service {name}) (deployment {new_id}) deployment completed.")
            self._event(service, f"(service {name}) has reached a steady state.")
            self.deployments.succeed(record)
        elif ending == "rollback":
            restored = [
                dict(d, status="PRIMARY", rolloutState="COMPLETED", updatedAt=utcnow())
                for d in service.deployments
                if d["id"] == rollout.previous_id
            ]
            service.deployments = restored
            if restored:
                service.task_definition = restored[0]["taskDefinition"]
            why = "tasks failed to start" if rollout.breaker_tripped else (record.rollback or {}).get("reason", "")
            self._event(
                service,
                f"(service {name}) (deployment {new_id}) deployment failed: {why.rstrip('.')}. "
                f"Rolling back to deployment {rollout.previous_id}.",
            )
            self._event(service, f"(service {name}) has reached a steady state.")
            self.deployments.rolled_back(record)
        else:
            self._update(
                service,
                new_id,
                rolloutState="FAILED",
                rolloutStateReason=CIRCUIT_BREAKER_REASON if rollout.breaker_tripped else record.status_reason,
                runningCount=0,
                pendingCount=0,
                failedTasks=rollout.failed,
            )
            self._event(
                service,
                f"(service {name}) is unable to consistently start tasks successfully. For more information, "
                "see the Troubleshooting section of the Amazon ECS Developer Guide.",
            )
            self._event(service, f"(service {name}) (deployment {new_id}) deployment failed: tasks failed to start.")
            if record.ongoing:
                self.deployments.stop(record, CIRCUIT_BREAKER_REASON)
        service.running_count = sum(d.get("runningCount", 0) for d in service.deployments)
        service.pending_count = 0
        state = {"complete": "COMPLETED", "rollback": "ROLLED_BACK", "fail": "FAILED"}[ending]
        self.ended_rollouts.append(RolloutEnd(name, new_id, state, rollout.started_real, time.monotonic()))
        self.say(f"ECS: {name}: deployment {new_id} {state.replace('ROLLED_BACK', 'rolled back')}")

    def _stopped_task(self, service: Any, rollout: _Rollout) -> None:
        """A task of the new deployment that stopped, findable by `list_tasks(startedBy=<deployment id>)`."""
        task = self._new_task(service, service.task_definition, rollout.deployment_id)
        task.containers[0].image_digest = self._digests.get(rollout.deployment_id)
        if rollout.pending_tasks:  # the task the "has started" event named
            task.id = rollout.pending_tasks.pop(0)
        container = task.containers[0]
        now = utcnow()
        if rollout.outcome == "fail":
            image = container.image or ""
            host, _, rest = image.partition("/")
            repository, _, tag = rest.partition(":")
            reason = PULL_ERROR.format(image=image, host=host, repository=repository, tag=tag or "latest")
            task.stop_code = "TaskFailedToStart"
            task.stopped_reason = reason
            container.reason = reason
            container.exitCode = None
        else:
            task.stop_code = "ServiceSchedulerInitiated"
            task.stopped_reason = ROLLBACK_STOP_REASON
            container.exitCode = 137
            task.started_at = now
        container.last_status = "STOPPED"
        task.stopped_at = task.execution_stopped_at = now
        task.desired_status = "STOPPED"
        task.last_status = "STOPPED"
        self._add_tasks(service, [task])
        what = "could not pull its image" if rollout.outcome == "fail" else "failed container health checks"
        self._event(service, f"(service {service.name}) (task {task.id}) {what}.")
        self.say(f"ECS: {service.name}: task {task.id} of {rollout.deployment_id} stopped: {task.stopped_reason}")

    # --- a service's tasks -----------------------------------------------------------------------------

    def _new_task(self, service: Any, task_definition: str, started_by: str) -> Task:
        """A task record of `service`, its state ours to set (not yet listed: see `_add_tasks`)."""
        cluster = self.backend._get_cluster(service.cluster_name)
        definition = self.backend.describe_task_definition(task_definition)
        task = Task(
            cluster,
            definition,
            None,
            self.backend._calculate_task_resource_requirements(definition),
            backend=self.backend,
            group=f"service:{service.name}",
            launch_type="FARGATE",
            started_by=started_by,
            networking_configuration=service.network_configuration or None,
        )
        task._transitions = []
        return task

    def _add_tasks(self, service: Any, tasks: list[Task]) -> None:
        listed = self.backend.tasks.get(service.cluster_name, {})
        self.backend.tasks[service.cluster_name] = {**listed, **{t.task_arn: t for t in tasks}}

    def _run_tasks(self, service: Any, deployment: dict[str, Any]) -> None:
        """`deployment` now runs the service: its tasks RUNNING, those of earlier deployments stopped."""
        now = utcnow()
        for task in list(self.backend.tasks.get(service.cluster_name, {}).values()):
            if task.group == f"service:{service.name}" and task.desired_status == "RUNNING":
                task.stop_code = "ServiceSchedulerInitiated"
                task.stopped_reason = f"Scaling activity initiated by (deployment {deployment['id']})"
                task.containers[0].last_status = "STOPPED"
                task.stopped_at = task.execution_stopped_at = now
                task.desired_status = "STOPPED"
                task.last_status = "STOPPED"
        tasks = []
        for _ in range(int(deployment.get("desiredCount") or service.desired_count)):
            task = self._new_task(service, deployment["taskDefinition"], deployment["id"])
            task.containers[0].image_digest = self._digests.get(deployment["id"])
            task.last_status = task.containers[0].last_status = "RUNNING"
            task.started_at = now
            tasks.append(task)
        self._add_tasks(service, tasks)

    def _arn(self, task_definition: str | None) -> str | None:
        if not task_definition:
            return None
        return self.backend.describe_task_definition(task_definition).arn

    # --- helpers ---------------------------------------------------------------------------------------

    @staticmethod
    def _update(service: Any, deployment_id: str | None, **changes: Any) -> None:
        service.deployments = [
            dict(d, **changes, updatedAt=utcnow()) if d["id"] == deployment_id else d for d in service.deployments
        ]
        service.running_count = sum(d.get("runningCount", 0) for d in service.deployments)

    @staticmethod
    def _event(service: Any, message: str) -> None:
        # ECS lists events newest first; times are kept strictly increasing at the API's millisecond precision,
        # so a reader that sorts by time keeps the order they happened in.
        now = utcnow()
        if service.events and now - service.events[0]["createdAt"] < timedelta(milliseconds=1):
            now = service.events[0]["createdAt"] + timedelta(milliseconds=1)
        service.events = [{"id": str(uuid.uuid4()), "createdAt": now, "message": message}, *service.events]
