"""A stand-in for the application's health URL on 127.0.0.1: its answer depends on the image the services run.

Assumptions: a real application answers from whichever tasks the load balancer sends the request to, so
what it answers follows the images the services' tasks run; here that is read from the ECS emulator at
each request (`running()`: service -> digest -> running tasks). How the new build behaves is the scenario's:

- `healthy`: 200, whatever runs;
- `fails-on-new`: 500 while any task runs the new build (its ECS health checks pass, the application does
  not), else 200;
- `ready-on-new`: 503 until every task of every service runs the new build, then 200 (the old build does
  not answer as the health check now expects).

`GET /health` wants `Authorization: Bearer <token>` (401 otherwise), as a health URL behind a token would;
the token is checked, never stored or printed. A line is said when the answer changes, not at every request.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler

from .local_http import LocalServer, reply

PATH = "/health"
MODES = ("healthy", "fails-on-new", "ready-on-new")
FAILURE = 'ProgrammingError: column "orders_invoice.tax_rate" does not exist'

Running = Callable[[], Mapping[str, Mapping[str | None, int]]]


class HealthStandIn(LocalServer):
    """`start()` serves `GET /health` on 127.0.0.1; `answers` lists the statuses it gave, in order."""

    def __init__(
        self,
        *,
        mode: str,
        token: str,
        running: Running,
        new_digest: str,
        build_of: Callable[[str | None], str | None],
        port: int = 0,
        say: Callable[[str], None] = lambda line: None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown health mode {mode!r}: choose one of {', '.join(MODES)}")
        self.mode = mode
        self._token = token
        self._running = running
        self._new = new_digest
        self._build_of = build_of
        self._say = say
        self._lock = threading.Lock()
        self._answers: list[int] = []
        self._said: tuple[int, str] | None = None
        super().__init__("health", get=self._handle, port=port)

    @property
    def url(self) -> str:
        return super().url + PATH

    @property
    def answers(self) -> list[int]:
        with self._lock:
            return list(self._answers)

    def answer(self) -> tuple[int, str]:
        """(status, body) for what runs now."""
        running = self._running()
        digests = {digest for images in running.values() for digest in images}
        builds = ", ".join(sorted(f"{service} on {self._builds(images)}" for service, images in running.items()))
        if self.mode == "fails-on-new" and self._new in digests:
            return 500, f"build {self._build_of(self._new)}: {FAILURE} ({builds})"
        if self.mode == "ready-on-new" and digests != {self._new}:
            return 503, f"not ready: waiting for every task to run build {self._build_of(self._new)} ({builds})"
        return 200, f"ok ({builds})"

    def _builds(self, images: Mapping[str | None, int]) -> str:
        return " + ".join(f"{self._build_of(d) or d}" for d in images) or "no task"

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        if request.path.split("?")[0] != PATH:
            reply(request, 404, "Not found")
            return
        if request.headers.get("Authorization", "") != f"Bearer {self._token}":
            status, body = 401, "missing or wrong token"
        else:
            status, body = self.answer()
        with self._lock:
            self._answers.append(status)
            changed = self._said != (status, body)
            self._said = (status, body)
        if changed:
            self._say(f"health URL: GET {PATH} -> {status} {body}")
        reply(request, status, body)
