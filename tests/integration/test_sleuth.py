"""Sleuth on the deploy path, against emulated AWS: registered last, never after a failure, never turning a
live deploy red; and the real `fab deploy` and `fab notify`.

Sleuth is emulated with `responses`, started inside moto's `world`: moto started after a `responses` mock would
let requests that are not AWS's through to the network.
"""

from __future__ import annotations

import copy
import json

import pytest
import responses
from conftest import ACCOUNT, CONFIG, FAKE_SLEUTH_TOKEN, NEW_SHA, NEW_TAG, REGION, SLEUTH_ENDPOINT, bearer, fab

from tasks.core import planner
from tasks.core.config import load_settings
from tasks.core.errors import DeployError
from tasks.core.executor import execute
from tasks.core.steps.notify import Notify

BEARER = bearer(FAKE_SLEUTH_TOKEN)
pytestmark = pytest.mark.usefixtures("sleuth_token")


def _deploy(world, clock, settings_config=None):
    config = settings_config or CONFIG
    target = world.target(clock, config=config)
    plan = planner.deploy(target, sha=NEW_SHA, tag=NEW_TAG, sleuth=load_settings(config).sleuth)
    return target, plan, plan.step(Notify)


def test_deploy_registers_last_with_the_image_link(world, clock):
    with responses.RequestsMock() as sleuth_api:
        sleuth_api.post(SLEUTH_ENDPOINT, body="Success", match=[BEARER])
        target, plan, notify = _deploy(world, clock, _without_migration())
        assert [step.name for step in plan.steps] == ["retag", "migrate", "restart", "notify"]
        execute(plan, target)
        body = json.loads(sleuth_api.calls[0].request.body)
    link = (f"https://{REGION}.console.aws.amazon.com/ecr/repositories/private/{ACCOUNT}/acme-app/_/image/"
            f"{world.new_digest}/details?region={REGION}")
    assert body["links"] == {"ECR image": link}
    assert body["sha"] == NEW_SHA and body["environment"] == "staging"
    assert world.output.index("==> notify") > world.output.index("==> restart")
    assert notify.report() == [f"Sleuth: registered {NEW_SHA} as a deploy to staging (acme/acme-app)"]


def test_deploy_stays_green_when_sleuth_fails(world, clock):
    with responses.RequestsMock() as sleuth_api:
        sleuth_api.post(SLEUTH_ENDPOINT, status=503, body="maintenance")
        target, plan, notify = _deploy(world, clock, _without_migration())
        execute(plan, target)  # does not raise
        assert len(sleuth_api.calls) == 4
    assert world.digest_of("latest") == world.new_digest  # live, and not rolled back
    assert notify.report() == [
        "WARNING: the deploy is live but NOT registered with Sleuth: Sleuth answered 503 Service Unavailable: "
        "maintenance; gave up after 4 attempts",
        f"WARNING: register it later with: fab notify --sha {NEW_SHA} --env staging --tag {NEW_TAG}",
    ]


def test_no_registration_after_a_failed_rollout(world, clock):
    world.emulator.outcomes.update(web="fail", worker="fail")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as sleuth_api:
        sleuth_api.post(SLEUTH_ENDPOINT, body="Success")
        target, plan, notify = _deploy(world, clock, _without_migration())
        with pytest.raises(DeployError, match="^restart failed"):
            execute(plan, target)
        assert len(sleuth_api.calls) == 0
    assert notify.answer is None and "==> notify" not in world.output


def test_unconfigured_sleuth_is_a_plain_skip(world, clock, monkeypatch):
    monkeypatch.delenv("SLEUTH_API_TOKEN")
    target, plan, notify = _deploy(world, clock, _without_migration())
    assert plan.render()[-1] == ("  4. notify: skipped: Sleuth is not configured: set the SLEUTH_API_TOKEN "
                                 "environment variable")
    execute(plan, target)
    assert notify.report()[0] == ("WARNING: the deploy is live but NOT registered with Sleuth: Sleuth is not "
                                  "configured: set the SLEUTH_API_TOKEN environment variable")


def test_fab_deploy_exits_0_and_ends_with_the_warning_when_sleuth_refuses(world, project, capsys, clock):
    with responses.RequestsMock() as sleuth_api:
        sleuth_api.post(SLEUTH_ENDPOINT, status=401, body="Invalid access token", match=[BEARER])
        code, out, err = fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")
    assert (code, err) == (0, "")
    last = out.rstrip("\n").splitlines()[-5:]
    assert last[0].startswith(f"deployed {NEW_SHA} to staging in ")
    assert f": acme-app:latest = {world.new_digest}" in last[0]
    last = last[0:1] + last[3:]
    assert last[1] == ("WARNING: the deploy is live but NOT registered with Sleuth: Sleuth answered 401 Unauthorized: "
                       "Invalid access token - check SLEUTH_API_TOKEN: it must be a Sleuth access token allowed to "
                       "register deploys; for the organization API key, set deploy.sleuth.auth: apikey")
    assert last[2] == f"WARNING: register it later with: fab notify --sha {NEW_SHA} --env staging --tag {NEW_TAG}"


def test_fab_deploy_ends_with_the_registration(world, project, capsys, clock):
    with responses.RequestsMock() as sleuth_api:
        sleuth_api.post(SLEUTH_ENDPOINT, body="Success", match=[BEARER])
        code, out, err = fab(capsys, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")
    assert (code, err) == (0, "")
    assert out.rstrip("\n").splitlines()[-1] == f"Sleuth: registered {NEW_SHA} as a deploy to staging (acme/acme-app)"


def test_fab_dry_deploy_shows_the_request_masked_and_sends_nothing(world, project, capsys):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as sleuth_api:
        sleuth_api.post(SLEUTH_ENDPOINT, body="Success")
        code, out, _ = fab(capsys, "--dry", "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")
        assert len(sleuth_api.calls) == 0
    assert code == 0
    assert f"  4. notify: POST {SLEUTH_ENDPOINT}\n     Authorization: Bearer **** (from SLEUTH_API_TOKEN)\n" in out
    assert FAKE_SLEUTH_TOKEN not in out


def test_fab_notify_with_a_tag_links_the_image_or_goes_without(world, project, capsys):
    with responses.RequestsMock() as sleuth_api:
        sleuth_api.post(SLEUTH_ENDPOINT, body="Success")
        code, _, _ = fab(capsys, "notify", "--sha", NEW_SHA, "--env", "staging", "--tag", NEW_TAG)
        assert code == 0
        assert world.new_digest in json.loads(sleuth_api.calls[0].request.body)["links"]["ECR image"]
        code, out, _ = fab(capsys, "notify", "--sha", NEW_SHA, "--env", "staging", "--tag", "not-pushed")
        assert code == 0
        assert "links" not in json.loads(sleuth_api.calls[1].request.body)
    assert out.splitlines()[0] == ("note: the registration goes without the ECR image link: image "
                                   "acme-app:not-pushed not found in ECR")


def _without_migration():
    config = copy.deepcopy(CONFIG)
    del config["environments"]["staging"]["migrate"]
    return config
