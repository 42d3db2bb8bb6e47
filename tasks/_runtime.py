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

from .core.errors import DeployError

if TYPE_CHECKING:
    from .core.clock import Clock
    from .core.config import Environment, Settings
    from .core.release import Context


BREAK_LOCK_HELP = "take over the deploy lock once its holder is past its deadline (fab status shows it)"

def _system_clock() -> Clock:
    from .core.clock import SystemClock

    return SystemClock()


# The one place tasks get their clock: tests replace it with a fake one, so no wait sleeps for real.
make_clock: Callable[[], Clock] = _system_clock


def say(line: str = "") -> None:
    """Print a line; a character the terminal's encoding cannot show is written as an escape (`\\u2713`).

    Why: stdout's errors policy is strict, so one such character in a migration's log line would raise
    UnicodeEncodeError and end the run while its task still runs, unwatched (stderr already escapes).
    """
    try:
        print(line, flush=True)
    except UnicodeEncodeError:
        encoding = getattr(sys.stdout, "encoding", None) or "ascii"
        print(line.encode(encoding, "backslashreplace").decode(encoding), flush=True)


@contextmanager
def boundary() -> Iterator[None]:
    """Expected failures: one line on stderr, exit status 1 (130 after Ctrl-C).

    Also keeps secrets out of log output from here on: `fab --debug` makes botocore log request headers.
    """
    from ._secrets import redact_logs

    redact_logs()
    try:
        yield
    except DeployError as err:
        sys.stdout.flush()
        raise Exit(f"{'interrupted' if err.exit_code == 130 else 'error'}: {err}", err.exit_code) from None
    except KeyboardInterrupt:
        sys.stdout.flush()
        raise Exit("interrupted before anything was changed", 130) from None


def settings(c: InvokeContext) -> Settings:
    from ._config_files import where
    from .core.config import load_settings

    return load_settings(c.config.get("deploy"), where(c.config))


def environment(c: InvokeContext, name: str) -> Environment:
    return settings(c).environment(name)


def is_dry(c: InvokeContext) -> bool:
    return bool(c.config.get("run", {}).get("dry", False))


def seconds(value: Any) -> float | None:
    """The --timeout flag: a positive number of seconds, or None for the configured timeout."""
    from .core.config import parse_seconds

    return parse_seconds(value, "--timeout")


def connect(env: Environment, timeout: float | None = None) -> Context:
    """The core's context for `env`: boto3 clients from boto3's own configuration, the real clock.

    Refuses credentials of another account than the environment's `account` before anything else.
    """
    from .core.aws import connect as aws_connect
    from .core.identity import caller_identity, guard_account
    from .core.release import Context

    ctx = Context.connect(env, aws_connect(env.region), make_clock(), say, timeout)
    if env.account:
        guard_account(caller_identity(ctx.clients.sts), env)
    return ctx


@contextmanager
def changing(c: InvokeContext, env: Environment, *, task: str, sha: str = "", timeout: float | None = None,
             break_lock: bool = False, waits: int = 1) -> Iterator[Context]:
    """A context for a task that changes the environment: the deploy lock is held, unless this is a dry run.

    `waits`: how many waits of up to the timeout the task may make while it holds the lock; with a margin,
    that is its deadline, past which `--break-lock` may take the lock. The lock is released at the end, on
    failure and on Ctrl-C alike.
    """
    ctx = connect(env, timeout)
    if is_dry(c):
        yield ctx
        return
    from .core.lock import DeployLock, budget

    lock = DeployLock(ctx.clients.ssm, env, ctx.clock)
    lock.acquire(task, sha, hold=budget(ctx.timeout, waits), break_stale=break_lock)
    if lock.taken is not None:
        say(f"warning: --break-lock took over the deploy lock of {lock.locked_by(lock.taken)}")
    try:
        yield ctx
    finally:
        warning = lock.release()
        if warning:
            say(f"warning: {warning}")


def show_plan(lines: list[str]) -> None:
    for line in lines:
        say(line)
