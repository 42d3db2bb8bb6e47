"""End to end: the real `fab deploy` against the sandbox for services on ECS's blue/green, linear and canary
strategies, and against an endpoint without the service-deployment API. Each scenario's deploy runs once per module
(e2e/deploys.py); the checks are what a user or an auditor reads afterwards: fab's exit status and lines, the
release tag and `-previous` in ECR, which deployments ECS was asked for, what every service's tasks run, and whether
Sleuth was told.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from e2e.deploys import PREVIOUS, Deploy
from sandbox import SECRETS, settings

PUT_BACK = ("canary-alarm", "linear-paused", "bake-timeout")


def everything_on(d: Deploy, digest: str) -> dict[str, dict[str, int]]:
    return {name: {digest: settings.SERVICES[name]} for name in d.world.services}


def test_blue_green_beside_rolling_succeeds_says_each_stage_once_and_tells_sleuth(
        deploy: Callable[..., Deploy]) -> None:
    d = deploy("blue-green")
    w = d.world
    assert d.run.exit_code == 0, d.run.output
    assert ("  [ok  ] deployments: web: BLUE_GREEN, bakes 2m00s, allowed 2m15s; worker: rolling, allowed 15s "
            "(ECS controller), circuit breaker on") in d.run.lines
    # in real time some stages pass between two polls; each one seen is said once, never once per poll
    stages = [line.split(": ", 1)[1] for line in d.run.lines if line.startswith("    web: ") and "%" in line]
    assert stages and len(stages) == len(set(stages)), stages
    assert sum(line.startswith("    web: BAKE_TIME until ") for line in d.run.lines) == 1
    assert d.tags == {**d.tags_before, "latest": w.new_digest, PREVIOUS: w.current_digest}
    assert d.running_images == everything_on(d, w.new_digest)
    assert [r.status for r in d.registrations] == [200]
    assert {service: len(ids) for service, ids in d.started_deployments.items()} == {"web": 1, "worker": 1}


@pytest.mark.parametrize("scenario", PUT_BACK)
def test_a_rolled_back_paused_or_overlong_deployment_fails_and_leaves_everything_as_it_was(
        deploy: Callable[..., Deploy], scenario: str) -> None:
    d = deploy(scenario)
    w = d.world
    assert d.run.exit_code == 1, d.run.output
    assert d.tags == d.tags_before
    assert d.running_images == everything_on(d, w.current_digest)
    assert d.registrations == []
    assert not d.locks
    # web was rolled back by ECS itself, or stopped in flight and rolled back: never a second deployment of it
    assert len(d.started_deployments["web"]) == 1, d.started_deployments
    assert d.services["web"]["deployments"][0]["id"] == d.deployments_before["web"]
    line = next(line for line in d.run.lines if line.startswith("  service web: "))
    assert line.endswith(f"{w.current_digest[:len('sha256:') + 12]} (the image it ran before)"), line


def test_an_alarm_during_the_canary_bake_is_named_in_the_last_line(deploy: Callable[..., Deploy]) -> None:
    d = deploy("canary-alarm")
    assert d.last_line.startswith("error: restart failed: web ROLLED_BACK - ECS rolled it back: ")
    assert d.last_line.endswith(f"alarm(s) in ALARM: {settings.ALARM}")
    assert any(line.startswith("    web: PRODUCTION_TRAFFIC_SHIFT 10%") for line in d.run.lines), d.run.output


def test_a_paused_deployment_shows_both_continue_commands_and_why_it_timed_out(deploy: Callable[..., Deploy]) -> None:
    d = deploy("linear-paused")
    assert "      fab continue --env demo --service web              # go on" in d.run.lines
    assert "      fab continue --env demo --service web --rollback   # roll it back" in d.run.lines
    assert " it waits on PAUSE hook " in d.last_line and "fab continue --env demo --service web" in d.last_line
    assert ("    web: its deployment is still in flight: stopping it with ROLLBACK, so ECS returns it to the "
            "revision it ran before") in d.run.lines


def test_a_bake_longer_than_the_timeout_is_warned_of_then_rolled_back_in_flight(deploy: Callable[..., Deploy]) -> None:
    d = deploy("bake-timeout")
    assert any(line.startswith("  [warn] web's BLUE_GREEN deployment bakes for 60m00s, longer than --timeout ")
               for line in d.run.lines), d.run.output
    assert d.last_line.startswith("error: restart failed: web TIMED_OUT - still in progress after ")
    assert "(ECS: BAKE_TIME" in d.last_line
    assert ("    web: its deployment is still in flight: stopping it with ROLLBACK, so ECS returns it to the "
            "revision it ran before") in d.run.lines


def test_an_endpoint_without_the_api_is_said_once_and_the_deploy_goes_through(deploy: Callable[..., Deploy]) -> None:
    d = deploy("no-deployments-api")
    assert d.run.exit_code == 0, d.run.output
    assert sum("does not offer service deployments" in line for line in d.run.lines) == 1
    assert d.running_images == everything_on(d, d.world.new_digest)
    assert [r.status for r in d.registrations] == [200]


@pytest.mark.parametrize("scenario", ["blue-green", *PUT_BACK])
def test_no_secret_reaches_the_output(deploy: Callable[..., Deploy], scenario: str) -> None:
    d = deploy(scenario)
    assert not [secret for secret in SECRETS if secret in d.run.output]
