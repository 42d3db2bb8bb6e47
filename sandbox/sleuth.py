"""A stand-in for Sleuth's register_deploy endpoint on 127.0.0.1: it records and prints what it receives.

Assumptions (help.sleuth.io "Deploy registration"): `POST /api/1/deployments/<org>/<deployment>/register_deploy`
with `Authorization: Bearer <token>` (or `apikey <token>`, the organization API key's scheme, which Sleuth still
accepts) and a JSON body holding at least `sha`; 200 answers `Success`, 400 a bad body, 401 a bad token. It can
answer 503 a set number of times first, to exercise retries. The token is checked but never stored or printed:
a record keeps the headers minus secrets and says only whether the token matched. `GET /_sandbox/requests`
returns the records as JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from .local_http import RecordingServer, read_body, reply

PATH = re.compile(r"^/api/1/deployments/(?P<org>[^/]+)/(?P<deployment>[^/]+)/register_deploy/?$")
SECRET_HEADERS = ("authorization", "cookie", "x-api-key", "proxy-authorization")


@dataclass(frozen=True)
class Registration:
    """One request the stand-in received, as a test or a person would check it."""

    method: str
    path: str
    org: str | None
    deployment: str | None
    headers: dict[str, str]  # secrets removed
    authorized: bool  # the token matched the expected one, in either scheme
    body: Any  # the parsed JSON, or the raw text when it was not JSON
    status: int  # what the stand-in answered


class SleuthStandIn(RecordingServer):
    """`start()` serves on 127.0.0.1 in a thread; `records` lists what arrived; `stop()` shuts it down."""

    def __init__(
        self,
        *,
        token: str,
        failures: int = 0,
        port: int = 0,
        say: Callable[[str], None] = lambda line: None,
    ) -> None:
        self._token = token
        self._failures_left = failures
        self._say = say
        super().__init__("sleuth", post=self._handle, port=port)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        body: Any = read_body(request)
        path = request.path.split("?")[0]
        match = PATH.match(path)
        authorized = request.headers.get("Authorization", "") in (f"Bearer {self._token}", f"apikey {self._token}")
        with self._lock:
            if not match:
                status, answer = 404, "Not found"
            elif self._failures_left > 0:
                self._failures_left -= 1
                status, answer = 503, "Service Unavailable"
            elif not authorized:
                status, answer = 401, "Invalid API key"
            elif not isinstance(body, dict) or not body.get("sha"):
                status, answer = 400, '{"sha": ["This field is required."]}'
            else:
                status, answer = 200, "Success"
            record = Registration(
                method="POST",
                path=path,
                org=match["org"] if match else None,
                deployment=match["deployment"] if match else None,
                headers={k: v for k, v in request.headers.items() if k.lower() not in SECRET_HEADERS},
                authorized=authorized,
                body=body,
                status=status,
            )
            self._records.append(record)
        # Never echo the token, even if a client put it where it does not belong.
        shown = (json.dumps(body, sort_keys=True) if isinstance(body, dict) else repr(body)).replace(self._token, "***")
        token = "valid token" if authorized else "missing or wrong token"
        self._say(f"Sleuth stand-in: POST {path} ({token}) -> {status} {answer}; body {shown}")
        reply(request, status, answer)
