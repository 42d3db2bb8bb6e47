"""Telling people how a run ended: the one small interface every notifier implements (Sleuth, Slack, a JSON
webhook), and what they all share: the sending with its retries, and the handling of their secrets.

Assumptions: a notifier is told by one HTTP POST of a JSON body. None of these services gives retry guidance, so
connection errors, timeouts, 429 (after its Retry-After) and 5xx are retried at most `MAX_RETRIES` times within
about `BUDGET` seconds, waiting on the injected clock; any other answer is final. A notifier's secrets (a token,
a webhook URL: whoever has one can post) come only from environment variables, live in a `Secret`, whose str and
repr are masked, and every message built here is scrubbed of them, so no error, dry-run plan, warning or log
line can show one. A failed notification is never what fails a run: callers turn it into a warning.

A new notifier is one module: a `Notifier` subclass with `from_environment`, and its config key in `KINDS` (and
in schema.py's `NOTIFY`). `requests` is imported inside functions: `fab --list` must not pay for it.
"""

from __future__ import annotations

import email.utils
import importlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar
from urllib.parse import urlsplit

from .clock import Clock, Say
from .errors import DeployError
from .http import failure, one_line
from .text import MASK, masked

Post = Callable[..., Any]  # requests.post's shape

TIMEOUT = (5.0, 10.0)  # seconds to connect, seconds to wait for the answer: per request
MAX_RETRIES = 3
BACKOFF = (2.0, 4.0, 8.0)  # seconds before retry 1, 2, 3 when the service does not say (Retry-After)
BUDGET = 30.0  # seconds: no retry starts that would end its wait beyond this since the first attempt
_MESSAGE_LIMIT = 300

# deploy.notify's keys -> the module whose `NOTIFIER` tells that kind (Sleuth has its own settings: sleuth.py)
KINDS = {"slack": "tasks.core.slack", "webhook": "tasks.core.webhook"}


class Secret:
    """A secret value: `reveal()` is the only way to it; str and repr show a mask; `scrub` masks it in a text,
    with the `parts` of it that messages may quote on their own (a URL's path)."""

    __slots__ = ("_value", "_parts")

    def __init__(self, value: str, parts: Sequence[str] = ()) -> None:
        self._value = value
        self._parts = tuple(p for p in parts if p)

    def reveal(self) -> str:
        return self._value

    def scrub(self, text: str) -> str:
        return masked(text, [self._value, *self._parts])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({MASK})"

    __str__ = __repr__


def url_secret(url: str) -> Secret:
    """A webhook URL as a secret: urllib3's messages quote its path (`url: /services/T0/B0/XXXX`) without the host."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return Secret(url, [path if len(path) > 1 else "", parts.query, parts.netloc if "@" in parts.netloc else ""])


def from_environment(variable: str, environ: Mapping[str, str] | None = None, what: str = "the token") -> str | None:
    """The value of `variable`, or None when it is unset or blank; refused (without it) when it holds spaces or
    control characters, which an HTTP library would refuse with the value in its message."""
    value = (os.environ if environ is None else environ).get(variable, "").strip()
    if not value:
        return None
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise DeployError(f"{variable} contains spaces or control characters: set it to {what} alone")
    return value


@dataclass(frozen=True)
class Request:
    """One POST: `url` and `headers` may hold secrets (only the sending sees them); `where` names the
    destination in messages, free of them."""

    url: str
    body: Any
    where: str
    headers: Mapping[str, str] = field(default_factory=dict)


class Notifier(ABC):
    """One place a run's outcome is told. `name` is how output names it; `on_failure` whether it is told of a
    failed run too (Sleuth tracks deploys, so only of a success); `check` what to check when a request cannot even
    be made; `secrets` what every message is scrubbed of."""

    name: ClassVar[str]
    on_failure: ClassVar[bool] = True
    check: str = ""
    secrets: tuple[Secret, ...] = ()

    @abstractmethod
    def describe(self) -> list[str]:
        """The dry-run lines: what would be sent where, secrets masked."""

    @abstractmethod
    def request(self, record: Mapping[str, Any] | None, when: datetime) -> Request:
        """The POST that tells of the run in `record` (its deploy record, record.py), sent at `when`."""

    def advice(self, status: int) -> str:
        """What to do after a final (4xx) answer, appended to the message; '' when there is nothing to add."""
        return ""

    def tell(self, record: Mapping[str, Any] | None, clock: Clock, *, say: Say | None = None,
             post: Post | None = None) -> str:
        """Send; return the service's answer ('' when it said nothing). A `DeployError`, free of secrets, when it
        was not told."""
        return deliver(self, self.request(record, clock.now()), clock, say=say, post=post)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = secret.scrub(text)
        return text


def deliver(notifier: Notifier, request: Request, clock: Clock, *, say: Say | None = None,
            post: Post | None = None) -> str:
    """POST `request`, retried as the module says; its answer, or a `DeployError` saying why it was not told."""
    import requests

    say = say or (lambda line: None)
    post = post or requests.post
    headers = {"Accept": "text/plain, application/json", **request.headers}
    started = clock.monotonic()
    problem = ""
    for attempt in range(MAX_RETRIES + 1):
        wait: float | None = None
        try:
            response = post(request.url, json=request.body, headers=headers, timeout=TIMEOUT)
        except (requests.ConnectionError, requests.Timeout) as err:
            problem = f"could not reach {request.where}: {_short(notifier.scrub(failure(err)))}"
        except requests.RequestException as err:
            raise DeployError(f"{notifier.name} request failed: {_short(notifier.scrub(failure(err)))}"
                              + (f"; {notifier.check}" if notifier.check else "")) from None
        else:
            status = response.status_code
            answer = _short(notifier.scrub(response.text or ""))
            if 200 <= status < 300:
                return answer
            problem = f"{notifier.name} answered {status} {notifier.scrub(response.reason or '')}".rstrip() + (
                f": {answer}" if answer else "")
            if status != 429 and status < 500:
                raise DeployError(f"{problem}{notifier.advice(status)}")
            wait = retry_after(response.headers.get("Retry-After"), clock)
        if attempt == MAX_RETRIES:
            break
        wait = BACKOFF[attempt] if wait is None else wait
        if clock.monotonic() - started + wait > BUDGET:
            problem += f" (a retry in {wait:.0f}s would pass the {BUDGET:.0f}s budget)"
            break
        say(f"    {problem}; retry {attempt + 1}/{MAX_RETRIES} in {wait:.0f}s")
        clock.sleep(wait)
    attempts = attempt + 1
    raise DeployError(f"{problem}; gave up after {attempts} attempt{'s' if attempts > 1 else ''}")


def _short(text: str) -> str:
    """One line, at most `_MESSAGE_LIMIT` characters (scrub before shortening: a cut secret would not match)."""
    return one_line(text, _MESSAGE_LIMIT)


def retry_after(value: str | None, clock: Clock) -> float | None:
    """Retry-After in seconds (a number of seconds, or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - clock.now()).total_seconds(), 0.0)


def configured(variables: Mapping[str, str], environ: Mapping[str, str] | None = None,
               ) -> tuple[list[Notifier], list[tuple[str, str]]]:
    """The notifiers an environment's `deploy.notify` names (kind -> the variable holding its URL), ready to
    tell; and, for each that cannot be, its name and why (its variable unset or malformed)."""
    notifiers: list[Notifier] = []
    problems: list[tuple[str, str]] = []
    for kind, variable in variables.items():
        kind_class: Any = importlib.import_module(KINDS[kind]).NOTIFIER
        try:
            notifier = kind_class.from_environment(variable, environ)
        except DeployError as err:
            problems.append((kind_class.name, f"{kind_class.name} is not told: {err}"))
            continue
        if notifier is None:
            problems.append((kind_class.name,
                             f"{kind_class.name} is not told: {variable} is not set (deploy.notify.{kind} names it)"))
        else:
            notifiers.append(notifier)
    return notifiers, problems


def plan_lines(variables: Mapping[str, str], environ: Mapping[str, str] | None = None) -> list[str]:
    """What a dry run says of the notifiers told once the run is over."""
    notifiers, problems = configured(variables, environ)
    lines = [f"then tell {n.name}: {line}" for n in notifiers for line in n.describe()[:1]]
    return lines + [f"note: {problem}" for _, problem in problems]
