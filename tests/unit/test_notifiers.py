"""Slack and the JSON webhook beside Sleuth: what each receives, their unhappy paths (5xx, timeouts, 429, a revoked
webhook, Ctrl-C) on the fake clock, and that their URLs (secrets) reach no message; `responses` plays both.
"""

from __future__ import annotations

import copy
import json

import pytest
import requests
import responses
from conftest import CONFIG
from fakes import FakeClock

from tasks.core import notifier
from tasks.core.config import load_settings
from tasks.core.errors import DeployError
from tasks.core.slack import Slack, message
from tasks.core.webhook import Webhook

SLACK_URL = "https://hooks.slack.com/services/T0FAKE/B0FAKE/slackSecretPart0123456789"
SLACK_SECRET = "slackSecretPart0123456789"
HOOK_URL = "https://hooks.acme.example/deploys?token=hookSecret0123456789"
HOOK_SECRET = "hookSecret0123456789"

RECORD = {
    "task": "deploy", "environment": "staging", "repository": "acme-app", "sha": "8e4b7d1", "tag": "t1",
    "release_tag": {"tag": "latest", "digest": "sha256:" + "a" * 64},
    "release_tag_before": {"tag": "latest", "digest": "sha256:" + "a" * 64},
    "seconds": 61.0, "result": "failed", "verified": None, "exit_status": 1, "error": "restart failed: web <FAILED>",
    "steps": [{"name": "retag", "outcome": "done", "error": None},
              {"name": "restart", "outcome": "failed", "error": "web FAILED & <gone>"}],
    "put_back": {"outcome": "incomplete", "steps": [{"name": "retag", "outcome": "failed", "error": "denied"},
                                                    {"name": "restart", "outcome": "not reached", "error": None}]},
    "who": "ada", "ci_job_url": "https://app.circleci.com/jobs/42", "notified": [],
}


@pytest.fixture
def hooks():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as stub:
        yield stub


def slack() -> Slack:
    return Slack("SLACK_WEBHOOK_URL", SLACK_URL)


def test_slack_gets_a_text_of_what_failed_and_what_was_put_back_escaped(hooks):
    hooks.post(SLACK_URL, body="ok")
    assert slack().tell(RECORD, FakeClock()) == "ok"
    (call,) = hooks.calls
    text = json.loads(call.request.body)["text"]
    assert text.splitlines() == [
        ":x: *staging*: deploy of `8e4b7d1` (acme-app:t1) FAILED in 61s",
        "failed at restart: web FAILED &amp; &lt;gone&gt;",
        "put-back incomplete; NOT put back: retag (failed), restart (not reached)",
        f"latest = sha256:{'a' * 12}",
        "by ada - <https://app.circleci.com/jobs/42|CI job>",
    ]
    assert call.request.headers["Content-Type"] == "application/json"


def test_a_success_that_was_not_verified_says_so():
    text = message({**RECORD, "result": "succeeded", "verified": False, "steps": [], "put_back": {}})
    assert text.splitlines()[0].endswith("succeeded (NOT verified: see the CI log) in 61s")


def test_the_webhook_gets_the_record_the_event_and_a_summary(hooks):
    hooks.post(HOOK_URL, json={"ok": True})
    Webhook("DEPLOY_WEBHOOK_URL", HOOK_URL).tell(RECORD, FakeClock())
    body = json.loads(hooks.calls[0].request.body)
    assert body["event"] == "deploy.failed" and body["record"] == RECORD
    assert body["summary"] == "deploy of 8e4b7d1 to staging failed (exit 1) at restart; put-back incomplete"


def test_a_500_is_retried_on_the_fake_clock_then_told(hooks):
    hooks.post(SLACK_URL, status=500, body="server_error")
    hooks.post(SLACK_URL, status=500, body="server_error")
    hooks.post(SLACK_URL, body="ok")
    clock, lines = FakeClock(), []
    assert slack().tell(RECORD, clock, say=lines.append) == "ok"
    assert clock.sleeps == [2.0, 4.0]
    assert lines == ["    Slack answered 500 Internal Server Error: server_error; retry 1/3 in 2s",
                     "    Slack answered 500 Internal Server Error: server_error; retry 2/3 in 4s"]


def test_429_honours_retry_after_and_one_beyond_the_budget_gives_up(hooks):
    hooks.post(HOOK_URL, status=429, body="rate_limited", headers={"Retry-After": "3"})
    hooks.post(HOOK_URL, status=429, body="rate_limited", headers={"Retry-After": "600"})
    clock = FakeClock()
    with pytest.raises(DeployError) as caught:
        Webhook("DEPLOY_WEBHOOK_URL", HOOK_URL).tell(RECORD, clock)
    assert clock.sleeps == [3.0]
    assert str(caught.value) == ("webhook answered 429 Too Many Requests: rate_limited (a retry in 600s would pass "
                                 "the 30s budget); gave up after 2 attempts")


def test_a_timeout_every_time_gives_up_within_the_budget_without_the_url(hooks):
    hooks.post(SLACK_URL, body=requests.exceptions.ReadTimeout(
        f"HTTPSConnectionPool(host='hooks.slack.com', port=443): Read timed out. (read timeout=10) url: "
        f"/services/T0FAKE/B0FAKE/{SLACK_SECRET}"))
    clock = FakeClock()
    with pytest.raises(DeployError) as caught:
        slack().tell(RECORD, clock)
    message_text = str(caught.value)
    assert message_text.startswith("could not reach the Slack webhook in SLACK_WEBHOOK_URL: ReadTimeout: ")
    assert message_text.endswith("; gave up after 4 attempts")
    assert SLACK_SECRET not in message_text and "/services/" not in message_text
    assert len(hooks.calls) == 4 and sum(clock.sleeps) <= notifier.BUDGET


@pytest.mark.parametrize(("status", "advice"), [(404, "was revoked"), (410, "was revoked"), (403, "was revoked"),
                                                (400, "could not use the message")])
def test_a_final_answer_is_asked_once_and_says_what_to_do(hooks, status, advice):
    hooks.post(SLACK_URL, status=status, body="no_service")
    with pytest.raises(DeployError) as caught:
        slack().tell(RECORD, FakeClock())
    assert len(hooks.calls) == 1 and advice in str(caught.value)


def test_an_answer_that_echoes_the_url_is_scrubbed(hooks):
    hooks.post(HOOK_URL, status=400, body=f"unknown hook {HOOK_URL} (token={HOOK_SECRET})")
    with pytest.raises(DeployError) as caught:
        Webhook("DEPLOY_WEBHOOK_URL", HOOK_URL).tell(RECORD, FakeClock())
    assert HOOK_SECRET not in str(caught.value) and "unknown hook ****" in str(caught.value)


def test_a_malformed_url_fails_once_without_the_url():
    with pytest.raises(DeployError) as caught:
        Webhook("DEPLOY_WEBHOOK_URL", f"htp:/nowhere/{HOOK_SECRET}").tell(RECORD, FakeClock())
    assert HOOK_SECRET not in str(caught.value)
    assert str(caught.value).startswith("webhook request failed: ")
    assert "check DEPLOY_WEBHOOK_URL" in str(caught.value)


def test_the_url_is_masked_in_str_repr_and_the_dry_run():
    hook = slack()
    assert SLACK_SECRET not in repr(hook.url) + str(hook.url) + " ".join(hook.describe())
    assert hook.describe() == ["POST how the run ended to the Slack incoming webhook in SLACK_WEBHOOK_URL (its URL "
                               "is not shown)"]


def test_configured_names_what_is_unset_or_malformed_and_never_the_value():
    environ = {"SLACK_WEBHOOK_URL": f"{SLACK_URL} trailing words", "UNSET_ONE": ""}
    notifiers, problems = notifier.configured({"slack": "SLACK_WEBHOOK_URL", "webhook": "UNSET_ONE"}, environ)
    assert notifiers == []
    assert problems == [
        ("Slack", "Slack is not told: SLACK_WEBHOOK_URL contains spaces or control characters: set it to the "
                  "webhook's URL alone"),
        ("webhook", "webhook is not told: UNSET_ONE is not set (deploy.notify.webhook names it)"),
    ]
    assert notifier.plan_lines({"webhook": "UNSET_ONE"}, environ) == [
        "note: webhook is not told: UNSET_ONE is not set (deploy.notify.webhook names it)"]


# --- deploy.notify in the config -----------------------------------------------------------------------------


def _config(top=None, own=None):
    config = copy.deepcopy(CONFIG)
    if top is not None:
        config["notify"] = top
    if own is not None:
        config["environments"]["staging"]["notify"] = own
    return config


def test_an_environment_overrides_deploy_notify_key_by_key():
    settings = load_settings(_config({"slack": "TEAM_SLACK", "webhook": "AUDIT_HOOK"}, {"slack": "STAGING_SLACK"}))
    assert settings.environment("staging").notify == {"slack": "STAGING_SLACK", "webhook": "AUDIT_HOOK"}
    assert settings.environment("production").notify == {"slack": "TEAM_SLACK", "webhook": "AUDIT_HOOK"}
    assert load_settings(CONFIG).environment("staging").notify == {}


def test_a_url_written_in_the_config_is_refused_without_being_shown():
    with pytest.raises(DeployError) as caught:
        load_settings(_config(own={"slack": SLACK_URL}))
    assert SLACK_SECRET not in str(caught.value)
    assert str(caught.value) == ("deploy.environments.staging.notify.slack holds a URL: give the name of the "
                                 "environment variable that holds it (a webhook's URL is a secret: keep it out of "
                                 "config files)")


@pytest.mark.parametrize("value", ["1SLACK", "MY-HOOK", True, 5])
def test_a_malformed_variable_name_is_refused(value):
    with pytest.raises(DeployError, match=r"^malformed deploy.notify.webhook: give the name of an environment "):
        load_settings(_config({"webhook": value}))


def test_an_unknown_notifier_is_refused_with_the_known_ones():
    with pytest.raises(DeployError, match="unknown key deploy.notify.teams"):
        load_settings(_config({"teams": "TEAMS_URL"}))


def test_a_log_line_that_quotes_a_notify_urls_path_alone_is_redacted(monkeypatch):
    from tasks import _secrets

    monkeypatch.setenv("TEST_ONLY_HOOK_URL", SLACK_URL)
    _secrets.mask_variables(["TEST_ONLY_HOOK_URL"])
    line = f'https://hooks.slack.com:443 "POST /services/T0FAKE/B0FAKE/{SLACK_SECRET} HTTP/1.1" 200 2'
    assert _secrets.redact(line) == 'https://hooks.slack.com:443 "POST **** HTTP/1.1" 200 2'
