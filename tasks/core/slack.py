"""Tell a Slack channel how a deploy or rollback ended, through an incoming webhook.

Assumptions (Slack, "Sending messages using incoming webhooks"): a POST of `{"text": ...}` as JSON to the
webhook's URL posts the text to the channel the webhook was made for; Slack answers 200 `ok`, 400 for a body it
cannot use (`invalid_payload`), 403 and 404 for a webhook that was revoked or whose channel is gone
(`action_prohibited`, `no_service`, `channel_not_found`), 410 for an archived channel, 429 when rate limited. In
the text `&`, `<` and `>` must be escaped, and `<url|words>` is a link. The URL is the secret (whoever has it can
post): it is read from the environment variable `deploy.notify.slack` names, and never shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .ecr import short
from .notifier import Notifier, Request, from_environment, url_secret

ICONS = {"succeeded": ":white_check_mark:", "failed": ":x:", "interrupted": ":warning:", "refused": ":no_entry:"}


class Slack(Notifier):
    name = "Slack"

    def __init__(self, variable: str, url: str) -> None:
        self.variable = variable
        self.url = url_secret(url)
        self.secrets = (self.url,)
        self.check = f"check {variable}: it must be the incoming webhook's URL"

    @classmethod
    def from_environment(cls, variable: str, environ: Mapping[str, str] | None = None) -> Slack | None:
        url = from_environment(variable, environ, "the webhook's URL")
        return None if url is None else cls(variable, url)

    def describe(self) -> list[str]:
        return [f"POST how the run ended to the Slack incoming webhook in {self.variable} (its URL is not shown)"]

    def request(self, record: Mapping[str, Any] | None, when: datetime) -> Request:
        return Request(self.url.reveal(), {"text": message(record or {})}, f"the Slack webhook in {self.variable}",
                       {"Content-Type": "application/json"})

    def advice(self, status: int) -> str:
        if status in (403, 404, 410):
            return (f" - the webhook in {self.variable} was revoked, or its channel archived or deleted: make a new "
                    f"incoming webhook in Slack and set {self.variable} to its URL")
        if status == 400:
            return " - Slack could not use the message; the deploy record has it all"
        return ""


NOTIFIER = Slack


def message(record: Mapping[str, Any]) -> str:
    """The run in a few lines a person reads in a channel: what, where, how it ended, what was put back, who."""
    result = record.get("result", "?")
    what = f"{record.get('task', 'run')} of `{record['sha']}`" if record.get("sha") else record.get("task", "run")
    tag = f" ({record.get('repository')}:{record['tag']})" if record.get("tag") else ""
    took = f" in {record['seconds']:.0f}s" if isinstance(record.get("seconds"), (int, float)) else ""
    outcome = "succeeded" if result == "succeeded" else result.upper()
    if result == "succeeded" and record.get("verified") is False:
        outcome += " (NOT verified: see the CI log)"
    lines = [f"{ICONS.get(result, ':grey_question:')} *{_escape(str(record.get('environment')))}*: "
             f"{_escape(what + tag)} {outcome}{took}"]
    step = next((s for s in record.get("steps", []) if s.get("outcome") in ("failed", "interrupted")), None)
    if step is not None:
        lines.append(f"{step['outcome']} at {step['name']}: {_escape(step.get('error') or record.get('error') or '')}")
    elif result != "succeeded" and record.get("error"):
        lines.append(_escape(record["error"]))
    put_back = record.get("put_back") or {}
    if put_back.get("outcome"):
        steps = put_back.get("steps", [])
        done = [s["name"] for s in steps if s.get("outcome") == "put back"]
        not_done = [f"{s['name']} ({s['outcome']})" for s in steps if s.get("outcome") in ("failed", "not reached")]
        lines.append(f"put-back {put_back['outcome']}" + (f": {', '.join(done)} put back" if done else "")
                     + (f"; NOT put back: {', '.join(not_done)}" if not_done else ""))
    release = record.get("release_tag") or {}
    before = (record.get("release_tag_before") or {}).get("digest")
    if release.get("digest"):
        moved = "" if before == release["digest"] else f" (was {short(before)})"
        lines.append(f"{release.get('tag')} = {short(release['digest'])}{moved}")
    by = _escape(str(record.get("who") or "someone"))
    job = record.get("ci_job_url")
    lines.append(f"by {by}" + (f" - <{job}|CI job>" if job else ""))
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
