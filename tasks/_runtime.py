"""Glue between Invoke and the core: settings from Fabric's config, the error boundary, output, dry runs.

Assumptions: `fab --dry` sets `c.config.run.dry`, which only stops `c.run`; AWS calls check it here.
The core raises `DeployError` for every expected failure; this is the one place it becomes `invoke.Exit`
(message on stderr, status 1, no traceback). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from invoke import Context as InvokeContext
from invoke.exceptions import Exit

from .core.clock import Clock, SystemClock
from .core.config import Environment, Settings, load_settings
from .core.errors import DeployError

if TYPE_CHECKING:
    from .core.release import Context


# The one place tasks get their clock: tests replace it with a fake one, so no wait sleeps for real.
make_clock: Callable[[], Clock] = SystemClock


def say(line: str = "") -> None:
    print(line, flush=True)


@contextmanager
def boundary() -> Iterator[None]:
    """Expected failures: one line on stderr, exit status 1."""
    try:
        yield
    except DeployError as err:
        sys.stdout.flush()
        raise Exit(f"error: {err}", 1) from None


def settings(c: InvokeContext) -> Settings:
    return load_settings(c.config.get("deploy"))


def environment(c: InvokeContext, name: str) -> Environment:
    if not name:
        raise DeployError("missing --env: name the environment to act on (see deploy.environments)")
    return settings(c).environment(name)


def is_dry(c: InvokeContext) -> bool:
    return bool(c.config.get("run", {}).get("dry", False))


def seconds(value: Any, flag: str = "--timeout") -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DeployError(f"malformed {flag} {value!r}: give a number of seconds") from None
    if number <= 0:
        raise DeployError(f"malformed {flag} {value!r}: give a positive number of seconds")
    return number


def connect(env: Environment, timeout: float | None = None) -> Context:
    """The core's context for `env`: boto3 clients from boto3's own configuration, the real clock."""
    from .core.aws import connect as aws_connect
    from .core.release import Context

    return Context.connect(env, aws_connect(env.region), make_clock(), say, timeout)


def show_plan(lines: list[str]) -> None:
    for line in lines:
        say(line)
