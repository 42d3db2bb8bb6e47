"""Trouble on the wire, played by the emulated AWS: throttling, 5xx answers, dropped connections, and latency.

Assumptions: ECS, ECR, CloudWatch Logs and SSM speak AWS's JSON 1.1 protocol, where an error is an HTTP status with
`{"__type": CODE, "message": ...}` and `x-amzn-ErrorType: CODE`; botocore reads the code from either. Throttling is
400 `ThrottlingException` (what ECS's read APIs answer in busy accounts), a server fault 503
`ServiceUnavailableException`, and a dropped connection a socket shut without an answer (botocore then raises
`ConnectionClosedError`). An answer not from AWS is a proxy's 502 HTML page (`html`), or the real answer (a write is
applied) with its body cut in half and a matching Content-Length (`truncated`), as a proxy that cut it would pass it
on: a 200 whose JSON ends mid-way. Credentials that ran out are 400 `ExpiredTokenException` (`expired`), what ECS
answers once a session's token has expired. A fault rule lets the first `after` calls of an operation through and
fails the next `count`; with `key`, only calls signed with that access key id, and an `expired` rule with a key
expires that key for good ("expired until the credentials change"). botocore retries each failed call itself, so
`count` calls are `count / AWS_MAX_ATTEMPTS` polls (a `truncated` answer is not retried by botocore). Latency is
real time: every call waits `latency` seconds before it is answered, as a far region would.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .api_calls import identify

_SIGNER = re.compile(r"Credential=([^/,\s]+)/")  # the access key id a SigV4 request is signed with
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
KINDS = ("throttle", "5xx", "drop", "html", "expired", "truncated")


@dataclass(frozen=True)
class Fault:
    operation: str  # `service:Operation` as IAM names it, e.g. "ecs:DescribeServices"
    kind: str  # one of KINDS
    count: int  # how many calls fail in a row
    after: int = 0  # calls of this operation answered normally first
    # only calls signed with this access key id; an `expired` rule with a key expires that key for good when it
    # plays: every later call signed with it, of any operation, is refused until the caller signs with another
    key: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}: choose one of {', '.join(KINDS)}")


class Faults:
    """The rules in force and what they did; `middleware` puts them in front of the emulated AWS."""

    def __init__(self, rules: Sequence[Fault] = (), latency: float = 0.0, exempt_key: str = "") -> None:
        self.exempt_key = exempt_key  # calls signed with this access key id never see a fault nor latency
        self._lock = threading.Lock()
        self.rules: list[Fault] = list(rules)
        self.latency = latency
        self.seen: Counter[str] = Counter()  # calls per operation since the rules were set
        self.played: list[tuple[str, str]] = []  # (operation, kind) of every fault played, in order
        self.expired_keys: set[str] = set()  # access key ids an `expired` rule with a key has expired
        # called with the key when a rule expires it, before the refusal is answered (a test rewrites the
        # credentials the caller's chain reads, as a CI job's refresher would)
        self.on_expiry: Callable[[str], None] | None = None

    def set(self, rules: Sequence[Fault]) -> None:
        with self._lock:
            self.rules, self.seen, self.played, self.expired_keys = list(rules), Counter(), [], set()

    def _fault_for(self, operation: str, key: str) -> str | None:
        with self._lock:
            self.seen[operation] += 1
            number = self.seen[operation]
            if key in self.expired_keys:
                self.played.append((operation, "expired"))
                return "expired"
            rule = next((r for r in self.rules if r.operation == operation and r.key in ("", key)
                         and r.after < number <= r.after + r.count), None)
            if rule is None:
                return None
            self.played.append((operation, rule.kind))
            expires = rule.kind == "expired" and bool(rule.key)
            if expires:
                self.expired_keys.add(key)
        if expires and self.on_expiry is not None:
            self.on_expiry(key)
        return rule.kind

    def middleware(self, app: WsgiApp) -> WsgiApp:
        def faulty(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            signed = _SIGNER.search(environ.get("HTTP_AUTHORIZATION", ""))
            key = signed.group(1) if signed else ""
            if self.exempt_key and key == self.exempt_key:
                return app(environ, start_response)
            if self.latency > 0:
                time.sleep(self.latency)
            service, operation = identify(environ)
            kind = self._fault_for(f"{service}:{operation}", key)
            if kind == "throttle":
                return _error(start_response, "400 Bad Request", "ThrottlingException", "Rate exceeded")
            if kind == "5xx":
                return _error(start_response, "503 Service Unavailable", "ServiceUnavailableException",
                              "Service unavailable, try again later")
            if kind == "html":
                return _page(start_response)
            if kind == "expired":
                return _error(start_response, "400 Bad Request", "ExpiredTokenException",
                              "The security token included in the request is expired")
            if kind == "truncated":
                return _truncated(app, environ, start_response)
            if kind == "drop":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                if length:  # read the request whole, or the server would take its body for the next request
                    environ["wsgi.input"].read(length)
                connection = environ.get("werkzeug.socket")
                if connection is not None:
                    connection.shutdown(socket.SHUT_RDWR)
                # werkzeug's server treats a ConnectionError as the client having gone: no answer, no log
                raise ConnectionResetError("sandbox fault: connection dropped")
            return app(environ, start_response)

        return faulty


def _error(start_response: Callable[..., Any], status: str, code: str, message: str) -> list[bytes]:
    body = json.dumps({"__type": code, "message": message}).encode()
    start_response(status, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code),
                            ("Content-Length", str(len(body)))])
    return [body]


def _truncated(app: WsgiApp, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The real answer (so a write is applied), its body cut in half: a proxy or a broken connection's end that
    still closed the answer cleanly, so the HTTP layer sees a whole answer of the shorter length."""
    answered: list[Any] = []

    def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        answered[:] = [status, headers]
        return lambda data: None

    answer = app(environ, keep)
    try:
        body = b"".join(answer)
    finally:
        if hasattr(answer, "close"):
            answer.close()
    status, headers = answered
    cut = body[: len(body) // 2]
    start_response(status, [(k, v) for k, v in headers if k.lower() != "content-length"]
                   + [("Content-Length", str(len(cut)))])
    return [cut]


def _page(start_response: Callable[..., Any]) -> list[bytes]:
    """A load balancer's or proxy's error page, as one in front of AWS answers when AWS is out of its reach."""
    body = (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
            b"<body><h1>502 Bad Gateway</h1><p>The proxy could not reach the upstream server.</p></body></html>\n")
    start_response("502 Bad Gateway", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))])
    return [body]
