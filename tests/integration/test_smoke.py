"""The smoke check: the application's own health URL asked after the rollouts, through the real `fab`.

ECS is the emulator, driven by the fake clock; the health URL is a `responses` stub whose answer depends on the
image the services' tasks run, as a real application's would. What is asserted is what a user checks: the exit
status and last line, where the release tag points, what the services' tasks run, what Sleuth received, and
that the header's token appears nowhere.
"""

from __future__ import annotations

import json
import logging

import pytest
import responses
import yaml
from conftest import FAKE_SLEUTH_TOKEN, NEW_SHA, NEW_TAG, SMOKE_TOKEN, SMOKE_URL, fab, smoke_config

import tasks._secrets

SLEUTH = "https://app.sleuth.io/api/1/deployments/acme/acme-app/register_deploy"


LOCK = "/fab-deploy/acme-staging/staging/lock"

DEPLOY = ("deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")





def with_smoke(project, **smoke):
    (project / "fabric.yaml").write_text(yaml.safe_dump({"deploy": smoke_config(**smoke)}))


@pytest.fixture
def tokens(monkeypatch):
    monkeypatch.setenv("SMOKE_TOKEN", SMOKE_TOKEN)
    monkeypatch.setenv("SLEUTH_API_TOKEN", FAKE_SLEUTH_TOKEN)


class App:
    """The application and Sleuth, stubbed at HTTP: the health URL answers `when_new` while any task of web runs
    the new build, else `otherwise`, after `warmup` answers of 503 on it; what each received is counted
    (responses forgets its calls on exit)."""

    def __init__(self, world, *, when_new, otherwise, body="", warmup=0):
        self.world, self.when_new, self.otherwise, self.body = world, when_new, otherwise, body
        self.warmup = warmup
        self.asked = self.registered = 0
        self.api = responses.RequestsMock(assert_all_requests_are_fired=False)
        self.api.add_callback(responses.GET, SMOKE_URL, callback=self.health)
        self.api.add_callback(responses.POST, SLEUTH, callback=self.sleuth)

    def health(self, request):
        assert request.headers["Authorization"] == f"Bearer {SMOKE_TOKEN}"  # the variable's value was sent
        self.asked += 1
        if self.world.new_digest not in self.world.running_images()["web"]:
            return self.otherwise, {}, self.body
        if self.warmup:
            self.warmup -= 1
            return 503, {}, "warming up"
        return self.when_new, {}, self.body

    def sleuth(self, request):
        self.registered += 1
        return 200, {}, "Success"

    def __enter__(self):
        self.api.__enter__()
        return self

    def __exit__(self, *exc):
        self.api.__exit__(*exc)


# --- through the real fab ------------------------------------------------------------------------------
def test_a_deploy_waits_for_the_new_version_to_answer_then_tells_sleuth(world, project, capsys, clock, tokens):
    with_smoke(project)
    locks = []
    clock.on_sleep.append(lambda _: locks.append(world.ssm.get_parameter(Name=LOCK)["Parameter"]["Value"]))
    with App(world, when_new=200, otherwise=503, warmup=2) as app:
        code, out, err = fab(capsys, *DEPLOY)
    assert (code, err) == (0, "")
    # the lock's deadline: the migration, the rollout and a put-back (600 s each), the smoke check, the margin
    assert json.loads(locks[0])["deadline"] == "2026-11-26T06:36:00+00:00"
    assert world.digest_of("latest") == world.new_digest
    assert world.running_images() == {"web": {world.new_digest}, "worker": {world.new_digest}}
    assert (app.registered, app.asked) == (1, 3)  # asked only once the rollouts were done, on the poll interval
    lines = out.splitlines()
    smoke = lines[lines.index("==> smoke"):lines.index("==> notify")]
    assert smoke[1:4] == [f"    GET {SMOKE_URL}, until it answers 200 (up to 1m00s)",
                          "    503 Service Unavailable: warming up; asking again every 5.0s",
                          "    answered 200 OK after 10.0s (3 requests)"]
    assert lines[-2] == f"  smoke check: {SMOKE_URL} answered 200 after 10.0s (3 requests)"
    assert lines[-1].startswith(f"Sleuth: registered {NEW_SHA}")


def test_a_version_that_never_answers_is_put_back_and_sleuth_is_not_told(world, project, capfd, tokens, monkeypatch):
    """Under --debug too: the body echoes the token and the request is logged; neither shows it."""
    monkeypatch.setattr(logging.root, "handlers", [])  # --debug sets up logging as it does outside pytest
    monkeypatch.setattr(tasks._secrets, "_masked_variables", set())
    with_smoke(project)
    body = f"<html>boom: Authorization Bearer {SMOKE_TOKEN} rejected\n\x1b[31m" + "x" * 300
    with App(world, when_new=500, otherwise=200, body=body) as app:
        code, out, err = fab(capfd, "--debug", *DEPLOY)
    assert code == 1
    last = err.strip().splitlines()[-1]
    shown = "<html>boom: Authorization **** rejected \x1b[31m"  # one line, the credential header's value masked
    excerpt = (shown + "x" * 200)[:200].replace("\x1b", "\\x1b") + "..."  # its first 200 characters, escaped
    assert last == (f"error: smoke failed: {SMOKE_URL} did not answer 200 within 1m00s (13 requests); the last "
                    "answer: 500 "
                    f"Internal Server Error: {excerpt}")
    assert SMOKE_TOKEN not in out + err and "Traceback" not in out + err
    assert "invoke.config" in err and tasks._secrets.redact(f"logged: {SMOKE_TOKEN}") == "logged: ****"
    assert "    500 Internal Server Error: <html>boom: Authorization **** rejected" in out
    assert out.count("500 Internal Server Error") == 2  # said once while waiting, and in the state after the put-back
    assert (app.registered, app.asked) == (0, 13)
    assert world.digest_of("latest") == world.old_digest
    assert world.running_images() == {"web": {world.old_digest}, "worker": {world.old_digest}}
    assert "a new deployment of web, worker: it resolves the restored release tag" in out


def test_a_rollback_runs_the_smoke_check_too(world, project, capsys, tokens):
    with_smoke(project)
    with App(world, when_new=200, otherwise=200) as app:
        assert fab(capsys, *DEPLOY)[0] == 0
        code, out, err = fab(capsys, "rollback", "--env", "staging")
    assert (code, err) == (0, "")
    assert "==> smoke" in out and f"  smoke check: {SMOKE_URL} answered 200 after 0.0s (1 request)" in out
    assert (app.asked, app.registered) == (2, 2)
    assert world.digest_of("latest") == world.old_digest


def test_a_missing_variable_is_refused_before_any_change_and_any_request(world, project, capsys, monkeypatch):
    with_smoke(project)
    monkeypatch.delenv("SMOKE_TOKEN", raising=False)
    before = world.deployment_ids()
    with App(world, when_new=200, otherwise=200) as app:
        code, _, err = fab(capsys, *DEPLOY)
    assert code == 1
    assert err == ("error: the smoke check's header Authorization (environment 'staging') needs the environment "
                   "variable SMOKE_TOKEN, which is not set: set it (in CI, as a project or context variable), or take "
                   "the header out of deploy.environments.staging.smoke.headers\n")
    assert world.digest_of("latest") == world.old_digest and world.deployment_ids() == before
    assert (app.asked, app.registered) == (0, 0)


def test_the_dry_run_shows_the_check_without_header_values_and_asks_nothing(world, project, capsys, tokens):
    with_smoke(project)
    with App(world, when_new=200, otherwise=200) as app:
        code, out, _ = fab(capsys, "--dry", *DEPLOY)
    assert code == 0 and (app.asked, app.registered) == (0, 0)
    assert (f"  4. smoke: GET {SMOKE_URL} until it answers 200, for up to 1m00s, a request every 5.0s\n"
            "     headers Authorization, Host (values not shown; read from SMOKE_TOKEN)\n  5. notify: ") in out
    assert SMOKE_TOKEN not in out and "staging.example.com\n" not in out


def test_check_asks_the_url_once_and_fails_on_another_answer(world, project, capsys, tokens):
    with_smoke(project)
    with App(world, when_new=200, otherwise=200, body="ok") as app:
        code, out, _ = fab(capsys, "check", "--env", "staging")
        assert code == 0 and f"  [ok  ] smoke check: GET {SMOKE_URL} answered 200 OK: ok" in out.splitlines()
        app.otherwise, app.body = 503, "maintenance"
        code, out, err = fab(capsys, "check", "--env", "staging")
    assert code == 1 and err == "error: 1 check(s) failed: smoke check\n"
    assert (f"  [FAIL] smoke check: GET {SMOKE_URL} answered 503 Service Unavailable: maintenance, not 200: a deploy "
            "would "
            "fail its smoke check unless the new version answers 200 within 1m00s") in out.splitlines()
    assert (app.asked, app.registered) == (2, 0)
