"""Glue between Invoke and the core: settings from Fabric's config, the error boundary, output, dry runs.

Assumptions: `fab --dry` sets `c.config.run.dry`, which only stops `c.run`; AWS calls check it here.
The core raises `DeployError` for every expected failure; this is the one place it becomes `invoke.Exit`
(message on stderr, status 1, no traceback). Anything else is a bug and keeps its traceback. SIGTERM (a
cancelled CI job, `docker stop`) and SIGHUP (a closed terminal) are handled like Ctrl-C: the run says what
it changed and what still runs, releases the deploy lock, and exits 143 or 129.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from invoke import Context as InvokeContext
from invoke.exceptions import Exit

from .core.errors import DeployError, Stopped, stop_status

if TYPE_CHECKING:
    from .core.clock import Clock
    from .core.config import Environment, Settings
    from .core.ecr import Registry
    from .core.plan import Plan
    from .core.target import Target


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


STOP_SIGNALS = {"SIGTERM": 143, "SIGHUP": 129}  # 128 + the signal's number, as a shell reports it


@contextmanager
def boundary() -> Iterator[None]:
    """Expected failures: one line on stderr, exit status 1 (130 after Ctrl-C, 143 after SIGTERM, 129 SIGHUP).

    Also keeps secrets out of log output from here on: `fab --debug` makes botocore log request headers.
    """
    from ._secrets import redact_logs

    redact_logs()
    restore = _handle_stop_signals()
    try:
        yield
    except DeployError as err:
        sys.stdout.flush()
        raise Exit(f"{'error' if err.exit_code == 1 else 'interrupted'}: {err}", err.exit_code) from None
    except KeyboardInterrupt as stop:
        sys.stdout.flush()
        how, code = stop_status(stop)
        raise Exit(f"interrupted by {how} before anything was changed", code) from None
    finally:
        restore()


def _handle_stop_signals() -> Callable[[], None]:
    """SIGTERM and SIGHUP raise `Stopped` (a KeyboardInterrupt) once; a repeat while the run reports and
    releases its lock is ignored, so the report is not cut short. Returns what puts the old handlers back."""
    previous: dict[int, Any] = {}
    if not hasattr(signal, "SIGHUP"):  # not on Windows
        return lambda: None

    def stop(signum: int, frame: Any) -> None:
        for number in previous:
            signal.signal(number, signal.SIG_IGN)
        name = signal.Signals(signum).name
        raise Stopped(name, STOP_SIGNALS[name])

    try:
        for name in STOP_SIGNALS:
            number = getattr(signal, name)
            previous[number] = signal.signal(number, stop)
    except ValueError:  # not the main thread (an embedding program): leave signals alone
        return lambda: None

    def restore() -> None:
        for number, handler in previous.items():
            signal.signal(number, handler)

    return restore


def settings(c: InvokeContext) -> Settings:
    """The validated settings; the variables smoke headers and notifiers name become secrets that log output never
    shows."""
    from ._invoke_files import refuse_a_missing_runtime_file, where
    from ._secrets import mask_variables
    from .core.config import load_settings

    refuse_a_missing_runtime_file()
    loaded = load_settings(c.config.get("deploy"), where(c.config))
    mask_variables(name for env in loaded.environments.values() if env.smoke for name in env.smoke.variables)
    mask_variables(name for env in loaded.environments.values() for name in env.notify.values())
    return loaded


def environment_named(c: InvokeContext, name: str) -> Environment:
    return settings(c).environment(name)


def is_dry(c: InvokeContext) -> bool:
    return bool(c.config.get("run", {}).get("dry", False))


def seconds(value: Any) -> float | None:
    """The --timeout flag: a positive number of seconds, or None for the configured timeout."""
    from .core.config import parse_seconds

    return parse_seconds(value, "--timeout")


def open_target(env: Environment, timeout: float | None = None) -> Target:
    """`env`, connected: boto3 clients from boto3's own configuration, the real clock.

    Refuses credentials of another account than the environment's `account` before anything else.
    """
    from .core.aws import clients_for
    from .core.target import Target

    target = Target.build(env, clients_for(env.region), make_clock(), say, timeout)
    if env.account:
        target.accounts.guard(env)
    return target


def quick_registry(env: Environment) -> Registry:
    """The environment's repository through an ECR client that gives up fast, for a lookup only nice to have."""
    from .core.aws import clients_for
    from .core.ecr import Registry

    return Registry(clients_for(env.region).quick_ecr(), env.repository)


RECORD_HELP = "write the run's record (JSON: steps, timings, digests, outcome) to this file, whatever the outcome"


@contextmanager
def changing(c: InvokeContext, env: Environment, *, task: str, sha: str = "", timeout: float | None = None,
             break_lock: bool = False, waits: int = 1, put_back: bool = False,
             smoke: bool = False, record: str | None = None, notify: bool = False) -> Iterator[Target]:
    """A target for a task that changes the environment: the deploy lock is held, unless this is a dry run.

    `waits`: how many waits of up to the timeout the task may make while it holds the lock, `put_back`
    whether a failure may add a put-back rollout (up to `Target.put_back_timeout`), and `smoke` whether it
    ends with the environment's smoke check (up to its own timeout); with a margin, that is its deadline, past
    which `--break-lock` may take the lock. The lock is released at the end, on failure, Ctrl-C
    and SIGTERM alike. When releasing it fails, that is a warning saying the lock is still held and how to free
    it: the run's own outcome stays the last line. Before the lock is released the run's record is written
    (`record`, a file: see core/ending.py), whatever the outcome, a refusal included, and with `notify` the
    notifiers of `deploy.notify` are told how it ended.
    """
    target = open_target(env, timeout)
    if is_dry(c):
        yield target
        return
    from .core.ending import Ending
    from .core.lock import budget

    ending = Ending(target, task=task, sha=sha, record_file=record, notify=notify)
    lock = target.lock
    hold = budget(target.timeout, waits) + (target.put_back_timeout if put_back else 0)
    if smoke and env.smoke is not None:
        hold += env.smoke.timeout
    try:
        lock.acquire(task, sha, hold=hold, break_stale=break_lock)
    except BaseException as err:
        ending.close(err)
        raise
    if lock.taken is not None:
        say(f"warning: --break-lock took over the deploy lock of {lock.locked_by(lock.taken)}")
    error: BaseException | None = None
    try:
        yield target
    except BaseException as err:
        error = err
        raise
    finally:
        ending.close(error)
        held = lock.held
        try:
            warning = lock.release()
        except DeployError as err:
            holder = f" --holder {held.id}" if held is not None else ""
            warning = (f"the deploy lock {lock.name} is still held: releasing it failed ({err}); once AWS answers, "
                       f"free it with: fab unlock --env {env.name}{holder}")
        if warning:
            say(f"warning: {warning}")


def show_plan(lines: list[str]) -> None:
    for line in lines:
        say(line)


def run_plan(c: InvokeContext, target: Target, plan: Plan, intro: list[str] | None = None) -> float | None:
    """A dry run shows the plan and returns None; a real run says `intro`, executes, and returns its seconds."""
    if is_dry(c):
        show_plan(plan.render())
        return None
    from .core.executor import execute

    show_plan(intro or [])
    beyond = plan.beyond_timeout(target.timeout)
    if beyond:  # blue/green, linear and canary bakes: the lock must outlast them
        target.lock.extend(beyond)
    return execute(plan, target)
