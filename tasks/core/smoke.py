"""The smoke check's request: GET an environment's health URL once, and what it answered, safe to print.

Assumptions: the URL answers a plain GET; what counts is the status code (`smoke.expect`). Redirects are
not followed: a health URL that redirects (to a login page that answers 200, say) would pass for the wrong
reason, so a 3xx is the answer, shown with its Location. A header value may name environment variables
(`${NAME}`, for a token): they are read when the check is prepared, before anything changes, and their values
go only into the request's headers. Every text shown (the plan, an answer's body, an error) has them masked,
as it has the whole value of a header whose name says it carries a credential; the plan shows header names
only. Only the first `BODY_LIMIT` characters of an answer are shown, and at most `READ_LIMIT` bytes are read.
`requests` is imported inside functions: `fab --list` must not pay for it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .clock import duration
from .config import VARIABLE, Environment, SmokeSettings
from .errors import DeployError
from .http import failure, one_line
from .text import escape, masked

BODY_LIMIT = 200  # characters of an answer's body shown
READ_LIMIT = 64 * 1024  # bytes of an answer read: a health URL that serves a large file must not stall the check
REQUEST_TIMEOUT = (5.0, 10.0)  # seconds to connect, seconds to wait for the answer: per request, at most
# A header whose name says it carries a credential has its whole value masked, written in the config or not.
_CREDENTIAL_HEADER = re.compile(r"auth|token|key|secret|cookie|session|pass|signature", re.IGNORECASE)

Get = Callable[..., Any]  # requests.get's shape


@dataclass(frozen=True)
class Answer:
    """What the URL answered to one request: a status, or why there was none (`status` None)."""

    status: int | None
    reason: str = ""  # "Service Unavailable"; with no status, what went wrong ("ConnectionError: ...")
    body: str = ""  # its first BODY_LIMIT characters, on one line, masked
    location: str = ""  # where a 3xx points

    def __str__(self) -> str:
        if self.status is None:
            return f"no answer ({self.reason})"
        text = f"{self.status} {self.reason}".rstrip()
        if self.location:
            text += f" (Location: {self.location})"
        return text + (f": {self.body}" if self.body else "")

    @property
    def kind(self) -> tuple[int | None, str]:
        """What tells two answers apart for a person following the check (not a body's changing details)."""
        return (self.status, "" if self.status is not None else self.reason.split(":", 1)[0])


class Probe:
    """One environment's smoke check, its header values read from the environment: `ask()` makes one request."""

    def __init__(self, env: Environment, settings: SmokeSettings, headers: Mapping[str, str],
                 secrets: tuple[str, ...]) -> None:
        self.env = env
        self.settings = settings
        self._headers = dict(headers)
        # longest first, so a secret that contains another is masked whole
        self._secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    @classmethod
    def prepare(cls, env: Environment, environ: Mapping[str, str] | None = None) -> Probe:
        """The environment's check; a `DeployError` naming the header and the variable when a variable it
        names is unset, empty, or holds what no HTTP header can carry (the value itself is never shown)."""
        settings = env.smoke
        if settings is None:
            raise DeployError(f"environment {env.name!r} has no smoke check: set deploy.environments.{env.name}.smoke")
        environ = os.environ if environ is None else environ
        headers: dict[str, str] = {}
        secrets: list[str] = []
        where = f"deploy.environments.{env.name}.smoke.headers"
        for header, template in settings.headers.items():
            for name in VARIABLE.findall(template):
                if not environ.get(name, "").strip():
                    state = "is not set" if name not in environ else "is empty"
                    raise DeployError(
                        f"the smoke check's header {header} (environment {env.name!r}) needs the environment "
                        f"variable {name}, which {state}: set it (in CI, as a project or context variable), or take "
                        f"the header out of {where}")
                secrets.append(environ[name].strip())
            value = VARIABLE.sub(lambda match: environ[match.group(1)].strip(), template)
            if not (value.isascii() and value.isprintable()):
                raise DeployError(
                    f"the smoke check's header {header} (environment {env.name!r}) would hold a line break, a "
                    "control character or a non-ASCII character, which no HTTP header can carry: check the "
                    f"environment variables it names ({', '.join(VARIABLE.findall(template)) or 'none'}) and {where}")
            headers[header] = value
            if _CREDENTIAL_HEADER.search(header):
                secrets.append(value)
        return cls(env, settings, headers, tuple(secrets))

    def __repr__(self) -> str:
        return f"Probe({self.settings.url!r}, headers={sorted(self._headers)} (values not shown))"

    def mask(self, text: str) -> str:
        return masked(text, self._secrets)

    def describe(self, interval: float | None = None) -> list[str]:
        """The check as a plan shows it: URL, status, how long; header names only."""
        s = self.settings
        every = f", a request every {duration(interval)}" if interval else ""
        lines = [f"GET {s.url} until it answers {s.expect}, for up to {duration(s.timeout)}{every}"]
        if s.headers:
            variables = s.variables
            source = f"; read from {', '.join(variables)}" if variables else ""
            lines.append(f"headers {', '.join(s.headers)} (values not shown{source})")
        return lines

    def ask(self, timeout: float | None = None, get: Get | None = None) -> Answer:
        """One GET, within `timeout` seconds at most (and `REQUEST_TIMEOUT`); never raises for a failed request."""
        import requests

        get = get or requests.get
        limit = REQUEST_TIMEOUT if timeout is None else tuple(min(t, max(timeout, 1.0)) for t in REQUEST_TIMEOUT)
        try:
            response = get(self.settings.url, headers=self._headers, timeout=limit, allow_redirects=False,
                           stream=True)
        except requests.RequestException as err:
            return Answer(None, self._shown(failure(err), BODY_LIMIT))
        try:
            chunk = next(response.iter_content(READ_LIMIT), b"")
        except requests.RequestException as err:  # the status came, the body broke off: the status still counts
            chunk = f"(the body could not be read: {failure(err)})".encode()
        finally:
            response.close()
        location = response.headers.get("Location", "") if 300 <= response.status_code < 400 else ""
        return Answer(response.status_code, self._shown(response.reason or "", 80), self._shown(_text(chunk, response),
                      BODY_LIMIT), self._shown(location, BODY_LIMIT))

    def _shown(self, text: str, limit: int) -> str:
        """Masked, on one line, cut, then escaped: an application's text may hold terminal escape sequences."""
        return escape(one_line(self.mask(text), limit))


def _text(chunk: bytes | str, response: Any) -> str:
    if isinstance(chunk, str):
        return chunk
    try:
        return chunk.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return chunk.decode("utf-8", errors="replace")
