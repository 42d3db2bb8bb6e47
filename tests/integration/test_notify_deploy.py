"""Slack and the webhook told by a real deploy (the `fab` program in-process, moto and the ECS emulator on the
fake clock, both notifiers played by `responses`): a notifier that keeps failing is a warning and the deploy
stays green, a failed deploy tells both what failed, and their URLs reach no output, `fab --debug` included.
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from conftest import CONFIG, NEW_SHA, NEW_TAG, fab

SLACK_URL = "https://hooks.slack.com/services/T0FAKE/B0FAKE/slackSecretPart0123456789"
HOOK_URL = "https://hooks.acme.example/deploys/hookSecretPart0123456789"
SECRETS = ("slackSecretPart0123456789", "hookSecretPart0123456789")


@pytest.fixture
def notified(world, project, monkeypatch, sleuth_api):
    """The project's staging tells Slack and the webhook; `responses` answers for both (and Sleuth is unset)."""
    config = copy.deepcopy(CONFIG)
    config["environments"]["staging"]["notify"] = {"slack": "SLACK_WEBHOOK_URL", "webhook": "DEPLOY_WEBHOOK_URL"}
    (project / "fabric.yaml").write_text(yaml.safe_dump({"deploy": config}))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", SLACK_URL)
    monkeypatch.setenv("DEPLOY_WEBHOOK_URL", HOOK_URL)
    monkeypatch.delenv("SLEUTH_API_TOKEN", raising=False)
    return sleuth_api


def _deploy(capsys, *flags):
    return fab(capsys, *flags, "deploy", "--sha", NEW_SHA, "--tag", NEW_TAG, "--env", "staging")


def test_a_slack_that_keeps_failing_is_a_warning_and_the_deploy_stays_green(notified, capsys, clock, world):
    notified.post(SLACK_URL, status=503, body="unavailable")
    notified.post(HOOK_URL, json={"ok": True})
    code, out, err = _deploy(capsys)
    assert code == 0, err[-2000:]
    assert world.digest_of("latest") == world.new_digest
    assert sum(1 for call in notified.calls if call.request.url == SLACK_URL) == 4
    (warning,) = [line for line in out.splitlines() if line.startswith("WARNING: Slack was NOT told")]
    assert warning == ("WARNING: Slack was NOT told that the deploy succeeded: Slack answered 503 Service "
                       "Unavailable: unavailable; gave up after 4 attempts")
    assert "webhook: told that the deploy succeeded" in out
    assert not [secret for secret in SECRETS if secret in out + err]


def test_a_failed_deploy_tells_both_what_failed_and_what_was_put_back(notified, capsys, world):
    world.emulator.outcomes["worker"] = "fail"
    notified.post(SLACK_URL, body="ok")
    notified.post(HOOK_URL, json={"ok": True})
    code, out, err = _deploy(capsys)
    assert code == 1
    slack = json.loads(next(c for c in notified.calls if c.request.url == SLACK_URL).request.body)["text"]
    assert slack.startswith(f":x: *staging*: deploy of `{NEW_SHA}`") and "failed at restart: worker STOPPED" in slack
    assert "put-back complete: retag, restart put back" in slack
    hook = json.loads(next(c for c in notified.calls if c.request.url == HOOK_URL).request.body)
    assert (hook["event"], hook["record"]["put_back"]["outcome"]) == ("deploy.failed", "complete")
    assert err.strip().startswith("error: restart failed: worker STOPPED")  # still the run's own last word


def test_a_notifier_that_breaks_unexpectedly_is_a_warning_without_its_url(notified, capsys, monkeypatch):
    from tasks.core.webhook import Webhook

    def broken(self, record, when):
        raise RuntimeError(f"cannot encode body for {self.url.reveal()}")

    monkeypatch.setattr(Webhook, "request", broken)
    notified.post(SLACK_URL, body="ok")
    code, out, err = _deploy(capsys)
    assert code == 0, err
    (warning,) = [line for line in out.splitlines() if line.startswith("WARNING: webhook was NOT told")]
    assert warning == "WARNING: webhook was NOT told that the deploy succeeded: unexpected RuntimeError: cannot " \
                      "encode body for ****"
    assert not [secret for secret in SECRETS if secret in out + err]


def test_an_unset_variable_is_said_in_the_dry_run_and_warned_after_the_deploy(notified, capsys, monkeypatch):
    monkeypatch.delenv("DEPLOY_WEBHOOK_URL")
    notified.post(SLACK_URL, body="ok")
    code, out, _ = _deploy(capsys, "--dry")
    assert code == 0
    assert "note: webhook is not told: DEPLOY_WEBHOOK_URL is not set (deploy.notify.webhook names it)" in out
    assert len(notified.calls) == 0  # a dry run tells no one
    code, out, _ = _deploy(capsys)
    assert code == 0
    assert "WARNING: webhook is not told: DEPLOY_WEBHOOK_URL is not set (deploy.notify.webhook names it)" in out
    assert "Slack: told that the deploy succeeded" in out


def test_fab_debug_logs_no_webhook_url_nor_its_path(world, project, capfd, monkeypatch):
    """Real HTTP to the sandbox's stand-ins in this process, with every log record of `--debug` shown."""
    import logging

    from sandbox import hooks

    monkeypatch.setattr(logging.root, "handlers", [])  # as outside pytest (see test_secrets.py)
    monkeypatch.setattr(logging.root, "level", logging.WARNING)
    secrets = ("debugSlackSecret0123456789", "debugHookSecret0123456789")
    slack, hook = hooks.slack(secrets[0]).start(), hooks.webhook(secrets[1]).start()
    try:
        config = copy.deepcopy(CONFIG)
        config["environments"]["staging"]["notify"] = {"slack": "SLACK_WEBHOOK_URL", "webhook": "DEPLOY_WEBHOOK_URL"}
        (project / "fabric.yaml").write_text(yaml.safe_dump({"deploy": config}))
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.hook_url)
        monkeypatch.setenv("DEPLOY_WEBHOOK_URL", hook.hook_url)
        monkeypatch.delenv("SLEUTH_API_TOKEN", raising=False)
        code, out, err = _deploy(capfd, "--debug")
    finally:
        slack.stop()
        hook.stop()
    assert code == 0, err[-2000:]
    assert [r.status for r in slack.records] == [200] and [r.status for r in hook.records] == [200]
    assert "invoke.config" in err  # the debug output is there
    assert not [secret for secret in secrets if secret in out + err]
