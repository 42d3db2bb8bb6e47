"""ECS service deployments: what ECS itself says of one deployment of a service, for every strategy.

Assumptions (botocore's ECS model): every UpdateService that replaces tasks starts one service deployment, for
rolling, BLUE_GREEN, LINEAR and CANARY services alike, listed by ListServiceDeployments (newest first, 90 days)
and described by DescribeServiceDeployments (at most 20 a call). Its `status` ends in one of four final values,
and only SUCCESSFUL is a success; a rollback creates no new deployment, the same one ends ROLLBACK_SUCCESSFUL or
ROLLBACK_FAILED. `lifecycleStage` is empty for rolling deployments and new stage names may appear, so a stage is
an open string here, shown as ECS says it. Older endpoints answer the operations with UnknownOperationException
(or UnsupportedFeatureException): `not_offered` tells those apart, and the caller falls back to `deployments[]`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .aws import AwsError

DESCRIBE_LIMIT = 20  # DescribeServiceDeployments takes at most 20 ARNs a call
ONGOING = ("PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
FINAL = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
_NOT_OFFERED = {"UnknownOperationException", "UnsupportedFeatureException", "InvalidAction"}


def not_offered(err: Exception) -> bool:
    """The endpoint does not know the service-deployment API (an older region or endpoint)."""
    return isinstance(err, AwsError) and err.code in _NOT_OFFERED


@dataclass(frozen=True)
class Hook:
    """One lifecycle hook's run in a deployment."""

    hook_id: str
    target_type: str  # AWS_LAMBDA or PAUSE
    status: str  # AWAITING_ACTION, IN_PROGRESS, SUCCEEDED, FAILED, TIMED_OUT
    expires_at: datetime | None
    timeout_action: str | None  # ROLLBACK or CONTINUE: what ECS does when it expires

    @property
    def paused(self) -> bool:
        """A PAUSE hook that waits for `ContinueServiceDeployment`."""
        return self.target_type == "PAUSE" and self.status == "AWAITING_ACTION"


@dataclass(frozen=True)
class ServiceDeployment:
    arn: str
    status: str
    status_reason: str | None = None
    stage: str | None = None  # lifecycleStage; None for rolling deployments
    created_at: datetime | None = None
    target_revision: str = ""
    production_weight: float | None = None  # the new revision's requested production traffic, percent
    test_weight: float | None = None
    running: int | None = None  # the new revision's running tasks
    requested: int | None = None
    hooks: tuple[Hook, ...] = ()
    rollback_reason: str | None = None
    rollback_revision: str | None = None
    breaker: tuple[str, int, int] | None = None  # (status, failureCount, threshold)
    alarms: tuple[str, ...] = ()
    triggered_alarms: tuple[str, ...] = ()

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def paused(self) -> tuple[Hook, ...]:
        return tuple(h for h in self.hooks if h.paused)

    def why(self) -> str:
        """Everything ECS says of why it ended as it did, in one line (empty when it says nothing)."""
        parts = [self.status_reason or ""]
        if self.rollback_reason and self.rollback_reason != self.status_reason:
            parts.append(f"rollback: {self.rollback_reason}")
        if self.breaker and self.breaker[0] == "TRIGGERED":
            parts.append(f"circuit breaker triggered: {self.breaker[1]} failed tasks (threshold {self.breaker[2]})")
        if self.triggered_alarms:
            parts.append(f"alarm(s) in ALARM: {', '.join(self.triggered_alarms)}")
        for hook in self.hooks:
            if hook.status in ("FAILED", "TIMED_OUT"):
                parts.append(f"lifecycle hook {hook.hook_id} ({hook.target_type}) {hook.status}")
        return "; ".join(dict.fromkeys(p for p in parts if p))

    def where(self) -> str:
        """Its stage and traffic weight in words: `PRODUCTION_TRAFFIC_SHIFT 20%`, or its status for rolling."""
        text = self.stage or self.status
        if self.production_weight is not None and self.stage:
            text += f" {weight(self.production_weight)}"
        return text


def weight(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:g}%"


def parse(raw: dict[str, Any]) -> ServiceDeployment:
    target = raw.get("targetServiceRevision") or {}
    breaker = raw.get("deploymentCircuitBreaker") or {}
    alarms = raw.get("alarms") or {}
    rollback = raw.get("rollback") or {}
    return ServiceDeployment(
        arn=raw.get("serviceDeploymentArn", ""),
        status=str(raw.get("status") or ""),
        status_reason=raw.get("statusReason"),
        stage=raw.get("lifecycleStage") or None,
        created_at=raw.get("createdAt"),
        target_revision=target.get("arn", ""),
        production_weight=target.get("requestedProductionTrafficWeight"),
        test_weight=target.get("requestedTestTrafficWeight"),
        running=target.get("runningTaskCount"),
        requested=target.get("requestedTaskCount"),
        hooks=tuple(
            Hook(hook_id=h.get("hookId", ""), target_type=h.get("targetType") or "AWS_LAMBDA",
                 status=h.get("status", ""), expires_at=h.get("expiresAt"), timeout_action=h.get("timeoutAction"))
            for h in raw.get("lifecycleHookDetails") or []
        ),
        rollback_reason=rollback.get("reason"),
        rollback_revision=rollback.get("serviceRevisionArn"),
        breaker=(str(breaker.get("status") or ""), int(breaker.get("failureCount") or 0),
                 int(breaker.get("threshold") or 0)) if breaker else None,
        alarms=tuple(alarms.get("alarmNames") or ()),
        triggered_alarms=tuple(alarms.get("triggeredAlarmNames") or ()),
    )


def strategy_seconds(configuration: dict[str, Any]) -> float:
    """The least time a deployment of this strategy takes beyond its tasks starting: its bake time, each linear
    step's bake, the canary's bake (ECS's defaults where the service leaves them out)."""
    strategy = str(configuration.get("strategy") or "ROLLING")
    if strategy == "ROLLING":
        return 0.0
    minutes = float(configuration.get("bakeTimeInMinutes") or 0)
    if strategy == "LINEAR":
        linear = configuration.get("linearConfiguration") or {}
        step = float(linear.get("stepPercent") or 10)
        step_bake = float(linear.get("stepBakeTimeInMinutes") if linear.get("stepBakeTimeInMinutes") is not None
                          else 6)
        minutes += max(math.ceil(100 / step) - 1, 0) * step_bake
    elif strategy == "CANARY":
        canary = configuration.get("canaryConfiguration") or {}
        minutes += float(canary.get("canaryBakeTimeInMinutes") if canary.get("canaryBakeTimeInMinutes") is not None
                         else 10)
    return minutes * 60.0
