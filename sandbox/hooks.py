"""Stand-ins for a Slack incoming webhook and a generic JSON webhook on 127.0.0.1: each records and prints what it
receives.

Assumptions (Slack, "Sending messages using incoming webhooks"): a webhook is a secret URL; a POST of JSON with a
`text` to it answers 200 `ok`; a POST to any other path answers 404 `no_service`, as Slack does for a revoked
webhook. The generic webhook answers 200 `{"ok": true}` to a POST of JSON on its own secret path. Either can
answer 500 a set number of times first, to exercise retries. The secret part of a path is never stored or
printed: a record keeps the path with it masked and says whether it matched. `GET /_sandbox/requests` returns
the records as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from .local_http import RecordingServer, read_body, reply

MASK = "****"


@dataclass(frozen=True)
class Delivery:
    """One request a stand-in received, as a test or a person would check it."""

    path: str  # with the secret masked
    authorized: bool  # the request came to the secret path
    content_type: str
    body: Any  # the parsed JSON, or the raw text when it was not JSON
    status: int  # what the stand-in answered


class HookStandIn(RecordingServer):
    """`start()` serves on 127.0.0.1 in a thread; `url` (holding the secret) is what a client is given; `records`
    lists what arrived; `stop()` shuts it down."""

    def __init__(self, name: str, *, path: str, secret: str, answer: str, failures: int = 0, port: int = 0,
                 say: Callable[[str], None] = lambda line: None) -> None:
        self._path = path  # the whole secret path, e.g. /services/T0/B0/<secret>
        self._secret = secret
        self._answer = answer
        self._failures_left = failures
        self._say = say
        super().__init__(name, post=self._handle, port=port)

    @property
    def hook_url(self) -> str:
        return self.url + self._path

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        body: Any = read_body(request)
        path = request.path.split("?")[0]
        authorized = path == self._path
        with self._lock:
            if not authorized:
                status, answer = 404, "no_service"
            elif self._failures_left > 0:
                self._failures_left -= 1
                status, answer = 500, "server_error"
            elif not isinstance(body, dict):
                status, answer = 400, "invalid_payload"
            else:
                status, answer = 200, self._answer
            self._records.append(Delivery(path=path.replace(self._secret, MASK), authorized=authorized,
                                          content_type=request.headers.get("Content-Type", ""), body=body,
                                          status=status))
        shown = (json.dumps(body, sort_keys=True) if isinstance(body, dict) else repr(body))[:300]
        self._say(f"{self.name} stand-in: POST {path.replace(self._secret, MASK)} -> {status} {answer}; "
                  f"body {shown.replace(self._secret, MASK)}")
        reply(request, status, answer, "application/json" if answer.startswith("{") else "text/plain")


def slack(secret: str, *, failures: int = 0, say: Callable[[str], None] = lambda line: None) -> HookStandIn:
    return HookStandIn("Slack", path=f"/services/TSANDBOX/BSANDBOX/{secret}", secret=secret, answer="ok",
                       failures=failures, say=say)


def webhook(secret: str, *, failures: int = 0, say: Callable[[str], None] = lambda line: None) -> HookStandIn:
    return HookStandIn("webhook", path=f"/hooks/deploys/{secret}", secret=secret, answer='{"ok": true}',
                       failures=failures, say=say)
