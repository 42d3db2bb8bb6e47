"""Judging rollouts by ECS's service deployments, against a scripted ECS client: what a person reads while a
blue/green, linear or canary deployment moves, each final status, the fallback where the API is missing, and the
calls per poll with 25 services.

The script is one list of service-deployment states per service, one entry per poll (the last repeats), with
AWS's field names; the client answers what the real operations would, and records every call.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fakes import FakeClock

from tasks.core import rollout
from tasks.core.ecs import Cluster
from tasks.core.rollout import Expectation, Rollout
from tasks.core.service_deployments import parse, strategy_seconds

T0 = datetime(2026, 11, 26, 6, 0, tzinfo=timezone.utc)
NEW = "sha256:" + "b" * 64
OLD = "sha256:" + "a" * 64
INTERVAL = 5


def arn(name: str) -> str:
    return f"arn:aws:ecs:us-east-1:123456789012:service-deployment/acme/{name}/sd-{name}"


def state(status: str = "IN_PROGRESS", stage: str | None = None, production: float | None = None, **extra: Any):
    d: dict[str, Any] = {"status": status, "targetServiceRevision": {"arn": "rev", "requestedTaskCount": 2,
                                                                     "runningTaskCount": 2}}
    if stage:
        d["lifecycleStage"] = stage
    if production is not None:
        d["targetServiceRevision"]["requestedProductionTrafficWeight"] = production
    d.update(extra)
    return d


def error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} for test"}, "ResponseMetadata": {
        "HTTPStatusCode": 400}}, operation)


class ScriptedEcs:
    """An ECS client playing `script[service]` (one service-deployment state per poll) on `clock`'s time."""

    def __init__(self, clock: FakeClock, script: dict[str, list[dict[str, Any]]], *, api: bool = True,
                 listed_from_poll: int = 0, faults: dict[tuple[str, int], str] | None = None,
                 digest: str = NEW) -> None:
        self.clock, self.script, self.api = clock, script, api
        self.listed_from_poll = listed_from_poll  # ListServiceDeployments lists ours only from this poll on
        self.faults = faults or {}
        self.digest = digest
        self.calls: Counter[str] = Counter()
        self.per_poll: dict[int, Counter[str]] = {}

    def _poll(self) -> int:
        return int(self.clock.monotonic() // INTERVAL)

    def _call(self, operation: str) -> None:
        self.calls[operation] += 1
        self.per_poll.setdefault(self._poll(), Counter())[operation] += 1
        code = self.faults.get((operation, self._poll()))
        if code:
            raise error(code, operation)
        if operation.endswith("ServiceDeployments") and not self.api:
            raise error("UnknownOperationException", operation)

    def _state(self, name: str) -> dict[str, Any]:
        states = self.script[name]
        return states[min(self._poll(), len(states) - 1)]

    def describe_services(self, cluster: str, services: list[str]) -> dict[str, Any]:
        self._call("DescribeServices")
        assert len(services) <= 10
        found = []
        for name in services:
            status = self._state(name)["status"]
            rollout_state = {"SUCCESSFUL": "COMPLETED", "IN_PROGRESS": "IN_PROGRESS"}.get(status, "FAILED")
            found.append({"serviceName": name, "status": "ACTIVE", "desiredCount": 2, "runningCount": 2,
                          "deployments": [{"id": f"ecs-svc/{name}", "status": "PRIMARY", "rolloutState": rollout_state,
                                           "runningCount": 2, "desiredCount": 2, "createdAt": T0}],
                          "events": [{"id": "e1", "createdAt": T0 + timedelta(seconds=1),
                                      "message": f"(service {name}) has started 2 tasks"}]})
        return {"services": found, "failures": []}

    def list_service_deployments(self, **params: Any) -> dict[str, Any]:
        self._call("ListServiceDeployments")
        assert params["createdAt"]["after"] <= T0
        name = params["service"]
        if self._poll() < self.listed_from_poll:
            return {"serviceDeployments": []}
        return {"serviceDeployments": [{"serviceDeploymentArn": arn(name), "status": self._state(name)["status"],
                                        "createdAt": T0}]}

    def describe_service_deployments(self, serviceDeploymentArns: list[str]) -> dict[str, Any]:
        self._call("DescribeServiceDeployments")
        assert len(serviceDeploymentArns) <= 20
        found = []
        for one in serviceDeploymentArns:
            name = one.split("/")[-2]
            found.append({"serviceDeploymentArn": one, **self._state(name)})
        return {"serviceDeployments": found, "failures": []}

    def list_tasks(self, **params: Any) -> dict[str, Any]:
        self._call("ListTasks")
        if params.get("desiredStatus") == "STOPPED":
            return {"taskArns": []}
        return {"taskArns": [f"arn:aws:ecs:us-east-1:123456789012:task/acme/{params['serviceName']}-1"]}

    def describe_tasks(self, cluster: str, tasks: list[str]) -> dict[str, Any]:
        self._call("DescribeTasks")
        return {"tasks": [{"taskArn": t, "lastStatus": "RUNNING", "containers": [
            {"name": "app", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme-app:latest",
             "imageDigest": self.digest}]} for t in tasks]}


def follow(script, *, timeout: float = 600, bake: float = 0.0, undoing: bool = False, env_name: str = "staging",
           **options: Any):
    clock = FakeClock()
    client = ScriptedEcs(clock, script, **options)
    rollouts = {name: Rollout(name, f"ecs-svc/{name}", T0, strategy="BLUE_GREEN", bake=bake, undoing=undoing)
                for name in script}
    lines: list[str] = []
    rollout.wait(Cluster(client, "acme", parallel=1), rollouts, clock, timeout=timeout, interval=INTERVAL,
                 say=lines.append, expect=Expectation("acme-app", NEW), env_name=env_name)
    return rollouts, lines, client


def progress(lines: list[str]) -> list[str]:
    """The lines about stages, weights and hooks (not the running-count lines)."""
    return [line for line in lines if "IN_PROGRESS" not in line and "COMPLETED" not in line]


def test_a_blue_green_deployment_says_each_stage_once_and_succeeds_only_on_successful():
    stages = ["RECONCILE_SERVICE", "SCALE_UP", "SCALE_UP", "TEST_TRAFFIC_SHIFT"]
    script = [state(stage=s, production=0) for s in stages] + [
        state(stage="PRODUCTION_TRAFFIC_SHIFT", production=100), state(stage="BAKE_TIME", production=100),
        state(stage="BAKE_TIME", production=100), state(stage="CLEAN_UP", production=100),
        state("SUCCESSFUL", production=100)]
    rollouts, lines, _ = follow({"web": script}, bake=900)

    web = rollouts["web"]
    assert web.ok and web.images == Counter({NEW: 1})
    assert progress(lines) == [
        "    web: RECONCILE_SERVICE 0%",
        "    web: SCALE_UP 0%",
        "    web: TEST_TRAFFIC_SHIFT 0%",
        "    web: PRODUCTION_TRAFFIC_SHIFT 100%",
        "    web: BAKE_TIME until 06:15:25",  # seen at 06:00:25, plus the 15-minute bake
        "    web: CLEAN_UP 100%",
    ]


def test_a_linear_shift_is_one_line_per_weight_and_stages_skipped_between_polls_do_not_matter():
    script = [state(stage="PRODUCTION_TRAFFIC_SHIFT", production=w) for w in (10, 10, 20, 20, 30)] + [
        state(stage="CLEAN_UP", production=100),  # the rest of the shift and the bake passed between two polls
        state("SUCCESSFUL", production=100)]
    rollouts, lines, _ = follow({"web": script})

    assert rollouts["web"].ok
    assert progress(lines) == [
        "    web: PRODUCTION_TRAFFIC_SHIFT 10%",
        "    web: PRODUCTION_TRAFFIC_SHIFT 10% -> 20%",
        "    web: PRODUCTION_TRAFFIC_SHIFT 20% -> 30%",
        "    web: CLEAN_UP 100%",
    ]


@pytest.mark.parametrize(("final", "expected_state", "words"), [
    (state("ROLLBACK_SUCCESSFUL", stage="BAKE_TIME", statusReason="Alarm triggered during bake time",
           rollback={"reason": "CloudWatch alarm web-5xx in ALARM", "serviceRevisionArn": "old-rev"},
           alarms={"status": "TRIGGERED", "alarmNames": ["web-5xx", "web-latency"],
                   "triggeredAlarmNames": ["web-5xx"]}),
     rollout.ROLLED_BACK, ["Alarm triggered during bake time", "CloudWatch alarm web-5xx in ALARM",
                           "alarm(s) in ALARM: web-5xx"]),
    (state("ROLLBACK_SUCCESSFUL", statusReason="ECS deployment circuit breaker: tasks failed to start.",
           deploymentCircuitBreaker={"status": "TRIGGERED", "failureCount": 4, "threshold": 3}),
     rollout.ROLLED_BACK, ["circuit breaker triggered: 4 failed tasks (threshold 3)"]),
    (state("ROLLBACK_FAILED", statusReason="the previous revision's image is gone",
           rollback={"reason": "lifecycle hook failed"},
           lifecycleHookDetails=[{"hookId": "h-lambda", "targetType": "AWS_LAMBDA", "status": "FAILED"}]),
     rollout.FAILED, ["ROLLBACK_FAILED", "the previous revision's image is gone", "rollback: lifecycle hook failed",
                      "lifecycle hook h-lambda (AWS_LAMBDA) FAILED"]),
    (state("STOPPED", statusReason="superseded by a newer deployment"),
     rollout.STOPPED, ["ECS stopped its deployment: superseded by a newer deployment"]),
])
def test_every_final_status_but_successful_is_a_failure_that_names_why(final, expected_state, words):
    rollouts, lines, _ = follow({"web": [state(stage="SCALE_UP"), final]})

    web = rollouts["web"]
    assert web.state == expected_state and not web.ok
    for word in words:
        assert word in web.reason
    assert web.settled and web.images is None  # a failure's tasks are not taken for a success's


def test_ongoing_statuses_and_unknown_ones_keep_waiting_until_final():
    script = [state("PENDING"), state("IN_PROGRESS", stage="SOME_NEW_STAGE"), state("ROLLBACK_REQUESTED"),
              state("A_STATUS_FROM_2027"), state("SUCCESSFUL")]
    rollouts, lines, _ = follow({"web": script})
    assert rollouts["web"].ok
    assert "    web: SOME_NEW_STAGE" in lines  # shown as ECS says it


def test_following_a_rollback_succeeds_on_rollback_successful_and_fails_if_the_deployment_finished_first():
    rollouts, _, _ = follow({"web": [state("ROLLBACK_IN_PROGRESS"), state("ROLLBACK_SUCCESSFUL")]}, undoing=True)
    assert rollouts["web"].ok
    rollouts, _, _ = follow({"web": [state("IN_PROGRESS"), state("SUCCESSFUL")]}, undoing=True)
    assert not rollouts["web"].ok and rollouts["web"].finished_first
    assert "completed before ECS could roll it back" in rollouts["web"].reason


def test_a_pause_hook_is_said_once_with_both_commands_and_the_timeout_says_why_it_waited():
    hook = {"hookId": "hook-7", "targetType": "PAUSE", "status": "AWAITING_ACTION",
            "expiresAt": datetime(2026, 11, 27, 6, 0, tzinfo=timezone.utc), "timeoutAction": "ROLLBACK"}
    paused = state(stage="POST_TEST_TRAFFIC_SHIFT", production=0, lifecycleHookDetails=[hook])
    rollouts, lines, _ = follow({"web": [paused]}, timeout=60)

    web = rollouts["web"]
    assert web.state == rollout.TIMED_OUT
    assert web.reason == ("still in progress after 1m00s (ECS: POST_TEST_TRAFFIC_SHIFT 0%); it waits on PAUSE hook "
                          "hook-7: fab continue --env staging --service web (or --rollback)")
    said = [line for line in lines if "hook-7" in line or "fab continue" in line]
    assert said == [
        "    web: paused at PAUSE hook hook-7 (POST_TEST_TRAFFIC_SHIFT) until 2026-11-27 06:00:00 UTC, then ECS will "
        "ROLLBACK; decide it:",
        "      fab continue --env staging --service web              # go on",
        "      fab continue --env staging --service web --rollback   # roll it back",
    ]


def test_each_rollout_has_its_own_time():
    clock = FakeClock()
    client = ScriptedEcs(clock, {"web": [state(stage="BAKE_TIME")], "worker": [state()]})
    rollouts = {"web": Rollout("web", "ecs-svc/web", T0, allowed=120.0),
                "worker": Rollout("worker", "ecs-svc/worker", T0, allowed=30.0)}
    rollout.wait(Cluster(client, "acme", parallel=1), rollouts, clock, timeout=30, interval=INTERVAL,
                 say=lambda line: None)
    assert rollouts["worker"].state == rollouts["web"].state == rollout.TIMED_OUT
    assert rollouts["worker"].reason.startswith("still in progress after 30s")
    assert rollouts["web"].reason.startswith("still in progress after 2m00s (ECS: BAKE_TIME)")
    assert clock.elapsed == 120


def test_where_the_api_is_missing_it_is_said_once_and_deployments_judge():
    rollouts, lines, client = follow({"web": [state(), state("SUCCESSFUL")], "worker": [state("SUCCESSFUL")]},
                                     api=False)
    assert all(r.ok for r in rollouts.values())
    missing = [line for line in lines if "does not offer" in line]
    assert missing == ["    ECS here does not offer service deployments (ecs:ListServiceDeployments answers "
                       "UnknownOperationException): each rollout is judged by the service's deployments[] instead"]
    assert client.calls["ListServiceDeployments"] == 1  # asked once, never again
    assert client.calls["DescribeServiceDeployments"] == 0


def test_a_deployment_listed_late_is_found_and_one_never_listed_fails_with_the_events():
    rollouts, _, _ = follow({"web": [state(), state(), state(), state("SUCCESSFUL")]}, listed_from_poll=2)
    assert rollouts["web"].ok

    rollouts, _, _ = follow({"web": [state()]}, listed_from_poll=10**6)
    web = rollouts["web"]
    assert web.state == rollout.FAILED
    assert web.reason == "ECS lists no service deployment since our UpdateService after 1m00s: see its events below"
    assert rollout.explain(rollouts)[:2] == ["  why web failed:",
                                             "    event 06:00:01: (service web) has started 2 tasks"]


def test_a_throttled_or_failing_describe_is_a_missed_poll_not_the_end():
    faults = {("DescribeServiceDeployments", 1): "ThrottlingException",
              ("DescribeServiceDeployments", 2): "ServerException"}
    rollouts, lines, _ = follow({"web": [state(), state(), state(), state("SUCCESSFUL")]}, faults=faults)
    assert rollouts["web"].ok
    assert any("DescribeServiceDeployments" in line and "still waiting" in line for line in lines)
    assert any("answers again after 2 failed reads" in line for line in lines)


def test_25_services_cost_two_describes_of_deployments_and_three_of_services_per_poll():
    names = [f"svc{n:02d}" for n in range(1, 26)]
    rollouts, _, client = follow({name: [state(), state(), state("SUCCESSFUL")] for name in names})
    assert all(r.ok for r in rollouts.values())
    first_poll, middle_poll = client.per_poll[0], client.per_poll[1]
    assert first_poll["ListServiceDeployments"] == 25  # finding each deployment once
    assert middle_poll == Counter({"DescribeServices": 3, "DescribeServiceDeployments": 2})


def test_strategy_time_counts_every_bake_with_ecs_defaults():
    assert strategy_seconds({}) == 0 and strategy_seconds({"strategy": "ROLLING", "bakeTimeInMinutes": 5}) == 0
    assert strategy_seconds({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 15}) == 900
    # 10 steps of 10 %: 9 step bakes of 6 minutes between them (ECS's defaults), then the bake
    assert strategy_seconds({"strategy": "LINEAR", "bakeTimeInMinutes": 5}) == (9 * 6 + 5) * 60
    assert strategy_seconds({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 25,
                                                                           "stepBakeTimeInMinutes": 2}}) == 3 * 2 * 60
    assert strategy_seconds({"strategy": "CANARY", "bakeTimeInMinutes": 5}) == (10 + 5) * 60
    assert strategy_seconds({"strategy": "CANARY", "canaryConfiguration": {"canaryBakeTimeInMinutes": 0}}) == 0


def test_a_description_missing_fields_still_parses():
    d = parse({"serviceDeploymentArn": "x", "status": "IN_PROGRESS"})
    assert (d.stage, d.production_weight, d.hooks, d.why(), d.where()) == (None, None, (), "", "IN_PROGRESS")
