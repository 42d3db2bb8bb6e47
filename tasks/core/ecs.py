"""ECS gateway: services and their deployments, task definitions, and one-off tasks, in the project's own types.

Assumptions: Fargate services; each one's deployment controller and configuration are read here and judged
by the preflight (checks.py): this tool follows the ECS controller's deployments, whatever their strategy, and
reads what ECS says of each through the service-deployment API (service_deployments.py).
`describe_services` takes at most 10 services a call, so reads are chunked here and nowhere else. A
service's deployment `id` (`ecs-svc/…`) is also the `startedBy` of the tasks it starts, which is how the
stopped tasks of a failed rollout are found.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .aws import AwsError, call
from .clock import NO_RETRY, Writes
from .errors import DeployError
from .fanout import fan_out
from .service_deployments import DESCRIBE_LIMIT as DESCRIBE_DEPLOYMENTS_LIMIT
from .service_deployments import ServiceDeployment
from .service_deployments import parse as parse_deployment

DESCRIBE_SERVICES_LIMIT = 10
DESCRIBE_TASKS_LIMIT = 100
LIST_TASKS_LIMIT = 100
LIST_SERVICES_LIMIT = 100


def arn_name(arn: str) -> str:
    """The last part of an ARN: a task's id, a service's name, a task definition's `family:revision`."""
    return arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Deployment:
    id: str
    status: str  # PRIMARY, ACTIVE, INACTIVE
    rollout_state: str | None  # IN_PROGRESS, COMPLETED, FAILED; None where ECS does not report it
    rollout_reason: str | None
    running: int
    desired: int
    pending: int
    task_definition: str
    created_at: datetime | None = None


@dataclass(frozen=True)
class Event:
    id: str
    created_at: datetime
    message: str


@dataclass(frozen=True)
class Service:
    name: str
    arn: str
    status: str
    desired: int
    running: int
    task_definition: str
    deployments: tuple[Deployment, ...]
    events: tuple[Event, ...]
    network_configuration: dict[str, Any] | None
    capacity_provider_strategy: tuple[dict[str, Any], ...]
    platform_version: str | None
    deployment_controller: str = "ECS"  # ECS, CODE_DEPLOY or EXTERNAL
    managed_by: str | None = None  # resourceManagementType: "ECS" for an Express service
    deployment_configuration: dict[str, Any] = field(default_factory=dict)

    def deployment(self, deployment_id: str) -> Deployment | None:
        return next((d for d in self.deployments if d.id == deployment_id), None)

    @property
    def strategy(self) -> str:
        """How the ECS controller replaces tasks: ROLLING (also when absent), BLUE_GREEN, LINEAR or CANARY."""
        return str(self.deployment_configuration.get("strategy") or "ROLLING")

    @property
    def circuit_breaker(self) -> bool:
        """ECS fails a rollout whose tasks keep failing to start (absent means off, as in ECS)."""
        return bool((self.deployment_configuration.get("deploymentCircuitBreaker") or {}).get("enable"))

    @property
    def alarms(self) -> tuple[str, ...]:
        """The CloudWatch alarms that judge its deployments; empty when they are off."""
        alarms = self.deployment_configuration.get("alarms") or {}
        return tuple(alarms.get("alarmNames") or ()) if alarms.get("enable") else ()

    @property
    def bake_minutes(self) -> int | None:
        """`bakeTimeInMinutes` where the service sets one (ECS computes it from the alarms where it does not)."""
        value = self.deployment_configuration.get("bakeTimeInMinutes")
        return int(value) if value is not None else None

    @property
    def primary(self) -> Deployment | None:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)


@dataclass(frozen=True)
class LogSettings:
    group: str
    stream_prefix: str | None
    region: str | None


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    essential: bool
    log: LogSettings | None


@dataclass(frozen=True)
class TaskDefinition:
    arn: str
    containers: tuple[Container, ...]

    @property
    def label(self) -> str:
        """`family:revision`, as people say it."""
        return arn_name(self.arn)

    def container(self, name: str | None) -> Container:
        """The named container, or the first essential one."""
        if name:
            for container in self.containers:
                if container.name == name:
                    return container
            names = ", ".join(c.name for c in self.containers)
            raise DeployError(f"task definition {self.label} has no container {name!r} (it has {names})")
        for container in self.containers:
            if container.essential:
                return container
        raise DeployError(f"task definition {self.label} has no essential container: name one in migrate.container")


@dataclass(frozen=True)
class ContainerState:
    name: str
    exit_code: int | None
    reason: str | None
    last_status: str | None
    image: str = ""  # as the task definition names it (`repo:tag`)
    image_digest: str | None = None  # what ECS resolved it to when the task's deployment was created


@dataclass(frozen=True)
class Task:
    arn: str
    last_status: str
    stop_code: str | None
    stopped_reason: str | None
    containers: tuple[ContainerState, ...] = field(default=())
    started_by: str | None = None

    @property
    def id(self) -> str:
        return arn_name(self.arn)

    def container(self, name: str) -> ContainerState | None:
        return next((c for c in self.containers if c.name == name), None)

    def reasons(self, container: str | None = None) -> list[str]:
        """Why the task stopped: ECS's reason, then the container's (or every container's), each said once.

        ECS often repeats the same text in both places (CannotPullContainerError, for one).
        """
        found = [self.stopped_reason] + [c.reason for c in self.containers if container in (None, c.name)]
        return list(dict.fromkeys(r for r in found if r))


SKEW = timedelta(seconds=5)


def chunks(items: Sequence[str], size: int) -> list[list[str]]:
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


class Cluster:
    """One ECS cluster. Reads that take several calls (more than 10 services, more than 100 tasks) make them
    `parallel` at a time."""

    def __init__(self, client: Any, name: str, parallel: int = 8, writes: Writes = NO_RETRY) -> None:
        self.client = client
        self.name = name
        self.parallel = parallel
        self.writes = writes  # how long a throttled write is tried again (see clock.Writes)
        self._task_definitions: dict[str, TaskDefinition] = {}
        # False once ECS answered that it does not offer the service-deployment API: not asked again this run
        self.deployments_api = True

    def service_names(self) -> list[str]:
        """Every service of the cluster, by name, sorted (`ListServices`, every page)."""
        names: list[str] = []
        params: dict[str, Any] = {"cluster": self.name, "maxResults": LIST_SERVICES_LIMIT}
        while True:
            try:
                response = call("ecs:ListServices", self.client.list_services, **params)
            except AwsError as err:
                if err.code == "ClusterNotFoundException":
                    raise self._missing_cluster("--cluster") from None
                raise
            names.extend(arn_name(arn) for arn in response.get("serviceArns") or [])
            if not response.get("nextToken"):
                return sorted(names)
            params["nextToken"] = response["nextToken"]

    def _missing_cluster(self, what: str = "the environment's cluster") -> DeployError:
        return DeployError(f"ECS cluster {self.name!r} not found in this account and region: check {what}, the "
                           "region and the credentials in use")

    def services(self, names: Sequence[str]) -> dict[str, Service]:
        """Every named service, `describe_services` 10 at a time; an error naming any that is missing."""
        found: dict[str, Service] = {}
        missing: list[str] = []

        def describe(chunk: list[str]) -> dict[str, Any]:
            try:
                return call("ecs:DescribeServices", self.client.describe_services, cluster=self.name, services=chunk)
            except AwsError as err:
                if err.code == "ClusterNotFoundException":
                    raise self._missing_cluster() from None
                raise

        for response in fan_out(describe, chunks(names, DESCRIBE_SERVICES_LIMIT), self.parallel):
            for raw in response.get("services") or []:
                service = _service(raw)
                if service.status == "INACTIVE":
                    missing.append(service.name)
                else:
                    found[service.name] = service
            missing.extend(arn_name(f.get("arn", "")) for f in response.get("failures") or [])
        if missing:
            raise DeployError(
                f"ECS service(s) {', '.join(sorted(missing))} not found in cluster {self.name!r}: check the "
                "environment's services"
            )
        return {name: found[name] for name in names}

    def force_new_deployment(self, service: str, before: str | None = None) -> Deployment:
        """Start a rolling deployment of the service's current task definition; return the new PRIMARY one.
        `before` is the id of the PRIMARY deployment as last read (the preflight's), when known."""
        sent = self.writes.clock.now()

        def landed() -> Deployment | None:
            """A request whose answer was lost started our deployment if the PRIMARY one is new: never the one
            that was PRIMARY before (`before`), and created by ECS no more than SKEW before this machine sent the
            request (its clock may run that far ahead of ECS's; the deploy lock keeps other deploys away). Where
            `before` is known, a new PRIMARY created earlier than that is still ours (nothing else deploys under the
            lock), said in one line since this machine's clock then runs ahead of AWS's by more than SKEW."""
            primary = self.services([service])[service].primary
            if primary is None or primary.created_at is None or (before is not None and primary.id == before):
                return None
            if primary.created_at >= sent - SKEW:
                return primary
            if before is None:  # nothing tells ours from an older one: send it again
                return None
            early = (sent - primary.created_at).total_seconds()
            self.writes.say(f"    {service}: PRIMARY deployment {primary.id} is new since the preflight, so ours, "
                            f"though ECS created it {early:.0f}s before this machine sent UpdateService: this "
                            f"machine's clock runs more than {SKEW.total_seconds():.0f}s ahead of AWS's (check NTP)")
            return primary

        primary = self.writes.attempt(
            "ecs:UpdateService",
            lambda: _service(call("ecs:UpdateService", self.client.update_service, cluster=self.name,
                                  service=service, forceNewDeployment=True)["service"]).primary,
            landed, subject=service)
        if primary is None:
            raise DeployError(f"ECS started no deployment for {service}: check the service in the console")
        return primary

    # --- service deployments (service_deployments.py) --------------------------------------------------

    def service_deployments(self, service: str, *, after: datetime | None = None, statuses: Sequence[str] = (),
                            limit: int | None = None) -> list[tuple[str, str, datetime | None]]:
        """(arn, status, createdAt) of the service's deployments created after `after`, newest first, every page
        (the API has no paginator); with `limit`, only ECS's first `limit` (its newest)."""
        params: dict[str, Any] = {"cluster": self.name, "service": service, "maxResults": limit or 100}
        if after is not None:
            params["createdAt"] = {"after": after}
        if statuses:
            params["status"] = list(statuses)
        found: list[tuple[str, str, datetime | None]] = []
        while True:
            response = call("ecs:ListServiceDeployments", self.client.list_service_deployments, **params)
            found.extend((d.get("serviceDeploymentArn", ""), d.get("status", ""), d.get("createdAt"))
                         for d in response.get("serviceDeployments") or [])
            if not response.get("nextToken") or limit:
                break
            params["nextToken"] = response["nextToken"]
        epoch = datetime.min.replace(tzinfo=timezone.utc)
        return sorted(found, key=lambda d: d[2] or epoch, reverse=True)

    def describe_service_deployments(self, arns: Sequence[str]) -> dict[str, ServiceDeployment]:
        """Each named deployment, 20 a call; one ECS no longer knows is left out."""
        found: dict[str, ServiceDeployment] = {}

        def describe(chunk: list[str]) -> list[ServiceDeployment]:
            response = call("ecs:DescribeServiceDeployments", self.client.describe_service_deployments,
                            serviceDeploymentArns=chunk)
            return [parse_deployment(d) for d in response.get("serviceDeployments") or []]

        for described in fan_out(describe, chunks(list(arns), DESCRIBE_DEPLOYMENTS_LIMIT), self.parallel):
            found.update((d.arn, d) for d in described)
        return found

    def stop_service_deployment(self, arn: str, *, subject: str = "") -> None:
        """Roll an ongoing deployment back (`stopType=ROLLBACK`); one already ending or ended is left as it is."""
        def stop() -> None:
            try:
                call("ecs:StopServiceDeployment", self.client.stop_service_deployment, serviceDeploymentArn=arn,
                     stopType="ROLLBACK")
            except AwsError as err:
                if err.code != "ConflictException":  # already stopping, rolling back or finished
                    raise

        self.writes.attempt("ecs:StopServiceDeployment", stop, subject=subject)

    def continue_service_deployment(self, arn: str, hook_id: str, action: str) -> None:
        """Decide a PAUSE hook: CONTINUE the deployment or ROLLBACK it."""
        self.writes.attempt("ecs:ContinueServiceDeployment",
                            lambda: call("ecs:ContinueServiceDeployment", self.client.continue_service_deployment,
                                         serviceDeploymentArn=arn, hookId=hook_id, action=action))

    def task_definition(self, name: str) -> TaskDefinition:
        """The task definition by ARN or family[:revision]; read once per run."""
        if name not in self._task_definitions:
            self._task_definitions[name] = self._describe_task_definition(name)
        return self._task_definitions[name]

    def _describe_task_definition(self, name: str) -> TaskDefinition:
        try:
            response = call("ecs:DescribeTaskDefinition", self.client.describe_task_definition, taskDefinition=name)
        except AwsError as err:
            if err.code in ("ClientException", "InvalidParameterException"):
                raise DeployError(f"task definition {name!r} not found: check migrate.task_definition") from None
            raise
        raw = response["taskDefinition"]
        containers = []
        for c in raw.get("containerDefinitions") or []:
            log = c.get("logConfiguration") or {}
            options = log.get("options") or {}
            settings = None
            if log.get("logDriver") == "awslogs" and options.get("awslogs-group"):
                settings = LogSettings(
                    group=options["awslogs-group"],
                    stream_prefix=options.get("awslogs-stream-prefix"),
                    region=options.get("awslogs-region"),
                )
            containers.append(
                Container(name=c["name"], image=c.get("image", ""), essential=c.get("essential", True), log=settings)
            )
        return TaskDefinition(arn=raw["taskDefinitionArn"], containers=tuple(containers))

    def run_task(
        self,
        *,
        task_definition: str,
        container: str,
        command: Sequence[str],
        network_configuration: dict[str, Any] | None,
        capacity_provider_strategy: Sequence[dict[str, Any]] = (),
        platform_version: str | None = None,
        started_by: str,
        client_token: str,
    ) -> Task:
        params: dict[str, Any] = {
            "cluster": self.name,
            "taskDefinition": task_definition,
            "count": 1,
            "overrides": {"containerOverrides": [{"name": container, "command": list(command)}]},
            "startedBy": started_by,
            "clientToken": client_token,
        }
        if capacity_provider_strategy:
            params["capacityProviderStrategy"] = list(capacity_provider_strategy)
        else:
            params["launchType"] = "FARGATE"
        if network_configuration:
            params["networkConfiguration"] = network_configuration
        if platform_version:
            params["platformVersion"] = platform_version
        response = call("ecs:RunTask", self.client.run_task, **params)
        failures = response.get("failures") or []
        tasks = response.get("tasks") or []
        if failures or not tasks:
            reasons = "; ".join(f"{f.get('reason')}{': ' + f['detail'] if f.get('detail') else ''}" for f in failures)
            raise DeployError(f"ECS did not start the migration task: {reasons or 'no task returned'}")
        return _task(tasks[0])

    def tasks(self, arns: Iterable[str]) -> list[Task]:
        def describe(chunk: list[str]) -> list[Task]:
            response = call("ecs:DescribeTasks", self.client.describe_tasks, cluster=self.name, tasks=chunk)
            return [_task(t) for t in response.get("tasks") or []]

        return [task for found in fan_out(describe, chunks(list(arns), DESCRIBE_TASKS_LIMIT), self.parallel)
                for task in found]

    def task(self, arn: str) -> Task:
        tasks = self.tasks([arn])
        if not tasks:
            raise DeployError(f"ECS no longer knows task {arn_name(arn)} in cluster {self.name}")
        return tasks[0]

    def stopped_tasks(self, started_by: str, limit: int = 5) -> list[Task]:
        """The latest stopped tasks that `started_by` (a deployment id) started."""
        response = call("ecs:ListTasks", self.client.list_tasks, cluster=self.name, desiredStatus="STOPPED",
                        startedBy=started_by, maxResults=limit)
        arns = response.get("taskArns") or []
        return self.tasks(arns) if arns else []

    def running_tasks(self, services: Sequence[str]) -> dict[str, list[Task]]:
        """Each service's tasks that ECS means to keep running (`desiredStatus` RUNNING): one listing per
        service (every page), then one description per 100 tasks of them all."""

        def listing(service: str) -> list[str]:
            arns: list[str] = []
            params: dict[str, Any] = {"cluster": self.name, "serviceName": service, "desiredStatus": "RUNNING",
                                      "maxResults": LIST_TASKS_LIMIT}
            while True:
                response = call("ecs:ListTasks", self.client.list_tasks, **params)
                arns.extend(response.get("taskArns") or [])
                if not response.get("nextToken"):
                    return arns
                params["nextToken"] = response["nextToken"]

        listed = dict(zip(services, fan_out(listing, list(services), self.parallel), strict=True))
        described = {task.arn: task for task in self.tasks([a for arns in listed.values() for a in arns])}
        return {service: [described[a] for a in arns if a in described] for service, arns in listed.items()}


def _service(raw: dict[str, Any]) -> Service:
    deployments = tuple(
        Deployment(
            id=d["id"],
            status=d.get("status", ""),
            rollout_state=d.get("rolloutState"),
            rollout_reason=d.get("rolloutStateReason"),
            running=int(d.get("runningCount", 0)),
            desired=int(d.get("desiredCount", 0)),
            pending=int(d.get("pendingCount", 0)),
            task_definition=d.get("taskDefinition", ""),
            created_at=d.get("createdAt"),
        )
        for d in raw.get("deployments") or []
    )
    events = tuple(
        Event(id=e.get("id", ""), created_at=e["createdAt"], message=e.get("message", ""))
        for e in raw.get("events") or []
        if e.get("createdAt") is not None
    )
    return Service(
        name=raw["serviceName"],
        arn=raw.get("serviceArn", ""),
        status=raw.get("status", ""),
        desired=int(raw.get("desiredCount", 0)),
        running=int(raw.get("runningCount", 0)),
        task_definition=raw.get("taskDefinition", ""),
        deployments=deployments,
        events=events,
        network_configuration=raw.get("networkConfiguration"),
        capacity_provider_strategy=tuple(raw.get("capacityProviderStrategy") or ()),
        platform_version=raw.get("platformVersion") if raw.get("platformVersion") not in (None, "LATEST") else None,
        deployment_controller=str((raw.get("deploymentController") or {}).get("type") or "ECS"),
        deployment_configuration=dict(raw.get("deploymentConfiguration") or {}),
        managed_by=raw.get("resourceManagementType"),
    )


def _task(raw: dict[str, Any]) -> Task:
    return Task(
        arn=raw["taskArn"],
        last_status=raw.get("lastStatus", ""),
        stop_code=raw.get("stopCode"),
        stopped_reason=raw.get("stoppedReason"),
        containers=tuple(
            ContainerState(
                name=c.get("name", ""),
                exit_code=c.get("exitCode"),
                reason=c.get("reason"),
                last_status=c.get("lastStatus"),
                image=c.get("image") or "",
                image_digest=c.get("imageDigest"),
            )
            for c in raw.get("containers") or []
        ),
        started_by=raw.get("startedBy"),
    )
