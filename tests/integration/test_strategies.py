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

from tasks.core.pauses import decide

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


def test_a_deploy_waits_at_a_pause_hook_says_how_to_decide_it_and_goes_on_once_continued(world, project, capsys,
                                                                                          clock):
    pause_web(world)
    decided, waited = [], []

    def operator(seconds):  # someone runs `fab continue` from another terminal, a while after the deploy paused
        record = newest(world)
        if not decided and any(h["status"] == "AWAITING_ACTION" for h in record.get("lifecycleHookDetails", ())):
            waited.append(seconds)
            if sum(waited) >= 60:
                decided.extend(decide(world.target(clock), ["web"], rollback=False, dry=False))

    clock.on_sleep.append(operator)
    code, out, err = fab(capsys, *DEPLOY)

    assert (code, err) == (0, ""), err
    lines = out.splitlines()
    [paused] = [line for line in lines if "paused at PAUSE hook" in line]
    assert paused.startswith("    web: paused at PAUSE hook ") and "(POST_TEST_TRAFFIC_SHIFT) until " in paused
    assert paused.endswith(", then ECS will ROLLBACK; decide it:")
    assert lines[lines.index(paused) + 1:lines.index(paused) + 3] == [
        "      fab continue --env staging --service web              # go on",
        "      fab continue --env staging --service web --rollback   # roll it back"]
    assert decided[0].startswith("CONTINUE: web: deployment ")
    assert world.running_images() == {"web": {world.new_digest}, "worker": {world.new_digest}}


def test_fab_continue_decides_the_hook_either_way_and_says_when_nothing_waits(world, project, capsys):
    code, _, err = fab(capsys, "continue", "--env", "staging")
    assert (code, err) == (1, "error: no deployment of web, worker in staging waits at a PAUSE hook: nothing to "
                              "decide; fab status --env staging shows where each deployment is\n")
    code, _, err = fab(capsys, "continue", "--env", "staging", "--service", "api")
    assert (code, err) == (1, "error: unknown service api for environment 'staging': its services are web, worker\n")

    pause_web(world)
    world.ecr_put(2, "latest")
    world.ecs.update_service(cluster="acme-staging", service="web", forceNewDeployment=True)
    world.emulator.advance(60)
    assert newest(world)["lifecycleHookDetails"][0]["status"] == "AWAITING_ACTION"

    code, out, _ = fab(capsys, "--dry", "continue", "--env", "staging")
    assert code == 0 and out.startswith("DRY RUN - would CONTINUE web: deployment ")
    assert newest(world)["lifecycleHookDetails"][0]["status"] == "AWAITING_ACTION"

    code, out, err = fab(capsys, "continue", "--env", "staging", "--service", "web", "--rollback")
    assert (code, err) == (0, ""), err
    assert out.startswith("ROLLBACK: web: deployment ") and "waits at PAUSE hook " in out
    for _ in range(60):  # as a wait's polls would
        world.emulator.advance(5)
    assert newest(world)["status"] == "ROLLBACK_SUCCESSFUL"
    assert world.running_images()["web"] == {world.old_digest}


def test_status_shows_each_strategy_and_where_a_paused_deployment_is(world, project, capsys):
    pause_web(world)
    world.ecr_put(2, "latest")
    world.ecs.update_service(cluster="acme-staging", service="web", forceNewDeployment=True)
    world.emulator.advance(60)

    code, out, _ = fab(capsys, "status", "--env", "staging")
    assert code == 0
    lines = [line.strip() for line in out.splitlines()]
    [web] = [line for line in lines if line.startswith("strategy LINEAR; deployment ")]
    assert " IN_PROGRESS in POST_TEST_TRAFFIC_SHIFT, production 0%" in web
    assert any(line.startswith("hook ") and "(PAUSE) AWAITING_ACTION until " in line for line in lines)
    assert "decide it: fab continue --env staging --service web [--rollback]" in lines
    assert any(line.startswith("strategy ROLLING; deployment ") and " SUCCESSFUL" in line for line in lines)

    code, out, _ = fab(capsys, "status", "--env", "staging", "--json")
    services = {s["name"]: s for s in json.loads(out)["services"]}
    web = services["web"]
    assert (web["strategy"], web["service_deployment"]["status"], web["service_deployment"]["stage"]) == (
        "LINEAR", "IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT")
    assert [(h["type"], h["status"]) for h in web["service_deployment"]["hooks"]] == [("PAUSE", "AWAITING_ACTION")]


def test_rollback_during_an_ongoing_deployment_rolls_it_back_in_place(world, project, capsys):
    code, _, err = fab(capsys, *DEPLOY)
    assert (code, err) == (0, ""), err
    configure(world, strategy="BLUE_GREEN", bakeTimeInMinutes=30)
    world.ecs.update_service(cluster="acme-staging", service="web", forceNewDeployment=True)  # still baking
    ongoing = newest(world)["serviceDeploymentArn"]
    PRODUCT_CALLS.clear()

    code, out, err = fab(capsys, "rollback", "--env", "staging")

    assert (code, err) == (0, ""), err
    assert [json.loads(body)["serviceDeploymentArn"] for body in calls("ecs:StopServiceDeployment")] == [ongoing]
    stopped = world.ecs.describe_service_deployments(serviceDeploymentArns=[ongoing])["serviceDeployments"][0]
    assert stopped["status"] == "ROLLBACK_SUCCESSFUL"  # rolled back, not superseded (STOPPED) by a new one
    assert "web: its deployment is still in flight: stopping it with ROLLBACK" in out
    assert world.digest_of("latest") == world.old_digest
    assert world.running_images() == {"web": {world.old_digest}, "worker": {world.old_digest}}


def test_where_ecs_lacks_the_api_it_is_said_once_and_the_deploy_is_judged_as_before(world, project, capsys):
    world.emulator.deployments_api = False
    code, out, err = fab(capsys, *DEPLOY)
    assert (code, err) == (0, ""), err
    assert out.count("ECS here does not offer service deployments") == 1
    assert world.running_images() == {"web": {world.new_digest}, "worker": {world.new_digest}}


def test_a_deployment_superseded_by_someone_elses_ends_stopped_and_is_put_back(world, project, capsys, clock):
    configure(world, strategy="BLUE_GREEN", bakeTimeInMinutes=5)
    pushed = []

    def colleague(seconds):  # another UpdateService of web while ours bakes
        if not pushed and newest(world).get("lifecycleStage") == "BAKE_TIME":
            pushed.append(world.ecs.update_service(cluster="acme-staging", service="web", forceNewDeployment=True))

    clock.on_sleep.append(colleague)
    code, out, err = fab(capsys, *DEPLOY)
    assert code == 1 and pushed
    assert err.startswith("error: restart failed: web STOPPED - ECS stopped its deployment: ")
    assert world.digest_of("latest") == world.old_digest


def test_ctrl_c_while_a_deployment_bakes_undoes_nothing_and_prints_the_stop_command(world, project, capsys, clock):
    configure(world, strategy="BLUE_GREEN", bakeTimeInMinutes=30)

    def interrupt(seconds):
        if newest(world).get("lifecycleStage") == "BAKE_TIME":
            raise KeyboardInterrupt

    clock.on_sleep.append(interrupt)
    code, out, _ = fab(capsys, *DEPLOY)
    assert code == 130
    arn = newest(world)["serviceDeploymentArn"]
    assert (f"    aws ecs stop-service-deployment --service-deployment-arn {arn} --stop-type ROLLBACK   # web in "
            "acme-staging") in out.splitlines()
    assert newest(world)["status"] == "IN_PROGRESS"  # nothing undone
