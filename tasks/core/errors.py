"""The one error type the core raises for expected failures.

A `DeployError` carries a message meant for a person at 3 a.m.: what failed, what AWS (or Sleuth) said,
and what to do next. The task boundary turns it into `invoke.Exit(message, 1)`; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations


class DeployError(Exception):
    """An expected failure with an actionable, one-line message, and the exit status it ends the run with."""

    exit_code = 1
    transient = False  # an AWS failure that may well pass (throttling, 5xx, a dropped connection): see aws.AwsError

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Interrupted(DeployError):
    """Ctrl-C (or SIGTERM, SIGHUP) during a run: what was changed and what still runs has been said.

    Exit status 128 + the signal's number, as a shell reports it: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP.
    """

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Stopped(KeyboardInterrupt):
    """Raised by the SIGTERM and SIGHUP handlers, so a cancelled CI job or `docker stop` is handled like Ctrl-C."""

    def __init__(self, signal_name: str, exit_code: int) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name
        self.exit_code = exit_code


def stop_status(interrupt: KeyboardInterrupt) -> tuple[str, int]:
    """(how the run was stopped, its exit status) for Ctrl-C or a signal."""
    if isinstance(interrupt, Stopped):
        return interrupt.signal_name, interrupt.exit_code
    return "Ctrl-C", 130
