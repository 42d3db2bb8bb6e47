"""End to end: what a deploy leaves behind, through the real `fab` against the sandbox with Slack and webhook
stand-ins configured (deploy.notify): the record file, the line in `fab history`, and what Slack and the webhook
received, after a deploy that succeeds and one that fails and is put back; and no secret in any output.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from e2e.deploys import PACE, POLL_INTERVAL, TIMEOUT
from sandbox import SECRETS, Options, Sandbox, settings
from sandbox.demo import deploy_arguments
from sandbox.fab import FabRun, run_fab
from sandbox.hooks import Delivery
from sandbox.sleuth import Registration


@dataclass(frozen=True)
class Left:
    """One `fab deploy --record FILE` and what it left: the file, `fab history`, what the stand-ins received."""

    dry: FabRun
    run: FabRun
    record: dict[str, Any]
    history: list[dict[str, Any]]
    table: FabRun
    slack: list[Delivery]
    webhook: list[Delivery]
    sleuth: list[Registration]
    world: Any

    @property
    def outputs(self) -> str:
        return "\n".join(r.output for r in (self.dry, self.run, self.table)) + json.dumps(self.history)


def leave(scenario: str, *, hook_failures: int = 0, slack_secret: str | None = None) -> Left:
    """`slack_secret`: fab is given the Slack stand-in's URL with this secret instead of its own (a webhook
    that was revoked)."""
    options = Options(scenario=scenario, notify=True, hook_failures=hook_failures, **PACE)
    with Sandbox(options) as sandbox, tempfile.TemporaryDirectory(prefix="e2e-") as directory:
        assert sandbox.world is not None
        extra = None
        if slack_secret is not None:
            url = sandbox.hook_url("slack").replace(settings.FAKE_SLACK_SECRET, slack_secret)
            extra = {settings.SLACK_VARIABLE: url}
        config, _ = sandbox.write_files(directory, poll_interval=POLL_INTERVAL, timeout=TIMEOUT)
        path = Path(directory) / "records" / "deploy.json"
        arguments = deploy_arguments(sandbox.world, options)
        dry = run_fab(sandbox, config, ["--dry", *arguments, "--record", str(path)], extra=extra)
        assert not path.exists(), "a dry run writes no record"
        run = run_fab(sandbox, config, [*arguments, "--record", str(path)], timeout=60, extra=extra)
        history = run_fab(sandbox, config, ["history", "--env", settings.ENVIRONMENT, "--json"])
        table = run_fab(sandbox, config, ["history", "--env", settings.ENVIRONMENT])
        return Left(dry=dry, run=run, record=json.loads(path.read_text()), history=json.loads(history.output),
                    table=table, slack=sandbox.deliveries("slack"), webhook=sandbox.deliveries("webhook"),
                    sleuth=list(sandbox.registrations), world=sandbox.world)


@pytest.fixture(scope="module")
def left() -> Iterator[Callable[..., Left]]:
    cache: dict[tuple[Any, ...], Left] = {}

    def get(scenario: str, **options: Any) -> Left:
        key = (scenario, tuple(sorted((k, str(v)) for k, v in options.items())))
        if key not in cache:
            cache[key] = leave(scenario, **options)
        return cache[key]

    yield get


# --- a deploy that succeeds ---------------------------------------------------------------------------------


def test_a_good_deploy_leaves_a_record_file_and_a_history_line(left: Callable[..., Left]) -> None:
    d = left("success")
    assert d.run.exit_code == 0, d.run.output
    record, w = d.record, d.world
    assert (record["task"], record["environment"], record["sha"], record["result"], record["exit_status"]) == (
        "deploy", "demo", w.new_sha, "succeeded", 0)
    assert record["release_tag"] == {"tag": "latest", "digest": w.new_digest}
    assert record["release_tag_before"] == {"tag": "latest", "digest": w.current_digest}
    assert [s["outcome"] for s in record["steps"]] == ["done"] * len(record["steps"])
    assert record["verified"] is True
    (line,) = d.history
    assert (line["task"], line["result"], line["sha"], line["digest"], line["digest_before"]) == (
        "deploy", "succeeded", w.new_sha, w.new_digest, w.current_digest)
    assert record["history"]["version"] == line["version"]
    assert d.table.exit_code == 0 and " ok " in d.table.lines[-1] and w.new_sha in d.table.lines[-1]


def test_a_good_deploy_tells_sleuth_slack_and_the_webhook_once_each(left: Callable[..., Left]) -> None:
    d = left("success")
    (slack,) = d.slack
    (webhook,) = d.webhook
    assert len(d.sleuth) == 1 and d.sleuth[0].status == 200
    assert slack.authorized and slack.status == 200 and slack.content_type == "application/json"
    text = slack.body["text"]
    assert text.startswith(f":white_check_mark: *demo*: deploy of `{d.world.new_sha}`") and " succeeded in " in text
    assert "latest = sha256:" in text
    assert webhook.authorized and webhook.status == 200
    assert webhook.body["event"] == "deploy.succeeded"
    assert webhook.body["record"]["release_tag"]["digest"] == d.world.new_digest
    assert webhook.path == "/hooks/deploys/****"
    told = {n["notifier"]: n["told"] for n in d.record["notified"]}
    assert told == {"Sleuth": True, "Slack": True, "webhook": True}
    assert "Slack: told that the deploy succeeded" in d.run.lines[-3:]
    assert "webhook: told that the deploy succeeded" in d.run.lines[-3:]


def test_the_dry_run_names_the_notifiers_and_tells_none(left: Callable[..., Left]) -> None:
    d = left("success")
    assert d.dry.exit_code == 0, d.dry.output
    assert "then tell Slack: POST how the run ended to the Slack incoming webhook in SLACK_WEBHOOK_URL (its URL " \
           "is not shown)" in d.dry.output
    assert "then tell webhook: POST the run's record as JSON to the webhook in DEPLOY_WEBHOOK_URL" in d.dry.output


# --- a deploy that fails and is put back ----------------------------------------------------------------------


def test_a_failed_deploy_leaves_a_record_and_a_history_line_that_say_it_was_put_back(left) -> None:
    d = left("rollout-fails")
    assert d.run.exit_code == 1
    record = d.record
    assert (record["result"], record["exit_status"], record["put_back"]["outcome"]) == ("failed", 1, "complete")
    assert record["error"] == d.run.lines[-1].removeprefix("error: ")
    failed = [s for s in record["steps"] if s["outcome"] == "failed"]
    assert [s["name"] for s in failed] == ["restart"]
    assert record["release_tag"]["digest"] == d.world.current_digest  # the release tag is back
    (line,) = d.history
    assert (line["result"], line["failed_step"], line["put_back"]) == ("failed", "restart", "complete")
    assert "FAILED at restart, put-back complete" in d.table.lines[-1]


def test_a_failed_deploy_tells_slack_and_the_webhook_what_failed_and_what_was_put_back_and_not_sleuth(left) -> None:
    d = left("rollout-fails")
    assert d.sleuth == []
    (slack,) = d.slack
    text = slack.body["text"]
    assert text.startswith(f":x: *demo*: deploy of `{d.world.new_sha}`") and " FAILED in " in text
    assert "failed at restart: web " in text
    assert "put-back complete: retag, restart put back" in text
    (webhook,) = d.webhook
    assert webhook.body["event"] == "deploy.failed"
    assert webhook.body["record"]["put_back"]["outcome"] == "complete"
    assert webhook.body["summary"].startswith(f"deploy of {d.world.new_sha} to demo failed (exit 1) at restart")
    assert d.run.lines[-1].startswith("error: restart failed: web")  # the failure stays the last line


# --- notifiers that fail, and secrets ---------------------------------------------------------------------------


def test_a_notifier_that_answers_500_once_is_retried_and_told(left) -> None:
    d = left("success", hook_failures=1)
    assert d.run.exit_code == 0
    assert [h.status for h in d.slack] == [500, 200] and [h.status for h in d.webhook] == [500, 200]
    assert "    Slack answered 500 Internal Server Error: server_error; retry 1/3 in 2s" in d.run.lines


def test_a_revoked_slack_webhook_is_a_warning_and_the_deploy_stays_green(left) -> None:
    revoked = "revokedSandboxSlackSecret99"
    d = left("success", slack_secret=revoked)
    assert d.run.exit_code == 0, d.run.output
    assert [(h.status, h.authorized) for h in d.slack] == [(404, False)]  # final: asked once
    assert len(d.webhook) == 1 and d.webhook[0].status == 200
    (warning,) = [line for line in d.run.lines if line.startswith("WARNING: Slack was NOT told")]
    assert warning == ("WARNING: Slack was NOT told that the deploy succeeded: Slack answered 404 Not Found: "
                       "no_service - the webhook in SLACK_WEBHOOK_URL was revoked, or its channel archived or "
                       "deleted: make a new incoming webhook in Slack and set SLACK_WEBHOOK_URL to its URL")
    assert revoked not in d.run.output + json.dumps(d.record) and "/services/" not in d.run.output
    assert d.record["result"] == "succeeded"


@pytest.mark.parametrize(("scenario", "options"), [("success", {}), ("rollout-fails", {}),
                                                   ("success", {"hook_failures": 1}),
                                                   ("success", {"slack_secret": "revokedSandboxSlackSecret99"})])
def test_no_secret_reaches_any_output_record_or_history(left, scenario, options) -> None:
    d = left(scenario, **options)
    everything = d.outputs + json.dumps(d.record)
    assert not [secret for secret in SECRETS if secret in everything]
    assert "/services/TSANDBOX/BSANDBOX/" not in everything
