"""A small HTTP server on 127.0.0.1 in a thread, for the sandbox's stand-ins (Sleuth, the application).

Assumptions: a stand-in answers a handful of requests a second at most, so `http.server`'s threading server
is enough; each request runs on a thread of its own (daemon threads: a stuck client never blocks `stop()`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

Handle = Callable[[BaseHTTPRequestHandler], None]
S = TypeVar("S", bound="LocalServer")  # a stand-in's `start()` returns the stand-in (typing.Self is 3.11+)


class LocalServer:
    """`start()` serves `get` and `post` (each given the request) on 127.0.0.1 in a thread; `stop()` ends it.
    A stand-in is one of these, with its own handlers."""

    def __init__(self, name: str, *, get: Handle | None = None, post: Handle | None = None, port: int = 0) -> None:
        self.name = name
        self._get = get
        self._post = post
        self._port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self: S) -> S:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                (server._get or _not_found)(self)

            def do_POST(self) -> None:
                (server._post or _not_found)(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # each stand-in prints what it received itself, without secrets

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sandbox-{self.name}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def reply(request: BaseHTTPRequestHandler, status: int, text: str, content_type: str = "text/plain") -> None:
    data = text.encode()
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)


def _not_found(request: BaseHTTPRequestHandler) -> None:
    reply(request, 404, "Not found")


RECORDS_PATH = "/_sandbox/requests"  # where a stand-in lists what it received, as JSON


class RecordingServer(LocalServer):
    """A stand-in that keeps what it received (`records`, under `_lock`, which its `post` handler holds while it
    answers and appends to `_records`) and lists them as JSON at GET RECORDS_PATH."""

    def __init__(self, name: str, *, post: Handle, port: int = 0) -> None:
        self._lock = threading.Lock()
        self._records: list[Any] = []
        super().__init__(name, get=self._serve_records, post=post, port=port)

    @property
    def records(self) -> list[Any]:
        with self._lock:
            return list(self._records)

    def _serve_records(self, request: BaseHTTPRequestHandler) -> None:
        from dataclasses import asdict

        if request.path.split("?")[0] == RECORDS_PATH:
            reply(request, 200, json.dumps([asdict(r) for r in self.records]), "application/json")
        else:
            reply(request, 404, "Not found")


def read_body(request: BaseHTTPRequestHandler) -> Any:
    """The request's body: parsed JSON, else its text (None when empty)."""
    length = int(request.headers.get("Content-Length") or 0)
    raw = request.rfile.read(length).decode("utf-8", "replace") if length else ""
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw
