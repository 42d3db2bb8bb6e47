"""Count the AWS API calls the emulated AWS receives, by service and operation, as the server sees them.

Assumptions: every AWS SDK signs with SigV4, whose credential scope (`Credential=KEY/DATE/REGION/SERVICE/...`
in the Authorization header) names the service; JSON-protocol services (ECS, ECR, CloudWatch Logs, SSM) name
the operation in `X-Amz-Target` (`AmazonEC2ContainerServiceV20141113.DescribeServices`), query-protocol ones
(STS, EC2) in the `Action` form field. `ThreadedMotoServer` keeps its werkzeug server in `_server`, whose `app`
is looked up on every request, so wrapping that attribute sees every call. The server answers on several
threads: the record is guarded by a lock.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
MAX_FORM_BYTES = 1 << 20  # query-protocol requests are small; never buffer a large upload to find its Action

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class ApiCall:
    at: float  # time.monotonic() when the request arrived
    service: str  # the SigV4 signing name: ecs, ecr, logs, ssm, sts, ...
    operation: str  # DescribeServices, PutImage, ...

    @property
    def name(self) -> str:
        return f"{self.service}:{self.operation}"


class ApiCalls:
    """The calls seen so far, in arrival order. `mark()` then `since(mark)` isolates one measurement."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[ApiCall] = []

    def install(self, server: Any, inner: Callable[[WsgiApp], WsgiApp] = lambda app: app) -> None:
        """Wrap the app of a started `ThreadedMotoServer` (and `inner` between this count and the app)."""
        server._server.app = self.middleware(inner(server._server.app))

    def middleware(self, app: WsgiApp) -> WsgiApp:
        def counting(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            self.record(identify(environ))
            return app(environ, start_response)

        return counting

    def record(self, service_operation: tuple[str, str]) -> None:
        call = ApiCall(time.monotonic(), *service_operation)
        with self._lock:
            self._calls.append(call)

    def mark(self) -> int:
        with self._lock:
            return len(self._calls)

    def since(self, mark: int = 0) -> list[ApiCall]:
        with self._lock:
            return self._calls[mark:]

    def counts(self, mark: int = 0) -> Counter[str]:
        """`service:Operation` -> how many calls since `mark`."""
        return Counter(call.name for call in self.since(mark))


def identify(environ: dict[str, Any]) -> tuple[str, str]:
    """(service, operation) of one WSGI request to the emulated AWS; ("?", "METHOD /path") when unknown."""
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = scope.group(1) if scope else "?"
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return service, target.rsplit(".", 1)[-1]
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if not action and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if 0 < length <= MAX_FORM_BYTES:
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)  # put it back for the app
            action = parse_qs(body.decode("utf-8", "replace")).get("Action")
    if action:
        return service, action[0]
    return service, f"{environ.get('REQUEST_METHOD', '?')} {environ.get('PATH_INFO', '/')}"
