"""Blue/green, linear and canary services through the real `fab`, against emulated AWS on the fake clock: what a
person reads, and what ECR and ECS hold afterwards.

The sandbox's ECS emulator plays the service-deployment API (sandbox/deployments.py): lifecycle stages on its
clock, traffic weights, bake times in ECS minutes of `minute_seconds` emulated seconds (60 here), alarms that fire
in a stage, PAUSE hooks, StopServiceDeployment and ContinueServiceDeployment.
"""

from __future__ import annotations

import json
from datetime import datetime

from conftest import NEW_SHA, NEW_TAG, PRODUCT_CALLS, ROLLING, fab

DEPLOY = ("deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")
PAUSE = {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}


def configure(world, service="web", **settings):
    world.ecs.update_service(cluster="acme-staging", service=service,
                             deploymentConfiguration={**ROLLING, **settings})


def short(digest):
    return f"sha256:{digest[7:19]}"


def calls(action):
    return [body for made, body in PRODUCT_CALLS if made == action]


def newest(world, service="web"):
    listed = world.ecs.list_service_deployments(cluster="acme-staging", service=service)["serviceDeployments"]
    arn = max(listed, key=lambda d: d["createdAt"])["serviceDeploymentArn"]
    return world.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]


def pause_web(world):
    configure(world, strategy="LINEAR", bakeTimeInMinutes=0, lifecycleHooks=[PAUSE],
              linearConfiguration={"stepPercent": 50.0, "stepBakeTimeInMinutes": 0})


def test_an_alarm_during_the_canary_bake_rolls_it_back_and_the_deploy_puts_everything_back(world, project, capsys):
    configure(world, strategy="CANARY", bakeTimeInMinutes=2,
              canaryConfiguration={"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 1},
              alarms={"alarmNames": ["web-5xx"], "enable": True, "rollback": True})
    world.emulator.alarm_stages["web"] = "BAKE_TIME"
    before = world.deployment_ids()

    code, out, err = fab(capsys, *DEPLOY)

    assert code == 1
    assert err.startswith("error: restart failed: web ROLLED_BACK - ECS rolled it back: ")
    assert "alarm(s) in ALARM: web-5xx" in err and err.count("\n") == 1
    lines = out.splitlines()
    assert "    web: PRODUCTION_TRAFFIC_SHIFT 10%" in lines
    assert "    web: PRODUCTION_TRAFFIC_SHIFT 10% -> 100%" in lines
    assert sum(line.startswith("    web: BAKE_TIME until ") for line in lines) == 1
    assert world.digest_of("latest") == world.old_digest and world.digest_of("latest-previous") is None
    assert world.running_images() == {"web": {world.old_digest}, "worker": {world.old_digest}}
    assert world.deployment_ids()["web"] == before["web"]  # ECS's own rollback: no new deployment of web
    assert "a new deployment of worker: it resolves the restored release tag" in out


def test_a_bake_longer_than_the_timeout_is_warned_of_and_rolled_back_in_flight_not_stacked_on(world, project,
                                                                                              capsys):
    configure(world, strategy="BLUE_GREEN", bakeTimeInMinutes=30)
    before = world.deployment_ids()
    PRODUCT_CALLS.clear()

    code, out, err = fab(capsys, *DEPLOY, "--timeout", "120")

    assert code == 1
    assert err == ("error: restart failed: web TIMED_OUT - still in progress after 2m00s (ECS: BAKE_TIME 100%)\n")
    assert ("  [warn] web's BLUE_GREEN deployment bakes for 30m00s, longer than --timeout 2m00s: the rollout will "
            "time out and be put back; give --timeout 40m00s or leave it out") in out.splitlines()
    assert ("    web: its deployment is still in flight: stopping it with ROLLBACK, so ECS returns it to the revision "
            "it ran before") in out
    [stop] = calls("ecs:StopServiceDeployment")
    assert json.loads(stop)["stopType"] == "ROLLBACK"
    assert newest(world)["status"] == "ROLLBACK_SUCCESSFUL"
    assert world.deployment_ids()["web"] == before["web"]  # put back by ECS's rollback, no third deployment
    assert world.digest_of("latest") == world.old_digest
    assert world.running_images() == {"web": {world.old_digest}, "worker": {world.old_digest}}
    assert "service web: TIMED_OUT" in out and f"2 tasks on {short(world.old_digest)} (the image it ran before)" in out


def test_without_timeout_a_rollout_is_allowed_its_bake_and_the_lock_outlasts_it(world, project, capsys, clock):
    configure(world, strategy="BLUE_GREEN", bakeTimeInMinutes=30)
    deadlines = []

    def lock_deadline(seconds):
        try:
            value = world.ssm.get_parameter(Name="/fab-deploy/acme-staging/staging/lock")["Parameter"]["Value"]
        except world.ssm.exceptions.ParameterNotFound:
            return
        deadlines.append(json.loads(value))

    clock.on_sleep.append(lock_deadline)
    code, out, err = fab(capsys, *DEPLOY)
    assert (code, err) == (0, ""), err
    assert ("  [ok  ] deployments: web: BLUE_GREEN, bakes 30m00s, allowed 40m00s; worker: rolling, allowed 10m00s "
            "(ECS controller), circuit breaker on") in out.splitlines()
    assert world.running_images() == {"web": {world.new_digest}, "worker": {world.new_digest}}
    value = deadlines[-1]  # the lock as it was while the rollout ran
    held = (datetime.fromisoformat(value["deadline"]) - datetime.fromisoformat(value["since"])).total_seconds()
    assert held >= 2 * 600 + 600 + 2 * 1800  # migration and rollout, a put-back, and the bake twice
