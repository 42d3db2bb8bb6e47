"""The one error type the core raises for expected failures.

A `DeployError` carries a message meant for a person at 3 a.m.: what failed, what AWS (or Sleuth) said,
and what to do next. The task boundary turns it into `invoke.Exit(message, 1)`; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations


class DeployError(Exception):
    """An expected failure with an actionable, one-line message, and the exit status it ends the run with."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Interrupted(DeployError):
    """Ctrl-C during a run: what was changed and what still runs has been said; exit status 130."""

    exit_code = 130
