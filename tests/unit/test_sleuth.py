"""Sleuth registration: the request Sleuth receives, retries on the fake clock, final errors; no AWS.

Sleuth is emulated with `responses`.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest
import requests
import responses
import yaml
from conftest import CONFIG, FAKE_SLEUTH_TOKEN, NEW_SHA, NEW_TAG, SLEUTH_ENDPOINT, bearer, fab
from fakes import FakeClock
from responses import matchers

from tasks.core import sleuth
from tasks.core.config import load_settings
from tasks.core.errors import DeployError
from tasks.core.steps.notify import Notify

ROOT = Path(__file__).resolve().parents[2]

BEARER = bearer(FAKE_SLEUTH_TOKEN)
pytestmark = pytest.mark.usefixtures("sleuth_token")


def registration(**overrides) -> sleuth.Registration:
    settings = load_settings(CONFIG)
    reg = sleuth.build(settings.sleuth, settings.environment("staging"), sha=NEW_SHA, author=lambda sha: None)
    return sleuth.Registration(**{**reg.__dict__, **overrides})


def send(reg: sleuth.Registration | None = None, clock: FakeClock | None = None) -> str:
    token = sleuth.token_from_env()
    assert token is not None
    return sleuth.register(reg or registration(), token, clock or FakeClock())


def test_request_carries_the_token_in_the_header_and_the_documented_body(sleuth_api):
    settings = load_settings({**CONFIG, "sleuth": {**CONFIG["sleuth"], "tags": ["Release", "#hot fix", "release"]}})
    reg = sleuth.build(
        settings.sleuth,
        settings.environment("staging"),
        sha=NEW_SHA,
        image_link="https://console.example/image",
        environ={"CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/app/42"},
        author=lambda sha: "dev@acme.test",
    )
    expected = {
        "sha": NEW_SHA,
        "environment": "staging",
        "date": "2026-11-26T06:00:00+00:00",
        "ignore_if_duplicate": "true",
        "email": "dev@acme.test",
        "tags": ["#release", "#hot-fix"],
        "links": {"CircleCI build": "https://circleci.com/gh/acme/app/42", "ECR image": "https://console.example/image"},
    }
    sleuth_api.post(SLEUTH_ENDPOINT, body="Success", match=[BEARER, matchers.json_params_matcher(expected)])

    assert send(reg) == "Success"
    assert len(sleuth_api.calls) == 1
    request = sleuth_api.calls[0].request
    assert FAKE_SLEUTH_TOKEN not in request.url


def test_sleuth_environment_setting_and_a_minimal_body(sleuth_api):
    config = copy.deepcopy(CONFIG)
    config["environments"]["production"]["sleuth_environment"] = "prod"
    settings = load_settings(config)
    reg = sleuth.build(settings.sleuth, settings.environment("production"), sha=NEW_SHA, environ={},
                       author=lambda sha: None)
    sleuth_api.post(SLEUTH_ENDPOINT, body="Success", match=[BEARER, matchers.json_params_matcher(
        {"sha": NEW_SHA, "environment": "prod", "date": "2026-11-26T06:00:00+00:00", "ignore_if_duplicate": "true"})])
    assert send(reg) == "Success"


def test_the_commit_author_comes_from_git_when_the_sha_is_in_the_repository(monkeypatch, tmp_path):
    """A repository made here, with a commit by a known author: the email Sleuth is told is that author's."""
    git = {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@acme.test", "GIT_COMMITTER_NAME": "CI",
           "GIT_COMMITTER_EMAIL": "ci@acme.test", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    for name, value in git.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q"], check=True)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "a change"], check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert sleuth.author_email(head) == "dev@acme.test"  # the author, not the committer
    assert sleuth.author_email(head[:7]) == "dev@acme.test"
    assert sleuth.author_email("0123456789abcdef0123456789abcdef01234567") is None

    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    assert sleuth.author_email(head, run=no_git) is None
    monkeypatch.chdir(tmp_path.parent)  # no repository here: git fails, and the registration goes without email
    assert sleuth.author_email(head) is None


def test_tags_are_lowercase_words_with_a_hash():
    assert sleuth.sleuth_tags(["Web", "#API v2", "", "##", "web", "a_b-c"]) == ("#web", "#api-v2", "#a_b-c")


def test_dry_run_view_masks_the_token():
    lines = registration().describe()
    text = "\n".join(lines)
    assert lines[0] == f"POST {SLEUTH_ENDPOINT}"
    assert lines[1] == "Authorization: Bearer **** (from SLEUTH_API_TOKEN)"
    assert json.loads(lines[2])["ignore_if_duplicate"] == "true"
    assert FAKE_SLEUTH_TOKEN not in text


def with_auth(auth: str) -> dict:
    return {**CONFIG, "sleuth": {**CONFIG["sleuth"], "auth": auth}}


def test_the_organization_api_key_goes_in_the_apikey_scheme(sleuth_api):
    settings = load_settings(with_auth("apikey"))
    reg = sleuth.build(settings.sleuth, settings.environment("staging"), sha=NEW_SHA, author=lambda sha: None)
    apikey = matchers.header_matcher({"Authorization": f"apikey {FAKE_SLEUTH_TOKEN}"})
    sleuth_api.post(SLEUTH_ENDPOINT, body="Success", match=[apikey])
    assert send(reg) == "Success"
    assert reg.describe()[1] == "Authorization: apikey **** (from SLEUTH_API_TOKEN)"
    sleuth_api.post(SLEUTH_ENDPOINT, status=401, body="Invalid API key", match=[apikey])
    with pytest.raises(DeployError) as caught:
        send(reg)
    assert str(caught.value) == (
        "Sleuth answered 401 Unauthorized: Invalid API key - check SLEUTH_API_TOKEN: with deploy.sleuth.auth apikey "
        "it must be the organization API key (Organization Settings > Details); for an access token, remove "
        "deploy.sleuth.auth"
    )


@pytest.mark.parametrize("auth", ["token", "basic"])
def test_an_unknown_auth_scheme_is_refused(auth):
    with pytest.raises(DeployError, match=f"deploy.sleuth.auth '{auth}': give bearer or apikey"):
        load_settings(with_auth(auth))


def test_the_scheme_is_bearer_unless_the_config_says_apikey():
    assert load_settings(CONFIG).sleuth.auth == "bearer"
    assert load_settings(with_auth("APIKey")).sleuth.auth == "apikey"


def test_the_token_never_shows_in_repr_or_str():
    token = sleuth.token_from_env()
    step = Notify("staging", NEW_SHA, NEW_TAG, registration(), token=token)
    for text in (repr(token), str(token), repr(step), f"{token}", str(registration())):
        assert FAKE_SLEUTH_TOKEN not in text


def test_a_token_with_whitespace_is_refused_without_showing_it(monkeypatch):
    monkeypatch.setenv("SLEUTH_API_TOKEN", f"{FAKE_SLEUTH_TOKEN} extra")
    with pytest.raises(DeployError) as caught:
        sleuth.token_from_env()
    assert str(caught.value) == "SLEUTH_API_TOKEN contains spaces or control characters: set it to the token alone"


def test_missing_settings_are_named(monkeypatch):
    monkeypatch.delenv("SLEUTH_API_TOKEN")
    settings = load_settings({**CONFIG, "sleuth": {"org": "acme"}})
    missing = sleuth.missing_settings(settings.sleuth, sleuth.token_from_env())
    assert sleuth.not_configured(missing) == (
        "Sleuth is not configured: set deploy.sleuth.deployment (fabric.yaml) and the SLEUTH_API_TOKEN "
        "environment variable"
    )


def test_503_503_200_retries_with_backoff_on_the_clock(sleuth_api):
    for status, body in ((503, "down"), (503, "down"), (200, "Success")):
        sleuth_api.post(SLEUTH_ENDPOINT, status=status, body=body, match=[BEARER])
    clock = FakeClock()
    lines: list[str] = []
    assert sleuth.register(registration(), sleuth.token_from_env(), clock, say=lines.append) == "Success"
    assert len(sleuth_api.calls) == 3
    assert clock.sleeps == [2.0, 4.0]
    assert lines == [
        "    Sleuth answered 503 Service Unavailable: down; retry 1/3 in 2s",
        "    Sleuth answered 503 Service Unavailable: down; retry 2/3 in 4s",
    ]
    bodies = {call.request.body for call in sleuth_api.calls}
    assert len(bodies) == 1  # the same request each time: same date, ignore_if_duplicate


def test_429_honours_retry_after(sleuth_api):
    sleuth_api.post(SLEUTH_ENDPOINT, status=429, body="slow down", headers={"Retry-After": "7"})
    sleuth_api.post(SLEUTH_ENDPOINT, status=200, body="Success")
    clock = FakeClock()
    assert send(clock=clock) == "Success"
    assert clock.sleeps == [7.0]


def test_retry_after_as_a_date(sleuth_api):
    sleuth_api.post(SLEUTH_ENDPOINT, status=503, headers={"Retry-After": "Thu, 26 Nov 2026 06:00:12 GMT"})
    sleuth_api.post(SLEUTH_ENDPOINT, status=200, body="Success")
    clock = FakeClock()
    assert send(clock=clock) == "Success"
    assert clock.sleeps == [12.0]


def test_a_retry_after_beyond_the_budget_gives_up_at_once(sleuth_api):
    sleuth_api.post(SLEUTH_ENDPOINT, status=429, body="slow down", headers={"Retry-After": "600"})
    clock = FakeClock()
    with pytest.raises(DeployError) as caught:
        send(clock=clock)
    assert str(caught.value) == (
        "Sleuth answered 429 Too Many Requests: slow down (a retry in 600s would pass the 30s budget); "
        "gave up after 1 attempt"
    )
    assert clock.sleeps == [] and len(sleuth_api.calls) == 1


def test_5xx_is_retried_at_most_three_times_within_the_budget(sleuth_api):
    sleuth_api.post(SLEUTH_ENDPOINT, status=502, body="<html>bad gateway</html>")
    clock = FakeClock()
    with pytest.raises(DeployError, match=r"^Sleuth answered 502 Bad Gateway: <html>bad gateway</html>; gave up "
                                          r"after 4 attempts$"):
        send(clock=clock)
    assert len(sleuth_api.calls) == 4
    assert clock.sleeps == [2.0, 4.0, 8.0] and sum(clock.sleeps) <= sleuth.BUDGET


def test_401_is_final_and_shows_sleuths_message(sleuth_api):
    sleuth_api.post(SLEUTH_ENDPOINT, status=401, body="Invalid access token", match=[BEARER])
    clock = FakeClock()
    with pytest.raises(DeployError) as caught:
        send(clock=clock)
    message = str(caught.value)
    assert message == (
        "Sleuth answered 401 Unauthorized: Invalid access token - check SLEUTH_API_TOKEN: it must be a Sleuth "
        "access token allowed to register deploys; for the organization API key, set deploy.sleuth.auth: apikey"
    )
    assert len(sleuth_api.calls) == 1 and clock.sleeps == []


def test_400_is_final_and_shows_sleuths_message(sleuth_api):
    sleuth_api.post(SLEUTH_ENDPOINT, status=400, body='{"sha": ["Unable to validate sha"]}')
    with pytest.raises(DeployError, match=r'^Sleuth answered 400 Bad Request: \{"sha": \["Unable to validate sha"\]\} '
                                          "- check that the sha is pushed"):
        send()
    assert len(sleuth_api.calls) == 1


def test_an_answer_that_echoes_the_token_is_scrubbed(sleuth_api):
    sleuth_api.post(SLEUTH_ENDPOINT, status=401, body=f"bad token {FAKE_SLEUTH_TOKEN}")
    with pytest.raises(DeployError) as caught:
        send()
    assert FAKE_SLEUTH_TOKEN not in str(caught.value) and "bad token ****" in str(caught.value)


def test_a_timeout_is_retried_then_fails_without_the_token(sleuth_api):
    sleuth_api.post(SLEUTH_ENDPOINT, body=requests.exceptions.ConnectTimeout("connect timed out"))
    clock = FakeClock()
    with pytest.raises(DeployError) as caught:
        send(clock=clock)
    assert str(caught.value) == (
        "could not reach Sleuth at https://app.sleuth.io: ConnectTimeout: connect timed out; gave up after 4 attempts"
    )
    assert len(sleuth_api.calls) == 4 and clock.sleeps == [2.0, 4.0, 8.0]
    assert all(call.request.req_kwargs["timeout"] == sleuth.TIMEOUT for call in sleuth_api.calls)


def test_a_connection_error_then_success(sleuth_api):
    sleuth_api.post(SLEUTH_ENDPOINT, body=requests.exceptions.ConnectionError("connection refused"))
    sleuth_api.post(SLEUTH_ENDPOINT, body="Success")
    clock = FakeClock()
    assert send(clock=clock) == "Success"
    assert clock.sleeps == [2.0]


def test_ctrl_c_while_waiting_for_sleuth_leaves_the_deploy_live_with_the_command(sleuth_api):
    sleuth_api.post(SLEUTH_ENDPOINT, status=503)

    class Impatient(FakeClock):
        def sleep(self, seconds: float) -> None:
            raise KeyboardInterrupt

    step = Notify("staging", NEW_SHA, NEW_TAG, registration(), token=sleuth.token_from_env())
    step.send(Impatient(), lambda line: None)
    assert step.report() == [
        "WARNING: the deploy is live but NOT registered with Sleuth: interrupted (Ctrl-C) before Sleuth answered",
        f"WARNING: register it later with: fab notify --sha {NEW_SHA} --env staging --tag {NEW_TAG}",
    ]


def test_fab_with_the_apikey_scheme_shows_it_masked_and_sends_it(project, capsys, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")  # no AWS needed without --tag
    (project / "fabric.yaml").write_text(yaml.safe_dump({"deploy": with_auth("apikey")}))
    code, out, _ = fab(capsys, "--dry", "notify", "--sha", NEW_SHA, "--env", "staging")
    assert code == 0 and "     Authorization: apikey **** (from SLEUTH_API_TOKEN)\n" in out
    with responses.RequestsMock() as sleuth_api:
        sleuth_api.post(SLEUTH_ENDPOINT, body="Success", match=[
            matchers.header_matcher({"Authorization": f"apikey {FAKE_SLEUTH_TOKEN}"})])
        code, out, err = fab(capsys, "notify", "--sha", NEW_SHA, "--env", "staging")
    assert (code, err) == (0, "")
    assert FAKE_SLEUTH_TOKEN not in out


def test_fab_notify_alone_registers_without_aws(project, capsys, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")  # no AWS needed without --tag
    with responses.RequestsMock() as sleuth_api:
        sleuth_api.post(SLEUTH_ENDPOINT, body="Success", match=[BEARER, matchers.json_params_matcher(
            {"sha": NEW_SHA, "environment": "staging"}, strict_match=False)])
        code, out, err = fab(capsys, "notify", "--sha", NEW_SHA, "--env", "staging")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == f"Sleuth: registered {NEW_SHA} as a deploy to staging (acme/acme-app)"


def test_fab_notify_exits_1_on_failure_and_on_missing_settings(project, capsys, monkeypatch):
    with responses.RequestsMock() as sleuth_api:
        sleuth_api.post(SLEUTH_ENDPOINT, status=401, body="Invalid access token")
        code, _, err = fab(capsys, "notify", "--sha", NEW_SHA, "--env", "staging")
    assert code == 1
    assert err.startswith("error: not registered with Sleuth: Sleuth answered 401 Unauthorized: Invalid access token")
    monkeypatch.delenv("SLEUTH_API_TOKEN")
    code, _, err = fab(capsys, "notify", "--sha", NEW_SHA, "--env", "staging")
    assert (code, err) == (1, "error: Sleuth is not configured: set the SLEUTH_API_TOKEN environment variable\n")
