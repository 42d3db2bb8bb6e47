"""Tell any HTTP endpoint how a deploy or rollback ended: a POST of the run's record as JSON.

Assumptions: the receiver is the team's own (a chat bridge, an audit log, a dashboard); it answers 2xx when it
took the message. The body is `{"event": "<task>.<result>", "summary": "<one line>", "record": {...}}`, the
record as `--record` writes it (record.py, docs/records.md). The URL is treated as a secret (many such URLs carry
a token in their path or query): it is read from the environment variable `deploy.notify.webhook` names, and
never shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from . import record as records
from .notifier import Notifier, Request, from_environment, url_secret


class Webhook(Notifier):
    name = "webhook"

    def __init__(self, variable: str, url: str) -> None:
        self.variable = variable
        self.url = url_secret(url)
        self.secrets = (self.url,)
        self.check = f"check {variable}: it must be an http:// or https:// URL"

    @classmethod
    def from_environment(cls, variable: str, environ: Mapping[str, str] | None = None) -> Webhook | None:
        url = from_environment(variable, environ, "the URL")
        return None if url is None else cls(variable, url)

    def describe(self) -> list[str]:
        return [f"POST the run's record as JSON to the webhook in {self.variable} (its URL is not shown)"]

    def request(self, record: Mapping[str, Any] | None, when: datetime) -> Request:
        record = dict(record or {})
        body = {"event": f"{record.get('task')}.{record.get('result')}",
                "summary": records.summary(record) if record else "", "record": record}
        return Request(self.url.reveal(), body, f"the webhook in {self.variable}",
                       {"Content-Type": "application/json"})


NOTIFIER = Webhook
