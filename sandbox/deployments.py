"""ECS's service deployments, which moto lacks: their records, their lifecycle stages, and the five API operations.

Assumptions (moto 5.2.6, botocore's ECS model 1.44.18): moto dispatches an ECS action to the method of
`EC2ContainerServiceResponse` named by the action in snake_case and serialises an `ActionResult` through the
botocore model (timestamps as epoch seconds), so `install_api` adds one method per operation to that class and
`uninstall_api` takes them away when no emulator is left. Each request finds its emulator by the moto backend it
is served from. A service revision is what a deployment resolved (task definition, digest); its ARN ends in the
number of the `ecs-svc/<N>` id of the service's matching `deployments[]` entry, as ECS's do. The stage plan of
blue/green, linear and canary is ECS's documented order; how long each stage takes is the sandbox's choice: a
share of the emulator's rollout time, and bake times in ECS minutes of `minute_seconds` emulated seconds each.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from moto.core.exceptions import ServiceException
from moto.core.utils import utcnow
from moto.ecs.responses import EC2ContainerServiceResponse

STAGES = (
    "RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP",
)
ONGOING = ("PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
FINAL = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
STRATEGIES = ("ROLLING", "BLUE_GREEN", "LINEAR", "CANARY")
# Each stage's share of the emulator's rollout time (bake times come on top, in ECS minutes).
STAGE_SHARE = {
    "RECONCILE_SERVICE": 0.05, "PRE_SCALE_UP": 0.05, "SCALE_UP": 0.4, "POST_SCALE_UP": 0.05,
    "TEST_TRAFFIC_SHIFT": 0.1, "POST_TEST_TRAFFIC_SHIFT": 0.05, "PRODUCTION_TRAFFIC_SHIFT": 0.1,
    "POST_PRODUCTION_TRAFFIC_SHIFT": 0.05, "CLEAN_UP": 0.15,
}
HOOK_SHARE = 0.05  # how long a Lambda hook takes to answer
ROLLBACK_SHARE = 0.2  # how long a rollback takes, from ROLLBACK_IN_PROGRESS to ROLLBACK_SUCCESSFUL
MAX_DESCRIBE = 20
DEFAULT_MAX_RESULTS = 20
STOP_REASON = "Service deployment rolled back because of a StopServiceDeployment request."
SUPERSEDED_REASON = "Service deployment stopped: superseded by a newer service deployment."
CONTINUE_ROLLBACK_REASON = "Service deployment rolled back because of a ContinueServiceDeployment ROLLBACK action."


def strategy_of(configuration: dict[str, Any] | None) -> str:
    return str((configuration or {}).get("strategy") or "ROLLING")


def circuit_breaker_threshold(desired: int) -> int:
    """ECS's failed-task threshold: half the desired count, at least 3 and at most 200."""
    return min(200, max(3, math.ceil(desired * 0.5)))


@dataclass(frozen=True)
class Step:
    """One stretch of a deployment's plan: a lifecycle stage (or a part of one) and how long it lasts."""

    stage: str
    seconds: float
    production: float | None = None  # the target's requested production weight from this step on
    test: float | None = None
    hooks: bool = False  # the stage's lifecycle hooks run in this step (a stage's first)


def plan(configuration: dict[str, Any], rollout_seconds: float, minute_seconds: float) -> list[Step]:
    """The stages a BLUE_GREEN, LINEAR or CANARY deployment passes, in order (none for ROLLING)."""
    strategy = strategy_of(configuration)
    if strategy == "ROLLING":
        return []
    r, minute = rollout_seconds, minute_seconds
    steps = [Step(stage, STAGE_SHARE[stage] * r, hooks=True)
             for stage in ("RECONCILE_SERVICE", "PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP")]
    steps.append(Step("TEST_TRAFFIC_SHIFT", STAGE_SHARE["TEST_TRAFFIC_SHIFT"] * r, test=100.0, hooks=True))
    steps.append(Step("POST_TEST_TRAFFIC_SHIFT", STAGE_SHARE["POST_TEST_TRAFFIC_SHIFT"] * r, hooks=True))
    shift, stage = STAGE_SHARE["PRODUCTION_TRAFFIC_SHIFT"] * r, "PRODUCTION_TRAFFIC_SHIFT"
    if strategy == "LINEAR":
        linear = configuration.get("linearConfiguration") or {}
        percent = float(linear.get("stepPercent") or 10.0)
        bake = float(linear.get("stepBakeTimeInMinutes", 6)) * minute
        weights = [min(100.0, round(percent * n, 6)) for n in range(1, math.ceil(100.0 / percent) + 1)]
        for number, weight in enumerate(weights):
            steps.append(Step(stage, shift / len(weights), production=weight, hooks=number == 0))
            if weight < 100.0:
                steps.append(Step(stage, bake))
    elif strategy == "CANARY":
        canary = configuration.get("canaryConfiguration") or {}
        steps.append(Step(stage, shift / 2, production=float(canary.get("canaryPercent") or 5.0), hooks=True))
        steps.append(Step(stage, float(canary.get("canaryBakeTimeInMinutes", 10)) * minute))
        steps.append(Step(stage, shift / 2, production=100.0))
    else:
        steps.append(Step(stage, shift, production=100.0, hooks=True))
    steps.append(Step("POST_PRODUCTION_TRAFFIC_SHIFT", STAGE_SHARE["POST_PRODUCTION_TRAFFIC_SHIFT"] * r, hooks=True))
    steps.append(Step("BAKE_TIME", float(configuration.get("bakeTimeInMinutes") or 0) * minute))
    steps.append(Step("CLEAN_UP", STAGE_SHARE["CLEAN_UP"] * r))
    return steps


@dataclass(frozen=True)
class Progress:
    """Where a deployment's plan stands: how far SCALE_UP is (0-1), whether it waits at the end of SCALE_UP for
    the emulator to judge its tasks, and whether the plan is done."""

    scale: float
    held: bool = False
    done: bool = False


@dataclass
class Hook:
    """One run of a lifecycle hook in one stage of one deployment."""

    hook_id: str
    target_type: str  # AWS_LAMBDA or PAUSE
    target_arn: str | None
    stage: str
    timeout_action: str
    started: float  # emulated seconds
    deadline: float  # emulated seconds: a PAUSE hook's expiry, a Lambda's answer
    answer: str  # what a Lambda answers at its deadline: SUCCEEDED or FAILED
    status: str = "IN_PROGRESS"
    expires_at: datetime | None = None
    ended: float | None = None  # emulated seconds

    def detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"hookId": self.hook_id, "targetType": self.target_type, "status": self.status,
                                  "timeoutAction": self.timeout_action}
        if self.target_arn:
            detail["targetArn"] = self.target_arn
        if self.expires_at is not None:
            detail["expiresAt"] = self.expires_at
        return detail


@dataclass
class Revision:
    arn: str
    service_arn: str
    cluster_arn: str
    task_definition: str
    container: str
    image: str
    digest: str | None
    launch_type: str | None
    created_at: datetime

    def describe(self) -> dict[str, Any]:
        image: dict[str, Any] = {"containerName": self.container, "image": self.image}
        if self.digest:
            image["imageDigest"] = self.digest
        revision: dict[str, Any] = {"serviceRevisionArn": self.arn, "serviceArn": self.service_arn,
                                    "clusterArn": self.cluster_arn, "taskDefinition": self.task_definition,
                                    "containerImages": [image], "createdAt": self.created_at}
        if self.launch_type:
            revision["launchType"] = self.launch_type
        return revision


@dataclass
class ServiceDeployment:
    """One service deployment: the record ECS keeps, and where its plan stands (emulated seconds)."""

    arn: str
    service_key: str  # "<cluster>:<service>" as moto keys services
    service_arn: str
    cluster_arn: str
    deployment_id: str  # the `deployments[].id` it belongs to
    strategy: str
    configuration: dict[str, Any]
    source: str | None  # the revision it replaces
    target: str
    desired: int
    steps: list[Step]
    created_at: datetime
    status: str = "PENDING"
    status_reason: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    stopped_at: datetime | None = None
    updated_at: datetime | None = None
    step: int = -1  # index into `steps`; -1 before the first
    step_started: float = 0.0
    running: int = 0  # the target's running tasks
    pending: int = 0
    source_running: int = 0
    production: float = 0.0  # the target's requested production traffic weight
    test: float = 0.0
    hooks: list[Hook] = field(default_factory=list)
    rollback: dict[str, Any] | None = None
    rollback_started: float | None = None  # emulated seconds
    breaker: dict[str, Any] = field(default_factory=dict)
    alarms: dict[str, Any] = field(default_factory=dict)

    @property
    def stage(self) -> str | None:
        return self.steps[self.step].stage if 0 <= self.step < len(self.steps) else None

    @property
    def ongoing(self) -> bool:
        return self.status in ONGOING

    @property
    def rolling_back(self) -> bool:
        return self.status in ("ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")

    def touch(self) -> None:
        self.updated_at = utcnow()

    def brief(self) -> dict[str, Any]:
        brief: dict[str, Any] = {"serviceDeploymentArn": self.arn, "serviceArn": self.service_arn,
                                 "clusterArn": self.cluster_arn, "createdAt": self.created_at,
                                 "targetServiceRevisionArn": self.target, "status": self.status}
        for key, value in (("startedAt", self.started_at), ("finishedAt", self.finished_at),
                           ("statusReason", self.status_reason)):
            if value:
                brief[key] = value
        return brief

    def describe(self) -> dict[str, Any]:
        weighted = self.strategy != "ROLLING"
        target: dict[str, Any] = {"arn": self.target, "requestedTaskCount": self.desired,
                                  "runningTaskCount": self.running, "pendingTaskCount": self.pending}
        sources = []
        if self.source:
            sources.append({"arn": self.source, "requestedTaskCount": self.desired,
                            "runningTaskCount": self.source_running, "pendingTaskCount": 0})
        if weighted:
            target.update(requestedProductionTrafficWeight=self.production, requestedTestTrafficWeight=self.test)
            for source in sources:
                source.update(requestedProductionTrafficWeight=100.0 - self.production,
                              requestedTestTrafficWeight=100.0 - self.test)
        record: dict[str, Any] = {
            **self.brief(),
            "updatedAt": self.updated_at or self.created_at,
            "sourceServiceRevisions": sources,
            "targetServiceRevision": target,
            "deploymentConfiguration": self.configuration,
            "deploymentCircuitBreaker": dict(self.breaker),
            "alarms": dict(self.alarms),
            "lifecycleHookDetails": [hook.detail() for hook in self.hooks],
        }
        if self.stage:
            record["lifecycleStage"] = self.stage
        if self.stopped_at:
            record["stoppedAt"] = self.stopped_at
        if self.rollback:
            record["rollback"] = dict(self.rollback)
        return record


def _number(deployment_id: str) -> str:
    """The number of an `ecs-svc/<N>` deployment id, which ends its service revision's ARN."""
    return deployment_id.rsplit("/", 1)[-1]


class ServiceDeployments:
    """The service deployments and revisions one emulator has made, and the API's answers about them.

    The emulator moves them (it holds the lock every method here runs under); this class keeps the records and
    answers for them as ECS's API does.
    """

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.records: list[ServiceDeployment] = []  # oldest first
        self.revisions: dict[str, Revision] = {}
        self.by_deployment: dict[str, ServiceDeployment] = {}
        self.revision_of: dict[str, str] = {}  # deployment id -> its revision's ARN

    # --- making records ---------------------------------------------------------------------------------

    def revision(self, service: Any, deployment_id: str, task_definition: str, digest: str | None) -> str:
        if deployment_id in self.revision_of:
            return self.revision_of[deployment_id]
        definition = self.backend.describe_task_definition(task_definition)
        container = (definition.container_definitions or [{}])[0]
        arn = (f"arn:aws:ecs:{self.backend.region_name}:{self.backend.account_id}:service-revision/"
               f"{service.cluster_name}/{service.name}/{_number(deployment_id)}")
        self.revisions[arn] = Revision(arn=arn, service_arn=service.arn, cluster_arn=service.cluster_arn,
                                       task_definition=definition.arn, container=str(container.get("name") or ""),
                                       image=str(container.get("image") or ""), digest=digest,
                                       launch_type=service.launch_type, created_at=utcnow())
        self.revision_of[deployment_id] = arn
        return arn

    def start(self, service: Any, deployment_id: str, previous_id: str | None, digest: str | None, *,
              rollout_seconds: float, minute_seconds: float, now: float) -> ServiceDeployment:
        """The record of a deployment UpdateService has just started (PENDING)."""
        configuration = _plain(getattr(service, "deployment_configuration", None) or {})
        target = self.revision(service, deployment_id, service.task_definition, digest)
        breaker_settings = configuration.get("deploymentCircuitBreaker") or {}
        alarm_settings = configuration.get("alarms") or {}
        alarms_on = bool(alarm_settings.get("enable")) and bool(alarm_settings.get("alarmNames"))
        record = ServiceDeployment(
            arn=(f"arn:aws:ecs:{self.backend.region_name}:{self.backend.account_id}:service-deployment/"
                 f"{service.cluster_name}/{service.name}/{uuid.uuid4().hex[:21]}"),
            service_key=f"{service.cluster_name}:{service.name}",
            service_arn=service.arn,
            cluster_arn=service.cluster_arn,
            deployment_id=deployment_id,
            strategy=strategy_of(configuration),
            configuration=configuration,
            source=self.revision_of.get(previous_id or ""),
            target=target,
            desired=int(service.desired_count),
            steps=plan(configuration, rollout_seconds, minute_seconds),
            created_at=utcnow(),
            step_started=now,
            source_running=int(service.desired_count),
            breaker={"status": "MONITORING" if breaker_settings.get("enable") else "DISABLED", "failureCount": 0,
                     "threshold": circuit_breaker_threshold(int(service.desired_count))},
            alarms={"status": "MONITORING" if alarms_on else "DISABLED",
                    "alarmNames": list(alarm_settings.get("alarmNames") or []), "triggeredAlarmNames": []},
        )
        record.touch()
        self._add(record)
        service.current_service_deployment = record.arn  # moto serialises it as Service.currentServiceDeployment
        return record

    def settled(self, service: Any, deployment_id: str, digest: str | None) -> None:
        """A finished deployment's record for a service that is already steady (seeded, or settled)."""
        if deployment_id in self.by_deployment:
            return
        record = self.start(service, deployment_id, None, digest, rollout_seconds=0, minute_seconds=0, now=0)
        record.status, record.step = "SUCCESSFUL", len(record.steps)
        record.started_at = record.finished_at = record.created_at
        record.running, record.source_running = record.desired, 0
        record.production = record.test = 100.0
        self._complete_monitors(record)

    def _add(self, record: ServiceDeployment) -> None:
        self.records = [*self.records, record]
        self.by_deployment[record.deployment_id] = record

    # --- moving a record --------------------------------------------------------------------------------

    def begin(self, record: ServiceDeployment) -> None:
        if record.status == "PENDING":
            record.status, record.started_at = "IN_PROGRESS", utcnow()
            record.touch()

    def succeed(self, record: ServiceDeployment) -> None:
        record.status, record.finished_at = "SUCCESSFUL", utcnow()
        record.running, record.pending, record.source_running = record.desired, 0, 0
        if record.strategy != "ROLLING":
            record.production = record.test = 100.0
        self._complete_monitors(record)
        record.touch()

    def stop(self, record: ServiceDeployment, reason: str) -> None:
        record.status, record.status_reason = "STOPPED", reason
        record.finished_at = record.stopped_at = utcnow()
        self._end_hooks(record)
        record.touch()

    def start_rollback(self, record: ServiceDeployment, reason: str, now: float, *, requested: bool = False) -> None:
        """Rolling back to the source revision: ROLLBACK_REQUESTED (asked for) or ROLLBACK_IN_PROGRESS."""
        if record.rolling_back or not record.ongoing:
            return
        record.status = "ROLLBACK_REQUESTED" if requested else "ROLLBACK_IN_PROGRESS"
        record.rollback = {"reason": reason, "startedAt": utcnow()}
        if record.source:
            record.rollback["serviceRevisionArn"] = record.source
        record.rollback_started = None if requested else now
        if record.strategy != "ROLLING":  # traffic goes back to the source revision first
            record.production = record.test = 0.0
        self._end_hooks(record)
        record.touch()

    def rollback_done(self, record: ServiceDeployment, now: float, rollback_seconds: float) -> bool:
        """Moves a rollback on; True when the source revision runs again (the emulator then restores it)."""
        if record.status == "ROLLBACK_REQUESTED":
            record.status, record.rollback_started = "ROLLBACK_IN_PROGRESS", now
            record.touch()
            return False
        return record.rollback_started is not None and now - record.rollback_started >= rollback_seconds

    def rolled_back(self, record: ServiceDeployment) -> None:
        record.status, record.finished_at = "ROLLBACK_SUCCESSFUL", utcnow()
        record.status_reason = (record.rollback or {}).get("reason", "")
        record.running = record.pending = 0
        record.source_running = record.desired
        record.production = record.test = 0.0
        record.touch()

    def trip_breaker(self, record: ServiceDeployment, failures: int) -> None:
        threshold = record.breaker.get("threshold", 3)
        record.breaker = {**record.breaker, "status": "TRIGGERED", "failureCount": max(failures, threshold)}
        record.touch()

    def advance_plan(self, record: ServiceDeployment, now: float, *, hook_seconds: float,
                     failing_hooks: Collection[str], alarm_stage: str | None, hold_scale_up: bool,
                     minute_seconds: float) -> Progress:
        """Moves a BLUE_GREEN, LINEAR or CANARY deployment along its plan to `now`, as far as its hooks let it;
        several stages may pass in one call. A failing hook, an expired PAUSE hook whose timeout action is
        ROLLBACK, or an alarm that rolls back starts the rollback here."""
        self.begin(record)
        if record.step < 0:
            self._enter(record, 0, record.step_started, hook_seconds, failing_hooks, minute_seconds)
        while record.ongoing and not record.rolling_back and record.step < len(record.steps):
            step = record.steps[record.step]
            ended = self._hooks_ended(record, now)
            if not record.ongoing or record.rolling_back:
                break
            if (alarm_stage == step.stage and record.alarms.get("status") == "MONITORING"
                    and now >= record.step_started + step.seconds / 2):
                self._alarm(record, now)
                break
            due = record.step_started + step.seconds
            if ended is None or now < due:
                return Progress(self._scale(record, now))
            if step.stage == "SCALE_UP" and hold_scale_up:
                return Progress(1.0, held=True)
            if record.step + 1 == len(record.steps):
                return Progress(1.0, done=True)
            self._enter(record, record.step + 1, max(due, ended), hook_seconds, failing_hooks, minute_seconds)
        return Progress(self._scale(record, now))

    def _enter(self, record: ServiceDeployment, index: int, at: float, hook_seconds: float,
               failing_hooks: Collection[str], minute_seconds: float) -> None:
        record.step, record.step_started = index, at
        step = record.steps[index]
        if step.production is not None:
            record.production = step.production
        if step.test is not None:
            record.test = step.test
        if step.hooks:
            for hook in record.configuration.get("lifecycleHooks") or []:
                if step.stage not in (hook.get("lifecycleStages") or []):
                    continue
                kind = str(hook.get("targetType") or "AWS_LAMBDA")
                timeout = hook.get("timeoutConfiguration") or {}
                minutes = float(timeout.get("timeoutInMinutes") or 1440)
                arn = hook.get("hookTargetArn")
                pause = kind == "PAUSE"
                record.hooks = [*record.hooks, Hook(
                    hook_id=uuid.uuid4().hex[:20], target_type=kind, target_arn=arn, stage=step.stage,
                    timeout_action=str(timeout.get("action") or "ROLLBACK"), started=at,
                    deadline=at + (minutes * minute_seconds if pause else hook_seconds),
                    answer="FAILED" if arn in failing_hooks else "SUCCEEDED",
                    status="AWAITING_ACTION" if pause else "IN_PROGRESS",
                    expires_at=expires(minutes * minute_seconds) if pause else None,
                )]
        record.touch()

    def _hooks_ended(self, record: ServiceDeployment, now: float) -> float | None:
        """When the current step's hooks all ended (emulated seconds; the step's start if it has none), or None
        while one still runs or waits. Hook failures start the rollback."""
        ended = record.step_started
        for hook in record.hooks:
            if hook.stage != record.stage or hook.started < record.step_started:
                continue
            if hook.status in ("IN_PROGRESS", "AWAITING_ACTION") and now >= hook.deadline:
                if hook.target_type == "PAUSE":
                    hook.status = "TIMED_OUT"
                    if hook.timeout_action == "ROLLBACK":
                        self.start_rollback(record, f"Service deployment rolled back because the PAUSE lifecycle "
                                                    f"hook {hook.hook_id} timed out.", now)
                        return None
                else:
                    hook.status = hook.answer
                    if hook.status == "FAILED":
                        self.start_rollback(record, f"Service deployment rolled back because the lifecycle hook "
                                                    f"{hook.target_arn} failed in {hook.stage}.", now)
                        return None
                hook.ended = hook.deadline
                record.touch()
            if hook.status in ("IN_PROGRESS", "AWAITING_ACTION"):
                return None
            ended = max(ended, hook.ended if hook.ended is not None else ended)
        return ended

    def _alarm(self, record: ServiceDeployment, now: float) -> None:
        names = record.alarms.get("alarmNames") or []
        record.alarms = {**record.alarms, "status": "TRIGGERED", "triggeredAlarmNames": names[:1]}
        reason = (f"Service deployment rolled back because the CloudWatch alarm {names[0]} is in ALARM state "
                  f"during {record.stage}.")
        if (record.configuration.get("alarms") or {}).get("rollback"):
            self.start_rollback(record, reason, now)
        else:
            self.stop(record, reason.replace("rolled back", "stopped"))

    @staticmethod
    def _scale(record: ServiceDeployment, now: float) -> float:
        stages = [s.stage for s in record.steps]
        if "SCALE_UP" not in stages or record.step < stages.index("SCALE_UP"):
            return 0.0
        if record.stage != "SCALE_UP":
            return 1.0
        seconds = record.steps[record.step].seconds
        return 1.0 if seconds <= 0 else min(1.0, max(0.0, (now - record.step_started) / seconds))

    def _complete_monitors(self, record: ServiceDeployment) -> None:
        for monitor in (record.breaker, record.alarms):
            if monitor.get("status") == "MONITORING":
                monitor["status"] = "MONITORING_COMPLETE"

    @staticmethod
    def _end_hooks(record: ServiceDeployment) -> None:
        for hook in record.hooks:
            if hook.status in ("IN_PROGRESS", "AWAITING_ACTION"):
                hook.status = "FAILED"

    # --- the API -----------------------------------------------------------------------------------------

    def list(self, cluster: str, service: str, statuses: Iterable[str] | None, after: Any, before: Any,
             max_results: int | None, token: str | None) -> dict[str, Any]:
        key = f"{cluster.split('/')[-1]}:{service.split('/')[-1]}"
        if key not in self.backend.services:
            raise ServiceException("ServiceNotFoundException", "Service not found.")
        limit = DEFAULT_MAX_RESULTS if max_results is None else int(max_results)
        if not 1 <= limit <= 100:
            raise ServiceException("InvalidParameterException", "maxResults must be between 1 and 100.")
        wanted = set(statuses or ())
        after_at, before_at = _when(after), _when(before)
        found = [r for r in reversed(self.records) if r.service_key == key
                 and (not wanted or r.status in wanted)
                 and (after_at is None or _ms(r.created_at) > after_at)
                 and (before_at is None or _ms(r.created_at) < before_at)]
        offset = _offset(token)
        page = found[offset:offset + limit]
        answer: dict[str, Any] = {"serviceDeployments": [r.brief() for r in page]}
        if offset + limit < len(found):
            answer["nextToken"] = base64.urlsafe_b64encode(f"offset:{offset + limit}".encode()).decode()
        return answer

    def describe(self, arns: list[str]) -> dict[str, Any]:
        _check_batch(arns, "serviceDeploymentArns")
        known = {r.arn: r for r in self.records}
        return {"serviceDeployments": [known[a].describe() for a in arns if a in known],
                "failures": [{"arn": a, "reason": "MISSING"} for a in arns if a not in known]}

    def describe_revisions(self, arns: list[str]) -> dict[str, Any]:
        _check_batch(arns, "serviceRevisionArns")
        return {"serviceRevisions": [self.revisions[a].describe() for a in arns if a in self.revisions],
                "failures": [{"arn": a, "reason": "MISSING"} for a in arns if a not in self.revisions]}

    def find(self, arn: str) -> ServiceDeployment:
        for record in self.records:
            if record.arn == arn:
                return record
        raise ServiceException("ServiceDeploymentNotFoundException", f"Service deployment {arn} not found.")

    def request_stop(self, arn: str, stop_type: str | None, now: float) -> dict[str, Any]:
        record = self.find(arn)
        if (stop_type or "ROLLBACK") != "ROLLBACK":
            raise ServiceException("InvalidParameterException", f"stopType {stop_type} is not supported: use ROLLBACK.")
        if record.status in ("STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"):
            return {"serviceDeploymentArn": arn}  # already on its way back: asking again changes nothing
        if not record.ongoing:
            raise ServiceException("ConflictException",
                                   f"The service deployment is {record.status} and can no longer be stopped.")
        self.start_rollback(record, STOP_REASON, now, requested=True)
        return {"serviceDeploymentArn": arn}

    def continue_hook(self, arn: str, hook_id: str, action: str | None, now: float) -> dict[str, Any]:
        record = self.find(arn)
        hooks = [h for h in record.hooks if h.hook_id == hook_id]
        if not hooks:
            raise ServiceException("InvalidParameterException", f"Hook {hook_id} not found in {arn}.")
        hook = hooks[0]
        if hook.status != "AWAITING_ACTION" or not record.ongoing or record.rolling_back:
            raise ServiceException("InvalidParameterException",
                                   f"Hook {hook_id} is {hook.status}, not AWAITING_ACTION: nothing to continue.")
        if (action or "CONTINUE") == "ROLLBACK":
            hook.status = "FAILED"
            self.start_rollback(record, CONTINUE_ROLLBACK_REASON, now, requested=True)
        else:
            hook.status, hook.ended = "SUCCEEDED", now
        record.touch()
        return {"serviceDeploymentArn": arn}


def _plain(value: Any) -> Any:
    """A copy of what moto kept from the request, as plain dicts and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _when(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is None else value.astimezone(timezone.utc).replace(tzinfo=None)
    stamp = datetime.fromtimestamp(float(value), tz=timezone.utc).replace(tzinfo=None)
    return stamp


def _ms(moment: datetime) -> datetime:
    """`moment` as the API shows it: to the millisecond (what a client can pass back as createdAt)."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        kind, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == "offset" and number.isdigit():
            return int(number)
    except (ValueError, UnicodeDecodeError):
        pass
    raise ServiceException("InvalidParameterException", "Invalid nextToken.")


def _check_batch(arns: list[str], name: str) -> None:
    if not arns:
        raise ServiceException("InvalidParameterException", f"{name} must not be empty.")
    if len(arns) > MAX_DESCRIBE:
        raise ServiceException("InvalidParameterException",
                               f"{name} can have at most {MAX_DESCRIBE} members; {len(arns)} were given.")


def expires(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


# --- moto's side: the operations, found per backend --------------------------------------------------------

OPERATIONS = ("list_service_deployments", "describe_service_deployments", "describe_service_revisions",
              "stop_service_deployment", "continue_service_deployment")


class Served(Protocol):
    """What the API handlers need from an emulator (its lock, its clock, whether the endpoint knows the API)."""

    lock: threading.RLock
    now: float
    deployments: ServiceDeployments
    deployments_api: bool


_SERVED: dict[int, tuple[Any, Served]] = {}  # id(backend) -> (backend, emulator)
_REGISTRY_LOCK = threading.Lock()


def install_api(backend: Any, emulator: Served) -> None:
    """Serve the five operations for `backend` from `emulator` (adding them to moto's ECS responses once)."""
    with _REGISTRY_LOCK:
        _SERVED[id(backend)] = (backend, emulator)
        for name, handler in _HANDLERS.items():
            setattr(EC2ContainerServiceResponse, name, handler)


def uninstall_api(backend: Any, emulator: Served) -> None:
    with _REGISTRY_LOCK:
        if _SERVED.get(id(backend), (None, None))[1] is emulator:
            del _SERVED[id(backend)]
        if not _SERVED:
            for name in _HANDLERS:
                if name in EC2ContainerServiceResponse.__dict__:
                    delattr(EC2ContainerServiceResponse, name)


def _served(response: Any) -> Served | None:
    backend = response.ecs_backend
    found = _SERVED.get(id(backend))
    if found is None or found[0] is not backend or not found[1].deployments_api:
        return None
    return found[1]


# What an AWS endpoint answers for an operation it does not know (the code is not in ECS's model, so the answer
# is written here rather than serialised by moto).
UNKNOWN_OPERATION = json.dumps({"__type": "com.amazon.coral.service#UnknownOperationException"})


def _handler(answer: Callable[[Any, Served], dict[str, Any]]) -> Callable[[Any], Any]:
    from moto.core.responses import ActionResult

    def handle(self: Any) -> Any:
        emulator = _served(self)
        if emulator is None:
            return 400, {"status": 400, "Content-Type": "application/x-amz-json-1.1",
                         "x-amzn-ErrorType": "UnknownOperationException"}, UNKNOWN_OPERATION
        with emulator.lock:
            return ActionResult(answer(self, emulator))

    handle.__name__ = answer.__name__
    return handle


def list_service_deployments(self: Any, emulator: Served) -> dict[str, Any]:
    created = self._get_param("createdAt") or {}
    return emulator.deployments.list(self._get_param("cluster") or "default", self._get_param("service") or "",
                                     self._get_param("status"), created.get("after"), created.get("before"),
                                     self._get_param("maxResults"), self._get_param("nextToken"))


def describe_service_deployments(self: Any, emulator: Served) -> dict[str, Any]:
    return emulator.deployments.describe(list(self._get_param("serviceDeploymentArns") or []))


def describe_service_revisions(self: Any, emulator: Served) -> dict[str, Any]:
    return emulator.deployments.describe_revisions(list(self._get_param("serviceRevisionArns") or []))


def stop_service_deployment(self: Any, emulator: Served) -> dict[str, Any]:
    return emulator.deployments.request_stop(self._get_param("serviceDeploymentArn") or "",
                                             self._get_param("stopType"), emulator.now)


def continue_service_deployment(self: Any, emulator: Served) -> dict[str, Any]:
    return emulator.deployments.continue_hook(self._get_param("serviceDeploymentArn") or "",
                                              self._get_param("hookId") or "", self._get_param("action"),
                                              emulator.now)


_HANDLERS = {name: _handler(globals()[name]) for name in OPERATIONS}
