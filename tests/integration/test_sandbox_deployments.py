"""The sandbox's service deployments, read through boto3 as a client of ECS would: ListServiceDeployments,
DescribeServiceDeployments, DescribeServiceRevisions, StopServiceDeployment and ContinueServiceDeployment.

moto (in-process) with the ECS emulator of the sandbox; emulated time moves only when a test calls `advance`,
so every stage and weight is asserted at a known instant. `latest` moved onto the new build makes the next
deployment run it: the scenario's failures belong to that build only.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import ROLLOUT_SECONDS, World

from sandbox import seed
from sandbox.deployments import STAGES, STOP_REASON, SUPERSEDED_REASON
from sandbox.ecs import CIRCUIT_BREAKER_REASON

CLUSTER = "acme-staging"
STEP = 0.5  # emulated seconds between two looks


def configure(world: World, service: str = "web", **settings: Any) -> dict[str, Any]:
    configuration = {**seed.rolling(), **settings}
    world.ecs.update_service(cluster=CLUSTER, service=service, deploymentConfiguration=configuration)
    return configuration


def deploy(world: World, service: str = "web", *, new_build: bool = True) -> str:
    """A forced new deployment (of the new build when `new_build`); the ARN of the service deployment it made."""
    if new_build:
        world.ecr_put(2, "latest")
    world.ecs.update_service(cluster=CLUSTER, service=service, forceNewDeployment=True)
    return newest(world, service)["serviceDeploymentArn"]


def newest(world: World, service: str = "web") -> dict[str, Any]:
    return world.ecs.list_service_deployments(cluster=CLUSTER, service=service)["serviceDeployments"][0]


def describe(world: World, arn: str) -> dict[str, Any]:
    answer = world.ecs.describe_service_deployments(serviceDeploymentArns=[arn])
    assert answer["failures"] == []
    return answer["serviceDeployments"][0]


def watch(world: World, arn: str, seconds: float, step: float = STEP) -> list[tuple[Any, ...]]:
    """(status, stage, production weight, test weight) each time one of them changes, over `seconds`."""
    seen: list[tuple[Any, ...]] = []
    waited = 0.0
    while True:
        record = describe(world, arn)
        target = record["targetServiceRevision"]
        now = (record["status"], record.get("lifecycleStage"), target.get("requestedProductionTrafficWeight"),
               target.get("requestedTestTrafficWeight"))
        if not seen or seen[-1] != now:
            seen.append(now)
        if waited >= seconds or record["status"] in ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL",
                                                     "ROLLBACK_FAILED"):
            return seen
        world.emulator.advance(step)
        waited += step


def run_until_final(world: World, arn: str, seconds: float = 10 * ROLLOUT_SECONDS) -> dict[str, Any]:
    watch(world, arn, seconds)
    return describe(world, arn)


def error_code(call: Any, **params: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as raised:
        call(**params)
    return raised.value.response["ResponseMetadata"]["HTTPStatusCode"], raised.value.response["Error"]["Code"]


def stage_order(seen: list[tuple[Any, ...]]) -> list[str]:
    return [stage for i, (_, stage, *_) in enumerate(seen) if stage and (i == 0 or seen[i - 1][1] != stage)]


def statuses(seen: list[tuple[Any, ...]]) -> list[str]:
    out: list[str] = []
    for status, *_ in seen:
        if not out or out[-1] != status:
            out.append(status)
    return out


# --- rolling ------------------------------------------------------------------------------------------------------

def test_a_rolling_deployment_is_a_service_deployment_that_ends_successful_on_the_new_digest(world: World) -> None:
    before = newest(world)
    assert before["status"] == "SUCCESSFUL"  # the service's first deployment
    arn = deploy(world)
    deployment_id = world.service("web").deployments[0]["id"]
    record = describe(world, arn)
    assert record["status"] == "PENDING" and "lifecycleStage" not in record
    assert record["targetServiceRevision"]["arn"].endswith("/" + deployment_id.split("/")[1])
    assert record["sourceServiceRevisions"][0]["arn"] == before["targetServiceRevisionArn"]
    assert record["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    described = world.ecs.describe_services(cluster=CLUSTER, services=["web"])["services"][0]
    assert described["currentServiceDeployment"] == arn

    seen = watch(world, arn, 2 * ROLLOUT_SECONDS)
    assert statuses(seen) == ["PENDING", "IN_PROGRESS", "SUCCESSFUL"]
    assert all(stage is None for _, stage, *_ in seen)
    record = describe(world, arn)
    assert record["targetServiceRevision"]["runningTaskCount"] == 2
    assert record["deploymentCircuitBreaker"] == {"status": "MONITORING_COMPLETE", "failureCount": 0, "threshold": 3}
    assert record["finishedAt"] >= record["startedAt"] >= record["createdAt"]
    assert world.service("web").deployments[0]["rolloutState"] == "COMPLETED"
    assert world.running_images()["web"] == {world.new_digest}
    revision = world.ecs.describe_service_revisions(serviceRevisionArns=[record["targetServiceRevision"]["arn"]])
    assert revision["serviceRevisions"][0]["containerImages"] == [
        {"containerName": "web", "imageDigest": world.new_digest,
         "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/acme-app:latest"}]


def test_the_circuit_breakers_rollback_ends_rollback_successful_with_the_old_digest_running(world: World) -> None:
    world.emulator.outcomes["web"] = "rollback"
    source = newest(world)["targetServiceRevisionArn"]
    old_id = world.service("web").deployments[0]["id"]
    arn = deploy(world)
    seen = watch(world, arn, 2 * ROLLOUT_SECONDS)
    assert statuses(seen) == ["PENDING", "IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"]
    record = describe(world, arn)
    assert record["rollback"]["reason"] == CIRCUIT_BREAKER_REASON
    assert record["rollback"]["serviceRevisionArn"] == source
    assert record["deploymentCircuitBreaker"] == {"status": "TRIGGERED", "failureCount": 3, "threshold": 3}
    assert [(d["id"], d["status"]) for d in world.service("web").deployments] == [(old_id, "PRIMARY")]
    assert world.running_images()["web"] == {world.old_digest}


def test_a_circuit_breaker_without_rollback_ends_stopped_with_its_reason(world: World) -> None:
    world.emulator.outcomes["web"] = "fail"
    arn = deploy(world)
    record = run_until_final(world, arn)
    assert record["status"] == "STOPPED"
    assert record["statusReason"] == CIRCUIT_BREAKER_REASON
    assert record["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert "rollback" not in record
    assert world.service("web").deployments[0]["rolloutState"] == "FAILED"
    assert world.running_images()["web"] == {world.old_digest}


def test_a_hanging_rollout_stays_in_progress_until_stopped_with_rollback(world: World) -> None:
    world.emulator.outcomes["web"] = "hang"
    arn = deploy(world)
    assert statuses(watch(world, arn, 5 * ROLLOUT_SECONDS)) == ["PENDING", "IN_PROGRESS"]

    assert world.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")[
        "serviceDeploymentArn"] == arn
    assert describe(world, arn)["status"] == "ROLLBACK_REQUESTED"
    world.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")  # again: harmless
    world.emulator.advance(STEP)
    assert describe(world, arn)["status"] == "ROLLBACK_IN_PROGRESS"
    world.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    record = run_until_final(world, arn)
    assert record["status"] == "ROLLBACK_SUCCESSFUL"
    assert record["rollback"]["reason"] == STOP_REASON
    assert world.running_images()["web"] == {world.old_digest}
    assert world.service("web").deployments[0]["rolloutState"] == "COMPLETED"
    assert error_code(world.ecs.stop_service_deployment, serviceDeploymentArn=arn, stopType="ROLLBACK") == (
        400, "ConflictException")


def test_a_second_update_service_supersedes_the_first_which_ends_stopped(world: World) -> None:
    first = deploy(world)
    world.emulator.advance(ROLLOUT_SECONDS / 2)
    second = deploy(world, new_build=False)
    assert first != second
    record = describe(world, first)
    assert (record["status"], record["statusReason"]) == ("STOPPED", SUPERSEDED_REASON)
    assert run_until_final(world, second)["status"] == "SUCCESSFUL"


def test_stopping_needs_a_known_deployment_and_the_rollback_stop_type(world: World) -> None:
    unknown = "arn:aws:ecs:us-east-1:123456789012:service-deployment/acme-staging/web/nosuchdeployment0000"
    assert error_code(world.ecs.stop_service_deployment, serviceDeploymentArn=unknown, stopType="ROLLBACK") == (
        400, "ServiceDeploymentNotFoundException")
    arn = deploy(world)
    assert error_code(world.ecs.stop_service_deployment, serviceDeploymentArn=arn, stopType="ABORT") == (
        400, "InvalidParameterException")
    assert describe(world, arn)["status"] == "PENDING"


# --- blue/green ---------------------------------------------------------------------------------------------------

def test_blue_green_passes_every_stage_in_order_with_its_weights_and_bakes_its_minutes(world: World) -> None:
    world.emulator.minute_seconds = 10.0
    configure(world, strategy="BLUE_GREEN", bakeTimeInMinutes=2)
    arn = deploy(world)
    seen = watch(world, arn, 10 * ROLLOUT_SECONDS, step=0.25)
    assert stage_order(seen) == list(STAGES)
    assert statuses(seen) == ["PENDING", "IN_PROGRESS", "SUCCESSFUL"]
    weights = {stage: (production, test) for _, stage, production, test in seen if stage}
    assert weights["POST_SCALE_UP"] == (0.0, 0.0)
    assert weights["POST_TEST_TRAFFIC_SHIFT"] == (0.0, 100.0)
    assert weights["PRODUCTION_TRAFFIC_SHIFT"] == (100.0, 100.0)


def test_blue_green_keeps_the_old_tasks_until_it_succeeds_and_the_bake_lasts_its_minutes(world: World) -> None:
    world.emulator.minute_seconds = 10.0
    configure(world, strategy="BLUE_GREEN", bakeTimeInMinutes=3)
    arn = deploy(world)
    baking, elapsed = 0.0, 0.0
    while describe(world, arn)["status"] != "SUCCESSFUL":
        record = describe(world, arn)
        assert world.running_images()["web"] == {world.old_digest}, record.get("lifecycleStage")
        assert world.service("web").deployments[0]["rolloutState"] == "IN_PROGRESS"
        if record.get("lifecycleStage") == "BAKE_TIME":
            baking += 1.0
        world.emulator.advance(1.0)
        elapsed += 1.0
        assert elapsed < 20 * ROLLOUT_SECONDS
    assert baking == pytest.approx(30.0, abs=1.1)
    assert world.running_images()["web"] == {world.new_digest}
    assert [d["rolloutState"] for d in world.service("web").deployments] == ["COMPLETED"]


def test_blue_green_rolled_back_by_the_circuit_breaker_at_scale_up(world: World) -> None:
    world.emulator.outcomes["web"] = "rollback"
    configure(world, strategy="BLUE_GREEN", bakeTimeInMinutes=5)
    arn = deploy(world)
    seen = watch(world, arn, 5 * ROLLOUT_SECONDS)
    assert statuses(seen) == ["PENDING", "IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"]
    assert [stage for status, stage, *_ in seen if status == "ROLLBACK_IN_PROGRESS"][0] == "SCALE_UP"
    record = describe(world, arn)
    assert record["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert record["rollback"]["reason"] == CIRCUIT_BREAKER_REASON
    assert world.running_images()["web"] == {world.old_digest}


def test_stopping_blue_green_while_it_bakes_sends_traffic_back_and_restores_the_old_tasks(world: World) -> None:
    world.emulator.minute_seconds = 10.0
    configure(world, strategy="BLUE_GREEN", bakeTimeInMinutes=60)
    arn = deploy(world)
    world.emulator.advance(2 * ROLLOUT_SECONDS)
    record = describe(world, arn)
    assert (record["lifecycleStage"], record["targetServiceRevision"]["requestedProductionTrafficWeight"]) == (
        "BAKE_TIME", 100.0)
    world.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    world.emulator.advance(STEP)
    record = describe(world, arn)
    assert record["status"] == "ROLLBACK_IN_PROGRESS"
    assert record["targetServiceRevision"]["requestedProductionTrafficWeight"] == 0.0
    assert record["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"] == 100.0
    record = run_until_final(world, arn)
    assert record["status"] == "ROLLBACK_SUCCESSFUL"
    assert world.running_images()["web"] == {world.old_digest}
    assert [d["rolloutState"] for d in world.service("web").deployments] == ["COMPLETED"]


def test_a_failing_lambda_hook_rolls_blue_green_back_and_the_reason_names_it(world: World) -> None:
    hook = "arn:aws:lambda:us-east-1:123456789012:function:check-green"
    world.emulator.failing_hooks = {hook}
    configure(world, strategy="BLUE_GREEN", bakeTimeInMinutes=1, lifecycleHooks=[{
        "hookTargetArn": hook, "roleArn": "arn:aws:iam::123456789012:role/ecs-hooks",
        "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}])
    arn = deploy(world)
    record = run_until_final(world, arn)
    assert record["status"] == "ROLLBACK_SUCCESSFUL"
    assert hook in record["rollback"]["reason"] and "POST_TEST_TRAFFIC_SHIFT" in record["rollback"]["reason"]
    assert [(h["targetType"], h["targetArn"], h["status"]) for h in record["lifecycleHookDetails"]] == [
        ("AWS_LAMBDA", hook, "FAILED")]
    assert world.running_images()["web"] == {world.old_digest}


def test_a_lambda_hook_that_answers_succeeded_lets_the_deployment_through(world: World) -> None:
    hook = "arn:aws:lambda:us-east-1:123456789012:function:check-green"
    configure(world, strategy="BLUE_GREEN", bakeTimeInMinutes=0, lifecycleHooks=[{
        "hookTargetArn": hook, "roleArn": "arn:aws:iam::123456789012:role/ecs-hooks",
        "lifecycleStages": ["PRE_SCALE_UP", "POST_PRODUCTION_TRAFFIC_SHIFT"]}])
    arn = deploy(world)
    record = run_until_final(world, arn)
    assert record["status"] == "SUCCESSFUL"
    assert [h["status"] for h in record["lifecycleHookDetails"]] == ["SUCCEEDED", "SUCCEEDED"]


# --- linear and canary -------------------------------------------------------------------------------------------

def production_weights(seen: list[tuple[Any, ...]]) -> list[float]:
    weights: list[float] = []
    for _, _, production, _ in seen:
        if production is not None and (not weights or weights[-1] != production):
            weights.append(production)
    return weights


def time_at_weight(world: World, arn: str, weight: float, seconds: float) -> float:
    """Emulated seconds the target spends at `weight` in PRODUCTION_TRAFFIC_SHIFT."""
    spent, waited = 0.0, 0.0
    while waited < seconds and describe(world, arn)["status"] not in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL"):
        record = describe(world, arn)
        if (record.get("lifecycleStage") == "PRODUCTION_TRAFFIC_SHIFT"
                and record["targetServiceRevision"]["requestedProductionTrafficWeight"] == weight):
            spent += 0.25
        world.emulator.advance(0.25)
        waited += 0.25
    return spent


@pytest.mark.parametrize(("settings", "weights"), [
    ({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 2}},
     [0.0, 25.0, 50.0, 75.0, 100.0]),
    ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 2}},
     [0.0, 10.0, 100.0]),
])
def test_linear_and_canary_shift_production_in_their_steps_through_every_stage(
        world: World, settings: dict[str, Any], weights: list[float]) -> None:
    world.emulator.minute_seconds = 4.0
    configure(world, bakeTimeInMinutes=1, **settings)
    arn = deploy(world)
    seen = watch(world, arn, 20 * ROLLOUT_SECONDS, step=0.25)
    assert statuses(seen) == ["PENDING", "IN_PROGRESS", "SUCCESSFUL"]
    assert production_weights(seen) == weights
    assert {stage for _, stage, production, _ in seen if 0 < production < 100} == {"PRODUCTION_TRAFFIC_SHIFT"}
    assert stage_order(seen) == list(STAGES)
    assert world.running_images()["web"] == {world.new_digest}


@pytest.mark.parametrize(("settings", "weight", "seconds"), [
    # the 50 % step's shift (a share of the rollout time: 1 s) and its 3-minute bake (12 s)
    ({"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 50.0, "stepBakeTimeInMinutes": 3}}, 50.0, 13.0),
    # half the shift's share (1 s) and the 2-minute canary bake (8 s)
    ({"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 2}}, 5.0, 9.0),
])
def test_a_linear_step_and_a_canary_bake_their_minutes(world: World, settings: dict[str, Any], weight: float,
                                                       seconds: float) -> None:
    world.emulator.minute_seconds = 4.0
    configure(world, bakeTimeInMinutes=0, **settings)
    arn = deploy(world)
    assert time_at_weight(world, arn, weight, 20 * ROLLOUT_SECONDS) == pytest.approx(seconds, abs=0.6)
    assert describe(world, arn)["status"] == "SUCCESSFUL"


# --- alarms and pause hooks ---------------------------------------------------------------------------------------

ALARMS = {"alarmNames": ["web-5xx", "web-latency"], "enable": True, "rollback": True}


def test_an_alarm_firing_during_bake_time_rolls_the_canary_back(world: World) -> None:
    world.emulator.minute_seconds = 4.0
    world.emulator.alarm_stages["web"] = "BAKE_TIME"
    configure(world, strategy="CANARY", bakeTimeInMinutes=5, alarms=ALARMS,
              canaryConfiguration={"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1})
    arn = deploy(world)
    seen = watch(world, arn, 20 * ROLLOUT_SECONDS, step=0.25)
    assert statuses(seen) == ["PENDING", "IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"]
    assert [stage for status, stage, *_ in seen if status == "ROLLBACK_IN_PROGRESS"][0] == "BAKE_TIME"
    record = describe(world, arn)
    assert record["alarms"] == {"status": "TRIGGERED", "alarmNames": ["web-5xx", "web-latency"],
                                "triggeredAlarmNames": ["web-5xx"]}
    assert "web-5xx" in record["rollback"]["reason"]
    assert world.running_images()["web"] == {world.old_digest}
    assert world.service("web").deployments[0]["rolloutState"] == "COMPLETED"


def test_alarms_only_fire_on_the_broken_build_and_complete_their_watch_otherwise(world: World) -> None:
    world.emulator.minute_seconds = 1.0
    world.emulator.alarm_stages["web"] = "BAKE_TIME"
    configure(world, strategy="BLUE_GREEN", bakeTimeInMinutes=2, alarms=ALARMS)
    arn = deploy(world, new_build=False)
    record = run_until_final(world, arn)
    assert record["status"] == "SUCCESSFUL"
    assert record["alarms"]["status"] == "MONITORING_COMPLETE" and record["alarms"]["triggeredAlarmNames"] == []


PAUSE = {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}


def paused(world: World, timeout: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    world.emulator.minute_seconds = 2.0
    hook = {**PAUSE, **({"timeoutConfiguration": timeout} if timeout else {})}
    configure(world, strategy="LINEAR", bakeTimeInMinutes=0, lifecycleHooks=[hook],
              linearConfiguration={"stepPercent": 50.0, "stepBakeTimeInMinutes": 0})
    arn = deploy(world)
    world.emulator.advance(ROLLOUT_SECONDS)  # past POST_TEST_TRAFFIC_SHIFT's time
    return arn, describe(world, arn)


def test_a_pause_hook_waits_with_its_id_expiry_and_timeout_action_until_continued(world: World) -> None:
    arn, record = paused(world)
    assert (record["status"], record["lifecycleStage"]) == ("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT")
    [hook] = record["lifecycleHookDetails"]
    assert (hook["targetType"], hook["status"], hook["timeoutAction"]) == ("PAUSE", "AWAITING_ACTION", "ROLLBACK")
    assert hook["expiresAt"] > record["createdAt"] and hook["hookId"]
    world.emulator.advance(10 * ROLLOUT_SECONDS)  # less than the default day's timeout (1440 minutes of 2 s)
    assert describe(world, arn)["lifecycleStage"] == "POST_TEST_TRAFFIC_SHIFT"
    assert world.running_images()["web"] == {world.old_digest}

    assert error_code(world.ecs.continue_service_deployment, serviceDeploymentArn=arn, hookId="nosuchhook",
                      action="CONTINUE") == (400, "InvalidParameterException")
    world.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook["hookId"], action="CONTINUE")
    assert describe(world, arn)["lifecycleHookDetails"][0]["status"] == "SUCCEEDED"
    assert error_code(world.ecs.continue_service_deployment, serviceDeploymentArn=arn, hookId=hook["hookId"],
                      action="CONTINUE") == (400, "InvalidParameterException")
    seen = watch(world, arn, 5 * ROLLOUT_SECONDS)
    assert seen[-1][0] == "SUCCESSFUL" and production_weights(seen) == [0.0, 50.0, 100.0]
    assert world.running_images()["web"] == {world.new_digest}


def test_continuing_a_pause_hook_with_rollback_rolls_back(world: World) -> None:
    arn, record = paused(world)
    hook_id = record["lifecycleHookDetails"][0]["hookId"]
    world.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook_id, action="ROLLBACK")
    assert describe(world, arn)["status"] == "ROLLBACK_REQUESTED"
    record = run_until_final(world, arn)
    assert record["status"] == "ROLLBACK_SUCCESSFUL"
    assert "ContinueServiceDeployment" in record["rollback"]["reason"]
    assert world.running_images()["web"] == {world.old_digest}


@pytest.mark.parametrize(("action", "final", "digest"), [("ROLLBACK", "ROLLBACK_SUCCESSFUL", "old_digest"),
                                                         ("CONTINUE", "SUCCESSFUL", "new_digest")])
def test_an_expired_pause_hook_applies_its_timeout_action(world: World, action: str, final: str,
                                                          digest: str) -> None:
    arn, record = paused(world, {"timeoutInMinutes": 3, "action": action})
    assert record["lifecycleHookDetails"][0]["timeoutAction"] == action
    record = run_until_final(world, arn)
    assert record["status"] == final
    assert record["lifecycleHookDetails"][0]["status"] == "TIMED_OUT"
    assert world.running_images()["web"] == {getattr(world, digest)}


def test_stopping_a_paused_deployment_rolls_it_back(world: World) -> None:
    arn, _ = paused(world)
    world.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    record = run_until_final(world, arn)
    assert (record["status"], record["rollback"]["reason"]) == ("ROLLBACK_SUCCESSFUL", STOP_REASON)
    assert world.running_images()["web"] == {world.old_digest}


# --- the API's edges ------------------------------------------------------------------------------------------------

def test_list_pages_newest_first_and_filters_by_status_and_creation_time(world: World) -> None:
    first = newest(world)["serviceDeploymentArn"]
    made = [first]
    for _ in range(4):
        made.append(deploy(world, new_build=False))
        run_until_final(world, made[-1])
    world.emulator.outcomes["web"] = "hang"
    made.append(deploy(world))
    pages, token = [], None
    while True:
        answer = world.ecs.list_service_deployments(cluster=CLUSTER, service="web", maxResults=2,
                                                    **({"nextToken": token} if token else {}))
        pages.append([d["serviceDeploymentArn"] for d in answer["serviceDeployments"]])
        token = answer.get("nextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [2, 2, 2]
    assert [a for p in pages for a in p] == made[::-1]
    ongoing = world.ecs.list_service_deployments(cluster=CLUSTER, service="web", status=["PENDING", "IN_PROGRESS"])
    assert [d["serviceDeploymentArn"] for d in ongoing["serviceDeployments"]] == [made[-1]]
    third = describe(world, made[2])["createdAt"]
    after = world.ecs.list_service_deployments(cluster=CLUSTER, service="web", createdAt={"after": third})
    assert [d["serviceDeploymentArn"] for d in after["serviceDeployments"]] == made[:2:-1]
    assert error_code(world.ecs.list_service_deployments, cluster=CLUSTER, service="web", nextToken="garbage") == (
        400, "InvalidParameterException")
    assert error_code(world.ecs.list_service_deployments, cluster=CLUSTER, service="nosuch") == (
        400, "ServiceNotFoundException")
    worker = world.ecs.list_service_deployments(cluster=CLUSTER, service="worker")["serviceDeployments"]
    assert len(worker) == 1 and worker[0]["status"] == "SUCCESSFUL"


def test_describe_takes_at_most_twenty_and_reports_unknown_arns_as_failures(world: World) -> None:
    arn = newest(world)["serviceDeploymentArn"]
    unknown = arn[:-4] + "zzzz"
    answer = world.ecs.describe_service_deployments(serviceDeploymentArns=[arn, unknown])
    assert [d["serviceDeploymentArn"] for d in answer["serviceDeployments"]] == [arn]
    assert answer["failures"] == [{"arn": unknown, "reason": "MISSING"}]
    assert error_code(world.ecs.describe_service_deployments, serviceDeploymentArns=[arn] * 21) == (
        400, "InvalidParameterException")
    revision = newest(world)["targetServiceRevisionArn"]
    answer = world.ecs.describe_service_revisions(serviceRevisionArns=[revision, revision + "9"])
    assert [r["serviceRevisionArn"] for r in answer["serviceRevisions"]] == [revision]
    assert answer["failures"] == [{"arn": revision + "9", "reason": "MISSING"}]
    assert error_code(world.ecs.describe_service_revisions, serviceRevisionArns=[revision] * 21) == (
        400, "InvalidParameterException")


def test_an_endpoint_without_the_api_answers_unknown_operation_to_all_five(world: World) -> None:
    arn = newest(world)["serviceDeploymentArn"]
    world.emulator.deployments_api = False
    ecs = world.ecs
    for call, params in (
        (ecs.list_service_deployments, {"cluster": CLUSTER, "service": "web"}),
        (ecs.describe_service_deployments, {"serviceDeploymentArns": [arn]}),
        (ecs.describe_service_revisions, {"serviceRevisionArns": [arn]}),
        (ecs.stop_service_deployment, {"serviceDeploymentArn": arn, "stopType": "ROLLBACK"}),
        (ecs.continue_service_deployment, {"serviceDeploymentArn": arn, "hookId": "h", "action": "CONTINUE"}),
    ):
        assert error_code(call, **params) == (400, "UnknownOperationException")
    # the rest of ECS still answers, and rollouts still run (judged by deployments[] alone)
    world.ecs.update_service(cluster=CLUSTER, service="web", forceNewDeployment=True)
    world.emulator.advance(2 * ROLLOUT_SECONDS)
    assert world.service("web").deployments[0]["rolloutState"] == "COMPLETED"


# --- through the sandbox's server ----------------------------------------------------------------------------------

def test_the_sandbox_server_serves_counts_and_faults_the_new_operations() -> None:
    from sandbox import Options, Sandbox
    from sandbox.faults import Fault

    with Sandbox(Options(migration_seconds=0.3, rollout_seconds=0.4), real_time=False) as sandbox:
        import boto3
        from botocore.config import Config

        ecs = boto3.client("ecs", endpoint_url=sandbox.aws_endpoint, region_name="us-east-1",
                           aws_access_key_id="AKIATESTCLIENT000001", aws_secret_access_key="x",
                           config=Config(retries={"total_max_attempts": 1}))
        sandbox.faults.set([Fault("ecs:ListServiceDeployments", "throttle", count=1)])
        mark = sandbox.api_calls.mark()
        assert error_code(ecs.list_service_deployments, cluster="sandbox", service="web")[1] == "ThrottlingException"
        listed = ecs.list_service_deployments(cluster="sandbox", service="web")["serviceDeployments"]
        assert [d["status"] for d in listed] == ["SUCCESSFUL"]
        ecs.describe_service_deployments(serviceDeploymentArns=[listed[0]["serviceDeploymentArn"]])
        assert sandbox.api_calls.counts(mark) == {"ecs:ListServiceDeployments": 2, "ecs:DescribeServiceDeployments": 1}
        assert sandbox.faults.played == [("ecs:ListServiceDeployments", "throttle")]
        sandbox.emulator.deployments_api = False
        assert error_code(ecs.stop_service_deployment, serviceDeploymentArn=listed[0]["serviceDeploymentArn"],
                          stopType="ROLLBACK") == (400, "UnknownOperationException")


# --- the sandbox's scenarios ----------------------------------------------------------------------------------------

def sandbox_deploy(scenario: str) -> Any:
    """A sandbox of `scenario` (time moved by hand) whose services were just asked to deploy the new build."""
    from sandbox import Options, Sandbox, settings

    sandbox = Sandbox(Options(scenario=scenario, migration_seconds=0.3, rollout_seconds=0.4, minute_seconds=0.5),
                      real_time=False).start()
    ecr, ecs = sandbox.client("ecr"), sandbox.client("ecs")
    manifest = ecr.batch_get_image(repositoryName=settings.REPOSITORY,
                                   imageIds=[{"imageTag": settings.NEW_SHA}])["images"][0]["imageManifest"]
    ecr.put_image(repositoryName=settings.REPOSITORY, imageManifest=manifest, imageTag=settings.RELEASE_TAG)
    for name in ("web", "worker"):
        ecs.update_service(cluster=settings.CLUSTER, service=name, forceNewDeployment=True)
    return sandbox


def sandbox_records(sandbox: Any, seconds: float) -> dict[str, dict[str, Any]]:
    """Each service's newest service deployment after `seconds` of emulated time."""
    for _ in range(int(seconds / 0.05)):
        sandbox.emulator.advance(0.05)
    ecs = sandbox.client("ecs")
    records = {}
    for name in ("web", "worker"):
        arn = ecs.list_service_deployments(cluster="sandbox", service=name)["serviceDeployments"][0][
            "serviceDeploymentArn"]
        records[name] = ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]
    return records


@pytest.mark.parametrize(("scenario", "seconds", "web", "stage"), [
    ("blue-green", 2.0, "SUCCESSFUL", "CLEAN_UP"),  # bake: 2 minutes of 0.5 s
    ("canary-alarm", 3.0, "ROLLBACK_SUCCESSFUL", "BAKE_TIME"),
    ("linear-paused", 30.0, "IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT"),
    ("bake-timeout", 10.0, "IN_PROGRESS", "BAKE_TIME"),  # 60 minutes of 0.5 s
])
def test_each_strategy_scenario_plays_its_web_deployment(scenario: str, seconds: float, web: str,
                                                         stage: str) -> None:
    sandbox = sandbox_deploy(scenario)
    try:
        records = sandbox_records(sandbox, seconds)
        assert (records["web"]["status"], records["web"].get("lifecycleStage")) == (web, stage)
        assert records["worker"]["status"] == "SUCCESSFUL" and "lifecycleStage" not in records["worker"]
        strategy = sandbox.services()["web"]["deploymentConfiguration"]["strategy"]
        assert strategy == {"blue-green": "BLUE_GREEN", "canary-alarm": "CANARY", "linear-paused": "LINEAR",
                            "bake-timeout": "BLUE_GREEN"}[scenario]
        if scenario == "canary-alarm":
            assert records["web"]["alarms"]["triggeredAlarmNames"] == ["sandbox-web-5xx"]
            assert set(sandbox.running_images()["web"]) == {sandbox.world.current_digest}
        if scenario == "linear-paused":
            [hook] = records["web"]["lifecycleHookDetails"]
            assert (hook["targetType"], hook["status"]) == ("PAUSE", "AWAITING_ACTION")
        if scenario == "blue-green":
            assert set(sandbox.running_images()["web"]) == {sandbox.world.new_digest}
        assert not sandbox.emulator.errors
    finally:
        sandbox.stop()


def test_the_no_deployments_api_scenario_answers_unknown_operation_and_still_rolls_out() -> None:
    sandbox = sandbox_deploy("no-deployments-api")
    try:
        assert error_code(sandbox.client("ecs").list_service_deployments, cluster="sandbox", service="web") == (
            400, "UnknownOperationException")
        for _ in range(20):
            sandbox.emulator.advance(0.05)
        assert [d["rolloutState"] for d in sandbox.services()["web"]["deployments"]] == ["COMPLETED"]
        assert set(sandbox.running_images()["web"]) == {sandbox.world.new_digest}
    finally:
        sandbox.stop()
