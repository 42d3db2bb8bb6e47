"""How each service deploys, judged before any change: the real `fab` against emulated AWS.

A service that another deployment controller deploys (CodeDeploy, an external one), or that ECS deploys other
than rolling, is refused by check, deploy, restart and rollback alike, with one line and no change; settings
that change how a rollout ends are said under the preflight item, and the deploy goes on.
"""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import CONFIG, NEW_SHA, NEW_TAG, ROLLING, fab

DEPLOY = ("deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")


def serve(project, services):
    config = json.loads(json.dumps(CONFIG))
    config["environments"]["staging"]["services"] = services
    (project / "fabric.yaml").write_text(yaml.safe_dump({"deploy": config}))


def add_service(world, name, controller):
    world.ecs.create_service(cluster="acme-staging", serviceName=name, taskDefinition="acme-web", desiredCount=1,
                             launchType="FARGATE", networkConfiguration=world.network,
                             deploymentController={"type": controller})


def unchanged(world, before):
    return world.digest_of("latest") == world.old_digest and world.deployment_ids() == before and \
        world.running_images() == {"web": {world.old_digest}, "worker": {world.old_digest}}


OUT = "or take it out of deploy.environments.staging.services"


@pytest.mark.parametrize(("controller", "instead"), [
    ("CODE_DEPLOY", "CodeDeploy replaces its tasks (blue/green), not a forced new deployment; deploy it with "
                    f"CodeDeploy (`aws deploy create-deployment`), {OUT}"),
    ("EXTERNAL", "its own deployment controller replaces its tasks through task sets, not a forced new deployment; "
                 f"deploy it with that controller, {OUT}"),
])
def test_a_service_another_controller_deploys_is_refused_by_every_task_before_any_change(
        world, project, capsys, controller, instead):
    add_service(world, "api", controller)
    serve(project, ["web", "worker", "api"])
    before = world.deployment_ids()
    refusal = f"api uses the {controller} deployment controller: {instead}"

    code, out, err = fab(capsys, "check", "--env", "staging")
    assert code == 1
    assert f"  [FAIL] deployments: {refusal}" in out.splitlines()
    assert err == "error: 2 check(s) failed: deployments, sleuth\n"
    for argv in (DEPLOY, ("restart", "--env", "staging"), ("rollback", "--env", "staging")):
        code, out, err = fab(capsys, *argv)
        assert (code, err) == (1, f"error: preflight failed: deployments: {refusal}\n"), argv
        assert "Traceback" not in out + err
    assert unchanged(world, before)
    assert world.digest_of("latest-previous") is None


STRATEGIES = {  # each with short bakes, so the fake clock's polls stay few
    "BLUE_GREEN": ({"bakeTimeInMinutes": 1}, "bakes 1m00s"),
    "LINEAR": ({"bakeTimeInMinutes": 1, "linearConfiguration": {"stepPercent": 50, "stepBakeTimeInMinutes": 1}},
               "bakes 2m00s"),
    "CANARY": ({"bakeTimeInMinutes": 1, "canaryConfiguration": {"canaryPercent": 10, "canaryBakeTimeInMinutes": 1}},
               "bakes 2m00s"),
}


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_a_blue_green_linear_or_canary_service_is_followed_to_the_end_beside_a_rolling_one(world, project, capsys,
                                                                                           strategy):
    extra, bakes = STRATEGIES[strategy]
    world.ecs.update_service(cluster="acme-staging", service="worker",
                             deploymentConfiguration={**ROLLING, "strategy": strategy, **extra})
    code, out, err = fab(capsys, *DEPLOY)
    assert (code, err) == (0, ""), err
    lines = out.splitlines()
    allowed = 600 + int(bakes.split()[1].split("m")[0]) * 60
    assert (f"  [ok  ] deployments: web: rolling, allowed 10m00s; worker: {strategy}, {bakes}, allowed "
            f"{allowed // 60}m00s (ECS controller), circuit breaker on") in lines
    assert "    worker: PRODUCTION_TRAFFIC_SHIFT 100%" in lines or any(
        line.startswith("    worker: PRODUCTION_TRAFFIC_SHIFT ") and "-> 100%" in line for line in lines)
    assert any(line.startswith("    worker: BAKE_TIME until ") for line in lines)
    assert world.digest_of("latest") == world.new_digest
    assert world.running_images() == {"web": {world.new_digest}, "worker": {world.new_digest}}


def test_no_circuit_breaker_alarms_and_no_tasks_are_said_and_the_deploy_goes_on(world, project, capsys):
    world.ecs.update_service(cluster="acme-staging", service="web", deploymentConfiguration={
        "maximumPercent": 200, "minimumHealthyPercent": 100,
        "alarms": {"alarmNames": ["web-5xx", "web-latency"], "enable": True, "rollback": True}})
    world.ecs.update_service(cluster="acme-staging", service="worker", desiredCount=0)

    code, out, err = fab(capsys, *DEPLOY, "--timeout", "300")

    assert (code, err) == (0, ""), err
    preflight = out.splitlines()
    assert "  [ok  ] deployments: web, worker: rolling, allowed 5m00s (ECS controller)" in preflight
    assert ("  [warn] web has no deployment circuit breaker: a rollout whose tasks keep failing runs until the "
            "timeout (5m00s) before it counts as failed and is put back; turn the circuit breaker on for the "
            "service") in preflight
    assert ("  [note] web's deployments are watched by CloudWatch alarms (web-5xx, web-latency): ECS waits out a bake "
            "time (ECS computes it from the alarms) after its new tasks are healthy before it calls a rollout "
            "COMPLETED; the timeout (5m00s) must cover it") in preflight
    assert ("  [note] worker has desiredCount 0: its restart completes at once and starts no task; the new image runs "
            "once it is scaled up") in preflight
    assert world.digest_of("latest") == world.new_digest
    assert world.running_images() == {"web": {world.new_digest}, "worker": set()}


def test_a_restart_shows_the_deployment_item_in_its_plan_and_its_run(world, project, capsys):
    world.ecs.update_service(cluster="acme-staging", service="worker", deploymentConfiguration={})
    code, out, _ = fab(capsys, "--dry", "restart", "--env", "staging", "--service", "worker")
    assert code == 0
    assert ("Preflight:\n  [ok  ] deployments: worker: rolling, allowed 10m00s (ECS controller)\n"
            "  [warn] worker has no deployment circuit breaker") in out
    code, out, err = fab(capsys, "restart", "--env", "staging", "--service", "worker")
    assert (code, err) == (0, "")
    assert out.startswith("==> preflight\n  [ok  ] deployments: worker: rolling, allowed 10m00s (ECS controller)\n"
                          "  [warn] worker has "
                          "no deployment circuit breaker: a rollout whose tasks keep failing runs until the timeout "
                          "(10m00s)")


def test_a_strategy_this_version_does_not_know_is_shown_as_ecs_says_it_and_followed_by_its_status(world, project,
                                                                                                   capsys):
    world.ecs.update_service(cluster="acme-staging", service="worker",
                             deploymentConfiguration={**ROLLING, "strategy": "SPIRAL_2027"})
    code, out, err = fab(capsys, *DEPLOY)
    assert (code, err) == (0, ""), err
    assert ("  [warn] worker uses ECS's SPIRAL_2027 deployment strategy, which this tool does not know: it is "
            "followed by its service deployment's status, and no bake time is counted for it") in out.splitlines()
    assert "; worker: SPIRAL_2027, allowed 10m00s (ECS controller)" in out  # no bake claimed for it
    assert world.running_images() == {"web": {world.new_digest}, "worker": {world.new_digest}}
